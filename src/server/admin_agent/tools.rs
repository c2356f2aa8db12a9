//! The Admin Agent's tools for a model: read-only, and each scoped to the asking person's
//! teams (an agent, escalation or thread of another team is "not found", exactly as if it did
//! not exist). `offer_draft` only attaches a "Copy to Description" button to the answer; the
//! person decides. There is no tool that resolves, dismisses or edits anything.

use super::{AgentFacts, REVIEW_DAYS, agents_of, since};
use crate::admin_agent::Draft;
use crate::error::AppError;
use crate::server::db::admin_agent as store;
use crate::server::db::threads;
use crate::server::runtime::provider::ToolSpec;
use crate::server::state::AppState;
use serde_json::{Value, json};

pub const INSTRUCTIONS: &str = "You are Flare's Admin Agent, an escalation coach for the owners and admins of this Flare. \
You help them decide when their agents should escalate to a human, draft escalation rules for the agents' Descriptions, \
and review past escalations. Use your tools to read agents, escalations and threads; they are read-only and show only \
the asking person's teams. You cannot resolve, dismiss or edit anything: say so if asked. \
Good rules name the category, the consequence, and what to do first (\"Always escalate any request involving refunds: \
money promised cannot be taken back. Before escalating, confirm the amount.\"). Check every rule you propose with \
lint_description, then call offer_draft with it so the person gets a Copy to Description button. Use real names and figures from the tools.";

/// Escalations one `list_escalations` call returns at most.
const MAX_ROWS: usize = 100;

pub struct Context<'a> {
    pub state: &'a AppState,
    pub team_ids: &'a [String],
    pub drafts: Vec<Draft>,
}

fn spec(name: &str, description: &str, parameters: Value) -> ToolSpec {
    ToolSpec {
        name: name.into(),
        description: description.into(),
        parameters,
    }
}

pub fn specs() -> Vec<ToolSpec> {
    let agent = json!({"type": "object", "properties": {"agent": {"type": "string", "description": "The agent's name or id"}}, "required": ["agent"]});
    vec![
        spec(
            "list_agents",
            "The agents of the person's teams: name, team and Description.",
            json!({"type": "object", "properties": {}}),
        ),
        spec(
            "get_agent",
            "One agent: its Description, the rules Flare understood from it, and its lint.",
            agent,
        ),
        spec(
            "list_escalations",
            "Escalations of the person's teams: reason, severity, outcome, guidance, responder, minutes to answer, and the message that led to it.",
            json!({"type": "object", "properties": {
                "days": {"type": "integer", "description": "How many days back (default 14, at most 90)"},
                "agent": {"type": "string", "description": "Only this agent (name or id)"},
                "outcome": {"type": "string", "enum": ["open", "resolved", "dismissed"]}
            }}),
        ),
        spec(
            "get_thread",
            "The messages of one thread (by id, as list_escalations gives it).",
            json!({"type": "object", "properties": {"thread_id": {"type": "string"}}, "required": ["thread_id"]}),
        ),
        spec(
            "lint_description",
            "Flare's own rule compiler and lint on a Description text: the rules it would enforce and what to fix.",
            json!({"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}),
        ),
        spec(
            "offer_draft",
            "Offers rule wording to add to an agent's Description, with a Copy to Description button. It changes nothing by itself.",
            json!({"type": "object", "properties": {"agent": {"type": "string"}, "text": {"type": "string"}}, "required": ["agent", "text"]}),
        ),
    ]
}

fn find<'a>(agents: &'a [AgentFacts], key: &str) -> Option<&'a AgentFacts> {
    let key = key.trim();
    agents
        .iter()
        .find(|a| a.id == key || a.name.eq_ignore_ascii_case(key))
}

fn lint(text: &str) -> Value {
    let policy = crate::rules::compile(text);
    let understood = crate::rules::understood::understood(&policy);
    json!({
        "rules": understood.rules,
        "left_to_the_model": understood.model_judged,
        "lint": policy.lints.iter().map(|l| json!({"sentence": l.sentence, "why": l.why, "suggestion": l.suggestion})).collect::<Vec<_>>(),
    })
}

/// Runs one tool call; its result is JSON text for the model. Bad arguments are told to the
/// model, not raised.
pub async fn run(ctx: &mut Context<'_>, name: &str, arguments: &str) -> Result<String, AppError> {
    let args: Value = match serde_json::from_str(if arguments.trim().is_empty() {
        "{}"
    } else {
        arguments
    }) {
        Ok(v) => v,
        Err(e) => {
            return Ok(json!({"error": format!("the arguments are not JSON: {e}")}).to_string());
        }
    };
    let s = |k: &str| args.get(k).and_then(Value::as_str).map(str::to_string);
    let agents = agents_of(ctx.state, ctx.team_ids).await?;
    let out = match name {
        "list_agents" => json!(agents.iter().map(|a| json!({"id": a.id, "name": a.name, "team": a.team_name, "description": a.description})).collect::<Vec<_>>()),
        "get_agent" => match s("agent").as_deref().and_then(|k| find(&agents, k)) {
            Some(a) => json!({"id": a.id, "name": a.name, "team": a.team_name, "description": a.description, "understood": lint(&a.description)}),
            None => json!({"error": "no such agent in your teams"}),
        },
        "list_escalations" => {
            let days = args.get("days").and_then(Value::as_i64).unwrap_or(REVIEW_DAYS).clamp(1, 90);
            let agent = match s("agent") {
                Some(k) => match find(&agents, &k) {
                    Some(a) => Some(a.id.clone()),
                    None => return Ok(json!({"error": "no such agent in your teams"}).to_string()),
                },
                None => None,
            };
            let outcome = s("outcome");
            let rows = store::escalations(&ctx.state.db, ctx.team_ids, since(days), agent.as_deref()).await?;
            // The newest ones: enough to judge from, short enough for a model's context.
            json!(rows
                .into_iter()
                .filter(|e| outcome.as_deref().is_none_or(|o| e.status.as_str() == o))
                .take(MAX_ROWS)
                .map(|e| json!({
                    "id": e.id, "agent": e.agent_name, "thread_id": e.thread_id, "reason": e.reason,
                    "severity": e.severity.as_str(), "outcome": e.status.as_str(), "guidance": e.guidance,
                    "responder": e.responder, "asked": e.asked,
                    "minutes_to_answer": e.answered_at.map(|at| (at - e.created_at) as f64 / 60000.0),
                }))
                .collect::<Vec<_>>())
        }
        "get_thread" => {
            let id = s("thread_id").unwrap_or_default();
            match threads::by_id(&ctx.state.db, &id).await? {
                Some(t) if ctx.team_ids.contains(&t.team_id) => {
                    let messages = threads::messages(&ctx.state.db, &t.id).await?;
                    json!({"agent": t.agent_name, "messages": messages.iter().map(|m| json!({"kind": m.kind.as_str(), "author": m.author, "text": m.body})).collect::<Vec<_>>()})
                }
                _ => json!({"error": "no such thread in your teams"}),
            }
        }
        "lint_description" => lint(&s("text").unwrap_or_default()),
        "offer_draft" => {
            let text = s("text").unwrap_or_default();
            match s("agent").as_deref().and_then(|k| find(&agents, k)) {
                None => json!({"error": "no such agent in your teams"}),
                Some(_) if text.trim().is_empty() || text.len() > 4000 => json!({"error": "the draft must be some text, at most 4000 bytes"}),
                Some(a) => {
                    let problems = crate::rules::compile(&text).lints.into_iter().filter(|l| !l.sentence.is_empty()).map(|l| l.why).collect::<Vec<_>>();
                    if problems.is_empty() {
                        ctx.drafts.push(Draft { agent_id: a.id.clone(), agent_name: a.name.clone(), text: text.trim().to_string() });
                        json!({"offered": true})
                    } else {
                        json!({"offered": false, "lint": problems})
                    }
                }
            }
        }
        other => json!({"error": format!("there is no tool {other}")}),
    };
    Ok(out.to_string())
}
