//! Escalations as stored. Answering is one conditional UPDATE: the first answer wins.

use super::{new_id, now_ms};
use sqlx::{Any, AnyConnection, Executor};

#[derive(sqlx::FromRow, Debug, Clone)]
pub struct EscalationRow {
    pub id: String,
    pub team_id: String,
    pub agent_id: String,
    pub agent_name: String,
    pub thread_id: String,
    pub run_id: String,
    pub trigger: String,
    pub reason: String,
    pub severity: String,
    pub blocking: i64,
    pub tool_call_id: Option<String>,
    pub status: String,
    pub guidance: Option<String>,
    pub responder: Option<String>,
    pub created_at: i64,
    pub answered_at: Option<i64>,
}

const SELECT: &str = "SELECT e.id, e.team_id, e.agent_id, a.name AS agent_name, e.thread_id, \
    e.run_id, e.trigger, e.reason, e.severity, e.blocking, e.tool_call_id, e.status, e.guidance, \
    e.responder, e.created_at, e.answered_at FROM escalations e JOIN agents a ON a.id = e.agent_id";

pub struct NewEscalation<'a> {
    pub team_id: &'a str,
    pub agent_id: &'a str,
    pub thread_id: &'a str,
    pub run_id: &'a str,
    pub trigger: &'a str,
    pub reason: &'a str,
    pub severity: &'a str,
    pub blocking: bool,
    pub tool_call_id: Option<&'a str>,
}

pub async fn insert(conn: &mut AnyConnection, e: NewEscalation<'_>) -> Result<String, sqlx::Error> {
    let id = new_id();
    sqlx::query(
        "INSERT INTO escalations (id, team_id, agent_id, thread_id, run_id, trigger, reason, \
         severity, blocking, tool_call_id, status, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'open', $11)",
    )
    .bind(&id)
    .bind(e.team_id)
    .bind(e.agent_id)
    .bind(e.thread_id)
    .bind(e.run_id)
    .bind(e.trigger)
    .bind(e.reason)
    .bind(e.severity)
    .bind(i64::from(e.blocking))
    .bind(e.tool_call_id.map(str::to_string))
    .bind(now_ms())
    .execute(conn)
    .await?;
    Ok(id)
}

pub async fn by_id<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    id: &str,
) -> Result<Option<EscalationRow>, sqlx::Error> {
    sqlx::query_as(&format!("{SELECT} WHERE e.id = $1"))
        .bind(id)
        .fetch_optional(ex)
        .await
}

pub async fn for_thread(
    db: &super::Db,
    thread_id: &str,
) -> Result<Vec<EscalationRow>, sqlx::Error> {
    sqlx::query_as(&format!("{SELECT} WHERE e.thread_id = $1"))
        .bind(thread_id)
        .fetch_all(db)
        .await
}

/// Answers an open escalation. `None` when it was not open any more: someone answered first.
pub async fn answer<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    id: &str,
    status: &str,
    guidance: Option<&str>,
    responder_id: &str,
    responder: &str,
) -> Result<Option<(String, i64, Option<String>)>, sqlx::Error> {
    sqlx::query_as(
        "UPDATE escalations SET status = $2, guidance = $3, responder_id = $4, responder = $5, \
         answered_at = $6 WHERE id = $1 AND status = 'open' \
         RETURNING run_id, blocking, tool_call_id",
    )
    .bind(id)
    .bind(status)
    .bind(guidance.map(str::to_string))
    .bind(responder_id)
    .bind(responder)
    .bind(now_ms())
    .fetch_optional(ex)
    .await
}
