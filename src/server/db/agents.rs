//! Agents and their Description revisions as stored.

use super::{Db, new_id, now_ms};
use sqlx::{Any, Executor};

#[derive(sqlx::FromRow, Debug, Clone)]
pub struct AgentRow {
    pub id: String,
    pub team_id: String,
    pub team_name: String,
    pub name: String,
    pub description: String,
    pub revision: i64,
    pub deleted_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    /// The agent's connection and model (`None`: the deployment's default).
    pub connection_id: Option<String>,
    pub model: Option<String>,
}

const SELECT: &str = "SELECT a.id, a.team_id, t.name AS team_name, a.name, a.description, \
    a.revision, a.deleted_at, a.created_at, a.updated_at, a.connection_id, a.model \
    FROM agents a JOIN teams t ON t.id = a.team_id";

#[derive(sqlx::FromRow, Debug, Clone)]
pub struct RevisionRow {
    pub revision: i64,
    pub description: String,
    pub author: String,
    pub created_at: i64,
}

/// Who saved a revision: a user, or Flare (demo data).
pub struct Author<'a> {
    pub id: Option<&'a str>,
    pub label: &'a str,
}

/// Creates an agent with its first revision, in one transaction.
pub async fn insert(
    db: &Db,
    team_id: &str,
    name: &str,
    description: &str,
    author: Author<'_>,
) -> Result<String, sqlx::Error> {
    let id = new_id();
    let now = now_ms();
    let mut tx = db.begin().await?;
    sqlx::query(
        "INSERT INTO agents (id, team_id, name, description, revision, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, 1, $5, $5)",
    )
    .bind(&id)
    .bind(team_id)
    .bind(name)
    .bind(description)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    insert_revision(&mut *tx, &id, 1, description, &author, now).await?;
    tx.commit().await?;
    Ok(id)
}

async fn insert_revision<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    agent_id: &str,
    revision: i64,
    description: &str,
    author: &Author<'_>,
    at: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO agent_revisions (agent_id, revision, description, author_id, author, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(agent_id)
    .bind(revision)
    .bind(description)
    .bind(author.id.map(str::to_string))
    .bind(author.label)
    .bind(at)
    .execute(ex)
    .await?;
    Ok(())
}

/// An agent, deleted or not (callers decide what a deleted one means to them).
pub async fn by_id(db: &Db, id: &str) -> Result<Option<AgentRow>, sqlx::Error> {
    sqlx::query_as(&format!("{SELECT} WHERE a.id = $1"))
        .bind(id)
        .fetch_optional(db)
        .await
}

/// The live agents of the given teams only: callers pass the viewer's team ids.
pub async fn for_teams(db: &Db, team_ids: &[String]) -> Result<Vec<AgentRow>, sqlx::Error> {
    live_in_teams(db, SELECT, team_ids, |a: &AgentRow| &a.name).await
}

/// The ids and names of these teams' agents, by name: the Escalations page's agent filter,
/// asked on every view, so it leaves the (possibly long) Descriptions where they are.
pub async fn names_for_teams(
    db: &Db,
    team_ids: &[String],
) -> Result<Vec<(String, String)>, sqlx::Error> {
    live_in_teams(
        db,
        "SELECT a.id, a.name FROM agents a",
        team_ids,
        |a: &(String, String)| &a.1,
    )
    .await
}

/// The live (not deleted) agents of these teams, read with `select` (which names the agents
/// table `a`), ordered by name regardless of case.
async fn live_in_teams<T>(
    db: &Db,
    select: &str,
    team_ids: &[String],
    name: impl Fn(&T) -> &str,
) -> Result<Vec<T>, sqlx::Error>
where
    T: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow> + Send + Unpin,
{
    if team_ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut p = super::Params::default();
    let sql = format!(
        "{select} WHERE a.team_id IN ({}) AND a.deleted_at IS NULL",
        p.list(team_ids)
    );
    let mut out: Vec<T> = p.bind(sqlx::query_as(&sql)).fetch_all(db).await?;
    out.sort_by_key(|a| name(a).to_lowercase());
    Ok(out)
}

/// Saves `description` as the next revision if the agent is still at `base`. Returns the new
/// revision, or `None` when someone saved in between (or the agent was deleted): nothing changed.
pub async fn save_description(
    db: &Db,
    agent_id: &str,
    base: i64,
    description: &str,
    author: Author<'_>,
) -> Result<Option<i64>, sqlx::Error> {
    let now = now_ms();
    let mut tx = db.begin().await?;
    // The conditional UPDATE is the lock: of two saves on the same base, one matches.
    let row: Option<(i64, String)> = sqlx::query_as(
        "UPDATE agents SET description = $1, revision = revision + 1, updated_at = $2 \
         WHERE id = $3 AND revision = $4 AND deleted_at IS NULL RETURNING revision, team_id",
    )
    .bind(description)
    .bind(now)
    .bind(agent_id)
    .bind(base)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((revision, team_id)) = row else {
        return Ok(None);
    };
    insert_revision(&mut *tx, agent_id, revision, description, &author, now).await?;
    super::audit::record_for(
        &mut *tx,
        match author.id {
            Some(id) => super::audit::Actor::User {
                id,
                email: author.label,
            },
            None => super::audit::Actor::System,
        },
        Some(&team_id),
        "agent.description_changed",
        agent_id,
        &format!("revision {revision}"),
    )
    .await?;
    tx.commit().await?;
    Ok(Some(revision))
}

pub async fn revisions(db: &Db, agent_id: &str) -> Result<Vec<RevisionRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT revision, description, author, created_at FROM agent_revisions \
         WHERE agent_id = $1 ORDER BY revision DESC",
    )
    .bind(agent_id)
    .fetch_all(db)
    .await
}

pub async fn revision(
    db: &Db,
    agent_id: &str,
    revision: i64,
) -> Result<Option<RevisionRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT revision, description, author, created_at FROM agent_revisions \
         WHERE agent_id = $1 AND revision = $2",
    )
    .bind(agent_id)
    .bind(revision)
    .fetch_optional(db)
    .await
}

pub async fn rename<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    agent_id: &str,
    name: &str,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE agents SET name = $1, updated_at = $2 WHERE id = $3 AND deleted_at IS NULL",
    )
    .bind(name)
    .bind(now_ms())
    .bind(agent_id)
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn soft_delete<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    agent_id: &str,
) -> Result<bool, sqlx::Error> {
    let done =
        sqlx::query("UPDATE agents SET deleted_at = $1 WHERE id = $2 AND deleted_at IS NULL")
            .bind(now_ms())
            .bind(agent_id)
            .execute(ex)
            .await?;
    Ok(done.rows_affected() == 1)
}
