//! Escalations: an agent's "I need a human here". Answered once, by the first person to act:
//! Respond & Resume (guidance becomes the result of the agent's escalate_to_human call) or
//! Dismiss (the agent proceeds as best it can).

use crate::error::AppError;
use crate::rules::Severity;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// The longest guidance a person can give, in bytes.
pub const MAX_GUIDANCE_BYTES: usize = 8 * 1024;

/// The error every answer after the first one gets (SPEC wording).
pub const ALREADY_RESOLVED: &str = "This escalation is already resolved.";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EscalationStatus {
    Open,
    Resolved,
    Dismissed,
}

impl EscalationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Resolved => "resolved",
            Self::Dismissed => "dismissed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "open" => Some(Self::Open),
            "resolved" => Some(Self::Resolved),
            "dismissed" => Some(Self::Dismissed),
            _ => None,
        }
    }
}

/// The severity icon and its accessible name.
pub fn severity_icon(s: Severity) -> (&'static str, &'static str) {
    match s {
        Severity::Info => ("\u{2139}\u{fe0f}", "Severity: info"),
        Severity::Warning => ("\u{26a0}\u{fe0f}", "Severity: warning"),
        Severity::Critical => ("\u{1f534}", "Severity: critical"),
    }
}

/// What the inline card and the Escalations page show of one escalation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EscalationView {
    pub id: String,
    pub thread_id: String,
    pub agent_name: String,
    pub trigger: String,
    pub reason: String,
    pub severity: Severity,
    /// False for a direct tool-call escalation: the agent did not wait for the answer.
    pub blocking: bool,
    pub status: EscalationStatus,
    pub guidance: Option<String>,
    pub responder: Option<String>,
    pub created_at_ms: i64,
    pub answered_at_ms: Option<i64>,
}

/// Respond & Resume: the guidance goes to the agent, whose run continues from where it stopped.
#[server(endpoint = "respond_escalation")]
pub async fn respond_escalation(escalation_id: String, guidance: String) -> Result<(), AppError> {
    crate::server::escalations::respond(escalation_id, guidance).await
}

/// Dismiss: the agent is told no one will answer and proceeds as best it can.
#[server(endpoint = "dismiss_escalation")]
pub async fn dismiss_escalation(escalation_id: String) -> Result<(), AppError> {
    crate::server::escalations::dismiss(escalation_id).await
}
