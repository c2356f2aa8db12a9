//! Triggers (inbound webhooks; later schedules and events) and idempotency keys as stored.

use super::{Db, now_ms};
use sqlx::{Any, Executor};

#[derive(sqlx::FromRow, Debug, Clone)]
pub struct TriggerRow {
    pub id: String,
    pub team_id: String,
    pub agent_id: String,
    pub agent_name: String,
    pub agent_deleted_at: Option<i64>,
    pub kind: crate::triggers::TriggerKind,
    pub name: String,
    pub enabled: i64,
    /// Sealed with the deployment's key (see `secret_box`): never sent anywhere.
    pub secret: Option<String>,
    pub created_at: i64,
    /// Schedules: the cron expression, its IANA time zone, the message and the next firing.
    pub cron: Option<String>,
    pub time_zone: Option<String>,
    pub message: Option<String>,
    pub next_fire_at: Option<i64>,
    /// Events: whose runs it follows and on what (`crate::triggers::EventKind`).
    pub source_agent_id: Option<String>,
    pub on_event: Option<String>,
}

const SELECT: &str = "SELECT g.id, g.team_id, g.agent_id, a.name AS agent_name, \
    a.deleted_at AS agent_deleted_at, g.kind, g.name, g.enabled, g.secret, g.created_at, \
    g.cron, g.time_zone, g.message, g.next_fire_at, g.source_agent_id, g.on_event FROM triggers g JOIN agents a ON a.id = g.agent_id";

pub struct NewTrigger<'a> {
    pub id: &'a str,
    pub team_id: &'a str,
    pub agent_id: &'a str,
    pub kind: crate::triggers::TriggerKind,
    pub name: &'a str,
    pub secret: Option<&'a str>,
    pub created_by: &'a str,
    /// A schedule's cron expression, time zone, message and first firing.
    pub schedule: Option<(&'a str, &'a str, &'a str, i64)>,
    /// An event's source agent, event and message template.
    pub event: Option<(&'a str, &'a str, &'a str)>,
}

pub async fn insert<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    t: NewTrigger<'_>,
) -> Result<(), sqlx::Error> {
    let now = now_ms();
    sqlx::query(
        "INSERT INTO triggers (id, team_id, agent_id, kind, name, enabled, secret, created_by, \
         created_at, updated_at, cron, time_zone, message, next_fire_at, source_agent_id, on_event) \
         VALUES ($1, $2, $3, $4, $5, 1, $6, $7, $8, $8, $9, $10, $11, $12, $13, $14)",
    )
    .bind(t.id)
    .bind(t.team_id)
    .bind(t.agent_id)
    .bind(t.kind.as_str())
    .bind(t.name)
    .bind(t.secret.map(str::to_string))
    .bind(t.created_by)
    .bind(now)
    .bind(t.schedule.map(|s| s.0.to_string()))
    .bind(t.schedule.map(|s| s.1.to_string()))
    .bind(
        t.schedule
            .map(|s| s.2)
            .or(t.event.map(|e| e.2))
            .map(str::to_string),
    )
    .bind(t.schedule.map(|s| s.3))
    .bind(t.event.map(|e| e.0.to_string()))
    .bind(t.event.map(|e| e.1.to_string()))
    .execute(ex)
    .await?;
    Ok(())
}

/// A trigger that was not deleted (its agent may have been).
pub async fn by_id(db: &Db, id: &str) -> Result<Option<TriggerRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "{SELECT} WHERE g.id = $1 AND g.deleted_at IS NULL"
    ))
    .bind(id)
    .fetch_optional(db)
    .await
}

pub async fn for_agent(db: &Db, agent_id: &str) -> Result<Vec<TriggerRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "{SELECT} WHERE g.agent_id = $1 AND g.deleted_at IS NULL ORDER BY g.created_at, g.id"
    ))
    .bind(agent_id)
    .fetch_all(db)
    .await
}

/// Pauses or resumes a trigger; false when it was already so (or is gone).
pub async fn set_enabled<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    id: &str,
    enabled: bool,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE triggers SET enabled = $2, updated_at = $3 \
         WHERE id = $1 AND enabled <> $2 AND deleted_at IS NULL",
    )
    .bind(id)
    .bind(enabled as i64)
    .bind(now_ms())
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The live event triggers that follow `source_agent_id` on `on_event`.
pub async fn following(
    db: &Db,
    source_agent_id: &str,
    on_event: &str,
) -> Result<Vec<TriggerRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "{SELECT} WHERE g.kind = 'event' AND g.source_agent_id = $1 AND g.on_event = $2 \
         AND g.enabled = 1 AND g.deleted_at IS NULL"
    ))
    .bind(source_agent_id)
    .bind(on_event)
    .fetch_all(db)
    .await
}

/// Schedules whose next firing has come, oldest first.
pub async fn due_schedules(db: &Db, now: i64, limit: i64) -> Result<Vec<TriggerRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "{SELECT} WHERE g.kind = 'schedule' AND g.enabled = 1 AND g.next_fire_at <= $1 \
         AND g.deleted_at IS NULL ORDER BY g.next_fire_at LIMIT $2"
    ))
    .bind(now)
    .bind(limit)
    .fetch_all(db)
    .await
}

/// Claims a schedule's firing: moves `next_fire_at` from `due` to `next`. Exactly one of the
/// instances that try wins (true); the others learn it was taken.
pub async fn claim_firing<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    id: &str,
    due: i64,
    next: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE triggers SET next_fire_at = $3 WHERE id = $1 AND next_fire_at = $2 \
         AND enabled = 1 AND deleted_at IS NULL",
    )
    .bind(id)
    .bind(due)
    .bind(next)
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Sets a schedule's next firing (when it is resumed: what it missed while paused is skipped).
pub async fn set_next_fire<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    id: &str,
    next: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE triggers SET next_fire_at = $2 WHERE id = $1")
        .bind(id)
        .bind(next)
        .execute(ex)
        .await?;
    Ok(())
}

/// Deletes a trigger: its secret is gone at once, the row stays for the audit's sake.
pub async fn delete<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    id: &str,
) -> Result<bool, sqlx::Error> {
    let now = now_ms();
    let done = sqlx::query(
        "UPDATE triggers SET deleted_at = $2, updated_at = $2, secret = NULL, enabled = 0 \
         WHERE id = $1 AND deleted_at IS NULL",
    )
    .bind(id)
    .bind(now)
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// What an idempotency key started.
#[derive(sqlx::FromRow, Debug, Clone)]
pub struct KeyRow {
    pub fingerprint: String,
    pub run_id: String,
    pub thread_id: String,
}

/// How long a key holds: a request repeated later than this starts a new run.
pub const KEY_TTL_MS: i64 = 24 * 60 * 60 * 1000;

/// Frees this key if it was last used more than a day ago.
pub async fn forget_expired_key<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    scope: &str,
    key: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "DELETE FROM idempotency_keys WHERE scope = $1 AND idem_key = $2 AND created_at < $3",
    )
    .bind(scope)
    .bind(key)
    .bind(now_ms() - KEY_TTL_MS)
    .execute(ex)
    .await?;
    Ok(())
}

/// Records that this key started this run; false when the key was taken already (by a request
/// that committed first: on PostgreSQL this waits for a concurrent one to finish).
pub async fn remember_key<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    scope: &str,
    key: &str,
    fingerprint: &str,
    run_id: &str,
    thread_id: &str,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO idempotency_keys (scope, idem_key, fingerprint, run_id, thread_id, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (scope, idem_key) DO NOTHING",
    )
    .bind(scope)
    .bind(key)
    .bind(fingerprint)
    .bind(run_id)
    .bind(thread_id)
    .bind(now_ms())
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn key(db: &Db, scope: &str, key: &str) -> Result<Option<KeyRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT fingerprint, run_id, thread_id FROM idempotency_keys \
         WHERE scope = $1 AND idem_key = $2",
    )
    .bind(scope)
    .bind(key)
    .fetch_optional(db)
    .await
}

/// Drops keys past their day (the hourly sweeper; a key's own use also frees it).
pub async fn purge_expired_keys(db: &Db) -> Result<u64, sqlx::Error> {
    let done = sqlx::query("DELETE FROM idempotency_keys WHERE created_at < $1")
        .bind(now_ms() - KEY_TTL_MS)
        .execute(db)
        .await?;
    Ok(done.rows_affected())
}
