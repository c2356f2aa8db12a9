//! SLAs and reminders. An escalation is due when its team's SLA for its severity passes (a
//! critical one without an SLA after FLARE_CRITICAL_OVERDUE_MINUTES), fixed when it is raised.
//! Past that it is overdue, and a reminder goes to the channels told of it; when nobody
//! answered in twice the SLA, a second goes to the team's fallback channel. The scheduler's
//! tick finds due reminders, and each is claimed by moving `remind_at` on in the transaction
//! that queues its notices, so it fires once across instances. "Remind me in 1 h" (snooze) sets
//! the next reminder.

use crate::error::AppError;
use crate::notifications::TeamSla;
use crate::rules::Severity;
use crate::server::auth::viewer;
use crate::server::db::{
    audit, channels, escalations as esc_db, now_ms, outbox,
    slas::{self, SlaRow},
};
use crate::server::state::{AppState, app_state};

/// The longest SLA or snooze: 30 days, in minutes.
pub const MAX_MINUTES: i64 = 30 * 24 * 60;

/// When an escalation of `severity` raised now in `team_id` is due, if ever.
pub async fn due_at(
    conn: &mut sqlx::AnyConnection,
    team_id: &str,
    severity: Severity,
    critical_default_minutes: u64,
) -> Result<Option<i64>, sqlx::Error> {
    let sla = slas::of_team(conn, team_id).await?.unwrap_or_default();
    let minutes = sla
        .minutes(severity)
        .or_else(|| (severity == Severity::Critical).then_some(critical_default_minutes as i64));
    Ok(minutes.map(|m| now_ms() + m * 60_000))
}

/// Sends the reminders that are due (called on each scheduler tick).
pub async fn remind_due(state: &AppState) {
    let due = match esc_db::due_reminders(&state.db, now_ms(), 100).await {
        Ok(due) => due,
        Err(e) => {
            tracing::warn!(error = %e, "cannot look for due reminders");
            return;
        }
    };
    for d in due {
        if let Err(e) = remind(state, &d).await {
            tracing::warn!(error = %e, escalation = %d.id, "cannot send a reminder");
        }
    }
}

async fn remind(state: &AppState, d: &esc_db::DueReminder) -> Result<(), sqlx::Error> {
    let _turn = state.writes.take().await?;
    let mut tx = state.db.begin().await?;
    let sla = slas::of_team(&mut tx, &d.team_id)
        .await?
        .unwrap_or_default();
    let fallback = match &sla.fallback_channel_id {
        Some(id) => channels::by_id(&mut *tx, id)
            .await?
            .filter(|c| c.deleted_at.is_none())
            .map(|c| c.id),
        None => None,
    };
    // The first reminder (or one asked for by a snooze) goes to the channels told of it; the
    // second, at twice the SLA, to the fallback channel when there is one.
    let second = d.reminders == 1 && fallback.is_some();
    let next = match (d.reminders, d.due_at, &fallback) {
        (0, Some(due), Some(_)) => Some((due + (due - d.created_at)).max(d.remind_at + 1)),
        _ => None,
    };
    if !esc_db::claim_reminder(&mut tx, &d.id, d.remind_at, next).await? {
        return Ok(()); // another instance sent it, or it was answered
    }
    let to: Vec<String> = if second {
        fallback.into_iter().collect()
    } else {
        outbox::told_of(&mut tx, &d.id).await?
    };
    outbox::enqueue(&mut tx, &d.team_id, &d.id, outbox::REMINDER, &to).await?;
    // Overdue from now: open pages (rows, cards, widgets) read it again.
    let ev = crate::live::LiveEvent::in_thread(
        &d.team_id,
        &d.thread_id,
        crate::live::Change::Escalation {
            escalation_id: d.id.clone(),
            status: crate::escalations::EscalationStatus::Open,
        },
    );
    if to.is_empty() {
        state
            .events
            .commit_then_publish(&state.db, tx, [ev])
            .await?;
        return Ok(());
    }
    let detail = format!(
        "reminder {} to {} channel{}",
        d.reminders + 1,
        to.len(),
        if to.len() == 1 { "" } else { "s" }
    );
    audit::record_for(
        &mut *tx,
        audit::Actor::System,
        Some(&d.team_id),
        "escalation.reminded",
        &d.id,
        &detail,
    )
    .await?;
    state
        .events
        .commit_then_publish(&state.db, tx, [ev])
        .await?;
    state.notifier.wake();
    Ok(())
}

/// A number of minutes from a form: empty is none; otherwise 1 to 30 days.
fn minutes(raw: &str, what: &str) -> Result<Option<i64>, AppError> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    raw.parse::<i64>()
        .ok()
        .filter(|m| (1..=MAX_MINUTES).contains(m))
        .map(Some)
        .ok_or_else(|| {
            AppError::invalid(format!(
                "The {what} SLA is a number of minutes from 1 to {MAX_MINUTES} (30 days), or empty for none."
            ))
        })
}

pub async fn load() -> Result<Vec<TeamSla>, AppError> {
    let v = viewer().await?;
    v.require_manager_to("manage notifications")?;
    let state = app_state()?;
    let saved = slas::for_teams(&state.db, &v.team_ids).await?;
    let teams = crate::server::db::teams::all(&state.db).await?;
    Ok(teams
        .into_iter()
        .filter(|t| v.team_ids.contains(&t.id))
        .map(|t| (t.id, t.name))
        .map(|(team_id, team_name)| {
            let s = saved
                .iter()
                .find(|s| s.team_id == team_id)
                .cloned()
                .unwrap_or_default();
            TeamSla {
                team_id,
                team_name,
                info_minutes: s.info_minutes,
                warning_minutes: s.warning_minutes,
                critical_minutes: s.critical_minutes,
                fallback_channel_id: s.fallback_channel_id,
            }
        })
        .collect())
}

pub async fn save(
    team_id: String,
    info_minutes: String,
    warning_minutes: String,
    critical_minutes: String,
    fallback_channel_id: String,
) -> Result<(), AppError> {
    let v = viewer().await?;
    v.require_manager_to("manage notifications")?;
    v.require_team(&team_id)?;
    let state = app_state()?;
    let row = SlaRow {
        info_minutes: minutes(&info_minutes, "info")?,
        warning_minutes: minutes(&warning_minutes, "warning")?,
        critical_minutes: minutes(&critical_minutes, "critical")?,
        fallback_channel_id: None,
        team_id,
    };
    let fallback = match fallback_channel_id.trim() {
        "" => None,
        id => Some(
            channels::live_by_id(&state.db, id)
                .await?
                .filter(|c| c.team_id == row.team_id)
                .ok_or_else(|| {
                    AppError::NotFound("No such channel in this team for reminders.".into())
                })?,
        ),
    };
    let row = SlaRow {
        fallback_channel_id: fallback.as_ref().map(|c| c.id.clone()),
        ..row
    };
    let show = |m: Option<i64>| m.map_or("none".to_string(), |m| format!("{m} min"));
    let detail = format!(
        "SLAs: critical {}, warning {}, info {}; fallback {}",
        show(row.critical_minutes),
        show(row.warning_minutes),
        show(row.info_minutes),
        fallback.map_or("none".to_string(), |c| format!(
            "\u{201c}{}\u{201d}",
            c.name
        ))
    );
    let mut tx = state.db.begin().await?;
    slas::save(&mut *tx, &row).await?;
    audit::record_for(
        &mut *tx,
        v.actor(),
        Some(&row.team_id),
        "sla.changed",
        &row.team_id,
        &detail,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// "Remind me in …": any member of the escalation's team, while it is open.
pub async fn snooze(escalation_id: String, minutes: i64) -> Result<(), AppError> {
    let v = viewer().await?;
    let state = app_state()?;
    if !(1..=MAX_MINUTES).contains(&minutes) {
        return Err(AppError::invalid(format!(
            "Snooze for 1 to {MAX_MINUTES} minutes (30 days)."
        )));
    }
    let not_found = || AppError::NotFound("No such escalation.".into());
    let row = esc_db::by_id(&state.db, &escalation_id)
        .await?
        .ok_or_else(not_found)?;
    v.require_team(&row.team_id).map_err(|_| not_found())?;
    let until = now_ms() + minutes * 60_000;
    let mut tx = state.db.begin().await?;
    if !esc_db::snooze(&mut *tx, &row.id, until).await? {
        return Err(AppError::Conflict(
            crate::escalations::ALREADY_RESOLVED.into(),
        ));
    }
    audit::record_for(
        &mut *tx,
        v.actor(),
        Some(&row.team_id),
        "escalation.snoozed",
        &row.id,
        &format!("remind in {minutes} min"),
    )
    .await?;
    let ev = crate::live::LiveEvent::in_thread(
        &row.team_id,
        &row.thread_id,
        crate::live::Change::Escalation {
            escalation_id: row.id.clone(),
            status: row.status,
        },
    );
    state
        .events
        .commit_then_publish(&state.db, tx, [ev])
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_sla_is_empty_or_one_minute_to_thirty_days() {
        assert_eq!(minutes("", "info").unwrap(), None);
        assert_eq!(minutes(" 15 ", "info").unwrap(), Some(15));
        assert_eq!(minutes("43200", "info").unwrap(), Some(MAX_MINUTES));
        for bad in ["0", "-5", "43201", "1.5", "soon"] {
            assert!(minutes(bad, "info").is_err(), "{bad:?} was accepted");
        }
    }
}
