//! Notification channels as stored. A deleted channel keeps its row (soft delete), so the
//! deliveries it made still name it on their cards.

use super::{Db, Params, now_ms};
use crate::notifications::ChannelKind;
use sqlx::{Any, AnyConnection, Executor};

#[derive(sqlx::FromRow, Debug, Clone)]
pub struct ChannelRow {
    pub id: String,
    pub team_id: String,
    pub team_name: String,
    pub kind: ChannelKind,
    pub name: String,
    pub min_severity_rank: i64,
    pub muted: i64,
    pub target: String,
    /// Sealed with the deployment's key (see `secret_box`): never sent anywhere.
    pub secret: Option<String>,
    /// A Slack app's signing secret, sealed too: set, the messages get answer buttons.
    pub signing_secret: Option<String>,
    /// The agent that answers what people write to the bot (Slack); none: it only notifies.
    pub agent_id: Option<String>,
    pub created_at: i64,
    pub deleted_at: Option<i64>,
}

const SELECT: &str = "SELECT c.id, c.team_id, t.name AS team_name, c.kind, c.name, \
    c.min_severity_rank, c.muted, c.target, c.secret, c.signing_secret, c.agent_id, \
    c.created_at, c.deleted_at \
    FROM channels c JOIN teams t ON t.id = c.team_id";

pub struct NewChannel<'a> {
    pub id: &'a str,
    pub team_id: &'a str,
    pub kind: ChannelKind,
    pub name: &'a str,
    pub min_severity_rank: i64,
    pub target: &'a str,
    pub secret: Option<&'a str>,
    pub created_by: &'a str,
}

pub async fn insert<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    c: NewChannel<'_>,
) -> Result<(), sqlx::Error> {
    let now = now_ms();
    sqlx::query(
        "INSERT INTO channels (id, team_id, kind, name, min_severity_rank, muted, target, secret, \
         created_by, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, 0, $6, $7, $8, $9, $9)",
    )
    .bind(c.id)
    .bind(c.team_id)
    .bind(c.kind.as_str())
    .bind(c.name)
    .bind(c.min_severity_rank)
    .bind(c.target)
    .bind(c.secret.map(str::to_string))
    .bind(c.created_by)
    .bind(now)
    .execute(ex)
    .await?;
    Ok(())
}

/// A channel, deleted or not.
pub async fn by_id<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    id: &str,
) -> Result<Option<ChannelRow>, sqlx::Error> {
    sqlx::query_as(&format!("{SELECT} WHERE c.id = $1"))
        .bind(id)
        .fetch_optional(ex)
        .await
}

/// A channel that is not deleted.
pub async fn live_by_id<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    id: &str,
) -> Result<Option<ChannelRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "{SELECT} WHERE c.id = $1 AND c.deleted_at IS NULL"
    ))
    .bind(id)
    .fetch_optional(ex)
    .await
}

/// These teams' channels that are not deleted, oldest first.
pub async fn for_teams(db: &Db, team_ids: &[String]) -> Result<Vec<ChannelRow>, sqlx::Error> {
    if team_ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut p = Params::default();
    let sql = format!(
        "{SELECT} WHERE c.team_id IN ({}) AND c.deleted_at IS NULL ORDER BY c.created_at, c.id",
        p.list(team_ids)
    );
    p.bind(sqlx::query_as(&sql)).fetch_all(db).await
}

/// The channels an escalation of this severity in this team goes to: not muted, not deleted,
/// and not asking for a higher severity.
pub async fn listening(
    conn: &mut AnyConnection,
    team_id: &str,
    severity_rank: i64,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT id FROM channels WHERE team_id = $1 AND deleted_at IS NULL AND muted = 0 \
         AND min_severity_rank <= $2 ORDER BY created_at, id",
    )
    .bind(team_id)
    .bind(severity_rank)
    .fetch_all(conn)
    .await
}

/// Mutes or unmutes; false when it already was so.
pub async fn set_muted<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    id: &str,
    muted: bool,
) -> Result<bool, sqlx::Error> {
    let r = sqlx::query(
        "UPDATE channels SET muted = $2, updated_at = $3 \
         WHERE id = $1 AND muted <> $2 AND deleted_at IS NULL",
    )
    .bind(id)
    .bind(i64::from(muted))
    .bind(now_ms())
    .execute(ex)
    .await?;
    Ok(r.rows_affected() > 0)
}

/// Changes the lowest severity sent; false when it already was so.
pub async fn set_min_severity<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    id: &str,
    rank: i64,
) -> Result<bool, sqlx::Error> {
    let r = sqlx::query(
        "UPDATE channels SET min_severity_rank = $2, updated_at = $3 \
         WHERE id = $1 AND min_severity_rank <> $2 AND deleted_at IS NULL",
    )
    .bind(id)
    .bind(rank)
    .bind(now_ms())
    .execute(ex)
    .await?;
    Ok(r.rows_affected() > 0)
}

/// Deletes (keeps the row for the cards that name it); false when it already was deleted.
pub async fn delete<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    id: &str,
) -> Result<bool, sqlx::Error> {
    let now = now_ms();
    let r = sqlx::query(
        "UPDATE channels SET deleted_at = $2, updated_at = $2 WHERE id = $1 AND deleted_at IS NULL",
    )
    .bind(id)
    .bind(now)
    .execute(ex)
    .await?;
    Ok(r.rows_affected() > 0)
}

/// Sets (sealed) or clears the signing secret that lets people answer from the channel.
pub async fn set_signing_secret<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    id: &str,
    sealed: Option<&str>,
) -> Result<bool, sqlx::Error> {
    let r = sqlx::query(
        "UPDATE channels SET signing_secret = $2, updated_at = $3 WHERE id = $1 AND deleted_at IS NULL",
    )
    .bind(id)
    .bind(sealed.map(str::to_string))
    .bind(now_ms())
    .execute(ex)
    .await?;
    Ok(r.rows_affected() > 0)
}

/// Sets or clears the agent that answers messages to the channel's bot.
pub async fn set_agent<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    id: &str,
    agent_id: Option<&str>,
) -> Result<bool, sqlx::Error> {
    let r = sqlx::query(
        "UPDATE channels SET agent_id = $2, updated_at = $3 WHERE id = $1 AND deleted_at IS NULL",
    )
    .bind(id)
    .bind(agent_id.map(str::to_string))
    .bind(now_ms())
    .execute(ex)
    .await?;
    Ok(r.rows_affected() > 0)
}

/// The channels of `kind` that name an agent to answer messages (and have a bot token).
pub async fn answering(db: &Db, kind: ChannelKind) -> Result<Vec<ChannelRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "{SELECT} WHERE c.kind = $1 AND c.agent_id IS NOT NULL AND c.secret IS NOT NULL \
         AND c.deleted_at IS NULL ORDER BY c.created_at, c.id"
    ))
    .bind(kind.as_str())
    .fetch_all(db)
    .await
}
