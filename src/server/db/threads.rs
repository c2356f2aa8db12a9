//! Threads and their messages as stored.

use super::{Db, new_id, now_ms};
use sqlx::AnyConnection;

#[derive(sqlx::FromRow, Debug, Clone)]
pub struct ThreadRow {
    pub id: String,
    pub team_id: String,
    pub agent_id: String,
    pub agent_name: String,
    pub team_name: String,
    pub trigger: crate::chat::Trigger,
    pub title: String,
    pub updated_at: i64,
}

const SELECT: &str = "SELECT th.id, th.team_id, th.agent_id, a.name AS agent_name, \
    t.name AS team_name, th.trigger, th.title, th.updated_at FROM threads th \
    JOIN agents a ON a.id = th.agent_id JOIN teams t ON t.id = th.team_id";

#[derive(sqlx::FromRow, Debug, Clone)]
pub struct MessageRow {
    pub seq: i64,
    pub run_id: Option<String>,
    pub kind: crate::chat::MessageKind,
    pub author: String,
    pub body: String,
    pub escalation_id: Option<String>,
    pub created_at: i64,
}

pub async fn insert<'e, E: sqlx::Executor<'e, Database = sqlx::Any>>(
    ex: E,
    team_id: &str,
    agent_id: &str,
    trigger: crate::chat::Trigger,
    title: &str,
    created_by: Option<&str>,
) -> Result<String, sqlx::Error> {
    let id = new_id();
    let now = now_ms();
    sqlx::query(
        "INSERT INTO threads (id, team_id, agent_id, trigger, title, created_by, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
    )
    .bind(&id)
    .bind(team_id)
    .bind(agent_id)
    .bind(trigger.as_str())
    .bind(title)
    .bind(created_by.map(str::to_string))
    .bind(now)
    .execute(ex)
    .await?;
    Ok(id)
}

pub async fn by_id(db: &Db, id: &str) -> Result<Option<ThreadRow>, sqlx::Error> {
    sqlx::query_as(&format!("{SELECT} WHERE th.id = $1"))
        .bind(id)
        .fetch_optional(db)
        .await
}

/// The threads of some teams, most recently active first.
pub async fn for_teams(
    db: &Db,
    team_ids: &[String],
    limit: i64,
) -> Result<Vec<ThreadRow>, sqlx::Error> {
    if team_ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut p = super::Params::default();
    let sql = format!(
        "{SELECT} WHERE th.team_id IN ({}) ORDER BY th.updated_at DESC, th.id DESC LIMIT {}",
        p.list(team_ids),
        p.int(limit)
    );
    p.bind(sqlx::query_as(&sql)).fetch_all(db).await
}

/// Appends a message; its position comes from the thread's counter, so messages written by
/// concurrent transactions still have one order.
pub async fn add_message(
    conn: &mut AnyConnection,
    thread_id: &str,
    run_id: Option<&str>,
    kind: crate::chat::MessageKind,
    author: &str,
    body: &str,
    escalation_id: Option<&str>,
) -> Result<i64, sqlx::Error> {
    let now = now_ms();
    let (seq,): (i64,) = sqlx::query_as(
        "UPDATE threads SET next_seq = next_seq + 1, updated_at = $2 WHERE id = $1 \
         RETURNING next_seq - 1",
    )
    .bind(thread_id)
    .bind(now)
    .fetch_one(&mut *conn)
    .await?;
    let message = NewMessage {
        thread_id,
        seq,
        run_id,
        kind,
        author,
        body,
        escalation_id,
        at: now,
    };
    insert_message(&mut *conn, &message).await?;
    Ok(seq)
}

/// A message whose place in its thread is already known.
pub struct NewMessage<'a> {
    pub thread_id: &'a str,
    pub seq: i64,
    pub run_id: Option<&'a str>,
    pub kind: crate::chat::MessageKind,
    pub author: &'a str,
    pub body: &'a str,
    pub escalation_id: Option<&'a str>,
    pub at: i64,
}

pub async fn insert_message<'e, E: sqlx::Executor<'e, Database = sqlx::Any>>(
    ex: E,
    m: &NewMessage<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO messages (id, thread_id, seq, run_id, kind, author, body, escalation_id, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(new_id())
    .bind(m.thread_id)
    .bind(m.seq)
    .bind(m.run_id.map(str::to_string))
    .bind(m.kind.as_str())
    .bind(m.author)
    .bind(m.body)
    .bind(m.escalation_id.map(str::to_string))
    .bind(m.at)
    .execute(ex)
    .await?;
    Ok(())
}

/// A thread started by a trigger, created with its first message's place taken and its run
/// holding it: two statements fewer per start than [`insert`], [`add_message`] and [`claim`].
pub struct StartedThread<'a> {
    pub id: &'a str,
    pub team_id: &'a str,
    pub agent_id: &'a str,
    pub trigger: crate::chat::Trigger,
    pub title: &'a str,
    pub run_id: &'a str,
    pub at: i64,
}

/// The sequence number of a [`StartedThread`]'s first message.
pub const FIRST_SEQ: i64 = 1;

pub async fn insert_started<'e, E: sqlx::Executor<'e, Database = sqlx::Any>>(
    ex: E,
    t: &StartedThread<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO threads (id, team_id, agent_id, trigger, title, created_at, updated_at, \
         next_seq, active_run) VALUES ($1, $2, $3, $4, $5, $6, $6, $7, $8)",
    )
    .bind(t.id)
    .bind(t.team_id)
    .bind(t.agent_id)
    .bind(t.trigger.as_str())
    .bind(t.title)
    .bind(t.at)
    .bind(FIRST_SEQ + 1)
    .bind(t.run_id)
    .execute(ex)
    .await?;
    Ok(())
}

pub async fn messages(db: &Db, thread_id: &str) -> Result<Vec<MessageRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT seq, run_id, kind, author, body, escalation_id, created_at FROM messages \
         WHERE thread_id = $1 ORDER BY seq",
    )
    .bind(thread_id)
    .fetch_all(db)
    .await
}

/// Claims the thread for a run; false while another run is working on it.
pub async fn claim(
    conn: &mut AnyConnection,
    thread_id: &str,
    run_id: &str,
) -> Result<bool, sqlx::Error> {
    let done =
        sqlx::query("UPDATE threads SET active_run = $2 WHERE id = $1 AND active_run IS NULL")
            .bind(thread_id)
            .bind(run_id)
            .execute(conn)
            .await?;
    Ok(done.rows_affected() == 1)
}

/// Frees the thread when its run ends (completed or failed).
pub async fn release(
    conn: &mut AnyConnection,
    thread_id: &str,
    run_id: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE threads SET active_run = NULL WHERE id = $1 AND active_run = $2")
        .bind(thread_id)
        .bind(run_id)
        .execute(conn)
        .await?;
    Ok(())
}
