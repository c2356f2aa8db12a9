//! The Discord channel: Discord's HTTP API with a bot token. An escalation is posted to a
//! channel (`POST /channels/{id}/messages`, an embed with the severity's colour and a link
//! button to the card), its answer edits that message in place (`PATCH …/messages/{id}`), and
//! a reminder replies to it. Discord answers 429 with `Retry-After` when rate limited and
//! `{"message": …, "code": …}` for other refusals; both count as not delivered. No one is
//! pinged: `allowed_mentions` is empty, so text from an agent cannot mention @everyone.

use super::Posted;
use super::webhook::{Outcome, retry_after, unreachable};
use crate::escalations::EscalationStatus;
use crate::rules::Severity;
use crate::server::config::Secret;
use crate::server::db::escalations::EscalationRow;
use serde_json::{Value, json};
use std::time::Instant;

/// Sends one request; `path` is under the API's base (`/channels/{id}/messages`).
pub async fn call(
    client: &reqwest::Client,
    api_url: &str,
    token: &Secret,
    method: reqwest::Method,
    path: &str,
    body: &Value,
) -> Posted {
    let started = Instant::now();
    let sent = client
        .request(method, format!("{}{path}", api_url.trim_end_matches('/')))
        .header("authorization", format!("Bot {}", token.expose()))
        .json(body)
        .send()
        .await;
    let res = match sent {
        Ok(res) => res,
        Err(e) => return Posted::not_delivered(unreachable(&e, Some("Discord")), None),
    };
    let status = res.status();
    let retry_after = retry_after(res.headers());
    let body: Value = res.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        let said = body["message"].as_str().unwrap_or("no reason given");
        return Posted::not_delivered(
            format!("Discord answered HTTP {}: {said}", status.as_u16()),
            retry_after,
        );
    }
    Posted {
        outcome: Outcome::Delivered {
            status: status.as_u16(),
            took: started.elapsed(),
        },
        message_id: body["id"].as_str().map(str::to_string),
    }
}

fn colour(severity: Severity) -> u32 {
    match severity {
        Severity::Info => 0x3b82f6,
        Severity::Warning => 0xf59e0b,
        Severity::Critical => 0xdc2626,
    }
}

/// At most `max` characters, the last an ellipsis when cut (Discord's text limits: an
/// embed's description holds 4,096 characters, a field 1,024; a mail thread's title 80).
pub(crate) fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max - 1).collect();
    out.push('\u{2026}');
    out
}

/// The message of an escalation as it stands (raised, or answered); an open one carries
/// Respond & Resume and Dismiss buttons when the channel takes answers (`buttons`).
pub fn message(e: &EscalationRow, url: &str, buttons: bool) -> Value {
    let (icon, _) = crate::escalations::severity_icon(e.severity);
    let mut fields = vec![
        json!({"name": "Severity", "value": e.severity.label(), "inline": true}),
        json!({"name": "Trigger", "value": format!("trigger: {}", e.trigger), "inline": true}),
    ];
    if e.status != EscalationStatus::Open {
        let verb = if e.status == EscalationStatus::Resolved {
            "\u{2705} Resolved"
        } else {
            "\u{2716}\u{fe0f} Dismissed"
        };
        let when = e
            .answered_at
            .map(|ms| format!(" <t:{}:f>", ms / 1000))
            .unwrap_or_default();
        let who = e.responder.as_deref().unwrap_or("someone");
        fields.push(
            json!({"name": "Outcome", "value": clip(&format!("{verb} by {who}{when}"), 1024)}),
        );
        if let Some(g) = e.guidance.as_deref().filter(|g| !g.is_empty()) {
            fields.push(json!({"name": "Guidance", "value": clip(g, 1024)}));
        }
    }
    let components = match e.status {
        EscalationStatus::Open => {
            let mut row = if buttons {
                super::answers::discord_buttons(&e.id)
            } else {
                Vec::new()
            };
            row.push(json!({"type": 2, "style": 5, "label": "Open in Flare", "url": url}));
            json!([{"type": 1, "components": row}])
        }
        _ => json!([]),
    };
    json!({
        "content": format!("{icon} **Agent Needs Help** \u{2014} {}", clip(&e.agent_name, 200)),
        "embeds": [{
            "title": clip(&e.agent_name, 256),
            "description": clip(&e.reason, 4096),
            "url": url,
            "color": colour(e.severity),
            "fields": fields,
        }],
        "components": components,
        "allowed_mentions": {"parse": []},
    })
}

/// A reminder, replying to the escalation's message when there is one.
pub fn reminder(e: &EscalationRow, url: &str, reply_to: Option<&str>) -> Value {
    let mut body = json!({
        "content": clip(&format!(
            "\u{23f0} Still waiting for a person: {} escalated \u{201c}{}\u{201d}. {url}",
            e.agent_name, e.reason
        ), 2000),
        "allowed_mentions": {"parse": []},
    });
    if let Some(id) = reply_to {
        body["message_reference"] = json!({"message_id": id, "fail_if_not_exists": false});
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_text_is_clipped_to_discords_limits() {
        assert_eq!(clip("short", 10), "short");
        let long = "x".repeat(5000);
        let c = clip(&long, 4096);
        assert_eq!(c.chars().count(), 4096);
        assert!(c.ends_with('\u{2026}'));
    }
}
