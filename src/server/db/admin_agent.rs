//! What the Admin Agent reads, always within the asking person's teams, and its conversation
//! with them. Nothing here writes anything but that conversation.

use super::{Db, Params, new_id, now_ms};

/// An escalation with the message that led to it.
#[derive(sqlx::FromRow, Debug, Clone)]
pub struct EscalationFacts {
    pub id: String,
    pub agent_id: String,
    pub agent_name: String,
    pub thread_id: String,
    pub reason: String,
    pub severity: crate::rules::Severity,
    pub status: crate::escalations::EscalationStatus,
    pub guidance: Option<String>,
    pub responder: Option<String>,
    pub created_at: i64,
    pub answered_at: Option<i64>,
    /// The person's message that started the run.
    pub asked: Option<String>,
}

/// At most this many rows per question: enough for weeks of a team's escalations.
pub const LIMIT: i64 = 500;

/// These teams' escalations created since `since_ms`, newest first.
pub async fn escalations(
    db: &Db,
    team_ids: &[String],
    since_ms: i64,
    agent_id: Option<&str>,
) -> Result<Vec<EscalationFacts>, sqlx::Error> {
    if team_ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut p = Params::default();
    let mut sql = format!(
        "SELECT e.id, e.agent_id, a.name AS agent_name, e.thread_id, e.reason, e.severity, \
         e.status, e.guidance, e.responder, e.created_at, e.answered_at, \
         (SELECT m.body FROM runs r JOIN messages m ON m.thread_id = r.thread_id \
            AND m.seq = r.message_seq WHERE r.id = e.run_id) AS asked \
         FROM escalations e JOIN agents a ON a.id = e.agent_id \
         WHERE e.team_id IN ({}) AND e.created_at >= {}",
        p.list(team_ids),
        p.int(since_ms)
    );
    if let Some(a) = agent_id {
        sql.push_str(&format!(" AND e.agent_id = {}", p.text(a)));
    }
    sql.push_str(&format!(
        " ORDER BY e.created_at DESC LIMIT {}",
        p.int(LIMIT)
    ));
    p.bind(sqlx::query_as(&sql)).fetch_all(db).await
}

/// Messages people sent these teams' agents whose runs finished without escalating:
/// (agent id, message), newest first.
pub async fn answered_alone(
    db: &Db,
    team_ids: &[String],
) -> Result<Vec<(String, String)>, sqlx::Error> {
    if team_ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut p = Params::default();
    let sql = format!(
        "SELECT r.agent_id, m.body FROM runs r JOIN messages m ON m.thread_id = r.thread_id \
         AND m.seq = r.message_seq WHERE r.team_id IN ({}) AND r.status = 'completed' \
         AND NOT EXISTS (SELECT 1 FROM escalations e WHERE e.run_id = r.id) \
         ORDER BY r.created_at DESC LIMIT {}",
        p.list(team_ids),
        p.int(LIMIT)
    );
    p.bind(sqlx::query_as(&sql)).fetch_all(db).await
}

/// How many runs each of these teams' agents had: (agent id, runs).
pub async fn runs_per_agent(
    db: &Db,
    team_ids: &[String],
    since_ms: i64,
) -> Result<Vec<(String, i64)>, sqlx::Error> {
    if team_ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut p = Params::default();
    let sql = format!(
        "SELECT agent_id, COUNT(*) FROM runs WHERE team_id IN ({}) AND created_at >= {} \
         GROUP BY agent_id",
        p.list(team_ids),
        p.int(since_ms)
    );
    p.bind(sqlx::query_as(&sql)).fetch_all(db).await
}

#[derive(sqlx::FromRow, Debug, Clone)]
pub struct AdminMessageRow {
    pub id: String,
    pub from_agent: i64,
    pub body: String,
    pub drafts: String,
    pub offline: i64,
    pub created_at: i64,
}

pub async fn conversation(db: &Db, user_id: &str) -> Result<Vec<AdminMessageRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, from_agent, body, drafts, offline, created_at FROM admin_messages \
         WHERE user_id = $1 ORDER BY created_at, from_agent",
    )
    .bind(user_id)
    .fetch_all(db)
    .await
}

pub async fn add(
    db: &Db,
    user_id: &str,
    from_agent: bool,
    body: &str,
    drafts: &str,
    offline: bool,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO admin_messages (id, user_id, from_agent, body, drafts, offline, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(new_id())
    .bind(user_id)
    .bind(i64::from(from_agent))
    .bind(body)
    .bind(drafts)
    .bind(i64::from(offline))
    .bind(now_ms())
    .execute(db)
    .await?;
    Ok(())
}
