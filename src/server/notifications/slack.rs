//! The Slack channel: Slack's Web API with a bot token. An escalation is posted with
//! `chat.postMessage` (Block Kit: severity icon, agent, reason, trigger, a button that opens
//! the card), its answer updates that message in place (`chat.update`), and a reminder is a
//! reply in the message's thread. Slack answers HTTP 200 with `{"ok": false, "error": …}` for
//! most failures and 429 with `Retry-After` when rate limited; both count as not delivered.

use super::webhook::{Outcome, retry_after, unreachable};
use crate::escalations::EscalationStatus;
use crate::server::config::Secret;
use crate::server::db::escalations::EscalationRow;
use serde_json::{Value, json};
use std::time::Instant;

use super::Posted;

/// Calls one Web API method with a JSON body.
pub async fn call(
    client: &reqwest::Client,
    api_url: &str,
    token: &Secret,
    method: &str,
    body: &Value,
) -> Posted {
    let started = Instant::now();
    let sent = client
        .post(format!("{}/{method}", api_url.trim_end_matches('/')))
        .bearer_auth(token.expose())
        .json(body)
        .send()
        .await;
    let res = match sent {
        Ok(res) => res,
        Err(e) => return Posted::not_delivered(unreachable(&e, Some("Slack")), None),
    };
    let status = res.status();
    let retry_after = retry_after(res.headers());
    if !status.is_success() {
        return Posted::not_delivered(
            format!("Slack answered HTTP {}", status.as_u16()),
            retry_after,
        );
    }
    let body: Value = res.json().await.unwrap_or(Value::Null);
    if body["ok"] != true {
        let error = body["error"]
            .as_str()
            .unwrap_or("an answer Flare could not read");
        return Posted::not_delivered(format!("Slack said {error}"), retry_after);
    }
    Posted {
        outcome: Outcome::Delivered {
            status: status.as_u16(),
            took: started.elapsed(),
        },
        message_id: body["ts"].as_str().map(str::to_string),
    }
}

/// Slack's mrkdwn escapes: only these three are special.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The message of an escalation as it stands (raised, or answered); an open one carries
/// Respond & Resume and Dismiss buttons when the channel takes answers (`buttons`).
pub fn message(channel: &str, e: &EscalationRow, url: &str, buttons: bool) -> Value {
    let (icon, _) = crate::escalations::severity_icon(e.severity);
    let headline = format!(
        "{icon} *Agent Needs Help* \u{2014} {}",
        escape(&e.agent_name)
    );
    let mut blocks = vec![
        json!({"type": "section", "text": {"type": "mrkdwn", "text": format!("{headline}\n{}", escape(&e.reason))}}),
        json!({"type": "context", "elements": [{"type": "mrkdwn", "text": format!(
            "{} \u{b7} trigger: {}", e.severity.label(), e.trigger
        )}]}),
    ];
    let outcome = match e.status {
        EscalationStatus::Open => None,
        status => {
            let verb = if status == EscalationStatus::Resolved {
                "\u{2705} Resolved"
            } else {
                "\u{2716}\u{fe0f} Dismissed"
            };
            let when = e
                .answered_at
                .map(|ms| {
                    format!(
                        " \u{b7} <!date^{}^{{date_short_pretty}} {{time}}|{ms}>",
                        ms / 1000
                    )
                })
                .unwrap_or_default();
            let mut text = format!(
                "*{verb}* by {}{when}",
                escape(e.responder.as_deref().unwrap_or("someone"))
            );
            if let Some(g) = e.guidance.as_deref().filter(|g| !g.is_empty()) {
                text.push_str(&format!("\n> {}", escape(g).replace('\n', "\n> ")));
            }
            Some(text)
        }
    };
    match &outcome {
        Some(text) => {
            blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": text}}))
        }
        None => {
            let mut elements = if buttons {
                super::answers::buttons(&e.id)
            } else {
                Vec::new()
            };
            elements.push(json!({
                "type": "button", "action_id": "open_card",
                "text": {"type": "plain_text", "text": "Open in Flare"}, "url": url
            }));
            blocks.push(json!({"type": "actions", "elements": elements}))
        }
    }
    let fallback = match &outcome {
        Some(_) => format!("{icon} Escalation from {} answered", e.agent_name),
        None => format!(
            "{icon} Agent Needs Help \u{2014} {}: {}",
            e.agent_name, e.reason
        ),
    };
    json!({"channel": channel, "text": fallback, "blocks": blocks, "unfurl_links": false})
}

/// A reminder, as a reply in the escalation's message thread (or alone, without one).
pub fn reminder(channel: &str, e: &EscalationRow, url: &str, thread_ts: Option<&str>) -> Value {
    let text = format!(
        "\u{23f0} Still waiting for a person: {} escalated \u{201c}{}\u{201d}. <{url}|Open in Flare>",
        escape(&e.agent_name),
        escape(&e.reason)
    );
    let mut body = json!({"channel": channel, "text": text});
    if let Some(ts) = thread_ts {
        body["thread_ts"] = json!(ts);
        // Shown in the channel too: a reminder nobody sees helps no one.
        body["reply_broadcast"] = json!(true);
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_from_people_cannot_become_mentions_or_links() {
        assert_eq!(
            escape("<!channel> & <https://evil|click>"),
            "&lt;!channel&gt; &amp; &lt;https://evil|click&gt;"
        );
    }
}
