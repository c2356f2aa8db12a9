//! Starts on SQLite arrive together and commit together (group commit).
//!
//! SQLite writes one transaction at a time and, at its default `synchronous = FULL`, waits for
//! the disk at every commit. Under a burst of webhooks that wait, not the work, set the pace:
//! one start per disk flush. Here each caller queues its start and a drainer takes the write
//! turn; whoever gets the turn writes everything queued by then in one transaction, so one
//! flush serves many starts and each start is as durable as before. A start that waited alone
//! is written alone, at once.
//!
//! The drainer is a task of its own, so a caller that stops waiting (a client that hangs up)
//! cannot leave a batch half written: what is queued is written, driven and announced.

use super::{Job, StartError, Started, Written, started, write};
use crate::server::state::AppState;
use tokio::sync::oneshot;

/// At most this many starts share a transaction (a few milliseconds of writing), so the first
/// of them does not wait long for the last, and the run lifecycle's writers, which take the
/// same turn, get theirs between batches.
pub const MAX_BATCH: usize = 64;

type Answer = Result<Option<Started>, StartError>;

/// The starts waiting to be written, in arrival order.
#[derive(Default)]
pub struct Intake(std::sync::Mutex<Vec<(Job, oneshot::Sender<Answer>)>>);

impl Intake {
    fn push(&self, job: Job, reply: oneshot::Sender<Answer>) {
        self.0.lock().expect("intake").push((job, reply));
    }

    fn take(&self) -> Vec<(Job, oneshot::Sender<Answer>)> {
        let mut queue = self.0.lock().expect("intake");
        let n = queue.len().min(MAX_BATCH);
        queue.drain(..n).collect()
    }
}

/// Queues `job` and waits until it is written: `Some` when it started a run, `None` when its
/// key was taken by an earlier request.
pub(super) async fn submit(state: &AppState, job: Job) -> Answer {
    let (reply, answer) = oneshot::channel();
    state.intake.push(job, reply);
    tokio::spawn(drain(state.clone()));
    answer
        .await
        .unwrap_or_else(|_| Err(StartError::Unwritten("its writer stopped".into())))
}

/// Takes the write turn and writes what is queued. Drainers queue for the turn like every
/// other lifecycle writer; one that finds the queue empty (an earlier one took its start along)
/// only passes the turn on.
async fn drain(state: AppState) {
    let turn = state.writes.take().await;
    let batch = state.intake.take();
    if batch.is_empty() {
        return;
    }
    match turn {
        Ok(_turn) => write_batch(&state, batch).await,
        Err(e) => {
            for (_, reply) in batch {
                let _ = reply.send(Err(StartError::Database(sqlx::Error::PoolTimedOut)));
            }
            tracing::warn!(error = %e, "starts not written: no write turn in time");
        }
    }
}

enum BatchError {
    /// The database refused this start (by its index): it is answered alone.
    Start(usize, sqlx::Error),
    /// The transaction itself failed: every start in it hears why.
    Batch(sqlx::Error),
}

/// Writes a batch in one transaction and answers each start once it has committed. A start the
/// database refuses gets its error and the others are written again without it; a failed
/// transaction fails them all (nothing of it is stored, so each caller may retry).
async fn write_batch(state: &AppState, mut batch: Vec<(Job, oneshot::Sender<Answer>)>) {
    loop {
        match try_batch(state, &batch).await {
            Ok(outcomes) => {
                for ((job, reply), outcome) in batch.into_iter().zip(outcomes) {
                    let answer = match outcome {
                        Ok(Written::Fresh) => Ok(Some(started(state, &job).await)),
                        Ok(Written::Earlier) => Ok(None),
                        Err(e) => Err(e),
                    };
                    let _ = reply.send(answer);
                }
                return;
            }
            Err(BatchError::Start(i, e)) => {
                let (_, reply) = batch.remove(i);
                let _ = reply.send(Err(StartError::Database(e)));
                if batch.is_empty() {
                    return;
                }
            }
            Err(BatchError::Batch(e)) => {
                tracing::warn!(error = %e, starts = batch.len(), "a batch of starts failed");
                let why = e.to_string();
                for (_, reply) in batch {
                    let _ = reply.send(Err(StartError::Unwritten(why.clone())));
                }
                return;
            }
        }
    }
}

async fn try_batch(
    state: &AppState,
    batch: &[(Job, oneshot::Sender<Answer>)],
) -> Result<Vec<Result<Written, StartError>>, BatchError> {
    let mut tx = state.db.begin().await.map_err(BatchError::Batch)?;
    let mut outcomes = Vec::with_capacity(batch.len());
    for (i, (job, _)) in batch.iter().enumerate() {
        // A refusal (a firing claimed elsewhere, a key taken) wrote nothing: see `write`.
        match write(&mut tx, job).await {
            Err(StartError::Database(e)) => return Err(BatchError::Start(i, e)),
            outcome => outcomes.push(outcome),
        }
    }
    tx.commit().await.map_err(BatchError::Batch)?;
    Ok(outcomes)
}
