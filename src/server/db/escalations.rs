//! Escalations as stored. Answering is one conditional UPDATE: the first answer wins.

use super::{Params, new_id, now_ms};
use sqlx::{Any, AnyConnection, Executor};

#[derive(sqlx::FromRow, Debug, Clone)]
pub struct EscalationRow {
    pub id: String,
    pub team_id: String,
    pub agent_id: String,
    pub agent_name: String,
    pub thread_id: String,
    pub run_id: String,
    pub trigger: crate::chat::Trigger,
    pub reason: String,
    pub severity: crate::rules::Severity,
    pub blocking: i64,
    pub tool_call_id: Option<String>,
    pub status: crate::escalations::EscalationStatus,
    pub guidance: Option<String>,
    pub responder: Option<String>,
    pub created_at: i64,
    pub answered_at: Option<i64>,
    /// When its team's SLA for its severity passes (none without one).
    pub due_at: Option<i64>,
    /// Until when a person snoozed its reminders.
    pub snoozed_until: Option<i64>,
    /// How many reminders went out.
    pub reminders: i64,
}

// `severity_rank` is only read to merge several teams' pages in order.
const SELECT: &str = "SELECT e.id, e.team_id, e.agent_id, a.name AS agent_name, e.thread_id, \
    e.run_id, e.trigger, e.reason, e.severity, e.severity_rank, e.blocking, e.tool_call_id, \
    e.status, e.guidance, e.responder, e.created_at, e.answered_at, e.due_at, e.snoozed_until, \
    e.reminders FROM escalations e JOIN agents a ON a.id = e.agent_id";

pub struct NewEscalation<'a> {
    pub team_id: &'a str,
    pub agent_id: &'a str,
    pub thread_id: &'a str,
    pub run_id: &'a str,
    pub trigger: crate::chat::Trigger,
    pub reason: &'a str,
    pub severity: crate::rules::Severity,
    pub blocking: bool,
    pub tool_call_id: Option<&'a str>,
    /// When its SLA passes: also when its first reminder is due.
    pub due_at: Option<i64>,
}

pub async fn insert(conn: &mut AnyConnection, e: NewEscalation<'_>) -> Result<String, sqlx::Error> {
    let id = new_id();
    sqlx::query(
        "INSERT INTO escalations (id, team_id, agent_id, thread_id, run_id, trigger, reason, \
         severity, severity_rank, blocking, tool_call_id, status, created_at, due_at, remind_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'open', $12, $13, $13)",
    )
    .bind(&id)
    .bind(e.team_id)
    .bind(e.agent_id)
    .bind(e.thread_id)
    .bind(e.run_id)
    .bind(e.trigger.as_str())
    .bind(e.reason)
    .bind(e.severity.as_str())
    .bind(e.severity.rank())
    .bind(i64::from(e.blocking))
    .bind(e.tool_call_id.map(str::to_string))
    .bind(now_ms())
    .bind(e.due_at)
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
    status: crate::escalations::EscalationStatus,
    guidance: Option<&str>,
    responder_id: Option<&str>,
    responder: &str,
) -> Result<Option<(String, i64, Option<String>)>, sqlx::Error> {
    sqlx::query_as(
        "UPDATE escalations SET status = $2, guidance = $3, responder_id = $4, responder = $5, \
         answered_at = $6 WHERE id = $1 AND status = 'open' \
         RETURNING run_id, blocking, tool_call_id",
    )
    .bind(id)
    .bind(status.as_str())
    .bind(guidance.map(str::to_string))
    .bind(responder_id.map(str::to_string))
    .bind(responder)
    .bind(now_ms())
    .fetch_optional(ex)
    .await
}

/// Where a page starts: after this row in the list's order.
pub enum After {
    Time(i64, String),
    Severity(i64, i64, String),
}

pub enum Order {
    Newest,
    Oldest,
    Severity,
    /// Answered ones: most recently answered first.
    Answered,
}

pub struct Filter<'a> {
    pub team_ids: &'a [String],
    pub open: bool,
    pub severity: Option<crate::rules::Severity>,
    pub agent_id: Option<&'a str>,
    pub trigger: Option<crate::chat::Trigger>,
    pub order: Order,
    pub after: Option<After>,
    pub limit: i64,
}

/// One page of escalations, by keyset: the next page starts after the last row's sort key, so
/// every page costs the same however deep it is. Each team's rows come from their own ordered
/// index range (an `IN` list of teams would make the database sort every matching row first:
/// ~100 ms for 100,000 answered ones), and the teams' first pages are merged.
pub async fn list(db: &super::Db, f: &Filter<'_>) -> Result<Vec<EscalationRow>, sqlx::Error> {
    let mut p = Params::default();
    let order = match f.order {
        Order::Severity => "e.severity_rank DESC, e.created_at DESC, e.id DESC",
        Order::Newest => "e.created_at DESC, e.id DESC",
        Order::Oldest => "e.created_at ASC, e.id ASC",
        Order::Answered => "e.answered_at DESC, e.id DESC",
    };
    let parts: Vec<String> = f
        .team_ids
        .iter()
        .map(|team| {
            let sql = team_page(&mut p, f, team);
            format!("{sql} ORDER BY {order} LIMIT {}", p.int(f.limit))
        })
        .collect();
    let sql = match parts.as_slice() {
        [] => return Ok(Vec::new()),
        [one] => one.clone(),
        many => {
            let subqueries: Vec<String> = many
                .iter()
                .enumerate()
                .map(|(i, q)| format!("SELECT * FROM ({q}) AS t{i}"))
                .collect();
            // The merged rows are named by their columns alone.
            format!(
                "{} ORDER BY {} LIMIT {}",
                subqueries.join(" UNION ALL "),
                order.replace("e.", ""),
                p.int(f.limit)
            )
        }
    };
    p.bind(sqlx::query_as(&sql)).fetch_all(db).await
}

/// The rows of one team that match the filter and come after the cursor (unordered).
fn team_page(p: &mut Params, f: &Filter<'_>, team: &str) -> String {
    let mut sql = format!("{SELECT} WHERE e.team_id = {}", p.text(team));
    sql.push_str(if f.open {
        " AND e.status = 'open'"
    } else {
        // `answered_at` is set exactly when an escalation leaves `open`; saying so lets
        // PostgreSQL skip the open ones in the index (its NULLs sort first when descending).
        " AND e.status IN ('resolved', 'dismissed') AND e.answered_at IS NOT NULL"
    });
    for (column, value) in [
        ("e.severity", f.severity.map(|s| s.as_str())),
        ("e.agent_id", f.agent_id),
        ("e.trigger", f.trigger.map(|t| t.as_str())),
    ] {
        if let Some(v) = value {
            sql.push_str(&format!(" AND {column} = {}", p.text(v)));
        }
    }
    let (time_col, cmp) = match f.order {
        Order::Newest | Order::Severity => ("e.created_at", "<"),
        Order::Oldest => ("e.created_at", ">"),
        Order::Answered => ("e.answered_at", "<"),
    };
    match &f.after {
        Some(After::Time(t, id)) => {
            let (a, b, c) = (p.int(*t), p.int(*t), p.text(id));
            sql.push_str(&format!(
                " AND ({time_col} {cmp} {a} OR ({time_col} = {b} AND e.id {cmp} {c}))"
            ));
        }
        Some(After::Severity(rank, t, id)) => {
            let (r1, r2) = (p.int(*rank), p.int(*rank));
            let (a, b, c) = (p.int(*t), p.int(*t), p.text(id));
            sql.push_str(&format!(
                " AND (e.severity_rank < {r1} OR (e.severity_rank = {r2} AND \
                 (e.created_at < {a} OR (e.created_at = {b} AND e.id < {c}))))"
            ));
        }
        None => {}
    }
    sql
}

/// Open escalations of these teams.
pub async fn count_open(db: &super::Db, team_ids: &[String]) -> Result<i64, sqlx::Error> {
    if team_ids.is_empty() {
        return Ok(0);
    }
    let mut p = Params::default();
    let sql = format!(
        "SELECT COUNT(*) FROM escalations WHERE team_id IN ({}) AND status = 'open'",
        p.list(team_ids)
    );
    Ok(p.bind(sqlx::query_as::<_, (i64,)>(&sql))
        .fetch_one(db)
        .await?
        .0)
}

/// Whether these teams ever had an escalation.
pub async fn any_ever(db: &super::Db, team_ids: &[String]) -> Result<bool, sqlx::Error> {
    if team_ids.is_empty() {
        return Ok(false);
    }
    let mut p = Params::default();
    let sql = format!(
        "SELECT id FROM escalations WHERE team_id IN ({}) LIMIT 1",
        p.list(team_ids)
    );
    Ok(p.bind(sqlx::query_as::<_, (String,)>(&sql))
        .fetch_optional(db)
        .await?
        .is_some())
}

/// Open escalations of every team by severity (the metrics).
pub async fn open_by_severity_everywhere(
    db: &super::Db,
) -> Result<Vec<(String, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT severity, COUNT(*) FROM escalations WHERE status = 'open' GROUP BY severity",
    )
    .fetch_all(db)
    .await
}

/// An open escalation whose reminder is due.
#[derive(sqlx::FromRow, Debug, Clone)]
pub struct DueReminder {
    pub id: String,
    pub team_id: String,
    pub thread_id: String,
    pub created_at: i64,
    pub due_at: Option<i64>,
    pub remind_at: i64,
    pub reminders: i64,
}

/// Open escalations whose reminder is due, oldest first.
pub async fn due_reminders(
    db: &super::Db,
    now: i64,
    limit: i64,
) -> Result<Vec<DueReminder>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, team_id, thread_id, created_at, due_at, remind_at, reminders FROM escalations \
         WHERE status = 'open' AND remind_at IS NOT NULL AND remind_at <= $1 \
         ORDER BY remind_at LIMIT $2",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(db)
    .await
}

/// Claims a due reminder by moving it on to `next` (or none); false when another instance
/// (or an answer) got there first.
pub async fn claim_reminder(
    conn: &mut AnyConnection,
    id: &str,
    due: i64,
    next: Option<i64>,
) -> Result<bool, sqlx::Error> {
    let r = sqlx::query(
        "UPDATE escalations SET remind_at = $3, reminders = reminders + 1 \
         WHERE id = $1 AND status = 'open' AND remind_at = $2",
    )
    .bind(id)
    .bind(due)
    .bind(next)
    .execute(conn)
    .await?;
    Ok(r.rows_affected() > 0)
}

/// "Remind me later": the next reminder comes at `until`. False when it is not open.
pub async fn snooze<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    id: &str,
    until: i64,
) -> Result<bool, sqlx::Error> {
    let r = sqlx::query(
        "UPDATE escalations SET snoozed_until = $2, remind_at = $2 WHERE id = $1 AND status = 'open'",
    )
    .bind(id)
    .bind(until)
    .execute(ex)
    .await?;
    Ok(r.rows_affected() > 0)
}

/// Open escalations of these teams past their SLA at `now`.
pub async fn count_overdue(
    db: &super::Db,
    team_ids: &[String],
    now: i64,
) -> Result<i64, sqlx::Error> {
    if team_ids.is_empty() {
        return Ok(0);
    }
    let mut p = Params::default();
    let sql = format!(
        "SELECT COUNT(*) FROM escalations WHERE team_id IN ({}) AND status = 'open' \
         AND due_at IS NOT NULL AND due_at < {}",
        p.list(team_ids),
        p.int(now)
    );
    Ok(p.bind(sqlx::query_as::<_, (i64,)>(&sql))
        .fetch_one(db)
        .await?
        .0)
}
