//! The Admin Agent: built into every deployment, for owners and admins, an escalation coach
//! with read-only tools over the asking person's teams. It resolves, dismisses and edits
//! nothing; the rule wordings it drafts come with a "Copy to Description" button that opens the
//! agent's page with the text added (the editor saves it, with a revision, as for typing).

use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// The Admin Agent's name, in the chat list and its page.
pub const NAME: &str = "Admin Agent";

/// The tutorial's three prompts, offered as one-click suggestions in its empty chat.
pub const PROMPTS: [(&str, &str); 3] = [
    (
        "Find the moments each agent should escalate",
        "Look at my custom agents. For each one, identify three specific situations where it should escalate to a human instead of answering alone — based on the agent's job, its likely failure modes, and what would be irreversible if it got the answer wrong. Be specific.",
    ),
    (
        "Draft the exact wording to add to a Description",
        "For my agent \"[name],\" draft me the exact wording I should add to its Description so it escalates in [list the situations from Power Move 1, or your own list]. Make the wording specific enough that the agent recognizes the situations reliably, and short enough that I can paste it into the Description.",
    ),
    (
        "Review past escalations and tighten what matters",
        "Look at the escalations my agents created in the last week or two. For each one, tell me: was it the right thing to escalate, was the agent's reasoning useful, and what would I change about either the agent's Description or my response process to handle similar ones better next time?",
    ),
];

/// Rule wording offered for one agent's Description.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Draft {
    pub agent_id: String,
    pub agent_name: String,
    pub text: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminMessage {
    pub from_agent: bool,
    /// Rendered Markdown, cleaned on the server.
    pub html: String,
    pub drafts: Vec<Draft>,
    /// Answered by Flare's own analysis, with no model.
    pub offline: bool,
    pub at_ms: i64,
}

/// The signed-in owner's or admin's conversation with the Admin Agent.
#[server(endpoint = "admin_conversation")]
pub async fn admin_conversation() -> Result<Vec<AdminMessage>, AppError> {
    crate::server::admin_agent::conversation().await
}

/// Asks the Admin Agent; returns the conversation with its answer.
#[server(endpoint = "ask_admin_agent")]
pub async fn ask_admin_agent(text: String) -> Result<Vec<AdminMessage>, AppError> {
    crate::server::admin_agent::ask(text).await
}

/// The link that opens an agent's page with `text` added to its Description.
pub fn copy_link(draft: &Draft) -> String {
    format!(
        "/app/settings/agents/{}?add={}",
        draft.agent_id,
        crate::components::url::encode_component(&draft.text)
    )
}
