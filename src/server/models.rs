//! Settings → Models: connections for the whole deployment (owners and admins), and each
//! agent's choice of connection and model (owners and admins of its team). Keys are sealed
//! before they are stored and only their hint leaves the server.

use super::agents::visible;
use super::auth::{Viewer, viewer};
use super::config::{ProviderConfig, Secret};
use super::db::audit;
use super::db::connections::{self, ConnectionRow, NewConnection};
use super::runtime::connections::{RULES_LABEL, seal_context};
use super::runtime::provider::{ChatMessage, Request};
use super::secret_box::hint;
use super::state::{AppState, app_state};
use crate::error::AppError;
use crate::models::{
    AgentModel, ConnectionInfo, ConnectionKind, ConnectionTest, ENVIRONMENT, ModelChoice,
    ModelsOverview, RULES, choice_value, parse_choice,
};
use std::time::{Duration, Instant};

const MAX_MODELS: usize = 50;
const MAX_MODEL_NAME: usize = 200;
const MAX_KEY: usize = 4096;
/// "Test connection" waits at most this long (or the provider timeout, if shorter).
const TEST_DEADLINE: Duration = Duration::from_secs(30);

fn require_manager(v: &Viewer) -> Result<(), AppError> {
    v.require_manager_to("manage model connections")
}

fn not_found() -> AppError {
    AppError::NotFound("No such connection: it may have been deleted.".into())
}

/// The models of a form field: separated by commas or lines, trimmed, each once, in order.
fn parse_models(raw: &str) -> Result<Vec<String>, AppError> {
    let mut models: Vec<String> = Vec::new();
    for m in raw
        .split([',', '\n'])
        .map(str::trim)
        .filter(|m| !m.is_empty())
    {
        if m.chars().count() > MAX_MODEL_NAME
            || m.chars().any(|c| c.is_control() || c.is_whitespace())
        {
            return Err(AppError::invalid(format!(
                "“{}” is not a model name: model names have no spaces and are at most {MAX_MODEL_NAME} characters.",
                m.chars().take(40).collect::<String>()
            )));
        }
        if !models.iter().any(|x| x == m) {
            models.push(m.to_string());
        }
    }
    if models.is_empty() {
        return Err(AppError::invalid(
            "List at least one model (for example gpt-4o-mini or claude-sonnet-4-5).",
        ));
    }
    if models.len() > MAX_MODELS {
        return Err(AppError::invalid(format!(
            "A connection lists at most {MAX_MODELS} models."
        )));
    }
    Ok(models)
}

fn parse_base_url(raw: &str, kind: ConnectionKind) -> Result<String, AppError> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(match kind {
            ConnectionKind::OpenAi => "https://api.openai.com/v1",
            ConnectionKind::Anthropic => "https://api.anthropic.com",
        }
        .into());
    }
    let url = reqwest::Url::parse(raw).map_err(|_| {
        AppError::invalid("The base URL must be a web address like https://api.openai.com/v1.")
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(AppError::invalid(
            "The base URL must start with https:// (or http:// for a server on your network).",
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(AppError::invalid(
            "Put the key in the API key field, not in the base URL.",
        ));
    }
    Ok(raw.trim_end_matches('/').to_string())
}

fn parse_key(raw: &str) -> Result<Option<Secret>, AppError> {
    let key = raw.trim();
    if key.is_empty() {
        return Ok(None);
    }
    if key.len() > MAX_KEY || key.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(AppError::invalid(
            "That is not an API key: keys have no spaces or line breaks.",
        ));
    }
    Ok(Some(Secret::new(key)))
}

/// Seals a key for a connection; refused when no secret key is set up.
fn seal(state: &AppState, key: &Secret, connection_id: &str) -> Result<(String, String), AppError> {
    let secrets = state.runtime.connections.secrets().ok_or_else(|| {
        AppError::invalid(
            "Flare cannot store keys yet: set FLARE_SECRET_KEY (64 hexadecimal digits, openssl rand -hex 32, the same on every instance) and restart.",
        )
    })?;
    Ok((secrets.seal(key, &seal_context(connection_id)), hint(key)))
}

fn info(row: &ConnectionRow, agents: Vec<String>) -> ConnectionInfo {
    ConnectionInfo {
        id: row.id.clone(),
        name: row.name.clone(),
        kind: row.kind,
        base_url: row.base_url.clone(),
        key_hint: if row.api_key.is_empty() {
            "none".into()
        } else {
            row.key_hint.clone()
        },
        models: row.model_list(),
        is_default: row.is_default == 1,
        from_environment: false,
        agents,
    }
}

/// The environment's connection as a read-only row.
fn environment(state: &AppState, stored_default: bool) -> Option<ConnectionInfo> {
    let (kind, base_url, key, model) = match &state.config.provider {
        ProviderConfig::Rules => return None,
        ProviderConfig::OpenAi {
            base_url,
            api_key,
            model,
        } => (ConnectionKind::OpenAi, base_url, api_key, model),
        ProviderConfig::Anthropic {
            base_url,
            api_key,
            model,
        } => (ConnectionKind::Anthropic, base_url, api_key, model),
    };
    Some(ConnectionInfo {
        id: ENVIRONMENT.into(),
        name: "From environment".into(),
        kind,
        base_url: base_url.clone(),
        key_hint: if key.expose().is_empty() {
            "none".into()
        } else {
            hint(key)
        },
        models: vec![model.clone()],
        is_default: !stored_default,
        from_environment: true,
        agents: Vec::new(),
    })
}

pub async fn overview() -> Result<ModelsOverview, AppError> {
    let v = viewer().await?;
    require_manager(&v)?;
    let state = app_state()?;
    let rows = connections::live(&state.db).await?;
    let stored_default = rows.iter().any(|r| r.is_default == 1);
    let mut list = Vec::with_capacity(rows.len() + 1);
    for row in &rows {
        list.push(info(
            row,
            connections::agents_using(&state.db, &row.id, &v.team_ids).await?,
        ));
    }
    if let Some(mut env) = environment(&state, stored_default) {
        env.agents = connections::agents_using(&state.db, ENVIRONMENT, &v.team_ids).await?;
        list.insert(usize::from(stored_default), env);
    }
    let default = state.runtime.connections.default(&state.db).await;
    Ok(ModelsOverview {
        connections: list,
        default_label: match default {
            Ok(d) => d.label,
            Err(e) => {
                tracing::warn!(error = %e, "cannot resolve the default connection");
                "unavailable".into()
            }
        },
        can_store_keys: state.runtime.connections.secrets().is_some(),
    })
}

pub async fn add(
    name: String,
    kind: String,
    base_url: String,
    api_key: String,
    models: String,
) -> Result<ConnectionInfo, AppError> {
    let v = viewer().await?;
    require_manager(&v)?;
    let state = app_state()?;
    let name = crate::validate::name(&name, "connection name", 80)?;
    let kind = ConnectionKind::from_stored(kind.trim())
        .map_err(|_| AppError::invalid("Choose OpenAI-compatible or Anthropic."))?;
    let base_url = parse_base_url(&base_url, kind)?;
    let key = parse_key(&api_key)?;
    if key.is_none() && kind == ConnectionKind::Anthropic {
        return Err(AppError::invalid("Anthropic needs an API key."));
    }
    let models = parse_models(&models)?;
    let live = connections::live(&state.db).await?;
    if live.iter().any(|c| c.name.eq_ignore_ascii_case(&name))
        || name.eq_ignore_ascii_case("From environment")
    {
        return Err(AppError::Conflict(format!(
            "A connection named “{name}” exists already: choose another name."
        )));
    }
    // Known before the insert, so the key can be sealed for its row.
    let id = crate::server::db::new_id();
    let (sealed, key_hint) = match &key {
        Some(k) => seal(&state, k, &id)?,
        None => (String::new(), String::new()),
    };
    let joined = models.join("\n");
    connections::insert(
        &state.db,
        NewConnection {
            id: &id,
            name: &name,
            kind,
            base_url: &base_url,
            sealed_key: &sealed,
            key_hint: &key_hint,
            models: &joined,
            created_by: &v.user.id,
        },
    )
    .await?;
    audit::record_for(
        &state.db,
        v.actor(),
        None,
        "connection.added",
        &id,
        &format!(
            "{name} ({}, {base_url}): {}",
            kind.label(),
            models.join(", ")
        ),
    )
    .await?;
    let row = connections::by_id(&state.db, &id)
        .await?
        .ok_or_else(not_found)?;
    Ok(info(&row, Vec::new()))
}

/// A stored, live connection (the environment's cannot be changed here).
async fn stored(state: &AppState, connection_id: &str) -> Result<ConnectionRow, AppError> {
    if connection_id == ENVIRONMENT {
        return Err(AppError::invalid(
            "The connection from the environment is set by FLARE_PROVIDER and its variables: change them and restart Flare.",
        ));
    }
    connections::by_id(&state.db, connection_id)
        .await?
        .filter(|r| r.deleted_at.is_none())
        .ok_or_else(not_found)
}

pub async fn update(
    connection_id: String,
    models: String,
    api_key: String,
) -> Result<(), AppError> {
    let v = viewer().await?;
    require_manager(&v)?;
    let state = app_state()?;
    let row = stored(&state, &connection_id).await?;
    let models = parse_models(&models)?;
    let key = match parse_key(&api_key)? {
        Some(k) => Some(seal(&state, &k, &row.id)?),
        None => None,
    };
    let joined = models.join("\n");
    let key_ref = key.as_ref().map(|(s, h)| (s.as_str(), h.as_str()));
    if !connections::update(&state.db, &row.id, &joined, key_ref).await? {
        return Err(not_found());
    }
    let detail = match key {
        Some(_) => format!("{}: models {}; new key", row.name, models.join(", ")),
        None => format!("{}: models {}", row.name, models.join(", ")),
    };
    audit::record_for(
        &state.db,
        v.actor(),
        None,
        "connection.updated",
        &row.id,
        &detail,
    )
    .await?;
    Ok(())
}

pub async fn delete(connection_id: String) -> Result<(), AppError> {
    let v = viewer().await?;
    require_manager(&v)?;
    let state = app_state()?;
    let row = stored(&state, &connection_id).await?;
    if !connections::delete(&state.db, &row.id).await? {
        return Err(AppError::Conflict(
            "This connection was deleted already.".into(),
        ));
    }
    // A count, not names: the audit entry is the deployment's, not one team's.
    let detail = match connections::count_using(&state.db, &row.id).await? {
        0 => row.name.clone(),
        n => format!("{} ({n} agents fall back to the default)", row.name),
    };
    audit::record_for(
        &state.db,
        v.actor(),
        None,
        "connection.deleted",
        &row.id,
        &detail,
    )
    .await?;
    Ok(())
}

pub async fn make_default(connection_id: String) -> Result<(), AppError> {
    let v = viewer().await?;
    require_manager(&v)?;
    let state = app_state()?;
    let (target, label) = match connection_id.trim() {
        "" | ENVIRONMENT => (None, "the environment's provider".to_string()),
        id => {
            let row = stored(&state, id).await?;
            (Some(row.id), row.name)
        }
    };
    if !connections::set_default(&state.db, target.as_deref()).await? {
        return Err(not_found());
    }
    audit::record_for(
        &state.db,
        v.actor(),
        None,
        "connection.default",
        target.as_deref().unwrap_or(ENVIRONMENT),
        &label,
    )
    .await?;
    Ok(())
}

/// One small call with the connection's first model; the provider's own error in plain words
/// when it fails.
pub async fn test(connection_id: String) -> Result<ConnectionTest, AppError> {
    let v = viewer().await?;
    require_manager(&v)?;
    let state = app_state()?;
    let conns = &state.runtime.connections;
    let (resolved, model) = if connection_id == ENVIRONMENT {
        let model = state.config.provider.model().ok_or_else(not_found)?;
        let r = conns
            .resolve(&state.db, Some(ENVIRONMENT), None)
            .await
            .map_err(AppError::internal)?;
        (r.provider, model.to_string())
    } else {
        let row = stored(&state, &connection_id).await?;
        let model = row
            .model_list()
            .into_iter()
            .next()
            .ok_or_else(|| AppError::invalid("This connection lists no model to test."))?;
        match conns.make(&row, &model) {
            Ok(p) => (p, model),
            Err(e) => {
                return Ok(ConnectionTest {
                    ok: false,
                    message: format!("Not connected: {e}."),
                });
            }
        }
    };
    let policy = crate::rules::compile("");
    let request = Request {
        agent_name: "Flare",
        instructions: "This is a connection test. Reply with the single word OK.".into(),
        policy: &policy,
        messages: vec![ChatMessage::User {
            text: "Say OK.".into(),
        }],
        tools: Vec::new(),
    };
    let deadline = TEST_DEADLINE.min(state.runtime.provider_timeout);
    let started = Instant::now();
    let outcome = tokio::time::timeout(deadline, resolved.complete(&request, &|_| {})).await;
    let secs = started.elapsed().as_secs_f64();
    Ok(match outcome {
        Ok(Ok(_)) => ConnectionTest {
            ok: true,
            message: format!("Connected: {model} answered in {secs:.1} s."),
        },
        Ok(Err(e)) => ConnectionTest {
            ok: false,
            message: format!("Not connected: {e}."),
        },
        Err(_) => ConnectionTest {
            ok: false,
            message: format!(
                "Not connected: no answer from {model} within {} seconds. Check the base URL, and that the server is running.",
                deadline.as_secs()
            ),
        },
    })
}

/// The menu: the default, the offline rules, the environment's model, then each connection's
/// models.
async fn choices(state: &AppState) -> Result<Vec<ModelChoice>, AppError> {
    let default = state
        .runtime
        .connections
        .default(&state.db)
        .await
        .map(|d| d.label)
        .unwrap_or_else(|_| "unavailable".into());
    let mut out = vec![ModelChoice {
        value: String::new(),
        label: format!("Default ({default})"),
    }];
    if let Some(env) = state.runtime.connections.environment_label() {
        out.push(ModelChoice {
            value: ENVIRONMENT.into(),
            label: env.to_string(),
        });
    }
    for row in connections::live(&state.db).await? {
        for m in row.model_list() {
            out.push(ModelChoice {
                value: choice_value(&row.id, &m),
                label: format!("{} · {m}", row.name),
            });
        }
    }
    out.push(ModelChoice {
        value: RULES.into(),
        label: RULES_LABEL.into(),
    });
    Ok(out)
}

pub async fn agent_model(agent_id: String) -> Result<AgentModel, AppError> {
    let v = viewer().await?;
    let state = app_state()?;
    let agent = visible(&v, &state.db, &agent_id).await?;
    let resolved = state
        .runtime
        .connections
        .resolve(
            &state.db,
            agent.connection_id.as_deref(),
            agent.model.as_deref(),
        )
        .await;
    let (in_use, notice) = match resolved {
        Ok(r) => (r.label, r.notice),
        Err(e) => (
            "unavailable".into(),
            Some(format!("This agent's model cannot be used: {e}.")),
        ),
    };
    let choices = choices(&state).await?;
    let selected = match (&agent.connection_id, &agent.model) {
        (None, _) => String::new(),
        (Some(c), Some(m)) => choice_value(c, m),
        (Some(c), None) => {
            // A connection without a model named: its first model's entry.
            let prefix = format!("{c}/");
            choices
                .iter()
                .find(|ch| ch.value == *c || ch.value.starts_with(&prefix))
                .map(|ch| ch.value.clone())
                .unwrap_or_default()
        }
    };
    // A choice that is gone (deleted connection, unlisted model) shows as the default, with
    // the notice saying why.
    let selected = match choices.iter().any(|c| c.value == selected) {
        true => selected,
        false => String::new(),
    };
    Ok(AgentModel {
        choices,
        selected,
        in_use,
        notice,
        can_edit: v.user.role.can_manage(),
    })
}

pub async fn set_agent_model(agent_id: String, choice: String) -> Result<(), AppError> {
    let v = viewer().await?;
    let state = app_state()?;
    let agent = visible(&v, &state.db, &agent_id).await?;
    v.require_manager_to("change an agent's model")?;
    let parsed = parse_choice(&choice);
    let label = match &parsed {
        None => "the default".to_string(),
        Some((c, _)) if c == RULES => RULES_LABEL.to_string(),
        Some((c, _)) if c == ENVIRONMENT => match state.runtime.connections.environment_label() {
            Some(l) => l.to_string(),
            None => return Err(AppError::invalid("The environment sets no model provider.")),
        },
        Some((c, m)) => {
            let row = stored(&state, c).await?;
            let Some(m) = m else {
                return Err(AppError::invalid("Choose one of the connection's models."));
            };
            if !row.model_list().contains(m) {
                return Err(AppError::invalid(format!(
                    "“{}” does not list the model “{m}”: add it in Settings → Models first.",
                    row.name
                )));
            }
            format!("{} · {m}", row.name)
        }
    };
    let (conn, model) = match &parsed {
        None => (None, None),
        Some((c, _)) if c == RULES || c == ENVIRONMENT => (Some(c.as_str()), None),
        Some((c, m)) => (Some(c.as_str()), m.as_deref()),
    };
    if !connections::set_agent_choice(&state.db, &agent.id, conn, model).await? {
        return Err(AppError::NotFound("This agent was deleted.".into()));
    }
    audit::record_for(
        &state.db,
        v.actor(),
        Some(&agent.team_id),
        "agent.model",
        &agent.id,
        &format!("{}: {label}", agent.name),
    )
    .await?;
    Ok(())
}
