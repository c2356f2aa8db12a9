//! Model connections as stored (Settings → Models), and which one each agent uses.

use super::{Db, now_ms};
use crate::models::ConnectionKind;

/// A stored connection. `api_key` is sealed (or empty for a keyless local server); it is never
/// sent anywhere but to the provider, opened.
#[derive(sqlx::FromRow, Debug, Clone)]
pub struct ConnectionRow {
    pub id: String,
    pub name: String,
    pub kind: ConnectionKind,
    pub base_url: String,
    pub api_key: String,
    pub key_hint: String,
    /// One model name per line; the first is the connection's default.
    pub models: String,
    pub is_default: i64,
    pub updated_at: i64,
    pub deleted_at: Option<i64>,
}

const SELECT: &str = "SELECT id, name, kind, base_url, api_key, key_hint, models, is_default, \
    updated_at, deleted_at FROM model_connections";

impl ConnectionRow {
    pub fn model_list(&self) -> Vec<String> {
        self.models
            .lines()
            .map(str::trim)
            .filter(|m| !m.is_empty())
            .map(str::to_string)
            .collect()
    }
}

pub struct NewConnection<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub kind: ConnectionKind,
    pub base_url: &'a str,
    pub sealed_key: &'a str,
    pub key_hint: &'a str,
    pub models: &'a str,
    pub created_by: &'a str,
}

pub async fn insert(db: &Db, c: NewConnection<'_>) -> Result<(), sqlx::Error> {
    let now = now_ms();
    sqlx::query(
        "INSERT INTO model_connections (id, name, kind, base_url, api_key, key_hint, models, \
         is_default, created_by, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, 0, $8, $9, $9)",
    )
    .bind(c.id)
    .bind(c.name)
    .bind(c.kind.as_str())
    .bind(c.base_url)
    .bind(c.sealed_key)
    .bind(c.key_hint)
    .bind(c.models)
    .bind(c.created_by)
    .bind(now)
    .execute(db)
    .await?;
    Ok(())
}

/// Live connections, the default first, then by name.
pub async fn live(db: &Db) -> Result<Vec<ConnectionRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "{SELECT} WHERE deleted_at IS NULL ORDER BY is_default DESC, name, created_at"
    ))
    .fetch_all(db)
    .await
}

/// A connection by id, deleted or not.
pub async fn by_id(db: &Db, id: &str) -> Result<Option<ConnectionRow>, sqlx::Error> {
    sqlx::query_as(&format!("{SELECT} WHERE id = $1"))
        .bind(id)
        .fetch_optional(db)
        .await
}

/// The connection marked as the deployment's default, if any.
pub async fn default(db: &Db) -> Result<Option<ConnectionRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "{SELECT} WHERE is_default = 1 AND deleted_at IS NULL LIMIT 1"
    ))
    .fetch_optional(db)
    .await
}

/// Changes the models and, when given, the key; false when the connection is gone.
pub async fn update(
    db: &Db,
    id: &str,
    models: &str,
    key: Option<(&str, &str)>,
) -> Result<bool, sqlx::Error> {
    let now = now_ms();
    let done = match key {
        Some((sealed, hint)) => {
            sqlx::query(
                "UPDATE model_connections SET models = $1, api_key = $2, key_hint = $3, \
                 updated_at = $4 WHERE id = $5 AND deleted_at IS NULL",
            )
            .bind(models)
            .bind(sealed)
            .bind(hint)
            .bind(now)
            .bind(id)
            .execute(db)
            .await?
        }
        None => {
            sqlx::query(
                "UPDATE model_connections SET models = $1, updated_at = $2 \
                 WHERE id = $3 AND deleted_at IS NULL",
            )
            .bind(models)
            .bind(now)
            .bind(id)
            .execute(db)
            .await?
        }
    };
    Ok(done.rows_affected() == 1)
}

/// Makes `id` the default (or, with `None`, leaves no stored default), in one transaction so
/// two admins clicking at once leave exactly one.
pub async fn set_default(db: &Db, id: Option<&str>) -> Result<bool, sqlx::Error> {
    let mut tx = db.begin().await?;
    sqlx::query("UPDATE model_connections SET is_default = 0 WHERE is_default = 1")
        .execute(&mut *tx)
        .await?;
    let found =
        match id {
            Some(id) => sqlx::query(
                "UPDATE model_connections SET is_default = 1 WHERE id = $1 AND deleted_at IS NULL",
            )
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected()
                == 1,
            None => true,
        };
    if found {
        tx.commit().await?;
    }
    Ok(found)
}

/// Deletes a connection: it keeps its name (agents that used it say so) and loses its key.
pub async fn delete(db: &Db, id: &str) -> Result<bool, sqlx::Error> {
    let now = now_ms();
    let done = sqlx::query(
        "UPDATE model_connections SET deleted_at = $1, updated_at = $1, api_key = '', \
         is_default = 0 WHERE id = $2 AND deleted_at IS NULL",
    )
    .bind(now)
    .bind(id)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Live agents of these teams using a connection (their names): an admin sees only their own
/// teams' agents.
pub async fn agents_using(
    db: &Db,
    id: &str,
    team_ids: &[String],
) -> Result<Vec<String>, sqlx::Error> {
    if team_ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut p = super::Params::default();
    let sql = format!(
        "SELECT name FROM agents WHERE connection_id = {} AND deleted_at IS NULL \
         AND team_id IN ({}) ORDER BY name",
        p.text(id),
        p.list(team_ids)
    );
    let rows: Vec<(String,)> = p.bind(sqlx::query_as(&sql)).fetch_all(db).await?;
    Ok(rows.into_iter().map(|(name,)| name).collect())
}

/// How many live agents, of any team, use a connection.
pub async fn count_using(db: &Db, id: &str) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM agents WHERE connection_id = $1 AND deleted_at IS NULL",
    )
    .bind(id)
    .fetch_one(db)
    .await
}

/// An agent's choice: (connection, model), each `None` for the default.
pub async fn agent_choice(
    db: &Db,
    agent_id: &str,
) -> Result<(Option<String>, Option<String>), sqlx::Error> {
    let row: Option<(Option<String>, Option<String>)> =
        sqlx::query_as("SELECT connection_id, model FROM agents WHERE id = $1")
            .bind(agent_id)
            .fetch_optional(db)
            .await?;
    Ok(row.unwrap_or_default())
}

pub async fn set_agent_choice(
    db: &Db,
    agent_id: &str,
    connection_id: Option<&str>,
    model: Option<&str>,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE agents SET connection_id = $1, model = $2 WHERE id = $3 AND deleted_at IS NULL",
    )
    .bind(connection_id)
    .bind(model)
    .bind(agent_id)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}
