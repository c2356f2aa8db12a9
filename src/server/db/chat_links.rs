//! Chat accounts linked to Flare users, the one-time offers that link them, and the signed
//! chat requests already accepted.

use super::{Db, now_ms};
use sqlx::{Any, Executor};

/// The Flare user a chat account is linked to.
pub async fn user_of<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    kind: &str,
    workspace: &str,
    external_id: &str,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT user_id FROM chat_links WHERE kind = $1 AND workspace = $2 AND external_id = $3",
    )
    .bind(kind)
    .bind(workspace)
    .bind(external_id)
    .fetch_optional(ex)
    .await
}

/// Offers a link (its token's hash) for 15 minutes.
pub async fn offer<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    token_hash: &str,
    kind: &str,
    workspace: &str,
    external_id: &str,
    external_name: &str,
    expires_at: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO chat_link_offers (token_hash, kind, workspace, external_id, external_name, \
         expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(token_hash)
    .bind(kind)
    .bind(workspace)
    .bind(external_id)
    .bind(external_name)
    .bind(expires_at)
    .execute(ex)
    .await?;
    Ok(())
}

#[derive(sqlx::FromRow, Debug, Clone)]
pub struct OfferRow {
    pub kind: String,
    pub workspace: String,
    pub external_id: String,
    pub external_name: String,
    pub expires_at: i64,
}

/// The offer behind a token's hash, whether or not it expired.
pub async fn offer_by_hash<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    token_hash: &str,
) -> Result<Option<OfferRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT kind, workspace, external_id, external_name, expires_at FROM chat_link_offers \
         WHERE token_hash = $1",
    )
    .bind(token_hash)
    .fetch_optional(ex)
    .await
}

/// Takes an offer (once): false when it was taken already or has expired.
pub async fn take_offer<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    token_hash: &str,
) -> Result<bool, sqlx::Error> {
    let r = sqlx::query("DELETE FROM chat_link_offers WHERE token_hash = $1 AND expires_at > $2")
        .bind(token_hash)
        .bind(now_ms())
        .execute(ex)
        .await?;
    Ok(r.rows_affected() > 0)
}

/// Links the chat account to `user_id`, replacing an earlier link of that account.
pub async fn link(
    conn: &mut sqlx::AnyConnection,
    kind: &str,
    workspace: &str,
    external_id: &str,
    user_id: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM chat_links WHERE kind = $1 AND workspace = $2 AND external_id = $3")
        .bind(kind)
        .bind(workspace)
        .bind(external_id)
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "INSERT INTO chat_links (kind, workspace, external_id, user_id, created_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(kind)
    .bind(workspace)
    .bind(external_id)
    .bind(user_id)
    .bind(now_ms())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

#[derive(sqlx::FromRow, Debug, Clone)]
pub struct LinkRow {
    pub kind: String,
    pub workspace: String,
    pub external_id: String,
    pub created_at: i64,
}

/// A user's linked chat accounts, oldest first.
pub async fn of_user(db: &Db, user_id: &str) -> Result<Vec<LinkRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT kind, workspace, external_id, created_at FROM chat_links WHERE user_id = $1 \
         ORDER BY created_at",
    )
    .bind(user_id)
    .fetch_all(db)
    .await
}

/// Unlinks one of the user's chat accounts; false when it was not theirs (or not linked).
pub async fn unlink<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    user_id: &str,
    kind: &str,
    workspace: &str,
    external_id: &str,
) -> Result<bool, sqlx::Error> {
    let r = sqlx::query(
        "DELETE FROM chat_links WHERE user_id = $1 AND kind = $2 AND workspace = $3 \
         AND external_id = $4",
    )
    .bind(user_id)
    .bind(kind)
    .bind(workspace)
    .bind(external_id)
    .execute(ex)
    .await?;
    Ok(r.rows_affected() > 0)
}

/// Accepts a signed request once: false when the same signature was accepted before. Entries
/// older than `forget_before` (long past any timestamp check) are dropped on the way.
pub async fn first_sight(
    db: &Db,
    signature: &str,
    forget_before: i64,
) -> Result<bool, sqlx::Error> {
    sqlx::query("DELETE FROM chat_requests_seen WHERE seen_at < $1")
        .bind(forget_before)
        .execute(db)
        .await?;
    let r = sqlx::query(
        "INSERT INTO chat_requests_seen (signature, seen_at) VALUES ($1, $2) \
         ON CONFLICT (signature) DO NOTHING",
    )
    .bind(signature)
    .bind(now_ms())
    .execute(db)
    .await?;
    Ok(r.rows_affected() > 0)
}
