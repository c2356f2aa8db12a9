//! Runs as stored. Every change is conditional on the state it expects, so two instances (or
//! a restarted one and a late original) can never both move the same run.

use super::{Db, new_id, now_ms};
use sqlx::{Any, AnyConnection, Executor};

#[derive(sqlx::FromRow, Debug, Clone)]
pub struct RunRow {
    pub id: String,
    pub thread_id: String,
    pub team_id: String,
    pub agent_id: String,
    pub message_seq: i64,
    /// A value outside the four fails the query that read it rather than being guessed.
    pub status: crate::chat::RunStatus,
    pub description: String,
    pub steps: String,
    pub error: Option<String>,
    pub attempts: i64,
    /// The agent's connection and model when the run started (`None`: the default).
    pub connection_id: Option<String>,
    pub model: Option<String>,
    /// How many events led to this run (0: a person, the API, a webhook or a schedule).
    pub chain_depth: i64,
}

const SELECT: &str = "SELECT id, thread_id, team_id, agent_id, message_seq, status, description, \
    steps, error, attempts, connection_id, model, chain_depth FROM runs";

pub struct NewRun<'a> {
    pub thread_id: &'a str,
    pub team_id: &'a str,
    pub agent_id: &'a str,
    pub message_seq: i64,
    pub description: &'a str,
    pub connection_id: Option<&'a str>,
    pub model: Option<&'a str>,
    pub lease_until: i64,
    pub chain_depth: i64,
}

pub async fn insert(conn: &mut AnyConnection, run: NewRun<'_>) -> Result<String, sqlx::Error> {
    let id = new_id();
    insert_with_id(conn, &id, run).await?;
    Ok(id)
}

/// [`insert`] with an id chosen beforehand (a trigger's start refers to it before the run row
/// exists).
pub async fn insert_with_id<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    id: &str,
    run: NewRun<'_>,
) -> Result<(), sqlx::Error> {
    let now = now_ms();
    sqlx::query(
        "INSERT INTO runs (id, thread_id, team_id, agent_id, message_seq, status, description, \
         steps, lease_until, created_at, updated_at, connection_id, model, chain_depth) \
         VALUES ($1, $2, $3, $4, $5, 'running', $6, '[]', $7, $8, $8, $9, $10, $11)",
    )
    .bind(id)
    .bind(run.thread_id)
    .bind(run.team_id)
    .bind(run.agent_id)
    .bind(run.message_seq)
    .bind(run.description)
    .bind(run.lease_until)
    .bind(now)
    .bind(run.connection_id)
    .bind(run.model)
    .bind(run.chain_depth)
    .execute(ex)
    .await?;
    Ok(())
}

pub async fn by_id<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    id: &str,
) -> Result<Option<RunRow>, sqlx::Error> {
    sqlx::query_as(&format!("{SELECT} WHERE id = $1"))
        .bind(id)
        .fetch_optional(ex)
        .await
}

pub async fn latest_for_thread(db: &Db, thread_id: &str) -> Result<Option<RunRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "{SELECT} WHERE thread_id = $1 ORDER BY message_seq DESC, created_at DESC LIMIT 1"
    ))
    .bind(thread_id)
    .fetch_optional(db)
    .await
}

/// Moves a run from `from` to `to`, storing its steps and error; false when it was not in
/// `from` (someone else moved it first). Only `runtime::lifecycle` calls it, after checking
/// the transition table.
pub(in crate::server) async fn transition<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    id: &str,
    from: &str,
    to: &str,
    steps: &str,
    error: Option<&str>,
    lease_until: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE runs SET status = $3, steps = $4, error = $5, lease_until = $6, updated_at = $7 \
         WHERE id = $1 AND status = $2",
    )
    .bind(id)
    .bind(from)
    .bind(to)
    .bind(steps)
    .bind(error.map(str::to_string))
    .bind(lease_until)
    .bind(now_ms())
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Saves progress of a running run (steps so far).
pub async fn save_steps(db: &Db, id: &str, steps: &str) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE runs SET steps = $2, updated_at = $3 WHERE id = $1 AND status = 'running'",
    )
    .bind(id)
    .bind(steps)
    .bind(now_ms())
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Their driver is alive: keep others from taking these runs over (those still running).
pub async fn renew_leases(db: &Db, ids: &[String], until: i64) -> Result<(), sqlx::Error> {
    if ids.is_empty() {
        return Ok(());
    }
    let mut p = super::Params::default();
    let sql = format!(
        "UPDATE runs SET lease_until = {} WHERE status = 'running' AND id IN ({})",
        p.int(until),
        p.list(ids)
    );
    p.execute(&sql, db).await?;
    Ok(())
}

/// Running runs whose driver stopped renewing (it died with its process).
pub async fn abandoned(db: &Db, now: i64) -> Result<Vec<String>, sqlx::Error> {
    let rows: Vec<(String,)> =
        sqlx::query_as("SELECT id FROM runs WHERE status = 'running' AND lease_until < $1")
            .bind(now)
            .fetch_all(db)
            .await?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}

/// Takes over an abandoned run; exactly one taker wins. Returns the attempts so far.
pub async fn take_over(
    db: &Db,
    id: &str,
    now: i64,
    until: i64,
) -> Result<Option<i64>, sqlx::Error> {
    let row: Option<(i64,)> = sqlx::query_as(
        "UPDATE runs SET lease_until = $3, attempts = attempts + 1 \
         WHERE id = $1 AND status = 'running' AND lease_until < $2 RETURNING attempts",
    )
    .bind(id)
    .bind(now)
    .bind(until)
    .fetch_optional(db)
    .await?;
    Ok(row.map(|(a,)| a))
}

/// A retried run answers with the agent's model as it is now (a person may have fixed it).
pub async fn set_model(
    conn: &mut AnyConnection,
    id: &str,
    connection_id: Option<&str>,
    model: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE runs SET connection_id = $1, model = $2 WHERE id = $3")
        .bind(connection_id)
        .bind(model)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}
