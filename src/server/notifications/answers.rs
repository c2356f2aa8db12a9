//! Answering from Slack. A Slack channel with its app's signing secret gets Respond & Resume
//! and Dismiss buttons on each escalation's message; Slack sends each click (and the modal
//! "Respond & Resume" opens) to `POST /integrations/slack/{channel}`. A request counts only
//! when it is signed with that secret (v0 HMAC-SHA256 over "v0:{timestamp}:{body}"), at most 5
//! minutes old, and seen for the first time. A click answers only for the Flare user linked to
//! that Slack account and only in the channel's own team; the first answer wins, anywhere, and
//! the audit says "via Slack". Whoever cannot answer is told privately, in Slack.

use super::{open_secret, seal_context, slack};
use crate::escalations::{ALREADY_RESOLVED, EscalationStatus, MAX_GUIDANCE_BYTES};
use crate::notifications::ChannelKind;
use crate::server::db::{audit, channels, chat_links, escalations as esc_db, now_ms, teams};
use crate::server::escalations::{Responder, answer_as};
use crate::server::runtime::provider::Answer;
use crate::server::state::AppState;
use axum::http::{HeaderMap, StatusCode};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};

/// How far a request's timestamp may be from now (Slack's own advice: 5 minutes).
pub const TOLERANCE_SECS: i64 = 5 * 60;
/// How long a link offered to an unlinked account works.
const OFFER_MS: i64 = 15 * 60_000;
/// The chat accounts Flare links, by kind.
pub const SLACK: &str = "slack";
pub const DISCORD: &str = "discord";

pub use crate::notifications::platform;

/// A refused request: its status and what to fix. Nothing was changed.
#[derive(Debug)]
pub struct Refused(pub StatusCode, pub String);

fn refused(status: StatusCode, why: impl Into<String>) -> Refused {
    Refused(status, why.into())
}

impl From<sqlx::Error> for Refused {
    fn from(e: sqlx::Error) -> Self {
        tracing::error!(error = %e, "a Slack request could not be handled");
        refused(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Flare could not handle this request; it has been logged.",
        )
    }
}

/// Where the signing secret of a channel is sealed (apart from its bot token).
pub fn signing_context(channel_id: &str) -> String {
    format!("{}:signing", seal_context(channel_id))
}

/// The hex HMAC-SHA256 Slack sends as `X-Slack-Signature: v0=…`.
pub fn slack_signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    hex::encode(slack_mac(secret, timestamp, body).finalize().into_bytes())
}

fn slack_mac(secret: &str, timestamp: i64, body: &[u8]) -> Hmac<sha2::Sha256> {
    let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(secret.as_bytes())
        .expect("HMAC takes a key of any length");
    mac.update(format!("v0:{timestamp}:").as_bytes());
    mac.update(body);
    mac
}

/// Handles one request Slack sent for the channel; `Ok` with the JSON body to answer with (a
/// modal's errors), or none for an empty 200.
pub async fn slack_request(
    state: &AppState,
    channel_id: &str,
    headers: &HeaderMap,
    body: &[u8],
    now_secs: i64,
) -> Result<Option<Value>, Refused> {
    let channel = channel_of(state, channel_id, ChannelKind::Slack).await?;
    let signature = verify(state, &channel, headers, body, now_secs)?;
    first_sight(state, SLACK, &signature).await?;
    let payload = form_field(body, "payload")
        .and_then(|p| serde_json::from_str::<Value>(&p).ok())
        .ok_or_else(|| {
            refused(
                StatusCode::BAD_REQUEST,
                "Slack sends interactions as a form with a JSON `payload` field; this had none.",
            )
        })?;
    let clicker = Clicker {
        kind: SLACK,
        workspace: payload["team"]["id"]
            .as_str()
            .or(payload["user"]["team_id"].as_str())
            .unwrap_or_default()
            .to_string(),
        user: payload["user"]["id"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        name: payload["user"]["username"]
            .as_str()
            .or(payload["user"]["name"].as_str())
            .unwrap_or_default()
            .to_string(),
    };
    if clicker.user.is_empty() {
        return Err(refused(
            StatusCode::BAD_REQUEST,
            "The payload names no Slack user.",
        ));
    }
    match payload["type"].as_str() {
        Some("block_actions") => {
            let action = &payload["actions"][0];
            let escalation = action["value"].as_str().unwrap_or_default();
            let private = match action["action_id"].as_str() {
                Some(DISMISS) => match answerer(state, &channel, &clicker, escalation).await? {
                    Ok((user, row)) => answer(state, &row, &user, Answer::Dismissed, SLACK)
                        .await
                        .err(),
                    Err(why) => Some(why),
                },
                Some(RESPOND) => match answerer(state, &channel, &clicker, escalation).await? {
                    Ok((_, row)) if row.status != EscalationStatus::Open => {
                        Some(ALREADY_RESOLVED.to_string())
                    }
                    Ok((_, row)) => {
                        let trigger = payload["trigger_id"].as_str().unwrap_or_default();
                        open_modal(state, &channel, trigger, &row).await.err()
                    }
                    Err(why) => Some(why),
                },
                // "Open in Flare" is a link; Slack tells about its click too.
                _ => None,
            };
            if let Some(text) = private {
                let url = payload["response_url"].as_str().unwrap_or_default();
                tell_privately(state, url, &text).await;
            }
            Ok(None)
        }
        Some("view_submission") if payload["view"]["callback_id"] == RESPOND => {
            let view = &payload["view"];
            let escalation = view["private_metadata"].as_str().unwrap_or_default();
            let guidance = view["state"]["values"][GUIDANCE][GUIDANCE]["value"]
                .as_str()
                .unwrap_or_default();
            let error = match crate::validate::long_text(guidance, "guidance", MAX_GUIDANCE_BYTES) {
                Err(e) => Some(e.to_string()),
                Ok(guidance) => match answerer(state, &channel, &clicker, escalation).await? {
                    Ok((user, row)) => {
                        answer(state, &row, &user, Answer::Resolved { guidance }, SLACK)
                            .await
                            .err()
                    }
                    Err(why) => Some(why),
                },
            };
            // Errors show under the guidance box; an empty answer closes the modal.
            Ok(error.map(|e| json!({"response_action": "errors", "errors": {GUIDANCE: e}})))
        }
        _ => Ok(None),
    }
}

/// The live channel of this kind that a request's URL names.
pub(crate) async fn channel_of(
    state: &AppState,
    channel_id: &str,
    kind: ChannelKind,
) -> Result<channels::ChannelRow, Refused> {
    channels::live_by_id(&state.db, channel_id)
        .await?
        .filter(|c| c.kind == kind)
        .ok_or_else(|| {
            refused(
                StatusCode::NOT_FOUND,
                format!("No such {} channel.", kind.label()),
            )
        })
}

/// Accepts a verified request once: a copy sent again within the 5 minutes changes nothing.
pub(crate) async fn first_sight(
    state: &AppState,
    kind: &str,
    signature: &str,
) -> Result<(), Refused> {
    let forget = now_ms() - 2 * TOLERANCE_SECS * 1000;
    if chat_links::first_sight(&state.db, &format!("{kind}:{signature}"), forget).await? {
        return Ok(());
    }
    Err(refused(
        StatusCode::CONFLICT,
        "This signed request was received already; nothing was done again.",
    ))
}

const RESPOND: &str = "flare_respond";
const DISMISS: &str = "flare_dismiss";
const GUIDANCE: &str = "guidance";

/// Whether the messages of this channel carry answer buttons.
pub fn has_buttons(channel: &channels::ChannelRow) -> bool {
    channel.signing_secret.is_some()
}

/// The buttons under an open escalation's message.
pub fn buttons(escalation_id: &str) -> Vec<Value> {
    vec![
        json!({"type": "button", "action_id": RESPOND, "style": "primary", "value": escalation_id,
               "text": {"type": "plain_text", "text": "Respond & Resume"}}),
        json!({"type": "button", "action_id": DISMISS, "value": escalation_id,
               "text": {"type": "plain_text", "text": "Dismiss"}}),
    ]
}

/// The signature, checked: (constant time) against the channel's signing secret, then the
/// timestamp. Returns the signature's hex.
pub(crate) fn verify(
    state: &AppState,
    channel: &channels::ChannelRow,
    headers: &HeaderMap,
    body: &[u8],
    now_secs: i64,
) -> Result<String, Refused> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let unsigned = || {
        refused(
            StatusCode::UNAUTHORIZED,
            "Unsigned: Slack signs each request with X-Slack-Request-Timestamp and X-Slack-Signature.",
        )
    };
    let timestamp: i64 = header("x-slack-request-timestamp")
        .and_then(|t| t.trim().parse().ok())
        .ok_or_else(unsigned)?;
    let signature = header("x-slack-signature")
        .and_then(|s| s.strip_prefix("v0="))
        .and_then(|s| hex::decode(s).ok())
        .ok_or_else(unsigned)?;
    let secret = channel_key(state, channel, "the Slack app's signing secret")?;
    if slack_mac(secret.expose(), timestamp, body)
        .verify_slice(&signature)
        .is_err()
    {
        return Err(refused(
            StatusCode::UNAUTHORIZED,
            "The signature does not match this channel's signing secret.",
        ));
    }
    fresh(Some(timestamp), now_secs)?;
    Ok(hex::encode(signature))
}

/// The channel's signing secret (Slack) or public key (Discord), opened; `missing` names
/// what to add when the channel has none.
fn channel_key(
    state: &AppState,
    channel: &channels::ChannelRow,
    missing: &str,
) -> Result<crate::server::config::Secret, Refused> {
    let Some(sealed) = channel.signing_secret.as_deref() else {
        return Err(refused(
            StatusCode::UNAUTHORIZED,
            format!("This channel takes no answers: add {missing} on Settings → Notifications."),
        ));
    };
    super::open_sealed(state, Some(sealed), &signing_context(&channel.id)).ok_or_else(|| {
        refused(
            StatusCode::SERVICE_UNAVAILABLE,
            "the signing secret cannot be opened on this Flare (FLARE_SECRET_KEY changed)",
        )
    })
}

/// A signed request's timestamp (unix seconds) is at most 5 minutes from now.
fn fresh(timestamp: Option<i64>, now_secs: i64) -> Result<(), Refused> {
    if timestamp.is_some_and(|t| (now_secs - t).abs() <= TOLERANCE_SECS) {
        return Ok(());
    }
    Err(refused(
        StatusCode::UNAUTHORIZED,
        "The request's timestamp is more than 5 minutes from now; nothing was done.",
    ))
}

/// One field of a form-encoded body, decoded.
fn form_field(body: &[u8], name: &str) -> Option<String> {
    let body = std::str::from_utf8(body).ok()?;
    body.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == name).then(|| {
            percent_encoding::percent_decode_str(&v.replace('+', " "))
                .decode_utf8()
                .ok()
                .map(|s| s.into_owned())
        })?
    })
}

/// The chat account behind a click.
struct Clicker {
    kind: &'static str,
    workspace: String,
    user: String,
    name: String,
}

/// A Flare user who may answer.
struct User {
    id: String,
    email: String,
    name: String,
}

/// Who answers `escalation_id` for this click, and the escalation; `Err` with what to tell the
/// clicker privately when nobody may.
async fn answerer(
    state: &AppState,
    channel: &channels::ChannelRow,
    clicker: &Clicker,
    escalation_id: &str,
) -> Result<Result<(User, esc_db::EscalationRow), String>, Refused> {
    // Another team's escalation is not in this channel, whoever asks.
    let Some(row) = esc_db::by_id(&state.db, escalation_id)
        .await?
        .filter(|e| e.team_id == channel.team_id)
    else {
        return Ok(Err(
            "This escalation is not one of this channel's team; nothing was done.".into(),
        ));
    };
    let linked =
        chat_links::user_of(&state.db, clicker.kind, &clicker.workspace, &clicker.user).await?;
    let Some(user_id) = linked else {
        let url = offer_link(state, clicker).await?;
        // Each app's own link markup.
        let link = match clicker.kind {
            SLACK => format!("<{url}|Link my account>"),
            _ => format!("[Link my account](<{url}>)"),
        };
        return Ok(Err(format!(
            "Link your {} account to Flare first, then click again: {link} (the link works once, for 15 minutes).",
            platform(clicker.kind)
        )));
    };
    let user = teams::user_with_teams(&state.db, &user_id).await?;
    let Some(user) = user.filter(|u| u.team_ids.contains(&channel.team_id)) else {
        return Ok(Err(format!(
            "Your Flare account is not in the team \u{201c}{}\u{201d}; nothing was done.",
            channel.team_name
        )));
    };
    Ok(Ok((
        User {
            id: user.id.clone(),
            name: if user.name.is_empty() {
                user.email.clone()
            } else {
                user.name.clone()
            },
            email: user.email.clone(),
        },
        row,
    )))
}

/// Answers as the linked user; `Err` with what to tell them (already resolved).
async fn answer(
    state: &AppState,
    row: &esc_db::EscalationRow,
    user: &User,
    answer: Answer,
    kind: &str,
) -> Result<(), String> {
    let by = Responder {
        actor: audit::Actor::UserVia {
            id: &user.id,
            email: &user.email,
            via: platform(kind),
        },
        id: Some(&user.id),
        name: &user.name,
    };
    answer_as(state, row, answer, by)
        .await
        .map_err(|e| e.to_string())
}

/// A one-time link for this chat account, to open while signed in to Flare.
async fn offer_link(state: &AppState, clicker: &Clicker) -> Result<String, Refused> {
    let token = crate::server::secret_box::random_hex();
    chat_links::offer(
        &state.db,
        &crate::server::tokens::hash(&token),
        clicker.kind,
        &clicker.workspace,
        &clicker.user,
        &clicker.name,
        now_ms() + OFFER_MS,
    )
    .await?;
    Ok(format!(
        "{}/app/settings/account?link={token}",
        state.config.public_url
    ))
}

/// Opens the "Respond & Resume" modal (Slack allows 3 seconds from the click).
async fn open_modal(
    state: &AppState,
    channel: &channels::ChannelRow,
    trigger_id: &str,
    row: &esc_db::EscalationRow,
) -> Result<(), String> {
    let token = open_secret(state, channel)?;
    let view = json!({
        "trigger_id": trigger_id,
        "view": {
            "type": "modal",
            "callback_id": RESPOND,
            "private_metadata": row.id,
            "title": {"type": "plain_text", "text": "Respond & Resume"},
            "submit": {"type": "plain_text", "text": "Respond & Resume"},
            "close": {"type": "plain_text", "text": "Cancel"},
            "blocks": [
                {"type": "section", "text": {"type": "mrkdwn", "text": format!(
                    "*{}* asks:\n{}", slack::escape(&row.agent_name), slack::escape(&row.reason)
                )}},
                {"type": "input", "block_id": GUIDANCE,
                 "label": {"type": "plain_text", "text": "Guidance for the agent"},
                 "element": {"type": "plain_text_input", "action_id": GUIDANCE, "multiline": true,
                             "max_length": 3000}}
            ]
        }
    });
    let posted = slack::call(
        &state.notifier.client,
        &state.config.slack_api_url,
        &token,
        "views.open",
        &view,
    )
    .await;
    match posted.outcome {
        super::webhook::Outcome::Delivered { .. } => Ok(()),
        super::webhook::Outcome::NotDelivered { error, .. } => {
            tracing::warn!(channel = %channel.id, %error, "cannot open Slack's Respond & Resume modal");
            Err(format!(
                "Flare could not open the guidance box ({error}); answer in Flare instead."
            ))
        }
    }
}

/// A private reply to the clicker, through the click's `response_url` (signed payloads only
/// carry Slack's own).
async fn tell_privately(state: &AppState, response_url: &str, text: &str) {
    if !response_url.starts_with("https://") && !response_url.starts_with("http://") {
        return;
    }
    let sent = state
        .notifier
        .client
        .post(response_url)
        .json(&json!({"response_type": "ephemeral", "replace_original": false, "text": text}))
        .send()
        .await;
    if let Err(e) = sent.and_then(|r| r.error_for_status()) {
        tracing::warn!(error = %e, "cannot reply privately in Slack");
    }
}

/// Discord's interaction types and responses used here.
mod discord_api {
    pub const PING: u64 = 1;
    pub const APPLICATION_COMMAND: u64 = 2;
    pub const COMPONENT: u64 = 3;
    pub const MODAL_SUBMIT: u64 = 5;
    pub const PONG: u64 = 1;
    pub const MESSAGE: u64 = 4;
    /// Acknowledged; the message is edited later (by the outbox, with the outcome).
    pub const DEFERRED_UPDATE: u64 = 6;
    pub const MODAL: u64 = 9;
    /// Only the clicker sees the message.
    pub const EPHEMERAL: u64 = 1 << 6;
}

/// The buttons under an open escalation's Discord message (its `custom_id`s carry the id).
pub fn discord_buttons(escalation_id: &str) -> Vec<Value> {
    vec![
        json!({"type": 2, "style": 1, "label": "Respond & Resume",
               "custom_id": format!("{RESPOND}:{escalation_id}")}),
        json!({"type": 2, "style": 2, "label": "Dismiss",
               "custom_id": format!("{DISMISS}:{escalation_id}")}),
    ]
}

/// A Discord application's public key: 64 hexadecimal digits.
pub fn discord_public_key(raw: &str) -> Option<[u8; 32]> {
    hex::decode(raw.trim()).ok()?.try_into().ok()
}

/// Handles one interaction Discord sent for the channel; `Ok` with the interaction response.
pub async fn discord_request(
    state: &AppState,
    channel_id: &str,
    headers: &HeaderMap,
    body: &[u8],
    now_secs: i64,
) -> Result<Value, Refused> {
    use discord_api::*;
    let channel = channel_of(state, channel_id, ChannelKind::Discord).await?;
    let signature = verify_discord(state, &channel, headers, body, now_secs)?;
    first_sight(state, DISCORD, &signature).await?;
    let payload: Value = serde_json::from_slice(body)
        .map_err(|_| refused(StatusCode::BAD_REQUEST, "The body is not JSON."))?;
    let private = |text: String| {
        json!({"type": MESSAGE, "data": {
            "content": text, "flags": EPHEMERAL, "allowed_mentions": {"parse": []}
        }})
    };
    let kind = payload["type"].as_u64().unwrap_or_default();
    if kind == PING {
        return Ok(json!({"type": PONG}));
    }
    // In a server the clicker is the member's user; in a direct message, the user.
    let user = if payload["member"]["user"].is_object() {
        &payload["member"]["user"]
    } else {
        &payload["user"]
    };
    let clicker = Clicker {
        kind: DISCORD,
        workspace: payload["guild_id"].as_str().unwrap_or_default().to_string(),
        user: user["id"].as_str().unwrap_or_default().to_string(),
        name: user["username"].as_str().unwrap_or_default().to_string(),
    };
    if clicker.user.is_empty() {
        return Err(refused(
            StatusCode::BAD_REQUEST,
            "The interaction names no Discord user.",
        ));
    }
    if kind == APPLICATION_COMMAND {
        if payload["data"]["name"] == crate::server::triggers::chat::DISCORD_COMMAND {
            let who = if clicker.name.is_empty() {
                &clicker.user
            } else {
                &clicker.name
            };
            return crate::server::triggers::chat::discord_command(state, &channel, &payload, who)
                .await;
        }
        return Ok(private("Flare does not know this command.".into()));
    }
    let custom_id = payload["data"]["custom_id"].as_str().unwrap_or_default();
    let (action, escalation) = custom_id.split_once(':').unwrap_or((custom_id, ""));
    Ok(match (kind, action) {
        (COMPONENT, DISMISS) => match answerer(state, &channel, &clicker, escalation).await? {
            Ok((user, row)) => match answer(state, &row, &user, Answer::Dismissed, DISCORD).await {
                Ok(()) => json!({"type": DEFERRED_UPDATE}),
                Err(why) => private(why),
            },
            Err(why) => private(why),
        },
        (COMPONENT, RESPOND) => match answerer(state, &channel, &clicker, escalation).await? {
            Ok((_, row)) if row.status != EscalationStatus::Open => {
                private(ALREADY_RESOLVED.to_string())
            }
            Ok((_, row)) => json!({"type": MODAL, "data": {
                "custom_id": format!("{RESPOND}:{}", row.id),
                "title": "Respond & Resume",
                "components": [{"type": 1, "components": [{
                    "type": 4, "custom_id": GUIDANCE, "style": 2, "required": true,
                    "label": "Guidance for the agent", "max_length": 3000
                }]}]
            }}),
            Err(why) => private(why),
        },
        (MODAL_SUBMIT, RESPOND) => {
            let guidance = payload["data"]["components"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|row| row["components"].as_array().into_iter().flatten())
                .find(|c| c["custom_id"] == GUIDANCE)
                .and_then(|c| c["value"].as_str())
                .unwrap_or_default();
            match crate::validate::long_text(guidance, "guidance", MAX_GUIDANCE_BYTES) {
                Err(e) => private(e.to_string()),
                Ok(guidance) => match answerer(state, &channel, &clicker, escalation).await? {
                    Ok((user, row)) => {
                        match answer(state, &row, &user, Answer::Resolved { guidance }, DISCORD)
                            .await
                        {
                            Ok(()) => json!({"type": DEFERRED_UPDATE}),
                            Err(why) => private(why),
                        }
                    }
                    Err(why) => private(why),
                },
            }
        }
        // "Open in Flare" is a link: Discord sends nothing for it.
        _ => private("Flare does not know this button.".into()),
    })
}

/// Discord's Ed25519 signature of "{timestamp}{body}" under the application's public key,
/// then the timestamp. Returns the signature's hex.
fn verify_discord(
    state: &AppState,
    channel: &channels::ChannelRow,
    headers: &HeaderMap,
    body: &[u8],
    now_secs: i64,
) -> Result<String, Refused> {
    use ed25519_dalek::{Signature, VerifyingKey};
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let unsigned = || {
        refused(
            StatusCode::UNAUTHORIZED,
            "Unsigned: Discord signs each interaction with X-Signature-Ed25519 and X-Signature-Timestamp.",
        )
    };
    let timestamp = header("x-signature-timestamp").ok_or_else(unsigned)?;
    let signature: [u8; 64] = header("x-signature-ed25519")
        .and_then(|s| hex::decode(s).ok())
        .and_then(|s| s.try_into().ok())
        .ok_or_else(unsigned)?;
    let key = channel_key(state, channel, "the Discord application's public key")?;
    let key = discord_public_key(key.expose())
        .and_then(|k| VerifyingKey::from_bytes(&k).ok())
        .ok_or_else(|| {
            refused(
                StatusCode::SERVICE_UNAVAILABLE,
                "This channel's public key is not a valid Ed25519 key: paste it again.",
            )
        })?;
    let mut message = timestamp.as_bytes().to_vec();
    message.extend_from_slice(body);
    if key
        .verify_strict(&message, &Signature::from_bytes(&signature))
        .is_err()
    {
        return Err(refused(
            StatusCode::UNAUTHORIZED,
            "The signature does not match this channel's public key.",
        ));
    }
    fresh(timestamp.parse().ok(), now_secs)?;
    Ok(hex::encode(signature))
}
