//! Chat: threads with one agent each, their messages and the runs user messages start.
//! Team-scoped: every function checks the session and the thread's team itself.

use crate::error::AppError;
use crate::escalations::EscalationView;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// The longest message a person can send, in bytes.
pub const MAX_MESSAGE_BYTES: usize = 32 * 1024;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThreadSummary {
    pub id: String,
    pub agent_id: String,
    pub agent_name: String,
    pub team_name: String,
    pub trigger: Trigger,
    pub title: String,
    pub updated_at_ms: i64,
}

crate::names::stored_enum! {
    pub enum MessageKind as "message kind" {
        User,
        Agent,
        Escalation,
        Notice,
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageView {
    pub seq: i64,
    pub kind: MessageKind,
    pub author: String,
    /// Sanitised HTML rendered from the message's Markdown on the server: model output is
    /// untrusted, so no script, no raw HTML and no `javascript:` links survive.
    pub html: String,
    pub at_ms: i64,
    /// The inline card of an escalation message.
    pub escalation: Option<EscalationView>,
}

crate::names::stored_enum! {
    pub enum RunStatus as "run status" {
        Running,
        Waiting,
        Completed,
        Failed,
    }
}

crate::names::stored_enum! {
    /// What started a thread (and so its runs and escalations).
    pub enum Trigger as "trigger" {
        Chat,
        Cron,
        Email,
        Webhook,
        Slack,
        Discord,
        Event,
        /// Started through the JSON API (`POST /api/v1/agents/{id}/runs`).
        Api,
    }
}

impl std::fmt::Display for Trigger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The thread's latest run, so the page can show "working…", a failure and its retry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunView {
    pub id: String,
    pub status: RunStatus,
    pub error: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThreadView {
    pub id: String,
    pub agent_id: String,
    pub agent_name: String,
    pub trigger: Trigger,
    pub title: String,
    pub messages: Vec<MessageView>,
    pub last_run: Option<RunView>,
}

#[server(endpoint = "list_threads")]
pub async fn list_threads() -> Result<Vec<ThreadSummary>, AppError> {
    crate::server::chat::list().await
}

/// Starts a chat thread with an agent of one of the user's teams; returns its id.
#[server(endpoint = "start_thread")]
pub async fn start_thread(agent_id: String) -> Result<String, AppError> {
    crate::server::chat::start(agent_id).await
}

#[server(endpoint = "load_thread")]
pub async fn load_thread(thread_id: String) -> Result<ThreadView, AppError> {
    crate::server::chat::load(thread_id).await
}

/// Posts a message and starts a run of the agent with the Description saved right now.
#[server(endpoint = "send_message")]
pub async fn send_message(thread_id: String, body: String) -> Result<(), AppError> {
    crate::server::chat::send(thread_id, body).await
}

/// Runs a failed run again from where it stopped.
#[server(endpoint = "retry_run")]
pub async fn retry_run(run_id: String) -> Result<(), AppError> {
    crate::server::chat::retry(run_id).await
}
