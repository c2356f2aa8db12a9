//! The one owner of a run's state. Every change of a run's status goes through the named
//! operations here, over the typed [`RunStatus`], and the transition table below is the only
//! place that says which changes exist:
//!
//! ```text
//! running ──pause──▶ waiting ──resume──▶ running
//! running ──complete──▶ completed
//! running ──fail──▶ failed ──retry──▶ running
//! running ──take_over──▶ running (another driver, after the lease ran out)
//! ```
//!
//! Each operation is one conditional `UPDATE … WHERE status = <from>`, so of two concurrent
//! movers exactly one wins; the other learns it (`false`) and does nothing.

use crate::chat::RunStatus;
use crate::server::db::runs;
use sqlx::{Any, Executor};

/// Whether a run may go from `from` to `to`: the transition table, written once.
pub fn allowed(from: RunStatus, to: RunStatus) -> bool {
    use RunStatus::*;
    matches!(
        (from, to),
        (Running, Waiting)
            | (Running, Completed)
            | (Running, Failed)
            | (Waiting, Running)
            | (Failed, Running)
    )
}

/// A transition the table does not have: a bug in the caller, refused before the database.
#[derive(Debug, thiserror::Error)]
#[error("a run cannot go from {from:?} to {to:?}")]
pub struct IllegalTransition {
    pub from: RunStatus,
    pub to: RunStatus,
}

#[derive(Debug, thiserror::Error)]
pub enum TransitionError {
    #[error(transparent)]
    Illegal(#[from] IllegalTransition),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Moves a run from `from` to `to` with its steps, error and lease; false when the run was not
/// in `from` (someone else moved it first).
async fn transition<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    run_id: &str,
    (from, to): (RunStatus, RunStatus),
    steps: &str,
    error: Option<&str>,
    lease_until: i64,
) -> Result<bool, TransitionError> {
    if !allowed(from, to) {
        return Err(IllegalTransition { from, to }.into());
    }
    Ok(runs::transition(
        ex,
        run_id,
        from.as_str(),
        to.as_str(),
        steps,
        error,
        lease_until,
    )
    .await?)
}

/// A running run waits for a person (an escalation was raised).
pub async fn pause<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    run_id: &str,
    steps: &str,
) -> Result<bool, TransitionError> {
    use RunStatus::*;
    transition(ex, run_id, (Running, Waiting), steps, None, 0).await
}

/// A waiting run goes on with the person's answer among its steps, leased to this driver.
pub async fn resume<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    run_id: &str,
    steps: &str,
    lease_until: i64,
) -> Result<bool, TransitionError> {
    use RunStatus::*;
    transition(ex, run_id, (Waiting, Running), steps, None, lease_until).await
}

/// A failed run starts again from its stored steps (Retry).
pub async fn retry<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    run_id: &str,
    steps: &str,
    lease_until: i64,
) -> Result<bool, TransitionError> {
    use RunStatus::*;
    transition(ex, run_id, (Failed, Running), steps, None, lease_until).await
}

/// A running run ends with its reply.
pub async fn complete<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    run_id: &str,
    steps: &str,
) -> Result<bool, TransitionError> {
    use RunStatus::*;
    transition(ex, run_id, (Running, Completed), steps, None, 0).await
}

/// A running run fails with a message the thread shows (and a Retry button).
pub async fn fail<'e, E: Executor<'e, Database = Any>>(
    ex: E,
    run_id: &str,
    steps: &str,
    message: &str,
) -> Result<bool, TransitionError> {
    use RunStatus::*;
    transition(ex, run_id, (Running, Failed), steps, Some(message), 0).await
}

/// A running run whose driver's lease ran out is claimed by this driver.
pub async fn take_over(
    db: &crate::server::db::Db,
    run_id: &str,
    now: i64,
    lease_until: i64,
) -> Result<Option<i64>, sqlx::Error> {
    runs::take_over(db, run_id, now, lease_until).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_allows_exactly_the_five_transitions() {
        use RunStatus::*;
        let all = [Running, Waiting, Completed, Failed];
        let mut legal = Vec::new();
        for from in all {
            for to in all {
                if allowed(from, to) {
                    legal.push((from, to));
                }
            }
        }
        assert_eq!(
            legal,
            vec![
                (Running, Waiting),
                (Running, Completed),
                (Running, Failed),
                (Waiting, Running),
                (Failed, Running),
            ]
        );
    }
}
