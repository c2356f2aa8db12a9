//! Runs started without a person in a chat: through the API, by an inbound webhook (later by
//! a schedule or an event). Each start is a new thread with its trigger and a title that says
//! where it came from, and a run with the Description in force at that moment: from there on
//! it is the same run as a chat's (guardrail, provider, escalation, first answer wins).

pub mod events;
pub mod manage;
pub mod schedule;
pub mod webhook;

use super::db::agents::AgentRow;
use super::db::audit::{self, Actor};
use super::db::runs::{self, NewRun};
use super::db::threads;
use super::db::triggers as db;
use super::db::{Db, now_ms};
use super::state::AppState;
use crate::chat::{MessageKind, RunStatus, Trigger};
use crate::live::{Change, LiveEvent};
use crate::triggers::TriggerKind;
use sha2::{Digest, Sha256};

/// A request that must start at most one run: its key within a scope (a team's API keys, one
/// webhook's deliveries), and what the request was, so a key reused for another one is caught.
pub struct Once<'a> {
    pub scope: String,
    pub key: &'a str,
    pub fingerprint: String,
}

impl Once<'_> {
    /// A fingerprint of the parts that make a request what it is.
    pub fn fingerprint(parts: &[&[u8]]) -> String {
        let mut h = Sha256::new();
        for p in parts {
            h.update((p.len() as u64).to_le_bytes());
            h.update(p);
        }
        hex::encode(h.finalize())
    }
}

pub struct Start<'a> {
    pub agent: &'a AgentRow,
    pub trigger: Trigger,
    /// The thread's title: where the run came from ("Webhook: Zendesk").
    pub title: String,
    /// Who the message is from, as the thread shows it ("webhook: Zendesk").
    pub author: String,
    pub message: &'a str,
    pub once: Option<Once<'a>>,
    /// Who started it, for the audit (`run.started` or `trigger.fired`).
    pub actor: Actor<'a>,
    pub action: &'a str,
    pub subject: &'a str,
    /// A schedule's firing, claimed in the same transaction: (trigger, due, next).
    pub claim: Option<(&'a str, i64, i64)>,
    /// How many events led here (0 unless an event started it).
    pub chain_depth: i64,
}

impl<'a> Start<'a> {
    /// A run that trigger `row` fires: the thread titled, the message signed and the audit
    /// entry written in the trigger's name ("Webhook: Zendesk", "webhook: Zendesk",
    /// `trigger.fired`). Set `once`, `claim` or `chain_depth` on the result as needed.
    pub fn fired(row: &'a db::TriggerRow, agent: &'a AgentRow, message: &'a str) -> Self {
        let (trigger, title) = match row.kind {
            TriggerKind::Webhook => (Trigger::Webhook, "Webhook"),
            TriggerKind::Schedule => (Trigger::Cron, "Schedule"),
            TriggerKind::Event => (Trigger::Event, "Event"),
        };
        Start {
            agent,
            trigger,
            title: format!("{title}: {}", row.name),
            author: format!("{}: {}", row.kind.as_str(), row.name),
            message,
            once: None,
            actor: Actor::Trigger {
                kind: row.kind.as_str(),
                name: &row.name,
            },
            action: "trigger.fired",
            subject: &row.id,
            claim: None,
            chain_depth: 0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Started {
    pub run_id: String,
    pub thread_id: String,
    pub status: RunStatus,
    /// False when an earlier request with the same key started it.
    pub fresh: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("this key was used for another request")]
    KeyReused,
    #[error("another instance fired it first")]
    NotClaimed,
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Starts a run of `agent` in a new thread (or finds the one an earlier request with the same
/// key started). The thread, its message, the run, the key and the audit entry commit together.
pub async fn start_run(state: &AppState, s: Start<'_>) -> Result<Started, StartError> {
    let agent = s.agent;
    let _turn = state.writes.take().await?;
    let mut tx = state.db.begin().await?;
    if let Some((id, due, next)) = s.claim
        && !db::claim_firing(&mut *tx, id, due, next).await?
    {
        return Err(StartError::NotClaimed);
    }
    if let Some(once) = &s.once {
        db::forget_expired_key(&mut *tx, &once.scope, once.key).await?;
    }
    let thread_id = threads::insert(
        &mut *tx,
        &agent.team_id,
        &agent.id,
        s.trigger,
        &s.title,
        None,
    )
    .await?;
    let seq = threads::add_message(
        &mut tx,
        &thread_id,
        None,
        MessageKind::User,
        &s.author,
        s.message,
        None,
    )
    .await?;
    let run_id = runs::insert(
        &mut tx,
        NewRun {
            thread_id: &thread_id,
            team_id: &agent.team_id,
            agent_id: &agent.id,
            message_seq: seq,
            description: &agent.description,
            connection_id: agent.connection_id.as_deref(),
            model: agent.model.as_deref(),
            lease_until: now_ms() + state.runtime.lease.as_millis() as i64,
            chain_depth: s.chain_depth,
        },
    )
    .await?;
    // A thread of its own: nobody else can hold it yet.
    threads::claim(&mut tx, &thread_id, &run_id).await?;
    if let Some(once) = &s.once
        && !db::remember_key(
            &mut *tx,
            &once.scope,
            once.key,
            &once.fingerprint,
            &run_id,
            &thread_id,
        )
        .await?
    {
        drop(tx); // Rolls back this request's thread and run: the first one stands.
        return earlier(&state.db, once).await;
    }
    audit::record_for(
        &mut *tx,
        s.actor,
        Some(&agent.team_id),
        s.action,
        s.subject,
        &format!("run {run_id}"),
    )
    .await?;
    let events = [
        Change::Message,
        Change::Run {
            run_id: run_id.clone(),
            status: RunStatus::Running,
        },
    ]
    .map(|change| LiveEvent::in_thread(&agent.team_id, &thread_id, change));
    state
        .events
        .commit_then_publish(&state.db, tx, events)
        .await?;
    super::metrics::run("started", s.trigger);
    super::metrics::trigger(s.trigger.as_str(), true);
    super::runtime::spawn(state.clone(), run_id.clone());
    Ok(Started {
        run_id,
        thread_id,
        status: RunStatus::Running,
        fresh: true,
    })
}

/// The run an earlier request with this key started.
async fn earlier(db: &Db, once: &Once<'_>) -> Result<Started, StartError> {
    let row = db::key(db, &once.scope, once.key)
        .await?
        .ok_or(sqlx::Error::RowNotFound)?;
    if row.fingerprint != once.fingerprint {
        return Err(StartError::KeyReused);
    }
    let status = runs::by_id(db, &row.run_id)
        .await?
        .map(|r| r.status)
        .ok_or(sqlx::Error::RowNotFound)?;
    Ok(Started {
        run_id: row.run_id,
        thread_id: row.thread_id,
        status,
        fresh: false,
    })
}

/// Records a trigger's refusal (why, never the body) for the team's audit.
pub async fn audit_rejected(db: &Db, row: &db::TriggerRow, why: &str) {
    super::metrics::trigger(row.kind.as_str(), false);
    let actor = Actor::Trigger {
        kind: row.kind.as_str(),
        name: &row.name,
    };
    if let Err(e) = audit::record_for(
        db,
        actor,
        Some(&row.team_id),
        "trigger.rejected",
        &row.id,
        why,
    )
    .await
    {
        tracing::warn!(error = %e, trigger = %row.id, "cannot audit a rejected trigger");
    }
}
