//! What starts an agent without a person in a chat: inbound webhooks and schedules (later
//! events). Owners and admins of the agent's team add, pause and delete them; members of the
//! team see them. Every server function checks the session, the team and the role itself.

use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

crate::names::stored_enum! {
    pub enum TriggerKind as "trigger kind" {
        Webhook,
        Schedule,
        Event,
    }
}

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
    pub created_at_ms: i64,
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
