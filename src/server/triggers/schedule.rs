//! Schedules: a cron expression (croner, five fields: at most once a minute) in an IANA time
//! zone (jiff). Every instance looks for due schedules each tick; a firing is claimed by moving
//! `next_fire_at` on with a conditional UPDATE in the run's own transaction, so each firing
//! starts exactly one run across instances and restarts. The next firing is the first one
//! after *now*, so a schedule that missed several slots while Flare was down fires once.

use super::{Start, StartError};
use crate::error::AppError;
use crate::server::db::now_ms;
use crate::server::db::triggers::{self as db, TriggerRow};
use crate::server::state::AppState;
use croner::Cron;
use croner::parser::{CronParser, Seconds};
use jiff::tz::TimeZone;
use jiff::{Timestamp, Zoned};

/// The longest cron expression Flare reads.
const MAX_CRON: usize = 200;

/// A checked schedule: its expression and time zone.
pub struct Schedule {
    cron: Cron,
    tz: TimeZone,
}

impl Schedule {
    /// Reads `expression` in `time_zone`, or says clearly what is wrong with either.
    pub fn parse(expression: &str, time_zone: &str) -> Result<Self, AppError> {
        let expression = expression.trim();
        if expression.is_empty() {
            return Err(AppError::invalid(
                "Enter a cron expression, e.g. 0 9 * * MON-FRI (9:00 on weekdays).",
            ));
        }
        if expression.len() > MAX_CRON {
            return Err(AppError::invalid(format!(
                "A cron expression is at most {MAX_CRON} characters."
            )));
        }
        if expression.split_whitespace().count() == 6 {
            return Err(AppError::invalid(
                "A schedule fires at most once a minute: use five fields (minute hour day month weekday), without seconds.",
            ));
        }
        let cron = CronParser::builder()
            .seconds(Seconds::Disallowed)
            .build()
            .parse(expression)
            .map_err(|e| {
                AppError::invalid(format!(
                    "That is not a cron expression Flare reads ({e}). Use five fields: minute hour day month weekday, e.g. 0 9 * * MON-FRI."
                ))
            })?;
        let time_zone = time_zone.trim();
        let tz = TimeZone::get(time_zone).map_err(|_| {
            AppError::invalid(format!(
                "\u{201c}{time_zone}\u{201d} is not an IANA time zone; use a name like Europe/Paris, America/New_York or UTC."
            ))
        })?;
        let schedule = Self { cron, tz };
        // One that never fires (the 30th of February) is refused now, not discovered later.
        schedule.next_after(now_ms()).map_err(|_| {
            AppError::invalid("This cron expression never fires (no date matches it).")
        })?;
        Ok(schedule)
    }

    /// The first firing strictly after `after_ms`, in unix milliseconds.
    pub fn next_after(&self, after_ms: i64) -> Result<i64, croner::errors::CronError> {
        let start = Zoned::new(
            Timestamp::from_millisecond(after_ms).unwrap_or(Timestamp::UNIX_EPOCH),
            self.tz.clone(),
        );
        let next = self.cron.find_next_occurrence(&start, false)?;
        Ok(next.timestamp().as_millisecond())
    }

    /// The next `n` firings after `after_ms`, as people read them in the schedule's zone.
    pub fn upcoming(&self, after_ms: i64, n: usize) -> Vec<String> {
        let mut out = Vec::with_capacity(n);
        let mut at = after_ms;
        for _ in 0..n {
            let Ok(next) = self.next_after(at) else { break };
            let zoned = Zoned::new(
                Timestamp::from_millisecond(next).unwrap_or(Timestamp::UNIX_EPOCH),
                self.tz.clone(),
            );
            out.push(zoned.strftime("%a %Y-%m-%d %H:%M %Z").to_string());
            at = next;
        }
        out
    }
}

/// Looks for due schedules (and escalations' reminders) every tick and fires them, for as
/// long as the server runs.
pub async fn run_scheduler(state: AppState) {
    let tick = std::time::Duration::from_millis(state.config.scheduler_tick_ms);
    loop {
        match db::due_schedules(&state.db, now_ms(), 100).await {
            Ok(rows) => {
                for row in rows {
                    fire(&state, &row).await;
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot look for due schedules"),
        }
        // Escalations' reminders ride the same tick and the same kind of claim.
        crate::server::notifications::sla::remind_due(&state).await;
        tokio::time::sleep(tick).await;
    }
}

/// Fires one due schedule, if this instance claims it first.
async fn fire(state: &AppState, row: &TriggerRow) {
    let Some(due) = row.next_fire_at else { return };
    let now = now_ms();
    let schedule = Schedule::parse(
        row.cron.as_deref().unwrap_or_default(),
        row.time_zone.as_deref().unwrap_or_default(),
    );
    // What it missed while Flare was down collapses into this one firing.
    let next = match schedule.map(|s| s.next_after(now)) {
        Ok(Ok(next)) => next,
        _ => i64::MAX, // it can no longer fire: park it rather than retry every tick
    };
    let agent = match crate::server::db::agents::by_id(&state.db, &row.agent_id).await {
        Ok(Some(a)) if a.deleted_at.is_none() => a,
        Ok(_) => {
            if let Ok(true) = db::claim_firing(&state.db, &row.id, due, next).await {
                super::audit_rejected(&state.db, row, "its agent was deleted; nothing was started")
                    .await;
            }
            return;
        }
        Err(e) => {
            tracing::warn!(error = %e, trigger = %row.id, "cannot read a schedule's agent");
            return;
        }
    };
    let result = super::start_run(
        state,
        Start {
            claim: Some((&row.id, due, next)),
            ..Start::fired(row, &agent, row.message.as_deref().unwrap_or_default())
        },
    )
    .await;
    match result {
        Ok(started) => tracing::info!(trigger = %row.id, run = %started.run_id, "schedule fired"),
        Err(StartError::NotClaimed) => {} // another instance fired it
        Err(e) => tracing::warn!(error = %e, trigger = %row.id, "cannot fire a schedule"),
    }
}
