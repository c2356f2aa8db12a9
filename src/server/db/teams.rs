use super::{Db, new_id, now_ms};
use crate::auth::CurrentUser;
use crate::members::{Member, Team};
use sqlx::{Any, Executor};

#[derive(sqlx::FromRow, Debug)]
pub struct TeamRow {
    pub id: String,
    pub name: String,
    pub created_at: i64,
}

#[derive(sqlx::FromRow)]
struct MembershipRow {
    team_id: String,
    id: String,
    name: String,
    email: String,
    role: crate::auth::Role,
    deactivated_at: Option<i64>,
}

pub async fn insert<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    name: &str,
) -> Result<TeamRow, sqlx::Error> {
    let row = TeamRow {
        id: new_id(),
        name: name.into(),
        created_at: now_ms(),
    };
    sqlx::query("INSERT INTO teams (id, name, created_at) VALUES ($1, $2, $3)")
        .bind(&row.id)
        .bind(&row.name)
        .bind(row.created_at)
        .execute(ex)
        .await?;
    Ok(row)
}

pub async fn by_id(db: &Db, id: &str) -> Result<Option<TeamRow>, sqlx::Error> {
    sqlx::query_as("SELECT id, name, created_at FROM teams WHERE id = $1")
        .bind(id)
        .fetch_optional(db)
        .await
}

pub async fn by_name(db: &Db, name: &str) -> Result<Option<TeamRow>, sqlx::Error> {
    sqlx::query_as("SELECT id, name, created_at FROM teams WHERE name = $1")
        .bind(name)
        .fetch_optional(db)
        .await
}

pub async fn all(db: &Db) -> Result<Vec<TeamRow>, sqlx::Error> {
    sqlx::query_as("SELECT id, name, created_at FROM teams ORDER BY name")
        .fetch_all(db)
        .await
}

/// A user and the ids of the teams they belong to, read together: this runs on every signed-in
/// request, and one query is one snapshot (a user and their memberships as of the same moment).
pub struct UserWithTeams {
    pub id: String,
    pub email: String,
    pub name: String,
    pub role: crate::auth::Role,
    pub team_ids: Vec<String>,
}

impl UserWithTeams {
    pub fn to_current(&self) -> CurrentUser {
        CurrentUser {
            id: self.id.clone(),
            name: self.name.clone(),
            email: self.email.clone(),
            role: self.role,
        }
    }
}

pub async fn user_with_teams(db: &Db, user_id: &str) -> Result<Option<UserWithTeams>, sqlx::Error> {
    let rows: Vec<(String, String, String, crate::auth::Role, Option<String>)> = sqlx::query_as(
        "SELECT u.id, u.email, u.name, u.role, m.team_id FROM users u \
         LEFT JOIN team_members m ON m.user_id = u.id \
         WHERE u.id = $1 AND u.deactivated_at IS NULL ORDER BY m.team_id",
    )
    .bind(user_id)
    .fetch_all(db)
    .await?;
    let mut rows = rows.into_iter();
    let Some((id, email, name, role, first)) = rows.next() else {
        return Ok(None);
    };
    let team_ids = first.into_iter().chain(rows.filter_map(|r| r.4)).collect();

    Ok(Some(UserWithTeams {
        id,
        email,
        name,
        role,
        team_ids,
    }))
}

/// Adds a member; false when they already were one.
pub async fn add_member<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    team_id: &str,
    user_id: &str,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO team_members (team_id, user_id, created_at) VALUES ($1, $2, $3) \
         ON CONFLICT (team_id, user_id) DO NOTHING",
    )
    .bind(team_id)
    .bind(user_id)
    .bind(now_ms())
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Removes a member; false when they were not one.
pub async fn remove_member<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    team_id: &str,
    user_id: &str,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("DELETE FROM team_members WHERE team_id = $1 AND user_id = $2")
        .bind(team_id)
        .bind(user_id)
        .execute(ex)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// The given teams with their members, in name order.
pub async fn with_members(db: &Db, teams: Vec<TeamRow>) -> Result<Vec<Team>, sqlx::Error> {
    let rows: Vec<MembershipRow> = sqlx::query_as(
        "SELECT m.team_id, u.id, u.name, u.email, u.role, u.deactivated_at FROM team_members m \
         JOIN users u ON u.id = m.user_id ORDER BY u.name, u.email",
    )
    .fetch_all(db)
    .await?;
    Ok(teams
        .into_iter()
        .map(|t| Team {
            members: rows
                .iter()
                .filter(|r| r.team_id == t.id)
                .map(|r| Member {
                    id: r.id.clone(),
                    name: r.name.clone(),
                    email: r.email.clone(),
                    role: r.role,
                    active: r.deactivated_at.is_none(),
                })
                .collect(),
            id: t.id,
            name: t.name,
        })
        .collect())
}
