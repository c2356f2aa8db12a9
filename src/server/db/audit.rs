//! The append-only audit log: who did what, when. Only ever inserted into.

use super::{new_id, now_ms};
use sqlx::{Any, Executor};

/// Who acted: a signed-in user, or Flare itself (start-up, demo seeding).
pub enum Actor<'a> {
    User {
        id: &'a str,
        email: &'a str,
    },
    /// An agent acting on its own (raising an escalation).
    Agent {
        name: &'a str,
    },
    System,
}

/// An account-level entry (people, teams, sign-in): owners and admins see it.
pub async fn record<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    actor: Actor<'_>,
    action: &str,
    subject: &str,
    detail: &str,
) -> Result<(), sqlx::Error> {
    record_for(ex, actor, None, action, subject, detail).await
}

/// An entry about one team's data (agents, escalations): only that team's owners and admins
/// see it, as with the data itself.
pub async fn record_for<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    actor: Actor<'_>,
    team_id: Option<&str>,
    action: &str,
    subject: &str,
    detail: &str,
) -> Result<(), sqlx::Error> {
    let (actor_id, actor_label) = match actor {
        Actor::User { id, email } => (Some(id.to_string()), email.to_string()),
        Actor::Agent { name } => (None, format!("agent: {name}")),
        Actor::System => (None, "system".to_string()),
    };
    sqlx::query(
        "INSERT INTO audit_log (id, at, actor_id, actor, action, subject, detail, team_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(new_id())
    .bind(now_ms())
    .bind(actor_id)
    .bind(actor_label)
    .bind(action)
    .bind(subject)
    .bind(detail)
    .bind(team_id.map(str::to_string))
    .execute(ex)
    .await?;
    Ok(())
}

#[derive(sqlx::FromRow, Debug, Clone)]
pub struct AuditRow {
    pub at: i64,
    pub actor_id: Option<String>,
    pub actor: String,
    pub action: String,
    pub subject: String,
    pub detail: String,
}

/// Newest first; the audit page (a later issue) pages through this.
pub async fn recent(db: &super::Db, limit: i64) -> Result<Vec<AuditRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT at, actor_id, actor, action, subject, detail FROM audit_log \
         ORDER BY at DESC, id DESC LIMIT $1",
    )
    .bind(limit)
    .fetch_all(db)
    .await
}
