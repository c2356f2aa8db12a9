//! Runs started from Slack, Discord or email, and the delivery of their replies back into the
//! thread they came from. Chat replies are kept here (`chat_replies`), mail replies beside the
//! mailboxes (`mail_replies`); both are claimed and settled the same way.

use super::{Db, now_ms};

/// Which replies: into a chat thread or into a mail thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replies {
    Chat,
    Mail,
}

impl Replies {
    fn table(self) -> &'static str {
        match self {
            Self::Chat => "chat_replies",
            Self::Mail => "mail_replies",
        }
    }

    fn returning(self) -> &'static str {
        match self {
            Self::Chat => "run_id, channel_id, conversation, thread_ts, attempts",
            Self::Mail => "run_id, trigger_id, recipient, subject, in_reply_to, refs, attempts",
        }
    }
}

/// One reply to send: the run, where it goes, and which attempt this is.
#[derive(sqlx::FromRow, Debug, Clone)]
pub struct Claimed {
    pub run_id: String,
    pub channel_id: String,
    pub conversation: String,
    pub thread_ts: String,
    pub attempts: i64,
}

/// Remembers where a run started from chat replies (in the transaction that starts it).
pub async fn insert<'e, E: sqlx::Executor<'e, Database = sqlx::Any>>(
    ex: E,
    run_id: &str,
    channel_id: &str,
    conversation: &str,
    thread_ts: &str,
) -> Result<(), sqlx::Error> {
    let now = now_ms();
    sqlx::query(
        "INSERT INTO chat_replies (run_id, channel_id, conversation, thread_ts, state, attempts, \
         due_at, created_at) VALUES ($1, $2, $3, $4, 'pending', 0, $5, $5) \
         ON CONFLICT (run_id) DO NOTHING",
    )
    .bind(run_id)
    .bind(channel_id)
    .bind(conversation)
    .bind(thread_ts)
    .bind(now)
    .execute(ex)
    .await?;
    Ok(())
}

/// The Flare thread whose runs reply under this chat thread, if a chat message started one.
pub async fn thread_of(
    db: &Db,
    channel_id: &str,
    conversation: &str,
    thread_ts: &str,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT r.thread_id FROM chat_replies c JOIN runs r ON r.id = c.run_id \
         WHERE c.channel_id = $1 AND c.conversation = $2 AND c.thread_ts = $3 \
         ORDER BY c.created_at DESC LIMIT 1",
    )
    .bind(channel_id)
    .bind(conversation)
    .bind(thread_ts)
    .fetch_optional(db)
    .await
}

/// Whether any reply is due (a read, so an idle worker never takes SQLite's write turn).
pub async fn any_due(db: &Db, replies: Replies, now: i64) -> Result<bool, sqlx::Error> {
    let found: Option<i64> = sqlx::query_scalar(&format!(
        "SELECT 1 FROM {} c JOIN runs r ON r.id = c.run_id WHERE c.state = 'pending' \
         AND c.due_at <= $1 AND r.status IN ('completed', 'failed') LIMIT 1",
        replies.table()
    ))
    .bind(now)
    .fetch_optional(db)
    .await?;
    Ok(found.is_some())
}

/// Claims up to `limit` due replies whose run has ended (completed or failed), holding each
/// until `until`; a run still working or waiting for a person is left for later.
pub async fn claim<T>(
    db: &Db,
    replies: Replies,
    postgres: bool,
    now: i64,
    until: i64,
    limit: i64,
) -> Result<Vec<T>, sqlx::Error>
where
    T: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow> + Send + Unpin,
{
    let (table, returning) = (replies.table(), replies.returning());
    let lock = if postgres {
        " FOR UPDATE OF c SKIP LOCKED"
    } else {
        ""
    };
    sqlx::query_as(&format!(
        "UPDATE {table} SET due_at = $2, attempts = attempts + 1 WHERE run_id IN \
         (SELECT c.run_id FROM {table} c JOIN runs r ON r.id = c.run_id \
         WHERE c.state = 'pending' AND c.due_at <= $1 AND r.status IN ('completed', 'failed') \
         ORDER BY c.due_at LIMIT $3{lock}) \
         RETURNING {returning}"
    ))
    .bind(now)
    .bind(until)
    .bind(limit)
    .fetch_all(db)
    .await
}

/// Sent; false when another worker settled it first.
pub async fn sent(db: &Db, replies: Replies, run_id: &str) -> Result<bool, sqlx::Error> {
    let r = sqlx::query(&format!(
        "UPDATE {} SET state = 'sent', last_error = NULL WHERE run_id = $1 \
         AND state = 'pending'",
        replies.table()
    ))
    .bind(run_id)
    .execute(db)
    .await?;
    Ok(r.rows_affected() > 0)
}

/// Not sent this time: due again at `due_at`, or, with `None`, given up.
pub async fn not_sent(
    db: &Db,
    replies: Replies,
    run_id: &str,
    due_at: Option<i64>,
    error: &str,
) -> Result<bool, sqlx::Error> {
    let table = replies.table();
    let r = match due_at {
        Some(due) => {
            sqlx::query(&format!(
                "UPDATE {table} SET due_at = $2, last_error = $3 WHERE run_id = $1 \
                 AND state = 'pending'"
            ))
            .bind(run_id)
            .bind(due)
            .bind(error)
            .execute(db)
            .await?
        }
        None => {
            sqlx::query(&format!(
                "UPDATE {table} SET state = 'failed', last_error = $2 WHERE run_id = $1 \
                 AND state = 'pending'"
            ))
            .bind(run_id)
            .bind(error)
            .execute(db)
            .await?
        }
    };
    Ok(r.rows_affected() > 0)
}
