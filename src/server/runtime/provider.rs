//! What every provider implements: given the conversation so far and the tools, produce the
//! agent's next reply (text, tool calls, or both), streaming text as it is produced.

use serde::{Deserialize, Serialize};

/// The built-in tool every agent has.
pub const ESCALATE_TOOL: &str = "escalate_to_human";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    /// The arguments as the model wrote them: JSON text, not trusted to be valid.
    pub arguments: String,
}

/// How a person answered an escalation; the model reads it as the tool's result text.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "lowercase")]
pub enum Answer {
    Resolved { guidance: String },
    Dismissed,
}

impl Answer {
    pub fn tool_result(&self) -> String {
        match self {
            Answer::Resolved { guidance } => format!(
                "A person answered your escalation with this guidance: {guidance}\n\
                 Continue from where you stopped, following it."
            ),
            Answer::Dismissed => "The escalation was dismissed: no one will answer it. \
                 Proceed as best you can on your own."
                .into(),
        }
    }
}

/// One entry of the conversation a provider sees. A run's own entries are stored with it
/// (`runs.steps`), so a paused run resumes with exactly what it had.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "role", rename_all = "lowercase")]
pub enum ChatMessage {
    User {
        text: String,
    },
    Assistant {
        text: String,
        tool_calls: Vec<ToolCall>,
    },
    Tool {
        call_id: String,
        name: String,
        content: String,
        /// Set when this is a person's answer to an escalation.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        answer: Option<Answer>,
    },
}

#[derive(Clone, Debug)]
pub struct ToolSpec {
    pub name: String,
    pub description: String,
    /// JSON Schema of the arguments.
    pub parameters: serde_json::Value,
}

pub struct Request<'a> {
    pub agent_name: &'a str,
    /// The system prompt: the Description plus Flare's instructions about escalating.
    pub instructions: String,
    /// The compiled Description (the rules provider reads it; models get `instructions`).
    pub policy: &'a crate::rules::Policy,
    pub messages: Vec<ChatMessage>,
    pub tools: Vec<ToolSpec>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Reply {
    pub text: String,
    pub tool_calls: Vec<ToolCall>,
}

/// Why a provider gave no usable reply; the message is shown in the thread.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    #[error("the model did not answer within {} seconds", show_secs(*.0))]
    Timeout(std::time::Duration),
    #[error("the model is unavailable: {0}")]
    Unavailable(String),
    #[error("the model's answer could not be read: {0}")]
    Malformed(String),
}

/// The HTTP client a model provider calls its vendor with. Connecting may take 10 s; the whole
/// call is bounded by the runtime's provider timeout.
pub fn http_client() -> anyhow::Result<reqwest::Client> {
    use anyhow::Context;
    reqwest::Client::builder()
        .connect_timeout(std::time::Duration::from_secs(10))
        .build()
        .context("cannot build the HTTP client")
}

/// Receives reply text as it is produced.
pub type OnDelta<'a> = &'a (dyn Fn(&str) + Send + Sync);

#[async_trait::async_trait]
pub trait Provider: Send + Sync {
    async fn complete(
        &self,
        request: &Request<'_>,
        on_delta: OnDelta<'_>,
    ) -> Result<Reply, ProviderError>;
}

fn show_secs(d: std::time::Duration) -> String {
    if d.subsec_millis() == 0 {
        d.as_secs().to_string()
    } else {
        format!("{:.1}", d.as_secs_f64())
    }
}
