//! The append-only audit log: who did what, when. Only ever inserted into.

use super::{Params, new_id, now_ms};
use sqlx::{Any, Executor};

/// Who acted: a signed-in user, or Flare itself (start-up, demo seeding).
#[derive(Debug, Clone, Copy)]
pub enum Actor<'a> {
    User {
        id: &'a str,
        email: &'a str,
    },
    /// A person acting from elsewhere ("ada@example.com via Slack").
    UserVia {
        id: &'a str,
        email: &'a str,
        via: &'a str,
    },
    /// An agent acting on its own (raising an escalation).
    Agent {
        name: &'a str,
    },
    System,
    /// An API token acting for its team ("token: Zendesk bridge").
    Token {
        name: &'a str,
    },
    /// A trigger that started a run or was refused ("webhook: Zendesk").
    Trigger {
        kind: &'a str,
        name: &'a str,
    },
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

/// Who acted, as the log stores it: the user's id (for people) and the label the page shows.
/// Owned, so a write queued for later (a batch of runs starting) can carry it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActorLabel {
    pub id: Option<String>,
    pub label: String,
}

impl From<Actor<'_>> for ActorLabel {
    fn from(actor: Actor<'_>) -> Self {
        let (id, label) = match actor {
            Actor::User { id, email } => (Some(id.to_string()), email.to_string()),
            Actor::UserVia { id, email, via } => {
                (Some(id.to_string()), format!("{email} via {via}"))
            }
            Actor::Agent { name } => (None, format!("agent: {name}")),
            Actor::System => (None, "system".to_string()),
            Actor::Token { name } => (None, format!("token: {name}")),
            Actor::Trigger { kind, name } => (None, format!("{kind}: {name}")),
        };
        Self { id, label }
    }
}

/// An entry about one team's data (agents, escalations): only that team's owners and admins
/// see it, as with the data itself.
pub async fn record_for<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    actor: impl Into<ActorLabel>,
    team_id: Option<&str>,
    action: &str,
    subject: &str,
    detail: &str,
) -> Result<(), sqlx::Error> {
    let ActorLabel { id, label } = actor.into();
    sqlx::query(
        "INSERT INTO audit_log (id, at, actor_id, actor, action, subject, detail, team_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(new_id())
    .bind(now_ms())
    .bind(id)
    .bind(label)
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
    pub id: String,
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
        "SELECT id, at, actor_id, actor, action, subject, detail FROM audit_log \
         ORDER BY at DESC, id DESC LIMIT $1",
    )
    .bind(limit)
    .fetch_all(db)
    .await
}

pub struct AuditFilter<'a> {
    /// The viewer's teams: team entries of other teams stay hidden.
    pub team_ids: &'a [String],
    pub actor: Option<&'a str>,
    pub action: Option<&'a str>,
    pub from_ms: Option<i64>,
    pub until_ms: Option<i64>,
    /// Keyset cursor: the last entry shown (time, id).
    pub after: Option<(i64, String)>,
    pub limit: i64,
}

fn visible(p: &mut Params, team_ids: &[String]) -> String {
    if team_ids.is_empty() {
        "team_id IS NULL".into()
    } else {
        format!("(team_id IS NULL OR team_id IN ({}))", p.list(team_ids))
    }
}

/// One page of the trail, newest first.
pub async fn page(db: &super::Db, f: &AuditFilter<'_>) -> Result<Vec<AuditRow>, sqlx::Error> {
    let mut p = Params::default();
    let mut sql = format!(
        "SELECT id, at, actor_id, actor, action, subject, detail FROM audit_log WHERE {}",
        visible(&mut p, f.team_ids)
    );
    if let Some(a) = f.actor {
        sql.push_str(&format!(" AND actor = {}", p.text(a)));
    }
    if let Some(a) = f.action {
        sql.push_str(&format!(" AND action = {}", p.text(a)));
    }
    if let Some(t) = f.from_ms {
        sql.push_str(&format!(" AND at >= {}", p.int(t)));
    }
    if let Some(t) = f.until_ms {
        sql.push_str(&format!(" AND at < {}", p.int(t)));
    }
    if let Some((t, id)) = &f.after {
        let (a, b, c) = (p.int(*t), p.int(*t), p.text(id));
        sql.push_str(&format!(" AND (at < {a} OR (at = {b} AND id < {c}))"));
    }
    sql.push_str(&format!(
        " ORDER BY at DESC, id DESC LIMIT {}",
        p.int(f.limit)
    ));
    p.bind(sqlx::query_as(&sql)).fetch_all(db).await
}

/// The distinct values of `actor` or `action` the viewer may see, for the filters.
pub async fn distinct(
    db: &super::Db,
    column: &str,
    team_ids: &[String],
) -> Result<Vec<String>, sqlx::Error> {
    let column = if column == "actor" { "actor" } else { "action" };
    let mut p = Params::default();
    let sql = format!(
        "SELECT DISTINCT {column} FROM audit_log WHERE {} ORDER BY {column} LIMIT 500",
        visible(&mut p, team_ids)
    );
    let rows: Vec<(String,)> = p.bind(sqlx::query_as(&sql)).fetch_all(db).await?;
    Ok(rows.into_iter().map(|(v,)| v).collect())
}
