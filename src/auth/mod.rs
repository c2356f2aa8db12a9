//! Signing in and out, the first admin account, and who is signed in.

use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

crate::names::stored_enum! {
    pub enum Role as "role" {
        Owner,
        Admin,
        Member,
    }
}

impl Role {
    /// A role a person chose, with a message when it is none of the three.
    pub fn parse(s: &str) -> Result<Role, AppError> {
        s.parse().map_err(|_| {
            AppError::invalid(format!(
                "\u{201c}{s}\u{201d} is not a role; use owner, admin or member."
            ))
        })
    }

    pub fn label(self) -> &'static str {
        match self {
            Role::Owner => "Owner",
            Role::Admin => "Admin",
            Role::Member => "Member",
        }
    }

    /// Owners and admins manage members and teams.
    pub fn can_manage(self) -> bool {
        matches!(self, Role::Owner | Role::Admin)
    }
}

/// The signed-in user as the browser sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CurrentUser {
    pub id: String,
    pub name: String,
    pub email: String,
    pub role: Role,
}

#[server(endpoint = "signed_in_user")]
pub async fn signed_in_user() -> Result<Option<CurrentUser>, AppError> {
    Ok(crate::server::auth::viewer_if_signed_in()
        .await?
        .map(|v| v.user))
}

#[server(endpoint = "login")]
pub async fn login(email: String, password: String, next: Option<String>) -> Result<(), AppError> {
    crate::server::auth::login(email, password, next).await
}

#[server(endpoint = "logout")]
pub async fn logout() -> Result<(), AppError> {
    crate::server::auth::logout().await
}

/// Changes the signed-in user's password and signs out their other sessions.
#[server(endpoint = "change_password")]
pub async fn change_password(current: String, new: String) -> Result<(), AppError> {
    crate::server::auth::change_password(current, new).await
}

#[server(endpoint = "create_first_admin")]
pub async fn create_first_admin(
    name: String,
    email: String,
    password: String,
    setup_code: String,
) -> Result<(), AppError> {
    crate::server::auth::create_first_admin(name, email, password, setup_code).await
}
