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

/// The one-line summary of a Description's escalation rules shown in the agent list.
pub fn rule_summary(description: &str) -> String {
    crate::rules::understood::summary(&crate::rules::compile(description))
}
