use super::{Db, new_id, now_ms};
use crate::auth::{CurrentUser, Role};
use crate::members::Member;
use sqlx::{Any, Executor};

/// A user as stored. Holds the password hash, so it is never serialised or sent anywhere.
#[derive(sqlx::FromRow)]
pub struct UserRow {
    pub id: String,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub password_hash: String,
    pub created_at: i64,
    /// When an owner or admin deactivated them; `None` while active.
    pub deactivated_at: Option<i64>,
}

impl UserRow {
    pub fn active(&self) -> bool {
        self.deactivated_at.is_none()
    }

    pub fn to_current(&self) -> CurrentUser {
        CurrentUser {
            id: self.id.clone(),
            name: self.name.clone(),
            email: self.email.clone(),
            role: self.role,
        }
    }

    pub fn to_member(&self) -> Member {
        Member {
            id: self.id.clone(),
            name: self.name.clone(),
            email: self.email.clone(),
            role: self.role,
            active: self.active(),
        }
    }
}

impl std::fmt::Debug for UserRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserRow")
            .field("id", &self.id)
            .field("email", &self.email)
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

const COLUMNS: &str = "id, email, name, role, password_hash, created_at, deactivated_at";

pub async fn by_email(db: &Db, email: &str) -> Result<Option<UserRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM users WHERE email = $1"))
        .bind(email)
        .fetch_optional(db)
        .await
}

pub async fn by_id<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    id: &str,
) -> Result<Option<UserRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM users WHERE id = $1"))
        .bind(id)
        .fetch_optional(ex)
        .await
}

pub async fn all(db: &Db) -> Result<Vec<UserRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM users ORDER BY name, email"))
        .fetch_all(db)
        .await
}

/// Inserts a user; a duplicate email is a unique violation the caller turns into a message.
pub async fn insert<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    email: &str,
    name: &str,
    role: Role,
    password_hash: &str,
) -> Result<UserRow, sqlx::Error> {
    let row = UserRow {
        id: new_id(),
        email: email.into(),
        name: name.into(),
        role,
        password_hash: password_hash.into(),
        created_at: now_ms(),
        deactivated_at: None,
    };
    sqlx::query(
        "INSERT INTO users (id, email, name, role, password_hash, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&row.id)
    .bind(&row.email)
    .bind(&row.name)
    .bind(row.role.as_str())
    .bind(&row.password_hash)
    .bind(row.created_at)
    .execute(ex)
    .await?;
    Ok(row)
}

pub async fn set_role<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    id: &str,
    role: Role,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("UPDATE users SET role = $1 WHERE id = $2")
        .bind(role.as_str())
        .bind(id)
        .execute(ex)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// On PostgreSQL, locks the owners' rows until the transaction ends, so two concurrent changes
/// (two owners demoting or deactivating each other) cannot both see the other still an owner
/// and leave none. SQLite runs one writing transaction at a time already.
pub async fn lock_owners(tx: &mut super::Tx) -> Result<(), sqlx::Error> {
    if tx.backend_name() == "PostgreSQL" {
        sqlx::query("SELECT id FROM users WHERE role = 'owner' FOR UPDATE")
            .fetch_all(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Counts the owners who can still sign in.
pub async fn count_active_owners<'e, E: Executor<'e, Database = Any>>(
    ex: E,
) -> Result<i64, sqlx::Error> {
    let (n,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM users WHERE role = 'owner' AND deactivated_at IS NULL",
    )
    .fetch_one(ex)
    .await?;
    Ok(n)
}

/// Deactivates (at `at`) or reactivates (`None`) a user; false when nothing changed.
pub async fn set_deactivated<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    id: &str,
    at: Option<i64>,
) -> Result<bool, sqlx::Error> {
    let sql = if at.is_some() {
        "UPDATE users SET deactivated_at = $1 WHERE id = $2 AND deactivated_at IS NULL"
    } else {
        "UPDATE users SET deactivated_at = $1 WHERE id = $2 AND deactivated_at IS NOT NULL"
    };
    let done = sqlx::query(sql).bind(at).bind(id).execute(ex).await?;
    Ok(done.rows_affected() == 1)
}

pub async fn set_password_hash<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    id: &str,
    password_hash: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
        .bind(password_hash)
        .bind(id)
        .execute(ex)
        .await?;
    Ok(())
}
