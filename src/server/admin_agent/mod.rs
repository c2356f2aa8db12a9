//! The Admin Agent on the server: owners and admins only, reading only the asking person's
//! teams. With a model connected (the deployment's default), the model answers with read-only
//! tools; without one, Flare's own analysis answers the tutorial's three questions (`offline`).

pub mod offline;
pub mod tools;

use super::auth::{Viewer, viewer};
use super::db::admin_agent::{self as store, EscalationFacts};
use super::db::agents;
use super::runtime::connections::RULES_LABEL;
use super::runtime::provider::{ChatMessage, Request};
use super::state::{AppState, app_state};
use crate::admin_agent::{AdminMessage, Draft};
use crate::error::AppError;
use std::collections::HashMap;

/// The longest question, in bytes.
const MAX_QUESTION: usize = 8 * 1024;
/// How far back "the last week or two" reaches.
pub const REVIEW_DAYS: i64 = 14;
/// Model round trips per question before it must answer.
const MAX_STEPS: usize = 8;
/// Earlier turns the model is given again (the newest).
const HISTORY: usize = 10;

pub struct AgentFacts {
    pub id: String,
    pub name: String,
    pub team_name: String,
    pub description: String,
}

/// What the offline analysis reads, all within the asking person's teams.
pub struct Facts {
    pub agents: Vec<AgentFacts>,
    pub alone: Vec<(String, String)>,
    pub escalations: Vec<EscalationFacts>,
    pub runs: HashMap<String, i64>,
}

impl Facts {
    pub fn alone_for(&self, agent_id: &str) -> Vec<String> {
        self.alone
            .iter()
            .filter(|(a, _)| a == agent_id)
            .map(|(_, m)| m.clone())
            .collect()
    }
}

fn require_manager(v: &Viewer) -> Result<(), AppError> {
    v.require_manager_to("use the Admin Agent")
}

pub fn since(days: i64) -> i64 {
    super::db::now_ms() - days * 24 * 3600 * 1000
}

pub async fn agents_of(
    state: &AppState,
    team_ids: &[String],
) -> Result<Vec<AgentFacts>, sqlx::Error> {
    Ok(agents::for_teams(&state.db, team_ids)
        .await?
        .into_iter()
        .map(|a| AgentFacts {
            id: a.id,
            name: a.name,
            team_name: a.team_name,
            description: a.description,
        })
        .collect())
}

async fn facts(state: &AppState, team_ids: &[String]) -> Result<Facts, sqlx::Error> {
    let from = since(REVIEW_DAYS);
    Ok(Facts {
        agents: agents_of(state, team_ids).await?,
        alone: store::answered_alone(&state.db, team_ids).await?,
        escalations: store::escalations(&state.db, team_ids, from, None).await?,
        runs: store::runs_per_agent(&state.db, team_ids, from)
            .await?
            .into_iter()
            .collect(),
    })
}

fn view(row: store::AdminMessageRow) -> AdminMessage {
    AdminMessage {
        from_agent: row.from_agent == 1,
        html: super::markdown::to_safe_html(&row.body),
        drafts: serde_json::from_str(&row.drafts).unwrap_or_default(),
        offline: row.offline == 1,
        at_ms: row.created_at,
    }
}

pub async fn conversation() -> Result<Vec<AdminMessage>, AppError> {
    let v = viewer().await?;
    require_manager(&v)?;
    let state = app_state()?;
    Ok(store::conversation(&state.db, &v.user.id)
        .await?
        .into_iter()
        .map(view)
        .collect())
}

pub async fn ask(text: String) -> Result<Vec<AdminMessage>, AppError> {
    let v = viewer().await?;
    require_manager(&v)?;
    let state = app_state()?;
    let text = crate::validate::long_text(&text, "question", MAX_QUESTION)?;
    let earlier = store::conversation(&state.db, &v.user.id).await?;
    store::add(&state.db, &v.user.id, false, &text, "[]", false).await?;
    let (body, drafts, offline) = answer(&state, &v, &earlier, &text).await?;
    let drafts_json = serde_json::to_string(&drafts).map_err(AppError::internal)?;
    store::add(&state.db, &v.user.id, true, &body, &drafts_json, offline).await?;
    conversation().await
}

/// The answer's Markdown, its drafts, and whether it is offline.
async fn answer(
    state: &AppState,
    v: &Viewer,
    earlier: &[store::AdminMessageRow],
    text: &str,
) -> Result<(String, Vec<Draft>, bool), AppError> {
    let resolved = state
        .runtime
        .connections
        .default(&state.db)
        .await
        .map_err(AppError::internal)?;
    if resolved.label == RULES_LABEL {
        let facts = facts(state, &v.team_ids).await?;
        let (body, drafts) = match offline::question(text) {
            offline::Question::Moments => (offline::moments(&facts), Vec::new()),
            offline::Question::Drafts => offline::drafts(&facts, text),
            offline::Question::Review => (offline::review(&facts, REVIEW_DAYS), Vec::new()),
            offline::Question::Other => (offline::help(), Vec::new()),
        };
        return Ok((body, drafts, true));
    }
    let mut messages: Vec<ChatMessage> = earlier
        .iter()
        .rev()
        .take(HISTORY)
        .rev()
        .map(|m| match m.from_agent {
            1 => ChatMessage::Assistant {
                text: m.body.clone(),
                tool_calls: Vec::new(),
            },
            _ => ChatMessage::User {
                text: m.body.clone(),
            },
        })
        .collect();
    messages.push(ChatMessage::User { text: text.into() });
    let mut ctx = tools::Context {
        state,
        team_ids: &v.team_ids,
        drafts: Vec::new(),
    };
    let policy = crate::rules::compile("");
    let timeout = state.runtime.provider_timeout;
    for _ in 0..MAX_STEPS {
        let request = Request {
            agent_name: crate::admin_agent::NAME,
            instructions: tools::INSTRUCTIONS.into(),
            policy: &policy,
            messages: messages.clone(),
            tools: tools::specs(),
        };
        let reply = match tokio::time::timeout(
            timeout,
            resolved.provider.complete(&request, &|_| {}),
        )
        .await
        {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => return Ok((format!("I could not answer: {e}."), Vec::new(), false)),
            Err(_) => {
                return Ok((
                    format!(
                        "I could not answer: the model did not answer within {} seconds.",
                        timeout.as_secs()
                    ),
                    Vec::new(),
                    false,
                ));
            }
        };
        messages.push(ChatMessage::Assistant {
            text: reply.text.clone(),
            tool_calls: reply.tool_calls.clone(),
        });
        if reply.tool_calls.is_empty() {
            return Ok((reply.text, ctx.drafts, false));
        }
        for call in &reply.tool_calls {
            let content = tools::run(&mut ctx, &call.name, &call.arguments).await?;
            messages.push(ChatMessage::Tool {
                call_id: call.id.clone(),
                name: call.name.clone(),
                content,
                answer: None,
            });
        }
    }
    Ok((
        format!(
            "I could not finish: I took more than {MAX_STEPS} steps without an answer. Try a narrower question."
        ),
        ctx.drafts,
        false,
    ))
}
