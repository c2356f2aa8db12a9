//! Settings → Members & Teams: users, teams, membership and roles.
//! Every function checks the session and the caller's rights itself.

use crate::auth::Role;
use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub id: String,
    pub name: String,
    pub email: String,
    pub role: Role,
    /// False once an owner or admin deactivated them (they cannot sign in).
    pub active: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Team {
    pub id: String,
    pub name: String,
    pub members: Vec<Member>,
}

/// Everything the Members & Teams page shows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Directory {
    pub users: Vec<Member>,
    pub teams: Vec<Team>,
}

/// All users and teams of the account: owners and admins only.
#[server(endpoint = "load_directory")]
pub async fn load_directory() -> Result<Directory, AppError> {
    crate::server::members::directory().await
}

/// The teams the signed-in user belongs to, with their members.
#[server(endpoint = "my_teams")]
pub async fn my_teams() -> Result<Vec<Team>, AppError> {
    crate::server::members::my_teams().await
}

/// One team the signed-in user belongs to; any other team is "not found".
#[server(endpoint = "team_details")]
pub async fn team_details(team_id: String) -> Result<Team, AppError> {
    crate::server::members::team(team_id).await
}

#[server(endpoint = "create_user")]
pub async fn create_user(
    name: String,
    email: String,
    password: String,
    role: String,
) -> Result<Member, AppError> {
    crate::server::members::create_user(name, email, password, role).await
}

#[server(endpoint = "create_team")]
pub async fn create_team(name: String) -> Result<Team, AppError> {
    crate::server::members::create_team(name).await
}

#[server(endpoint = "add_member")]
pub async fn add_member(team_id: String, user_id: String) -> Result<(), AppError> {
    crate::server::members::add_member(team_id, user_id).await
}

#[server(endpoint = "remove_member")]
pub async fn remove_member(team_id: String, user_id: String) -> Result<(), AppError> {
    crate::server::members::remove_member(team_id, user_id).await
}

#[server(endpoint = "change_role")]
pub async fn change_role(user_id: String, role: String) -> Result<(), AppError> {
    crate::server::members::change_role(user_id, role).await
}

/// Ends every session and live stream of a user and stops them signing in (owners and admins;
/// only an owner can deactivate an owner; never yourself).
#[server(endpoint = "deactivate_user")]
pub async fn deactivate_user(user_id: String) -> Result<(), AppError> {
    crate::server::members::set_active(user_id, false).await
}

/// Lets a deactivated user sign in again.
#[server(endpoint = "reactivate_user")]
pub async fn reactivate_user(user_id: String) -> Result<(), AppError> {
    crate::server::members::set_active(user_id, true).await
}
