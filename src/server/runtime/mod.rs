//! The agent runtime. A run is rows, not a task: `drive` moves a `running` run forward until it
//! completes, fails or pauses on an escalation (`waiting`), writing each step as it goes. A
//! person's answer moves the run back to `running` and drives it again, on whichever instance
//! took the answer. Runs whose driver died (a killed server) are taken over once their lease
//! expires.

pub mod anthropic;
pub mod connections;
pub mod guardrail;
pub mod lifecycle;
pub mod openai;
pub mod provider;
pub mod rules_provider;
pub mod semantic;
pub mod tools;

use super::db::audit::{self, Actor};
use super::db::escalations::{self as esc_db, NewEscalation};
use super::db::runs::{self, RunRow};
use super::db::threads::{self, ThreadRow};
use super::db::{Db, now_ms};
use super::state::AppState;
use crate::chat::{MessageKind, RunStatus};
use crate::escalations::EscalationStatus;
use crate::live::{Change, LiveEvent};

use provider::{ChatMessage, ESCALATE_TOOL, Reply, Request, ToolCall};
use std::sync::Arc;
use std::time::Duration;
use tools::ToolOutcome;

use guardrail::instructions;
pub use guardrail::{
    Escalate, escalate_tool, guardrail, parse_escalate, rules_text, severity_floor,
};

/// How many model round trips one run may take before Flare stops it.
pub const MAX_STEPS: usize = 12;
/// How many times a run is taken over after its driver died before it is marked failed.
pub const MAX_ATTEMPTS: i64 = 3;

/// The runtime's settings and parts, shared through `AppState`.
pub struct Runtime {
    /// Which provider answers for each agent (its connection and model, or the default).
    pub connections: connections::Connections,
    /// The embedding model the guardrail reads meaning with (or why it cannot).
    pub meaning: Arc<semantic::Meaning>,
    pub tools: tools::Registry,
    /// How long a driver's claim on a running run lasts without renewal.
    pub lease: Duration,
    /// The runs this instance drives, renewed together.
    pub leases: Leases,
    /// How long one provider call may take.
    pub provider_timeout: Duration,
}

#[derive(Debug, thiserror::Error)]
enum RunError {
    #[error("{0}")]
    Provider(#[from] provider::ProviderError),
    #[error("the agent took more than {MAX_STEPS} steps without finishing")]
    TooManySteps,
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("stored run state is unreadable: {0}")]
    State(#[from] serde_json::Error),
    #[error("{0}")]
    Lifecycle(#[from] lifecycle::TransitionError),
}

impl RunError {
    /// What the thread shows: provider trouble in full, our own failures without internals.
    fn for_people(&self) -> String {
        match self {
            RunError::Provider(e) => format!("The agent could not finish: {e}."),
            RunError::TooManySteps => format!("The agent could not finish: {self}."),
            RunError::Db(_) | RunError::State(_) | RunError::Lifecycle(_) => {
                "The agent could not finish because of an error on our side (logged).".into()
            }
        }
    }
}

/// The runs this instance drives, whose leases [`renew_leases`] renews together: one UPDATE per
/// few hundred runs every third of a lease, where one per run would ask SQLite for a commit
/// (a disk flush) per run: 1,300 a second for the backlog a 10 s webhook burst leaves.
#[derive(Default)]
pub struct Leases(std::sync::Mutex<std::collections::HashSet<String>>);

/// A run's place in [`Leases`], given up when its driver stops.
pub struct Held<'a> {
    leases: &'a Leases,
    run_id: String,
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        self.leases.0.lock().expect("leases").remove(&self.run_id);
    }
}

impl Leases {
    pub fn hold(&self, run_id: &str) -> Held<'_> {
        self.0.lock().expect("leases").insert(run_id.to_string());
        Held {
            leases: self,
            run_id: run_id.to_string(),
        }
    }

    fn held(&self) -> Vec<String> {
        self.0.lock().expect("leases").iter().cloned().collect()
    }
}

/// How many runs one renewal names.
const RENEWED_AT_ONCE: usize = 500;

/// Renews the leases of the runs this instance drives, every third of a lease, for as long as
/// the instance lives: when it dies, they run out and another instance takes the runs over.
pub async fn renew_leases(state: AppState) {
    let lease = state.runtime.lease;
    loop {
        tokio::time::sleep(lease / 3).await;
        let until = now_ms() + lease.as_millis() as i64;
        for ids in state.runtime.leases.held().chunks(RENEWED_AT_ONCE) {
            if let Err(e) = runs::renew_leases(&state.db, ids, until).await {
                tracing::warn!(error = %e, runs = ids.len(), "cannot renew run leases");
            }
        }
    }
}

/// Drives a run in the background.
pub fn spawn(state: AppState, run_id: String) {
    tokio::spawn(async move { drive(state, run_id).await });
}

/// Moves a running run forward until it completes, fails or waits; renews its lease meanwhile.
/// Spanned by the run's id: one run can be followed through the logs, resumes and take-overs
/// included.
#[tracing::instrument(name = "run", skip(state))]
pub async fn drive(state: AppState, run_id: String) {
    let held = state.runtime.leases.hold(&run_id);
    let result = step_until_paused(&state, &run_id).await;
    drop(held);
    if let Err(e) = result {
        tracing::warn!(run = %run_id, error = %e, "run failed");
        if let Err(e2) = fail(&state, &run_id, &e.for_people()).await {
            tracing::error!(run = %run_id, error = %e2, "cannot mark run failed");
        }
    }
}

async fn step_until_paused(state: &AppState, run_id: &str) -> Result<(), RunError> {
    let db = &state.db;
    for _ in 0..MAX_STEPS {
        let Some(run) = runs::by_id(db, run_id).await? else {
            return Ok(());
        };
        if run.status != RunStatus::Running {
            return Ok(());
        }
        let Some(thread) = threads::by_id(db, &run.thread_id).await? else {
            return Ok(());
        };
        let mut steps: Vec<ChatMessage> = serde_json::from_str(&run.steps)?;
        let history = history(db, &run).await?;
        let policy = crate::rules::compile(&run.description);
        let asked = history
            .iter()
            .rev()
            .find_map(|m| match m {
                ChatMessage::User { text } => Some(text.clone()),
                _ => None,
            })
            .unwrap_or_default();
        let floor = match steps.is_empty() {
            true => guard(state, &policy, &run.description, &asked).await,
            false => None,
        };
        if let Some(esc) = floor {
            let call = flare_escalation("guardrail", &esc);
            steps.push(ChatMessage::Assistant {
                text: String::new(),
                tool_calls: vec![call.clone()],
            });
            return pause(state, &run, &thread, steps, "", &call, &esc).await;
        }
        let mut tools = vec![escalate_tool()];
        tools.extend(state.runtime.tools.specs());
        let mut messages = history;
        messages.extend(steps.iter().cloned());
        let request = Request {
            agent_name: &thread.agent_name,
            instructions: instructions(&thread.agent_name, &run.description, &policy),
            policy: &policy,
            messages,
            tools,
        };
        let reply = call_provider(state, &run, &request).await?;
        steps.push(ChatMessage::Assistant {
            text: reply.text.clone(),
            tool_calls: reply.tool_calls.clone(),
        });
        if reply.tool_calls.is_empty() {
            // An outcome rule holds a draft that is out of bounds: a person sees it first
            // (once per run: after a person has answered, the agent goes on as they said).
            let answered = steps.iter().any(|s| {
                matches!(
                    s,
                    ChatMessage::Tool {
                        answer: Some(_),
                        ..
                    }
                )
            });
            let held = match answered {
                true => None,
                false => held_draft(state, &policy, &run.description, &reply.text).await,
            };
            if let Some(esc) = held {
                let call = flare_escalation("outcome", &esc);
                if let Some(ChatMessage::Assistant { tool_calls, .. }) = steps.last_mut() {
                    tool_calls.push(call.clone());
                }
                return pause(state, &run, &thread, steps, "", &call, &esc).await;
            }
            return finish(state, &run, &thread, &steps, &reply.text, None).await;
        }
        // Tools first (each call needs its result), then at most one escalation.
        let mut escalation: Option<(ToolCall, Escalate)> = None;
        for call in &reply.tool_calls {
            if call.name == ESCALATE_TOOL {
                let content = match (parse_escalate(&call.arguments), &escalation) {
                    (Ok(mut esc), None) => {
                        if let Some(floor) = severity_floor(&policy, &[&asked, &esc.reason])
                            && floor > esc.severity
                        {
                            esc.severity = floor;
                        }
                        escalation = Some((call.clone(), esc));
                        continue;
                    }
                    (Ok(_), Some(_)) => {
                        "Only one escalation at a time: the first was raised.".into()
                    }
                    (Err(e), _) => {
                        format!("Error: {e}. Call {ESCALATE_TOOL} again with valid arguments.")
                    }
                };
                steps.push(tool_result(call, content));
                continue;
            }
            match state.runtime.tools.call(&call.name, &call.arguments).await {
                ToolOutcome::Result(content) => steps.push(tool_result(call, content)),
                ToolOutcome::Escalate(esc) => {
                    // A direct tool-call escalation: a card for a person, no pause, the turn ends.
                    steps.push(tool_result(call, "A person was notified.".into()));
                    return finish(state, &run, &thread, &steps, &reply.text, Some(&esc)).await;
                }
            }
        }
        if let Some((call, esc)) = escalation {
            return pause(state, &run, &thread, steps, &reply.text, &call, &esc).await;
        }
        runs::save_steps(db, &run.id, &serde_json::to_string(&steps)?).await?;
    }
    Err(RunError::TooManySteps)
}

/// An `escalate_to_human` call Flare makes itself (the guardrail, the outcome check), stored
/// in the run's steps like the model's own so the answer comes back as its result.
fn flare_escalation(by: &str, esc: &Escalate) -> ToolCall {
    ToolCall {
        id: format!("{by}-{}", super::db::new_id()),
        name: ESCALATE_TOOL.into(),
        arguments: serde_json::json!({
            "reason": esc.reason, "severity": esc.severity.as_str()
        })
        .to_string(),
    }
}

/// The guardrail on a run's first step: words first, then meaning when the model is there.
/// When meaning cannot be read (no model, the deadline) the words' verdict stands.
async fn guard(
    state: &AppState,
    policy: &crate::rules::Policy,
    description: &str,
    asked: &str,
) -> Option<Escalate> {
    if let Some(esc) = guardrail(policy, asked) {
        return Some(esc);
    }
    let matches = state
        .runtime
        .meaning
        .evaluate(description, policy, asked)
        .await;
    guardrail::semantic_escalation(policy, &matches.ok()?)
}

/// The outcome check on a final draft (see `semantic::check_draft`): the escalation that holds
/// it, with the draft in the reason so the person answering reads what would have been sent.
async fn held_draft(
    state: &AppState,
    policy: &crate::rules::Policy,
    description: &str,
    draft: &str,
) -> Option<Escalate> {
    let h = state
        .runtime
        .meaning
        .check_draft(description, policy, draft)
        .await
        .ok()??;
    let judged = policy.model_judged.join(" ");
    let shown: String = draft.chars().take(1500).collect();
    Some(Escalate {
        reason: format!(
            "I held my draft reply for you to check: \u{201c}{}\u{201d} is close to \u{201c}{}\u{201d} (closeness {:.2}) and far from what my Description says is fine to answer alone, and my Description says: \u{201c}{judged}\u{201d} My draft: {shown}",
            h.sentence, h.topic, h.closeness
        ),
        severity: h.severity,
    })
}

fn tool_result(call: &ToolCall, content: String) -> ChatMessage {
    ChatMessage::Tool {
        call_id: call.id.clone(),
        name: call.name.clone(),
        content,
        answer: None,
    }
}

async fn call_provider(
    state: &AppState,
    run: &RunRow,
    request: &Request<'_>,
) -> Result<Reply, RunError> {
    let timeout = state.runtime.provider_timeout;
    let (bus, db) = (state.events.clone(), state.db.clone());
    let (team_id, thread_id, run_id) = (run.team_id.clone(), run.thread_id.clone(), run.id.clone());
    // Deltas go out as they come, in order, through one publisher per call: publishing must
    // neither hold up the provider's stream nor let two pieces overtake each other.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let publisher = tokio::spawn(async move {
        while let Some(text) = rx.recv().await {
            let delta = Change::Delta {
                run_id: run_id.clone(),
                text,
            };
            bus.publish(&db, LiveEvent::in_thread(&team_id, &thread_id, delta))
                .await;
        }
    });
    let on_delta = move |text: &str| {
        let _ = tx.send(text.to_string());
    };
    let answer = async {
        let resolved = state
            .runtime
            .connections
            .resolve(
                &state.db,
                run.connection_id.as_deref(),
                run.model.as_deref(),
            )
            .await
            .map_err(provider::ProviderError::from)?;
        if let Some(notice) = &resolved.notice {
            tracing::warn!(run = %run.id, "{notice}");
        }
        resolved.provider.complete(request, &on_delta).await
    };
    let started = std::time::Instant::now();
    let result = tokio::time::timeout(timeout, answer).await;
    let error = match &result {
        Ok(Ok(_)) => None,
        Ok(Err(_)) => Some("error"),
        Err(_) => Some("timeout"),
    };
    crate::server::metrics::provider_call(started.elapsed().as_secs_f64(), error);
    // Every piece is out before the run's next event (its reply, its card or its failure).
    drop(on_delta);
    let _ = publisher.await;
    match result {
        Ok(r) => Ok(r?),
        Err(_) => Err(provider::ProviderError::Timeout(timeout).into()),
    }
}

/// The conversation before this run's own steps: the thread's messages up to the one that
/// started the run.
async fn history(db: &Db, run: &RunRow) -> Result<Vec<ChatMessage>, sqlx::Error> {
    Ok(threads::messages(db, &run.thread_id)
        .await?
        .into_iter()
        .filter(|m| m.seq <= run.message_seq)
        .filter_map(|m| match m.kind {
            MessageKind::User => Some(ChatMessage::User { text: m.body }),
            MessageKind::Agent => Some(ChatMessage::Assistant {
                text: m.body,
                tool_calls: Vec::new(),
            }),
            _ => None,
        })
        .collect())
}

fn event(run: &RunRow, change: Change) -> LiveEvent {
    LiveEvent::in_thread(&run.team_id, &run.thread_id, change)
}

fn agent_actor(thread: &ThreadRow) -> Actor<'_> {
    Actor::Agent {
        name: &thread.agent_name,
    }
}

/// The agent's reply text, if any, inside the caller's transaction.
async fn add_reply(
    conn: &mut sqlx::AnyConnection,
    run: &RunRow,
    thread: &ThreadRow,
    text: &str,
) -> Result<(), sqlx::Error> {
    if !text.trim().is_empty() {
        threads::add_message(
            conn,
            &run.thread_id,
            Some(&run.id),
            MessageKind::Agent,
            &thread.agent_name,
            text,
            None,
        )
        .await?;
    }
    Ok(())
}

/// Stores an escalation (a card in the thread) inside the caller's transaction.
async fn raise(
    state: &AppState,
    conn: &mut sqlx::AnyConnection,
    run: &RunRow,
    thread: &ThreadRow,
    esc: &Escalate,
    blocking: bool,
    tool_call_id: Option<&str>,
) -> Result<String, sqlx::Error> {
    let due_at = crate::server::notifications::sla::due_at(
        &mut *conn,
        &run.team_id,
        esc.severity,
        state.config.critical_overdue_minutes,
    )
    .await?;
    let id = esc_db::insert(
        &mut *conn,
        NewEscalation {
            team_id: &run.team_id,
            agent_id: &run.agent_id,
            thread_id: &run.thread_id,
            run_id: &run.id,
            trigger: thread.trigger,
            reason: &esc.reason,
            severity: esc.severity,
            blocking,
            tool_call_id,
            due_at,
        },
    )
    .await?;
    threads::add_message(
        &mut *conn,
        &run.thread_id,
        Some(&run.id),
        MessageKind::Escalation,
        &thread.agent_name,
        &esc.reason,
        Some(&id),
    )
    .await?;
    crate::server::notifications::raised(&mut *conn, &run.team_id, &id, esc.severity).await?;
    let detail = format!("{}: {}", esc.severity.as_str(), esc.reason);
    audit::record_for(
        &mut *conn,
        agent_actor(thread),
        Some(&run.team_id),
        "escalation.raised",
        &id,
        &detail,
    )
    .await?;
    Ok(id)
}

/// The run waits for a person: escalation, card and `waiting` in one transaction.
async fn pause(
    state: &AppState,
    run: &RunRow,
    thread: &ThreadRow,
    steps: Vec<ChatMessage>,
    text: &str,
    call: &ToolCall,
    esc: &Escalate,
) -> Result<(), RunError> {
    let _turn = state.writes.take().await?;
    let mut tx = state.db.begin().await?;
    if !lifecycle::pause(&mut *tx, &run.id, &serde_json::to_string(&steps)?).await? {
        return Ok(()); // Someone else moved it: nothing to do.
    }
    add_reply(&mut tx, run, thread, text).await?;
    let id = raise(state, &mut tx, run, thread, esc, true, Some(&call.id)).await?;
    crate::server::metrics::run("waiting", thread.trigger);
    state
        .events
        .commit_then_publish(
            &state.db,
            tx,
            vec![
                event(run, Change::Message),
                event(
                    run,
                    Change::Escalation {
                        escalation_id: id.clone(),
                        status: EscalationStatus::Open,
                    },
                ),
                event(
                    run,
                    Change::Run {
                        run_id: run.id.clone(),
                        status: RunStatus::Waiting,
                    },
                ),
            ],
        )
        .await?;
    state.notifier.wake();
    raised(state, run, id, esc);
    Ok(())
}

/// Tells the event triggers following this agent that it escalated.
fn raised(state: &AppState, run: &RunRow, escalation_id: String, esc: &Escalate) {
    use crate::server::triggers::events;
    events::after(
        state,
        events::Happened {
            kind: crate::triggers::EventKind::EscalationRaised,
            run: run.clone(),
            escalation_id: Some(escalation_id),
            fields: vec![
                ("reason", esc.reason.clone()),
                ("severity", esc.severity.as_str().to_string()),
            ],
        },
    );
}

/// The run's turn ends: its reply (and a non-blocking card, if a tool worker left one).
async fn finish(
    state: &AppState,
    run: &RunRow,
    thread: &ThreadRow,
    steps: &[ChatMessage],
    text: &str,
    card: Option<&Escalate>,
) -> Result<(), RunError> {
    let _turn = state.writes.take().await?;
    let mut tx = state.db.begin().await?;
    if !lifecycle::complete(&mut *tx, &run.id, &serde_json::to_string(steps)?).await? {
        return Ok(());
    }
    add_reply(&mut tx, run, thread, text).await?;
    let mut events = vec![event(run, Change::Message)];
    let mut card_id = None;
    if let Some(esc) = card {
        let id = raise(state, &mut tx, run, thread, esc, false, None).await?;
        events.push(event(
            run,
            Change::Escalation {
                escalation_id: id.clone(),
                status: EscalationStatus::Open,
            },
        ));
        card_id = Some((id, esc));
    }
    threads::release(&mut tx, &run.thread_id, &run.id).await?;
    crate::server::metrics::run("completed", thread.trigger);
    events.push(event(
        run,
        Change::Run {
            run_id: run.id.clone(),
            status: RunStatus::Completed,
        },
    ));
    state
        .events
        .commit_then_publish(&state.db, tx, events)
        .await?;
    if let Some((id, esc)) = card_id {
        state.notifier.wake();
        raised(state, run, id, esc);
    }
    crate::server::triggers::events::after(
        state,
        crate::server::triggers::events::Happened {
            kind: crate::triggers::EventKind::RunCompleted,
            run: run.clone(),
            escalation_id: None,
            fields: vec![("reply", text.to_string())],
        },
    );
    Ok(())
}

/// Marks a running run failed with a message the thread shows (and a retry button).
pub async fn fail(
    state: &AppState,
    run_id: &str,
    message: &str,
) -> Result<(), lifecycle::TransitionError> {
    let Some(run) = runs::by_id(&state.db, run_id).await? else {
        return Ok(());
    };
    let _turn = state.writes.take().await?;
    let mut tx = state.db.begin().await?;
    if !lifecycle::fail(&mut *tx, &run.id, &run.steps, message).await? {
        return Ok(());
    }
    threads::add_message(
        &mut tx,
        &run.thread_id,
        Some(&run.id),
        MessageKind::Notice,
        "Flare",
        message,
        None,
    )
    .await?;
    threads::release(&mut tx, &run.thread_id, &run.id).await?;
    if let Ok(Some(thread)) = threads::by_id(&state.db, &run.thread_id).await {
        crate::server::metrics::run("failed", thread.trigger);
    }
    state
        .events
        .commit_then_publish(
            &state.db,
            tx,
            vec![
                event(&run, Change::Message),
                event(
                    &run,
                    Change::Run {
                        run_id: run.id.clone(),
                        status: RunStatus::Failed,
                    },
                ),
            ],
        )
        .await?;
    crate::server::triggers::events::after(
        state,
        crate::server::triggers::events::Happened {
            kind: crate::triggers::EventKind::RunFailed,
            run,
            escalation_id: None,
            fields: vec![("error", message.to_string())],
        },
    );
    Ok(())
}

/// Takes over runs whose driver died, now and every half lease. A run taken over too often
/// (it keeps killing its server, say) is marked failed instead, visibly.
pub async fn sweep_abandoned(state: AppState) {
    let lease = state.runtime.lease;
    loop {
        let now = now_ms();
        match runs::abandoned(&state.db, now).await {
            Ok(ids) => {
                for id in ids {
                    let until = now + lease.as_millis() as i64;
                    match lifecycle::take_over(&state.db, &id, now, until).await {
                        Ok(Some(attempts)) if attempts > MAX_ATTEMPTS => {
                            let msg = "The agent stopped because the server was interrupted several times while it worked on this.";
                            if let Err(e) = fail(&state, &id, msg).await {
                                tracing::error!(run = %id, error = %e, "cannot mark run failed");
                            }
                        }
                        Ok(Some(_)) => {
                            tracing::info!(run = %id, "resuming a run whose driver stopped");
                            spawn(state.clone(), id);
                        }
                        Ok(None) => {}
                        Err(e) => tracing::warn!(run = %id, error = %e, "cannot take over run"),
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot look for abandoned runs"),
        }
        tokio::time::sleep(lease / 2).await;
    }
}
