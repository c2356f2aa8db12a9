//! What starts an agent without a person in a chat: inbound webhooks, schedules, events
//! (another agent's run completing, failing, escalating or being answered) and its mailbox. Owners and admins of the agent's team add, pause and delete them; members of the
//! team see them. Every server function checks the session, the team and the role itself.

use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

crate::names::stored_enum! {
    pub enum TriggerKind as "trigger kind" {
        Webhook,
        Schedule,
        Event,
        Email,
    }
}

crate::names::stored_enum! {
    /// What an event trigger follows in another agent's runs.
    pub enum EventKind as "event" {
        #[serde(rename = "run_completed")]
        #[strum(serialize = "run_completed")]
        RunCompleted,
        #[serde(rename = "run_failed")]
        #[strum(serialize = "run_failed")]
        RunFailed,
        #[serde(rename = "escalation_raised")]
        #[strum(serialize = "escalation_raised")]
        EscalationRaised,
        #[serde(rename = "escalation_answered")]
        #[strum(serialize = "escalation_answered")]
        EscalationAnswered,
    }
}

impl EventKind {
    /// How the page says it: "When X's run completes".
    pub fn label(self) -> &'static str {
        match self {
            Self::RunCompleted => "run completes",
            Self::RunFailed => "run fails",
            Self::EscalationRaised => "escalation is raised",
            Self::EscalationAnswered => "escalation is answered",
        }
    }
}

/// How many events in a row may start runs: the sixth link of a chain is not started.
pub const MAX_CHAIN_DEPTH: i64 = 5;

/// The largest webhook body Flare reads.
pub const MAX_HOOK_BODY_BYTES: usize = 256 * 1024;
/// How old (or how far ahead) a webhook's `X-Flare-Timestamp` may be.
pub const HOOK_TOLERANCE_SECS: i64 = 5 * 60;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TriggerInfo {
    pub id: String,
    pub kind: TriggerKind,
    pub name: String,
    pub enabled: bool,
    /// Where a webhook is sent (a path on this Flare: `/hooks/{id}`).
    pub path: Option<String>,
    pub schedule: Option<ScheduleInfo>,
    pub event: Option<EventInfo>,
    pub mailbox: Option<MailboxInfo>,
    pub created_at_ms: i64,
}

/// An agent's mailbox (never its password).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailboxInfo {
    pub address: String,
    pub host: String,
    pub port: u16,
    /// `tls`, `starttls` or `none`.
    pub security: String,
    pub username: String,
    pub folder: String,
    /// When it was last checked, and what went wrong then, if anything.
    pub checked_at_ms: Option<i64>,
    pub last_error: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventInfo {
    pub source_agent_id: String,
    pub source_agent_name: String,
    pub on: EventKind,
    /// The message template (`{agent}`, `{reply}`, `{reason}`… filled in from the event).
    pub message: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleInfo {
    pub cron: String,
    pub time_zone: String,
    pub message: String,
    /// The next three firings, as people read them in the schedule's zone.
    pub upcoming: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentTriggers {
    pub agent_id: String,
    pub team_id: String,
    pub agent_name: String,
    pub can_edit: bool,
    pub triggers: Vec<TriggerInfo>,
}

/// A new webhook: the only time its signing secret is shown.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewWebhook {
    pub trigger: TriggerInfo,
    pub secret: String,
}

#[server(endpoint = "list_triggers")]
pub async fn list_triggers(agent_id: String) -> Result<AgentTriggers, AppError> {
    crate::server::triggers::manage::list(agent_id).await
}

#[server(endpoint = "add_webhook")]
pub async fn add_webhook(agent_id: String, name: String) -> Result<NewWebhook, AppError> {
    crate::server::triggers::manage::add_webhook(agent_id, name).await
}

#[server(endpoint = "add_schedule")]
pub async fn add_schedule(
    agent_id: String,
    name: String,
    cron: String,
    time_zone: String,
    message: String,
) -> Result<TriggerInfo, AppError> {
    crate::server::triggers::manage::add_schedule(agent_id, name, cron, time_zone, message).await
}

/// "When `source_agent_id`'s `on_event` happens, start `agent_id` with `message`" (a template).
#[server(endpoint = "add_event_trigger")]
pub async fn add_event_trigger(
    agent_id: String,
    name: String,
    source_agent_id: String,
    on_event: String,
    message: String,
) -> Result<TriggerInfo, AppError> {
    crate::server::triggers::manage::add_event(agent_id, name, source_agent_id, on_event, message)
        .await
}

pub use mailbox_form::{AddMailbox, add_mailbox};

/// The mailbox form's server function: one argument per field, more than clippy's limit, and
/// the attribute the `server` macro would need does not reach the browser's half of it.
mod mailbox_form {
    #![allow(clippy::too_many_arguments)]
    use super::*;

    /// Connects `agent_id` to a mailbox: each new mail to it starts a run, and the run's reply goes
    /// back in the mail's thread. Flare logs in before anything is saved, so a wrong password or
    /// host is said at once.
    #[server(endpoint = "add_mailbox")]
    pub async fn add_mailbox(
        agent_id: String,
        name: String,
        address: String,
        host: String,
        port: String,
        security: String,
        username: String,
        password: String,
        folder: String,
    ) -> Result<TriggerInfo, AppError> {
        crate::server::triggers::manage::add_mailbox(crate::server::triggers::manage::NewMailbox {
            agent_id,
            name,
            address,
            host,
            port,
            security,
            username,
            password,
            folder,
        })
        .await
    }
}

/// The next three firings of a cron expression in a time zone, or why it is refused (the
/// schedule form asks as you type).
#[server(endpoint = "preview_schedule")]
pub async fn preview_schedule(cron: String, time_zone: String) -> Result<Vec<String>, AppError> {
    crate::server::triggers::manage::preview(cron, time_zone).await
}

#[server(endpoint = "set_trigger_enabled")]
pub async fn set_trigger_enabled(trigger_id: String, enabled: bool) -> Result<(), AppError> {
    crate::server::triggers::manage::set_enabled(trigger_id, enabled).await
}

#[server(endpoint = "delete_trigger")]
pub async fn delete_trigger(trigger_id: String) -> Result<(), AppError> {
    crate::server::triggers::manage::delete(trigger_id).await
}
