//! Agents' mailboxes (email triggers) as stored: where each is, how far it has been read, and
//! the replies of the runs its mail started.

use super::{Db, now_ms};
use sqlx::{Any, Executor};

#[derive(sqlx::FromRow, Debug, Clone)]
pub struct MailboxRow {
    pub trigger_id: String,
    pub address: String,
    pub host: String,
    pub port: i64,
    /// `tls`, `starttls` or `none` (loopback only).
    pub security: String,
    pub username: String,
    pub folder: String,
    pub uid_validity: i64,
    pub last_uid: i64,
    pub checked_at: Option<i64>,
    pub last_error: Option<String>,
}

const COLUMNS: &str = "m.trigger_id, m.address, m.host, m.port, m.security, m.username, \
    m.folder, m.uid_validity, m.last_uid, m.checked_at, m.last_error";

pub struct NewMailbox<'a> {
    pub trigger_id: &'a str,
    pub address: &'a str,
    pub host: &'a str,
    pub port: u16,
    pub security: &'a str,
    pub username: &'a str,
    pub folder: &'a str,
    pub uid_validity: u32,
    pub last_uid: u32,
}

pub async fn insert<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    m: NewMailbox<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO mailboxes (trigger_id, address, host, port, security, username, folder, \
         uid_validity, last_uid, due_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(m.trigger_id)
    .bind(m.address)
    .bind(m.host)
    .bind(i64::from(m.port))
    .bind(m.security)
    .bind(m.username)
    .bind(m.folder)
    .bind(i64::from(m.uid_validity))
    .bind(i64::from(m.last_uid))
    .bind(now_ms())
    .execute(ex)
    .await?;
    Ok(())
}

pub async fn by_trigger(db: &Db, trigger_id: &str) -> Result<Option<MailboxRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM mailboxes m WHERE m.trigger_id = $1"
    ))
    .bind(trigger_id)
    .fetch_optional(db)
    .await
}

/// The mailbox already connected (to any agent) at this server, user and folder, if any.
pub async fn same_place(
    db: &Db,
    host: &str,
    port: u16,
    username: &str,
    folder: &str,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT m.trigger_id FROM mailboxes m JOIN triggers g ON g.id = m.trigger_id \
         WHERE g.deleted_at IS NULL AND lower(m.host) = lower($1) AND m.port = $2 \
         AND m.username = $3 AND m.folder = $4 LIMIT 1",
    )
    .bind(host)
    .bind(i64::from(port))
    .bind(username)
    .bind(folder)
    .fetch_optional(db)
    .await
}

/// When the next check of any mailbox is due (a read, so an idle worker never takes SQLite's
/// write turn); none when no mailbox is on. The same mailboxes as [`claim_due`] claims.
pub async fn next_due(db: &Db) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT MIN(m.due_at) FROM mailboxes m JOIN triggers g ON g.id = m.trigger_id \
         JOIN agents a ON a.id = g.agent_id \
         WHERE g.enabled = 1 AND g.deleted_at IS NULL AND a.deleted_at IS NULL",
    )
    .fetch_one(db)
    .await
}

/// Claims the mailboxes due for a check (their trigger on, their agent not deleted), each
/// until `until`, so one instance reads a mailbox at a time.
pub async fn claim_due(
    db: &Db,
    postgres: bool,
    now: i64,
    until: i64,
    limit: i64,
) -> Result<Vec<MailboxRow>, sqlx::Error> {
    let lock = if postgres {
        " FOR UPDATE OF m SKIP LOCKED"
    } else {
        ""
    };
    let returning = COLUMNS.replace("m.", "");
    sqlx::query_as(&format!(
        "UPDATE mailboxes SET due_at = $2 WHERE trigger_id IN \
         (SELECT m.trigger_id FROM mailboxes m JOIN triggers g ON g.id = m.trigger_id \
         JOIN agents a ON a.id = g.agent_id WHERE m.due_at <= $1 AND g.enabled = 1 \
         AND g.deleted_at IS NULL AND a.deleted_at IS NULL ORDER BY m.due_at LIMIT $3{lock}) \
         RETURNING {returning}"
    ))
    .bind(now)
    .bind(until)
    .bind(limit)
    .fetch_all(db)
    .await
}

/// Mail up to `uid` has been taken (never moves back: a slower reader cannot undo a faster).
pub async fn read_up_to(db: &Db, trigger_id: &str, uid: u32) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE mailboxes SET last_uid = $2 WHERE trigger_id = $1 AND last_uid < $2")
        .bind(trigger_id)
        .bind(i64::from(uid))
        .execute(db)
        .await?;
    Ok(())
}

/// The server renumbered the folder: reading goes on from `last_uid` under the new validity.
pub async fn renumbered(
    db: &Db,
    trigger_id: &str,
    uid_validity: u32,
    last_uid: u32,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE mailboxes SET uid_validity = $2, last_uid = $3 WHERE trigger_id = $1")
        .bind(trigger_id)
        .bind(i64::from(uid_validity))
        .bind(i64::from(last_uid))
        .execute(db)
        .await?;
    Ok(())
}

/// A check ended: when, how (`error` is what went wrong, shown on the Triggers page), and when
/// the next one is due.
pub async fn checked(
    db: &Db,
    trigger_id: &str,
    error: Option<&str>,
    next: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE mailboxes SET checked_at = $2, last_error = $3, due_at = $4 WHERE trigger_id = $1",
    )
    .bind(trigger_id)
    .bind(now_ms())
    .bind(error)
    .bind(next)
    .execute(db)
    .await?;
    Ok(())
}

/// Where a run's reply goes: the person who wrote, in their mail's thread.
#[derive(sqlx::FromRow, Debug, Clone, PartialEq, Eq)]
pub struct MailReply {
    pub trigger_id: String,
    pub recipient: String,
    pub subject: String,
    pub in_reply_to: String,
    pub refs: String,
}

/// Remembers where a run started by mail replies (in the transaction that starts it).
pub async fn insert_reply<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    run_id: &str,
    r: &MailReply,
) -> Result<(), sqlx::Error> {
    let now = now_ms();
    sqlx::query(
        "INSERT INTO mail_replies (run_id, trigger_id, recipient, subject, in_reply_to, refs, \
         state, attempts, due_at, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, 'pending', 0, $7, $7) ON CONFLICT (run_id) DO NOTHING",
    )
    .bind(run_id)
    .bind(&r.trigger_id)
    .bind(&r.recipient)
    .bind(&r.subject)
    .bind(&r.in_reply_to)
    .bind(&r.refs)
    .bind(now)
    .execute(ex)
    .await?;
    Ok(())
}

/// The thread a run of this mailbox answered in, if `run_id` was started by its mail.
pub async fn thread_of(
    db: &Db,
    trigger_id: &str,
    run_id: &str,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT r.thread_id FROM mail_replies c JOIN runs r ON r.id = c.run_id \
         WHERE c.trigger_id = $1 AND c.run_id = $2",
    )
    .bind(trigger_id)
    .bind(run_id)
    .fetch_optional(db)
    .await
}

/// One reply to send.
#[derive(sqlx::FromRow, Debug, Clone)]
pub struct ClaimedReply {
    pub run_id: String,
    #[sqlx(flatten)]
    pub to: MailReply,
    pub attempts: i64,
}
