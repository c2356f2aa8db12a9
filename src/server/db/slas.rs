//! Each team's SLAs (minutes an escalation may stay open, by severity) and the channel that
//! hears when nobody answered in twice that time.

use super::{Db, Params, now_ms};
use sqlx::{Any, AnyConnection, Executor};

#[derive(sqlx::FromRow, Debug, Clone, Default)]
pub struct SlaRow {
    pub team_id: String,
    pub info_minutes: Option<i64>,
    pub warning_minutes: Option<i64>,
    pub critical_minutes: Option<i64>,
    pub fallback_channel_id: Option<String>,
}

impl SlaRow {
    pub fn minutes(&self, severity: crate::rules::Severity) -> Option<i64> {
        use crate::rules::Severity::*;
        match severity {
            Info => self.info_minutes,
            Warning => self.warning_minutes,
            Critical => self.critical_minutes,
        }
    }
}

const SELECT: &str = "SELECT team_id, info_minutes, warning_minutes, critical_minutes, \
    fallback_channel_id FROM team_slas";

pub async fn of_team(
    conn: &mut AnyConnection,
    team_id: &str,
) -> Result<Option<SlaRow>, sqlx::Error> {
    sqlx::query_as(&format!("{SELECT} WHERE team_id = $1"))
        .bind(team_id)
        .fetch_optional(conn)
        .await
}

pub async fn for_teams(db: &Db, team_ids: &[String]) -> Result<Vec<SlaRow>, sqlx::Error> {
    if team_ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut p = Params::default();
    let sql = format!("{SELECT} WHERE team_id IN ({})", p.list(team_ids));
    p.bind(sqlx::query_as(&sql)).fetch_all(db).await
}

/// Stores a team's SLAs, replacing what it had.
pub async fn save<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    s: &SlaRow,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO team_slas (team_id, info_minutes, warning_minutes, critical_minutes, \
         fallback_channel_id, updated_at) VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (team_id) DO UPDATE SET info_minutes = $2, warning_minutes = $3, \
         critical_minutes = $4, fallback_channel_id = $5, updated_at = $6",
    )
    .bind(&s.team_id)
    .bind(s.info_minutes)
    .bind(s.warning_minutes)
    .bind(s.critical_minutes)
    .bind(s.fallback_channel_id.clone())
    .bind(now_ms())
    .execute(ex)
    .await?;
    Ok(())
}
