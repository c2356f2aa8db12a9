//! Runs started without a person in a chat: through the API, by an inbound webhook (later by
//! a schedule or an event). Each start is a new thread with its trigger and a title that says
//! where it came from, and a run with the Description in force at that moment: from there on
//! it is the same run as a chat's (guardrail, provider, escalation, first answer wins).

pub mod chat;
pub mod events;
pub mod gateway;
mod intake;
pub mod mail;
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

pub use intake::Intake;

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
    /// Where the run's reply goes once it ends (a chat thread, a mail thread), written with
    /// the run, so a reply is never lost between the start and its record.
    pub reply_to: Option<ReplyTo>,
}

/// Where a run answers once it ends.
#[derive(Clone, Debug)]
pub enum ReplyTo {
    /// A chat conversation: the Flare channel, the chat's own channel id and the thread to
    /// reply under.
    Chat {
        channel_id: String,
        conversation: String,
        thread: String,
    },
    /// The thread of the mail that started it, answered from the agent's mailbox.
    Mail(super::db::mailboxes::MailReply),
}

impl ReplyTo {
    /// Records where run `run_id` replies, in the transaction that starts it.
    pub(crate) async fn insert(
        &self,
        conn: &mut sqlx::AnyConnection,
        run_id: &str,
    ) -> Result<(), sqlx::Error> {
        match self {
            Self::Chat {
                channel_id,
                conversation,
                thread,
            } => {
                super::db::chat_replies::insert(conn, run_id, channel_id, conversation, thread)
                    .await
            }
            Self::Mail(to) => super::db::mailboxes::insert_reply(conn, run_id, to).await,
        }
    }
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
            TriggerKind::Email => (Trigger::Email, "Email"),
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
            reply_to: None,
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
    /// The transaction it was written in with other starts failed (each of them hears why).
    #[error("the database did not store it: {0}")]
    Unwritten(String),
}

/// A start as it is written: owned, so that a batch (see [`intake`]) can write it whoever
/// waits for it, and with its run's and thread's ids chosen first, so the key names them
/// before anything else is written.
pub(crate) struct Job {
    run_id: String,
    thread_id: String,
    team_id: String,
    agent_id: String,
    description: String,
    connection_id: Option<String>,
    model: Option<String>,
    trigger: Trigger,
    title: String,
    author: String,
    message: String,
    once: Option<(String, String, String)>,
    actor: audit::ActorLabel,
    action: String,
    subject: String,
    claim: Option<(String, i64, i64)>,
    chain_depth: i64,
    reply_to: Option<ReplyTo>,
    /// The run's first lease, from when it is written.
    lease: std::time::Duration,
}

impl Job {
    fn new(state: &AppState, s: &Start<'_>) -> Self {
        Job {
            run_id: super::db::new_id(),
            thread_id: super::db::new_id(),
            team_id: s.agent.team_id.clone(),
            agent_id: s.agent.id.clone(),
            description: s.agent.description.clone(),
            connection_id: s.agent.connection_id.clone(),
            model: s.agent.model.clone(),
            trigger: s.trigger,
            title: s.title.clone(),
            author: s.author.clone(),
            message: s.message.to_string(),
            once: s
                .once
                .as_ref()
                .map(|o| (o.scope.clone(), o.key.to_string(), o.fingerprint.clone())),
            actor: s.actor.into(),
            action: s.action.to_string(),
            subject: s.subject.to_string(),
            claim: s.claim.map(|(id, due, next)| (id.to_string(), due, next)),
            chain_depth: s.chain_depth,
            reply_to: s.reply_to.clone(),
            lease: state.runtime.lease,
        }
    }
}

/// What writing a [`Job`] came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Written {
    /// Its thread, message, run, key and audit entry are written.
    Fresh,
    /// Its key was taken: an earlier request's run stands, and nothing was written.
    Earlier,
}

/// Writes one start. The checks that can refuse it (the schedule's claim, the key) come
/// before anything else, so a refused start leaves nothing behind in the transaction, and a
/// batch needs no savepoint per start. The thread is created with its first message's place
/// taken and held by its run.
async fn write(conn: &mut sqlx::AnyConnection, job: &Job) -> Result<Written, StartError> {
    if let Some((id, due, next)) = &job.claim
        && !db::claim_firing(&mut *conn, id, *due, *next).await?
    {
        return Err(StartError::NotClaimed);
    }
    if let Some((scope, key, fingerprint)) = &job.once {
        db::forget_expired_key(&mut *conn, scope, key).await?;
        if !db::remember_key(
            &mut *conn,
            scope,
            key,
            fingerprint,
            &job.run_id,
            &job.thread_id,
        )
        .await?
        {
            return Ok(Written::Earlier);
        }
    }
    let now = now_ms();
    threads::insert_started(
        &mut *conn,
        &threads::StartedThread {
            id: &job.thread_id,
            team_id: &job.team_id,
            agent_id: &job.agent_id,
            trigger: job.trigger,
            title: &job.title,
            run_id: &job.run_id,
            at: now,
        },
    )
    .await?;
    threads::insert_message(
        &mut *conn,
        &threads::NewMessage {
            thread_id: &job.thread_id,
            seq: threads::FIRST_SEQ,
            run_id: None,
            kind: MessageKind::User,
            author: &job.author,
            body: &job.message,
            escalation_id: None,
            at: now,
        },
    )
    .await?;
    runs::insert_with_id(
        &mut *conn,
        &job.run_id,
        NewRun {
            thread_id: &job.thread_id,
            team_id: &job.team_id,
            agent_id: &job.agent_id,
            message_seq: threads::FIRST_SEQ,
            description: &job.description,
            connection_id: job.connection_id.as_deref(),
            model: job.model.as_deref(),
            lease_until: now + job.lease.as_millis() as i64,
            chain_depth: job.chain_depth,
        },
    )
    .await?;
    if let Some(to) = &job.reply_to {
        to.insert(&mut *conn, &job.run_id).await?;
    }
    audit::record_for(
        &mut *conn,
        job.actor.clone(),
        Some(&job.team_id),
        &job.action,
        &job.subject,
        &format!("run {}", job.run_id),
    )
    .await?;
    Ok(Written::Fresh)
}

/// After a fresh start commits: the pages hear of it, and the run is driven.
async fn started(state: &AppState, job: &Job) -> Started {
    let events = [
        Change::Message,
        Change::Run {
            run_id: job.run_id.clone(),
            status: RunStatus::Running,
        },
    ]
    .map(|change| LiveEvent::in_thread(&job.team_id, &job.thread_id, change));
    for ev in events {
        state.events.publish(&state.db, ev).await;
    }
    super::metrics::run("started", job.trigger);
    super::metrics::trigger(job.trigger.as_str(), true);
    super::runtime::spawn(state.clone(), job.run_id.clone());
    Started {
        run_id: job.run_id.clone(),
        thread_id: job.thread_id.clone(),
        status: RunStatus::Running,
        fresh: true,
    }
}

/// Starts a run of `agent` in a new thread (or finds the one an earlier request with the same
/// key started). The thread, its message, the run, the key and the audit entry commit together.
/// On SQLite, starts that arrive together are written in one transaction (see [`intake`]).
pub async fn start_run(state: &AppState, s: Start<'_>) -> Result<Started, StartError> {
    let job = Job::new(state, &s);
    let fresh = if state.writes.is_shared() {
        intake::submit(state, job).await?
    } else {
        let mut tx = state.db.begin().await?;
        match write(&mut tx, &job).await? {
            Written::Fresh => {
                tx.commit().await?;
                Some(started(state, &job).await)
            }
            // Dropping the transaction undoes the expired key it may have forgotten.
            Written::Earlier => None,
        }
    };
    match (fresh, &s.once) {
        (Some(started), _) => Ok(started),
        (None, Some(once)) => earlier(&state.db, once).await,
        (None, None) => unreachable!("only a key finds an earlier run"),
    }
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
    record_rejection(db, row, why).await;
}

/// The audit entry of a refusal (or of several, counted), in the trigger's name; a failure to
/// write it is logged, never the caller's error.
async fn record_rejection(db: &Db, row: &db::TriggerRow, why: &str) {
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
