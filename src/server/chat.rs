//! Server side of chat: team-scoped threads, messages that start runs, retries.

use super::auth::{Viewer, viewer};
use super::db::escalations::{self as esc_db, EscalationRow};
use super::db::runs::{self, NewRun};
use super::db::threads::{self, ThreadRow};
use super::db::{Db, now_ms};
use super::markdown::to_safe_html;
use super::runtime;
use super::state::{AppState, app_state};
use crate::chat::{
    MAX_MESSAGE_BYTES, MessageKind, MessageView, RunStatus, RunView, ThreadSummary, ThreadView,
    Trigger,
};
use crate::error::AppError;
use crate::escalations::EscalationView;
use crate::live::{Change, LiveEvent};
use crate::validate;

/// How many threads the chat list shows.
const THREAD_LIST_LIMIT: i64 = 200;

fn not_found() -> AppError {
    AppError::NotFound("No such thread.".into())
}

/// The thread if the viewer may see it; another team's thread does not exist for them.
pub async fn visible(v: &Viewer, db: &Db, thread_id: &str) -> Result<ThreadRow, AppError> {
    let row = threads::by_id(db, thread_id).await?.ok_or_else(not_found)?;
    v.require_team(&row.team_id).map_err(|_| not_found())?;
    Ok(row)
}

fn summary(row: ThreadRow) -> ThreadSummary {
    ThreadSummary {
        id: row.id,
        agent_id: row.agent_id,
        agent_name: row.agent_name,
        team_name: row.team_name,
        trigger: row.trigger,
        title: row.title,
        updated_at_ms: row.updated_at,
    }
}

/// `critical_due_ms`: how long a critical escalation raised before SLAs existed may stay open.
pub fn escalation_view(row: EscalationRow, critical_due_ms: i64) -> EscalationView {
    let due_at_ms = row.due_at.or_else(|| {
        (row.severity == crate::rules::Severity::Critical)
            .then_some(row.created_at + critical_due_ms)
    });
    let overdue = row.status == crate::escalations::EscalationStatus::Open
        && due_at_ms.is_some_and(|due| super::db::now_ms() > due);
    EscalationView {
        overdue,
        due_at_ms,
        snoozed_until_ms: row.snoozed_until,
        severity: row.severity,
        status: row.status,
        blocking: row.blocking != 0,
        id: row.id,
        thread_id: row.thread_id,
        agent_name: row.agent_name,
        trigger: row.trigger,
        reason: row.reason,
        guidance: row.guidance,
        responder: row.responder,
        created_at_ms: row.created_at,
        answered_at_ms: row.answered_at,
        deliveries: Vec::new(),
    }
}

pub async fn list() -> Result<Vec<ThreadSummary>, AppError> {
    let v = viewer().await?;
    let state = app_state()?;
    Ok(
        threads::for_teams(&state.db, &v.team_ids, THREAD_LIST_LIMIT)
            .await?
            .into_iter()
            .map(summary)
            .collect(),
    )
}

pub async fn start(agent_id: String) -> Result<String, AppError> {
    let v = viewer().await?;
    let state = app_state()?;
    let agent = super::agents::visible(&v, &state.db, &agent_id).await?;
    let title = format!("Chat with {}", agent.name);
    Ok(threads::insert(
        &state.db,
        &agent.team_id,
        &agent.id,
        Trigger::Chat,
        &title,
        Some(&v.user.id),
    )
    .await?)
}

pub async fn load(thread_id: String) -> Result<ThreadView, AppError> {
    let v = viewer().await?;
    let state = app_state()?;
    let thread = visible(&v, &state.db, &thread_id).await?;
    // Read in the order things are written (run state, then messages, then their cards), so
    // a page never sees a run waiting without its card, nor a card without its escalation.
    let last_run = runs::latest_for_thread(&state.db, &thread.id)
        .await?
        .map(|r| RunView {
            status: r.status,
            id: r.id,
            error: r.error,
        });
    let rows = threads::messages(&state.db, &thread.id).await?;
    let mut cards: Vec<EscalationView> = esc_db::for_thread(&state.db, &thread.id)
        .await?
        .into_iter()
        .map(|r| escalation_view(r, state.config.critical_overdue_minutes as i64 * 60_000))
        .collect();
    super::notifications::with_deliveries(&state.db, &mut cards).await?;
    let mut cards: std::collections::HashMap<String, EscalationView> =
        cards.into_iter().map(|c| (c.id.clone(), c)).collect();
    let messages = rows
        .into_iter()
        .map(|m| {
            let kind = m.kind;
            MessageView {
                seq: m.seq,
                kind,
                // A card shows its reason as plain text; everything else is Markdown.
                html: if kind == MessageKind::Escalation {
                    String::new()
                } else {
                    to_safe_html(&m.body)
                },
                author: m.author,
                at_ms: m.created_at,
                escalation: m.escalation_id.and_then(|id| cards.remove(&id)),
            }
        })
        .collect();
    Ok(ThreadView {
        id: thread.id,
        agent_id: thread.agent_id,
        agent_name: thread.agent_name,
        trigger: thread.trigger,
        title: thread.title,
        messages,
        last_run,
    })
}

/// Why a thread is busy, in words.
async fn busy(db: &Db, thread_id: &str) -> AppError {
    let waiting = matches!(
        runs::latest_for_thread(db, thread_id).await,
        Ok(Some(r)) if r.status == RunStatus::Waiting
    );
    AppError::Conflict(if waiting {
        "The agent is waiting for a person to answer its escalation. Respond & Resume or Dismiss it first; your message was not sent.".into()
    } else {
        "The agent is still working on the last message. Wait for its reply; your message was not sent.".into()
    })
}

#[tracing::instrument(name = "send", skip(body))]
pub async fn send(thread_id: String, body: String) -> Result<(), AppError> {
    let v = viewer().await?;
    let state = app_state()?;
    let thread = visible(&v, &state.db, &thread_id).await?;
    let body = validate::long_text(&body, "message", MAX_MESSAGE_BYTES)?;
    // The Description in force is the one saved at this moment.
    let agent = super::db::agents::by_id(&state.db, &thread.agent_id)
        .await?
        .filter(|a| a.deleted_at.is_none())
        .ok_or_else(|| {
            AppError::NotFound("This thread's agent was deleted; your message was not sent.".into())
        })?;
    let mut tx = state.db.begin().await?;
    let run_id = message_and_run(&state, &mut tx, &thread, &agent, &v.user.name, &body).await?;
    if !threads::claim(&mut tx, &thread.id, &run_id).await? {
        drop(tx); // Rolls back: the message is not stored, the user keeps it in the composer.
        return Err(busy(&state.db, &thread.id).await);
    }
    started(&state, tx, &thread, run_id).await
}

/// Adds a person's message to the thread and a run of its agent (the Description in force
/// now) to answer it, in `tx`; returns the run's id.
async fn message_and_run(
    state: &AppState,
    tx: &mut super::db::Tx,
    thread: &ThreadRow,
    agent: &super::db::agents::AgentRow,
    author: &str,
    body: &str,
) -> Result<String, sqlx::Error> {
    let seq = threads::add_message(
        &mut *tx,
        &thread.id,
        None,
        MessageKind::User,
        author,
        body,
        None,
    )
    .await?;
    runs::insert(
        &mut *tx,
        NewRun {
            thread_id: &thread.id,
            team_id: &thread.team_id,
            agent_id: &thread.agent_id,
            message_seq: seq,
            description: &agent.description,
            connection_id: agent.connection_id.as_deref(),
            model: agent.model.as_deref(),
            lease_until: now_ms() + state.runtime.lease.as_millis() as i64,
            chain_depth: 0,
        },
    )
    .await
}

/// How a chat message that continues a thread was taken.
#[derive(Debug, PartialEq, Eq)]
pub enum Continued {
    /// Its run started.
    Started,
    /// The same chat message was taken before (a retry): nothing more was done.
    Earlier,
    /// The thread's agent is still on the last message, or waiting for a person.
    Busy,
    /// The thread or its agent is gone.
    Gone,
}

/// A chat message (Slack) or a mail that answers in a thread a chat message or mail started: added to that
/// Flare thread as the next message, and a run of its agent started on it, with where its
/// reply goes and the chat message's key (`once`: scope and key, so a retry adds nothing),
/// all in one transaction.
pub async fn continue_from_chat(
    state: &AppState,
    thread_id: &str,
    author: &str,
    body: &str,
    once: (&str, &str),
    reply_to: crate::server::triggers::ReplyTo,
) -> Result<Continued, AppError> {
    let Some(thread) = threads::by_id(&state.db, thread_id).await? else {
        return Ok(Continued::Gone);
    };
    let Some(agent) = super::db::agents::by_id(&state.db, &thread.agent_id)
        .await?
        .filter(|a| a.deleted_at.is_none())
    else {
        return Ok(Continued::Gone);
    };
    let mut tx = state.db.begin().await?;
    let run_id = message_and_run(state, &mut tx, &thread, &agent, author, body).await?;
    let (scope, key) = once;
    use super::db::triggers as keys;
    keys::forget_expired_key(&mut *tx, scope, key).await?;
    let fingerprint = crate::server::triggers::Once::fingerprint(&[key.as_bytes()]);
    if !keys::remember_key(&mut *tx, scope, key, &fingerprint, &run_id, &thread.id).await? {
        return Ok(Continued::Earlier); // rolls back
    }
    if !threads::claim(&mut tx, &thread.id, &run_id).await? {
        return Ok(Continued::Busy); // rolls back: nothing of it is stored
    }
    reply_to.insert(&mut tx, &run_id).await?;
    started(state, tx, &thread, run_id).await?;
    Ok(Continued::Started)
}

/// Commits a run's start, announces it (the message, the run) and drives it.
async fn started(
    state: &AppState,
    tx: super::db::Tx,
    thread: &ThreadRow,
    run_id: String,
) -> Result<(), AppError> {
    let events = [
        Change::Message,
        Change::Run {
            run_id: run_id.clone(),
            status: RunStatus::Running,
        },
    ]
    .map(|change| LiveEvent::in_thread(&thread.team_id, &thread.id, change));
    state
        .events
        .commit_then_publish(&state.db, tx, events)
        .await?;
    super::metrics::run("started", thread.trigger);
    runtime::spawn(state.clone(), run_id);
    Ok(())
}

#[tracing::instrument(name = "retry")]
pub async fn retry(run_id: String) -> Result<(), AppError> {
    let v = viewer().await?;
    let state = app_state()?;
    let nope = || AppError::NotFound("No such run.".into());
    let run = runs::by_id(&state.db, &run_id).await?.ok_or_else(nope)?;
    let thread = visible(&v, &state.db, &run.thread_id)
        .await
        .map_err(|_| nope())?;
    if run.status != RunStatus::Failed {
        return Err(AppError::Conflict(
            "This run has not failed; there is nothing to retry.".into(),
        ));
    }
    // The retry answers with the agent's model as it is now: a person may have fixed a wrong
    // key or model since it failed.
    let choice = super::db::connections::agent_choice(&state.db, &run.agent_id).await?;
    let mut tx = state.db.begin().await?;
    if !threads::claim(&mut tx, &thread.id, &run.id).await? {
        drop(tx);
        return Err(busy(&state.db, &thread.id).await);
    }
    runs::set_model(&mut tx, &run.id, choice.0.as_deref(), choice.1.as_deref()).await?;
    let lease = now_ms() + state.runtime.lease.as_millis() as i64;
    if !super::runtime::lifecycle::retry(&mut *tx, &run.id, &run.steps, lease)
        .await
        .map_err(AppError::internal)?
    {
        return Err(AppError::Conflict("This run was retried already.".into()));
    }
    started(&state, tx, &thread, run.id).await
}
