//! The embedded default provider: deterministic, offline, no model. Flare's guardrail has
//! already escalated every message a compiled rule matches (see `runtime::guardrail`), so what
//! is left here is to answer honestly: continue with a person's guidance, proceed after a
//! dismissal, or say plainly that no model is connected.

use super::provider::{Answer, ChatMessage, OnDelta, Provider, ProviderError, Reply, Request};

pub struct RulesProvider;

const OFFLINE_NOTE: &str = "_Offline reply from Flare's built-in rules provider: no language \
    model is connected, so this follows the agent's written rules and your words, nothing more._";

fn last_user_text(messages: &[ChatMessage]) -> &str {
    messages
        .iter()
        .rev()
        .find_map(|m| match m {
            ChatMessage::User { text } => Some(text.as_str()),
            _ => None,
        })
        .unwrap_or_default()
}

/// The reply, from the conversation alone: the same conversation always gets the same reply.
pub fn reply_to(request: &Request<'_>) -> String {
    let asked = last_user_text(&request.messages);
    let flag_only = request
        .policy
        .evaluate(asked)
        .iter()
        .any(|m| request.policy.rules[m.rule].flag_only);
    match request.messages.last() {
        Some(ChatMessage::Tool {
            answer: Some(Answer::Resolved { guidance }),
            ..
        }) => {
            if flag_only {
                format!(
                    "Thanks. I only flagged this, as my Description asks, and I am leaving it \
                     to you with your guidance: \u{201c}{guidance}\u{201d}.\n\n{OFFLINE_NOTE}"
                )
            } else {
                format!(
                    "Thanks \u{2014} continuing with your guidance: \u{201c}{guidance}\u{201d}.\n\n\
                     Draft reply:\n\n> Thank you for your message. We looked into your request \
                     and here is our decision: {guidance}.\n\n{OFFLINE_NOTE}"
                )
            }
        }
        Some(ChatMessage::Tool {
            answer: Some(Answer::Dismissed),
            ..
        }) => format!(
            "The escalation was dismissed, so I am proceeding on my own as best I can. I have \
             no guidance on this one and have not promised anything on your behalf.\n\n{OFFLINE_NOTE}"
        ),
        _ => format!(
            "None of my escalation rules apply to this message, so there is nothing to escalate.\n\n\
             {OFFLINE_NOTE} An admin can connect a model in Settings → Models."
        ),
    }
}

#[async_trait::async_trait]
impl Provider for RulesProvider {
    async fn complete(
        &self,
        request: &Request<'_>,
        on_delta: OnDelta<'_>,
    ) -> Result<Reply, ProviderError> {
        let text = reply_to(request);
        on_delta(&text);
        Ok(Reply {
            text,
            tool_calls: Vec::new(),
        })
    }
}
