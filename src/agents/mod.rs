//! Agents and their Descriptions (where escalation rules live). Members of a team see its
//! agents; owners and admins of that team change them. Every function checks both itself.

use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// The longest Description Flare stores, in bytes (UTF-8).
pub const MAX_DESCRIPTION_BYTES: usize = 100 * 1024;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentSummary {
    pub id: String,
    pub name: String,
    pub team_id: String,
    pub team_name: String,
    /// One line: what the compiled rules escalate on.
    pub rule_summary: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentDetail {
    pub id: String,
    pub name: String,
    pub team_id: String,
    pub team_name: String,
    pub description: String,
    pub revision: i64,
    /// Owners and admins may change it; members only read.
    pub can_edit: bool,
    /// Whether the guardrail reads meaning (the embedding model is loaded) or words only.
    pub reads_meaning: bool,
    /// "What Flare understood" of the saved Description.
    pub understood: crate::rules::understood::Understood,
}

/// How a rule matched a message in "Try a message".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MatchedBy {
    /// A word of the rule (or a form of it) is in the message.
    Words,
    /// A sentence of the message is close in meaning to one of the rule's topics.
    Meaning,
}

/// One rule's closest match for a tried message.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrialMatch {
    /// The rule's sentence, as the Description writes it.
    pub rule: String,
    pub by: MatchedBy,
    /// The rule's term or topic that matched.
    pub topic: String,
    /// What in the message matched: the words, or the sentence.
    pub found: String,
    /// For meaning: how close (cosine, 0 to 1).
    pub closeness: Option<f32>,
    /// Whether this match alone escalates (a meaning below the threshold does not).
    pub escalates: bool,
    pub severity: crate::rules::Severity,
}

/// What the guardrail would do with a message: nothing is sent or stored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Trial {
    pub escalates: bool,
    /// The severity it would escalate with.
    pub severity: Option<crate::rules::Severity>,
    /// The reason the escalation card would show.
    pub reason: Option<String>,
    /// Escalating matches first, then the closest that did not escalate.
    pub matches: Vec<TrialMatch>,
    /// How close a meaning must be to escalate.
    pub threshold: f32,
    /// Whether meaning was read (else words only).
    pub read_meaning: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevisionInfo {
    pub revision: i64,
    pub author: String,
    pub at_ms: i64,
    pub description: String,
}

/// What a save did. A conflict changes nothing and returns what is saved now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome")]
pub enum SaveOutcome {
    Saved {
        revision: i64,
    },
    Conflict {
        revision: i64,
        description: String,
        author: String,
    },
}

#[server(endpoint = "list_agents")]
pub async fn list_agents() -> Result<Vec<AgentSummary>, AppError> {
    crate::server::agents::list().await
}

#[server(endpoint = "create_agent")]
pub async fn create_agent(name: String, team_id: String) -> Result<AgentSummary, AppError> {
    crate::server::agents::create(name, team_id).await
}

#[server(endpoint = "rename_agent")]
pub async fn rename_agent(agent_id: String, name: String) -> Result<(), AppError> {
    crate::server::agents::rename(agent_id, name).await
}

#[server(endpoint = "delete_agent")]
pub async fn delete_agent(agent_id: String) -> Result<(), AppError> {
    crate::server::agents::delete(agent_id).await
}

#[server(endpoint = "load_agent")]
pub async fn load_agent(agent_id: String) -> Result<AgentDetail, AppError> {
    crate::server::agents::detail(agent_id).await
}

#[server(endpoint = "agent_revisions")]
pub async fn agent_revisions(agent_id: String) -> Result<Vec<RevisionInfo>, AppError> {
    crate::server::agents::revisions(agent_id).await
}

/// Saves a Description typed on top of `base_revision`.
#[server(endpoint = "save_description")]
pub async fn save_description(
    agent_id: String,
    base_revision: i64,
    description: String,
) -> Result<SaveOutcome, AppError> {
    crate::server::agents::save_description(agent_id, base_revision, description).await
}

/// Makes an old revision's text the newest revision (history is never rewritten).
#[server(endpoint = "restore_revision")]
pub async fn restore_revision(
    agent_id: String,
    revision: i64,
    base_revision: i64,
) -> Result<SaveOutcome, AppError> {
    crate::server::agents::restore(agent_id, revision, base_revision).await
}

/// What the guardrail would do with `message` under `description` (the editor's text, saved or
/// not), without sending it to anyone. For owners and admins of the agent's team.
#[server(endpoint = "try_message")]
pub async fn try_message(
    agent_id: String,
    description: String,
    message: String,
) -> Result<Trial, AppError> {
    crate::server::agents::try_message(agent_id, description, message).await
}

/// "What Flare understood" of a Description being typed (saved or not): the agent page's live
/// panel. Worked out on the server, by the compiler the guardrail uses, so the browser carries
/// no compiler. Any signed-in person: it reads nothing stored.
#[server(endpoint = "read_description")]
pub async fn read_description(
    description: String,
) -> Result<crate::rules::understood::Understood, AppError> {
    crate::server::agents::read_description(description).await
}

/// Checks a Description before it is stored: size and control characters.
pub fn validate_description(text: &str) -> Result<(), AppError> {
    if text.len() > MAX_DESCRIPTION_BYTES {
        return Err(AppError::invalid(format!(
            "A Description is at most {} KB; this one is {} KB.",
            MAX_DESCRIPTION_BYTES / 1024,
            text.len().div_ceil(1024)
        )));
    }
    if text
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(AppError::invalid(
            "A Description cannot contain control characters (only text, tabs and line breaks).",
        ));
    }
    Ok(())
}

/// "What Flare understood" of a Description: the agent page's panel.
pub fn understood(description: &str) -> crate::rules::understood::Understood {
    crate::rules::understood::understood(&crate::rules::compile(description))
}

/// The one-line summary of a Description's escalation rules shown in the agent list.
pub fn rule_summary(description: &str) -> String {
    crate::rules::understood::summary(&crate::rules::compile(description))
}
