//! Model connections (Settings → Models) and the model each agent answers with. Owners and
//! admins add connections for the whole deployment; each agent picks a connection and a model on
//! its page. Keys are sealed at rest and never sent back: the browser sees `sk-…abcd`.

use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

crate::names::stored_enum! {
    /// The wire protocol a connection speaks.
    pub enum ConnectionKind as "connection kind" {
        /// Any OpenAI-compatible Chat Completions endpoint.
        OpenAi,
        /// Anthropic's Messages API.
        Anthropic,
    }
}

impl ConnectionKind {
    pub fn label(self) -> &'static str {
        match self {
            ConnectionKind::OpenAi => "OpenAI-compatible",
            ConnectionKind::Anthropic => "Anthropic",
        }
    }
}

/// The connection the environment variables make (`FLARE_PROVIDER`): shown, never edited.
pub const ENVIRONMENT: &str = "environment";
/// Flare's built-in offline provider.
pub const RULES: &str = "rules";

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionInfo {
    /// A stored connection's id, or [`ENVIRONMENT`].
    pub id: String,
    pub name: String,
    pub kind: ConnectionKind,
    pub base_url: String,
    /// What is shown of the key (`sk-…abcd`), or "none".
    pub key_hint: String,
    pub models: Vec<String>,
    pub is_default: bool,
    /// Made by the environment variables: read-only here.
    pub from_environment: bool,
    /// Agents that picked this connection by name.
    pub agents: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelsOverview {
    pub connections: Vec<ConnectionInfo>,
    /// What agents without a choice of their own use, in words.
    pub default_label: String,
    /// Whether keys can be stored (a secret key is set up); keyless connections always can.
    pub can_store_keys: bool,
}

/// What "Test connection" found, in plain words.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionTest {
    pub ok: bool,
    pub message: String,
}

/// One entry of an agent's model menu.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelChoice {
    /// "" for the default, [`RULES`], or "<connection id>/<model>".
    pub value: String,
    pub label: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentModel {
    pub choices: Vec<ModelChoice>,
    /// The value of the agent's choice (one of `choices`).
    pub selected: String,
    /// What answers for the agent now, in words ("Anthropic prod · claude-sonnet-4-5").
    pub in_use: String,
    /// Set when the agent's own choice cannot be used and it falls back to the default.
    pub notice: Option<String>,
    pub can_edit: bool,
}

/// The value of a connection's model in an agent's menu.
pub fn choice_value(connection_id: &str, model: &str) -> String {
    format!("{connection_id}/{model}")
}

/// Splits a menu value into (connection, model); `None` for the default. Model names may hold
/// slashes (OpenRouter's "vendor/model"); connection ids never do.
pub fn parse_choice(value: &str) -> Option<(String, Option<String>)> {
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    Some(match value.split_once('/') {
        Some((c, m)) => (c.to_string(), Some(m.to_string())),
        None => (value.to_string(), None),
    })
}

#[server(endpoint = "list_connections")]
pub async fn list_connections() -> Result<ModelsOverview, AppError> {
    crate::server::models::overview().await
}

/// Adds a connection. `models` is a list separated by commas or lines; the first is the
/// connection's default model.
#[server(endpoint = "add_connection")]
pub async fn add_connection(
    name: String,
    kind: String,
    base_url: String,
    api_key: String,
    models: String,
) -> Result<ConnectionInfo, AppError> {
    crate::server::models::add(name, kind, base_url, api_key, models).await
}

/// Changes a connection's models and, when `api_key` is not empty, its key.
#[server(endpoint = "update_connection")]
pub async fn update_connection(
    connection_id: String,
    models: String,
    api_key: String,
) -> Result<(), AppError> {
    crate::server::models::update(connection_id, models, api_key).await
}

#[server(endpoint = "delete_connection")]
pub async fn delete_connection(connection_id: String) -> Result<(), AppError> {
    crate::server::models::delete(connection_id).await
}

/// Makes a stored connection the default for agents without a choice; "" (or
/// [`ENVIRONMENT`]) goes back to the environment's provider.
#[server(endpoint = "make_default_connection")]
pub async fn make_default_connection(connection_id: String) -> Result<(), AppError> {
    crate::server::models::make_default(connection_id).await
}

/// One small call with the connection's first model.
#[server(endpoint = "test_connection")]
pub async fn test_connection(connection_id: String) -> Result<ConnectionTest, AppError> {
    crate::server::models::test(connection_id).await
}

#[server(endpoint = "load_agent_model")]
pub async fn load_agent_model(agent_id: String) -> Result<AgentModel, AppError> {
    crate::server::models::agent_model(agent_id).await
}

/// Sets the model an agent answers with from its next message on.
#[server(endpoint = "set_agent_model")]
pub async fn set_agent_model(agent_id: String, choice: String) -> Result<(), AppError> {
    crate::server::models::set_agent_model(agent_id, choice).await
}
