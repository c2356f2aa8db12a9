//! Tokens as stored: a SHA-256 of the value, never the value.

use super::{Db, Params, new_id, now_ms};

#[derive(sqlx::FromRow, Debug, Clone)]
pub struct TokenRow {
    pub id: String,
    pub team_id: String,
    pub team_name: String,
    pub kind: crate::tokens::TokenKind,
    pub name: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

const SELECT: &str = "SELECT k.id, k.team_id, t.name AS team_name, k.kind, k.name, k.created_at, \
    k.revoked_at FROM tokens k JOIN teams t ON t.id = k.team_id";

pub async fn insert(
    db: &Db,
    team_id: &str,
    kind: &str,
    name: &str,
    hash: &str,
    created_by: &str,
) -> Result<String, sqlx::Error> {
    let id = new_id();
    sqlx::query(
        "INSERT INTO tokens (id, team_id, kind, name, token_hash, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&id)
    .bind(team_id)
    .bind(kind)
    .bind(name)
    .bind(hash)
    .bind(created_by)
    .bind(now_ms())
    .execute(db)
    .await?;
    Ok(id)
}

pub async fn for_teams(db: &Db, team_ids: &[String]) -> Result<Vec<TokenRow>, sqlx::Error> {
    if team_ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut p = Params::default();
    let sql = format!(
        "{SELECT} WHERE k.team_id IN ({}) ORDER BY k.created_at DESC",
        p.list(team_ids)
    );
    p.bind(sqlx::query_as(&sql)).fetch_all(db).await
}

pub async fn by_id(db: &Db, id: &str) -> Result<Option<TokenRow>, sqlx::Error> {
    sqlx::query_as(&format!("{SELECT} WHERE k.id = $1"))
        .bind(id)
        .fetch_optional(db)
        .await
}

/// The live (not revoked) token of this kind with this hash.
pub async fn active(db: &Db, kind: &str, hash: &str) -> Result<Option<TokenRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "{SELECT} WHERE k.token_hash = $1 AND k.kind = $2 AND k.revoked_at IS NULL"
    ))
    .bind(hash)
    .bind(kind)
    .fetch_optional(db)
    .await
}

pub async fn revoke(db: &Db, id: &str) -> Result<bool, sqlx::Error> {
    let done =
        sqlx::query("UPDATE tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL")
            .bind(id)
            .bind(now_ms())
            .execute(db)
            .await?;
    Ok(done.rows_affected() == 1)
}

/// Open escalations of these teams by severity.
pub async fn open_by_severity(
    db: &Db,
    team_ids: &[String],
) -> Result<Vec<(String, i64)>, sqlx::Error> {
    if team_ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut p = Params::default();
    let sql = format!(
        "SELECT severity, COUNT(*) FROM escalations WHERE team_id IN ({}) AND status = 'open' GROUP BY severity",
        p.list(team_ids)
    );
    p.bind(sqlx::query_as(&sql)).fetch_all(db).await
}
