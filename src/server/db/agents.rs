//! Agents as stored. Their pages and editing come with the Agents issue; the demo seeds them.

use super::{Db, new_id, now_ms};

#[derive(sqlx::FromRow, Debug, Clone)]
pub struct AgentRow {
    pub id: String,
    pub team_id: String,
    pub name: String,
    pub description: String,
    pub created_at: i64,
    pub updated_at: i64,
}

pub async fn insert(
    db: &Db,
    team_id: &str,
    name: &str,
    description: &str,
) -> Result<AgentRow, sqlx::Error> {
    let now = now_ms();
    let row = AgentRow {
        id: new_id(),
        team_id: team_id.into(),
        name: name.into(),
        description: description.into(),
        created_at: now,
        updated_at: now,
    };
    sqlx::query(
        "INSERT INTO agents (id, team_id, name, description, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&row.id)
    .bind(&row.team_id)
    .bind(&row.name)
    .bind(&row.description)
    .bind(row.created_at)
    .bind(row.updated_at)
    .execute(db)
    .await?;
    Ok(row)
}

/// The agents of the given teams only: callers pass the viewer's team ids.
pub async fn for_teams(db: &Db, team_ids: &[String]) -> Result<Vec<AgentRow>, sqlx::Error> {
    let mut out = Vec::new();
    for team_id in team_ids {
        let mut rows: Vec<AgentRow> = sqlx::query_as(
            "SELECT id, team_id, name, description, created_at, updated_at FROM agents \
             WHERE team_id = $1 ORDER BY name",
        )
        .bind(team_id)
        .fetch_all(db)
        .await?;
        out.append(&mut rows);
    }
    Ok(out)
}
