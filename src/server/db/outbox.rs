//! The outbox as stored: one row per delivery of an event to a channel, written in the
//! transaction of the change it announces, claimed by a worker with a deadline, and settled
//! as sent, due again later, or failed.

use super::{Db, Params, new_id, now_ms};
use sqlx::{Any, AnyConnection, Executor};

/// What an outbox row announces.
pub const RAISED: &str = "raised";
pub const ANSWERED: &str = "answered";
pub const REMINDER: &str = "reminder";

/// One claimed delivery.
#[derive(sqlx::FromRow, Debug, Clone)]
pub struct Claimed {
    pub id: String,
    pub channel_id: String,
    pub escalation_id: String,
    pub event: String,
    /// Counting this one.
    pub attempts: i64,
}

/// Queues `event` of an escalation for each of `channel_ids`, inside the caller's transaction.
pub async fn enqueue(
    conn: &mut AnyConnection,
    team_id: &str,
    escalation_id: &str,
    event: &str,
    channel_ids: &[String],
) -> Result<(), sqlx::Error> {
    if channel_ids.is_empty() {
        return Ok(());
    }
    let now = now_ms();
    let mut p = Params::default();
    let rows: Vec<String> = channel_ids
        .iter()
        .map(|c| {
            format!(
                "({}, {}, {}, {}, {}, 'pending', 0, {}, {})",
                p.text(&new_id()),
                p.text(team_id),
                p.text(c),
                p.text(escalation_id),
                p.text(event),
                p.int(now),
                p.int(now),
            )
        })
        .collect();
    let sql = format!(
        "INSERT INTO outbox (id, team_id, channel_id, escalation_id, event, state, attempts, \
         due_at, created_at) VALUES {}",
        rows.join(", ")
    );
    p.execute(&sql, conn).await?;
    Ok(())
}

/// The channels told of an escalation (that it was raised, or reminded of it) and not deleted:
/// those to remind, and to tell how it was answered.
pub async fn told_of(
    conn: &mut AnyConnection,
    escalation_id: &str,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT DISTINCT o.channel_id FROM outbox o JOIN channels c ON c.id = o.channel_id \
         WHERE o.escalation_id = $1 AND o.event IN ('raised', 'reminder') AND c.deleted_at IS NULL",
    )
    .bind(escalation_id)
    .fetch_all(conn)
    .await
}

/// Claims up to `limit` due deliveries until `until` (the attempt's deadline: past it, a row
/// whose worker died is due again). On PostgreSQL, rows another instance is claiming are
/// skipped rather than waited for, so instances share the work.
pub async fn claim(
    db: &Db,
    postgres: bool,
    now: i64,
    until: i64,
    limit: i64,
) -> Result<Vec<Claimed>, sqlx::Error> {
    let lock = if postgres {
        " FOR UPDATE SKIP LOCKED"
    } else {
        ""
    };
    sqlx::query_as(&format!(
        "UPDATE outbox SET due_at = $2, attempts = attempts + 1 WHERE id IN \
         (SELECT id FROM outbox WHERE state = 'pending' AND due_at <= $1 \
         ORDER BY due_at LIMIT $3{lock}) \
         RETURNING id, channel_id, escalation_id, event, attempts"
    ))
    .bind(now)
    .bind(until)
    .bind(limit)
    .fetch_all(db)
    .await
}

/// When the next pending delivery is due, if any is.
pub async fn next_due(db: &Db) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar("SELECT MIN(due_at) FROM outbox WHERE state = 'pending'")
        .fetch_one(db)
        .await
}

/// Delivered, with what the channel gave back (a Slack message's `ts`). False when the row was
/// settled already (by another worker after a takeover).
pub async fn sent<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    id: &str,
    external_ref: Option<&str>,
) -> Result<bool, sqlx::Error> {
    let r = sqlx::query(
        "UPDATE outbox SET state = 'sent', sent_at = $2, last_error = NULL, external_ref = $3 \
         WHERE id = $1 AND state = 'pending'",
    )
    .bind(id)
    .bind(now_ms())
    .bind(external_ref.map(str::to_string))
    .execute(ex)
    .await?;
    Ok(r.rows_affected() > 0)
}

/// The message a channel holds for an escalation (its first notice's `ts` on Slack).
pub async fn posted_ref(
    db: &Db,
    escalation_id: &str,
    channel_id: &str,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT external_ref FROM outbox WHERE escalation_id = $1 AND channel_id = $2 \
         AND event = 'raised' AND state = 'sent' AND external_ref IS NOT NULL LIMIT 1",
    )
    .bind(escalation_id)
    .bind(channel_id)
    .fetch_optional(db)
    .await
}

/// Not delivered this time: due again at `due_at`, or, with `None`, given up.
pub async fn not_sent<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    id: &str,
    due_at: Option<i64>,
    error: &str,
) -> Result<bool, sqlx::Error> {
    let r = match due_at {
        Some(due) => sqlx::query(
            "UPDATE outbox SET due_at = $2, last_error = $3 WHERE id = $1 AND state = 'pending'",
        )
        .bind(id)
        .bind(due)
        .bind(error),
        None => sqlx::query(
            "UPDATE outbox SET state = 'failed', last_error = $2 WHERE id = $1 AND state = 'pending'",
        )
        .bind(id)
        .bind(error),
    }
    .execute(ex)
    .await?;
    Ok(r.rows_affected() > 0)
}

/// How one escalation's notice to one channel stands, as its card shows it.
#[derive(sqlx::FromRow, Debug, Clone)]
pub struct DeliveryRow {
    pub escalation_id: String,
    pub channel: String,
    pub state: String,
    pub attempts: i64,
    pub last_error: Option<String>,
}

/// The notices of these escalations being raised, oldest first.
pub async fn deliveries(
    db: &Db,
    escalation_ids: &[String],
) -> Result<Vec<DeliveryRow>, sqlx::Error> {
    if escalation_ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut p = Params::default();
    let sql = format!(
        "SELECT o.escalation_id, c.name AS channel, o.state, o.attempts, o.last_error \
         FROM outbox o JOIN channels c ON c.id = o.channel_id \
         WHERE o.escalation_id IN ({}) AND o.event = 'raised' ORDER BY o.created_at, o.id",
        p.list(escalation_ids)
    );
    p.bind(sqlx::query_as(&sql)).fetch_all(db).await
}
