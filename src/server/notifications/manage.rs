//! Settings → Notifications: owners and admins add, mute, tune, test and delete their teams'
//! channels. Another team's channel does not exist for them. A webhook's signing secret is
//! shown once, then kept sealed.

use super::{seal_context, webhook};
use crate::error::AppError;
use crate::notifications::{ChannelInfo, ChannelKind, NewChannel, TestResult};
use crate::rules::Severity;
use crate::server::auth::{Viewer, viewer};
use crate::server::config::Secret;
use crate::server::db::audit;
use crate::server::db::channels::{self as db, ChannelRow};
use crate::server::db::{new_id, now_ms};
use crate::server::state::{AppState, app_state};
use crate::validate;

/// The longest webhook URL accepted.
const MAX_URL_BYTES: usize = 2000;

fn info(row: ChannelRow, public_url: &str) -> ChannelInfo {
    ChannelInfo {
        events_url: (row.kind == ChannelKind::Slack
            && row.agent_id.is_some()
            && row.signing_secret.is_some())
        .then(|| format!("{public_url}/integrations/slack/{}/events", row.id)),
        agent_id: row.agent_id.clone(),
        answers_url: row
            .signing_secret
            .is_some()
            .then(|| format!("{public_url}/integrations/{}/{}", row.kind.as_str(), row.id)),
        min_severity: severity_of_rank(row.min_severity_rank),
        muted: row.muted != 0,
        id: row.id,
        kind: row.kind,
        name: row.name,
        team_id: row.team_id,
        team_name: row.team_name,
        target: row.target,
        created_at_ms: row.created_at,
    }
}

fn severity_of_rank(rank: i64) -> Severity {
    match rank {
        i64::MIN..=0 => Severity::Info,
        1 => Severity::Warning,
        _ => Severity::Critical,
    }
}

fn severity(raw: &str) -> Result<Severity, AppError> {
    raw.trim().parse::<Severity>().map_err(|_| {
        AppError::invalid("Choose the lowest severity to send: info, warning or critical.")
    })
}

/// A URL Flare may POST to: http or https, with a host, without a user or password in it.
fn webhook_url(raw: &str) -> Result<String, AppError> {
    let raw = raw.trim();
    let bad = || {
        AppError::invalid(
            "Enter the full address to send to, starting with https:// (or http://), like https://example.com/flare.",
        )
    };
    if raw.is_empty() || raw.len() > MAX_URL_BYTES {
        return Err(bad());
    }
    let url = reqwest::Url::parse(raw).map_err(|_| bad())?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
        return Err(bad());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(AppError::invalid(
            "Leave the user name and password out of the address: requests are signed instead.",
        ));
    }
    Ok(url.to_string())
}

pub async fn list() -> Result<Vec<ChannelInfo>, AppError> {
    let v = viewer().await?;
    v.require_manager_to("manage notifications")?;
    let state = app_state()?;
    Ok(db::for_teams(&state.db, &v.team_ids)
        .await?
        .into_iter()
        .map(|row| info(row, &state.config.public_url))
        .collect())
}

pub async fn add_webhook(
    team_id: String,
    name: String,
    url: String,
    min_severity: String,
) -> Result<NewChannel, AppError> {
    let secret = format!("whsec_{}", crate::server::secret_box::random_hex());
    let read = |_: &AppState| Ok((Some(Secret::new(&secret)), webhook_url(&url)?));
    let channel = add(ChannelKind::Webhook, team_id, name, read, min_severity).await?;
    Ok(NewChannel { channel, secret })
}

/// A Slack bot token (`xoxb-…`): what "Install to workspace" gives a Slack app.
fn slack_token(raw: &str) -> Result<Secret, AppError> {
    let t = raw.trim();
    let ok = t.starts_with("xoxb-")
        && (20..=255).contains(&t.len())
        && t.bytes().all(|b| b.is_ascii_graphic());
    if !ok {
        return Err(AppError::invalid(
            "Paste the app's Bot User OAuth Token: it starts with xoxb- (Slack app settings → OAuth & Permissions).",
        ));
    }
    Ok(Secret::new(t))
}

/// A Slack channel's ID (`C0123ABCD`; `G…` private, `D…` a direct message): names change,
/// IDs do not.
fn slack_channel(raw: &str) -> Result<String, AppError> {
    let c = raw.trim();
    let ok = matches!(c.chars().next(), Some('C' | 'G' | 'D'))
        && (9..=24).contains(&c.len())
        && c.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
    if !ok {
        return Err(AppError::invalid(
            "Enter the Slack channel's ID, like C0123ABCD (in Slack: the channel's name → About → Channel ID).",
        ));
    }
    Ok(c.to_string())
}

/// A Discord bot token (Developer Portal → the application → Bot → Reset Token): three
/// dot-separated parts.
fn discord_token(raw: &str) -> Result<Secret, AppError> {
    let t = raw.trim().trim_start_matches("Bot ");
    let ok = (50..=200).contains(&t.len())
        && t.split('.').count() == 3
        && t.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if !ok {
        return Err(AppError::invalid(
            "Paste the application's bot token (Discord Developer Portal → your application → Bot → Reset Token).",
        ));
    }
    Ok(Secret::new(t))
}

/// A Discord channel's ID: a snowflake, 17 to 20 digits (Developer Mode → right-click the
/// channel → Copy Channel ID).
fn discord_channel(raw: &str) -> Result<String, AppError> {
    let c = raw.trim();
    if !(17..=20).contains(&c.len()) || !c.bytes().all(|b| b.is_ascii_digit()) {
        return Err(AppError::invalid(
            "Enter the Discord channel's ID, 17 to 20 digits (Discord: turn on Developer Mode, then right-click the channel → Copy Channel ID).",
        ));
    }
    Ok(c.to_string())
}

/// A channel with its secret (a webhook's signing secret, a bot token), if any, sealed; `read`
/// gives the secret and where deliveries go, checked once the caller may add channels to the
/// team.
async fn add(
    kind: ChannelKind,
    team_id: String,
    name: String,
    read: impl FnOnce(&AppState) -> Result<(Option<Secret>, String), AppError>,
    min_severity: String,
) -> Result<ChannelInfo, AppError> {
    let v = viewer().await?;
    v.require_manager_to("manage notifications")?;
    v.require_team(&team_id)?;
    let state = app_state()?;
    let name = validate::name(&name, "channel name", 80)?;
    let (token, target) = read(&state)?;
    let min = severity(&min_severity)?;
    let id = new_id();
    let sealed = match token {
        Some(token) => Some(sealer(&state)?.seal(&token, &seal_context(&id))),
        None => None,
    };
    let mut tx = state.db.begin().await?;
    db::insert(
        &mut *tx,
        db::NewChannel {
            id: &id,
            team_id: &team_id,
            kind,
            name: &name,
            min_severity_rank: min.rank(),
            target: &target,
            secret: sealed.as_deref(),
            created_by: &v.user.id,
        },
    )
    .await?;
    audit::record_for(
        &mut *tx,
        v.actor(),
        Some(&team_id),
        "channel.created",
        &id,
        &format!(
            "{} \u{201c}{name}\u{201d} to {target}, {} and above",
            kind.label(),
            min.as_str()
        ),
    )
    .await?;
    tx.commit().await?;
    let row = db::live_by_id(&state.db, &id)
        .await?
        .ok_or(AppError::Internal)?;
    Ok(info(row, &state.config.public_url))
}

/// A Slack or Discord channel: each escalation is posted there by the team's bot, and
/// updated with its outcome.
pub async fn add_chat_channel(
    kind: String,
    team_id: String,
    name: String,
    bot_token: String,
    channel_id: String,
    min_severity: String,
) -> Result<ChannelInfo, AppError> {
    match kind.trim() {
        "slack" => {
            let read =
                |_: &AppState| Ok((Some(slack_token(&bot_token)?), slack_channel(&channel_id)?));
            add(ChannelKind::Slack, team_id, name, read, min_severity).await
        }
        "discord" => {
            let read = |_: &AppState| {
                Ok((
                    Some(discord_token(&bot_token)?),
                    discord_channel(&channel_id)?,
                ))
            };
            add(ChannelKind::Discord, team_id, name, read, min_severity).await
        }
        _ => {
            // The session first, as everywhere: a signed-out caller learns nothing else.
            viewer().await?;
            Err(AppError::invalid("Choose Slack or Discord."))
        }
    }
}

/// An email channel: each escalation is mailed to `recipients` through the deployment's SMTP
/// relay, its answer and reminders as replies in the same thread.
pub async fn add_email(
    team_id: String,
    name: String,
    recipients: String,
    min_severity: String,
) -> Result<ChannelInfo, AppError> {
    let read = |state: &AppState| {
        if state.config.mailer.is_none() {
            return Err(AppError::invalid(
                "Email is not set up on this Flare: set FLARE_SMTP_URL and FLARE_MAIL_FROM, then restart it (the README says how).",
            ));
        }
        let to = super::email::recipients(&recipients).map_err(AppError::invalid)?;
        Ok((None, to))
    };
    add(ChannelKind::Email, team_id, name, read, min_severity).await
}

/// The channel if the viewer may change it; another team's does not exist for them.
async fn editable(channel_id: &str) -> Result<(Viewer, AppState, ChannelRow), AppError> {
    let v = viewer().await?;
    v.require_manager_to("manage notifications")?;
    let state = app_state()?;
    let not_found = || AppError::NotFound("No such channel.".into());
    let row = db::live_by_id(&state.db, channel_id)
        .await?
        .ok_or_else(not_found)?;
    v.require_team(&row.team_id).map_err(|_| not_found())?;
    Ok((v, state, row))
}

/// Applies one change with its audit entry, together; a change that changes nothing (a
/// double click, or another admin first) is not audited.
async fn change<F>(channel_id: &str, what: &str, apply: F) -> Result<(), AppError>
where
    F: for<'c> FnOnce(
        &'c mut sqlx::AnyConnection,
        &'c str,
    ) -> futures::future::BoxFuture<'c, Result<bool, sqlx::Error>>,
{
    let (v, state, row) = editable(channel_id).await?;
    change_row(&v, &state, &row, what, apply).await?;
    Ok(())
}

/// `change` for a channel already found editable; true when it changed anything.
async fn change_row<F>(
    v: &Viewer,
    state: &AppState,
    row: &ChannelRow,
    what: &str,
    apply: F,
) -> Result<bool, AppError>
where
    F: for<'c> FnOnce(
        &'c mut sqlx::AnyConnection,
        &'c str,
    ) -> futures::future::BoxFuture<'c, Result<bool, sqlx::Error>>,
{
    let mut tx = state.db.begin().await?;
    if !apply(&mut tx, &row.id).await? {
        return Ok(false);
    }
    audit::record_for(
        &mut *tx,
        v.actor(),
        Some(&row.team_id),
        "channel.changed",
        &row.id,
        &format!("\u{201c}{}\u{201d} {what}", row.name),
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// What seals channel secrets, or why there is none yet.
fn sealer(state: &AppState) -> Result<&crate::server::secret_box::SecretBox, AppError> {
    state.runtime.connections.secrets().ok_or_else(|| {
        AppError::invalid(
            "Flare cannot store channel secrets yet: set FLARE_SECRET_KEY (64 hexadecimal digits, openssl rand -hex 32, the same on every instance) and restart.",
        )
    })
}

pub async fn set_muted(channel_id: String, muted: bool) -> Result<(), AppError> {
    let what = if muted { "muted" } else { "unmuted" };
    change(&channel_id, what, move |conn, id| {
        Box::pin(db::set_muted(conn, id, muted))
    })
    .await
}

pub async fn set_min_severity(channel_id: String, min_severity: String) -> Result<(), AppError> {
    let min = severity(&min_severity)?;
    let what = format!("sends {} and above", min.as_str());
    change(&channel_id, &what, move |conn, id| {
        Box::pin(db::set_min_severity(conn, id, min.rank()))
    })
    .await
}

/// Names the agent of the channel's team that answers what people write to its Slack bot (or
/// ask with Discord's `/ask`), or none with an empty id.
pub async fn set_agent(channel_id: String, agent_id: String) -> Result<(), AppError> {
    let (v, state, row) = editable(&channel_id).await?;
    if !matches!(row.kind, ChannelKind::Slack | ChannelKind::Discord) {
        return Err(AppError::invalid(
            "Only Slack and Discord channels start runs from messages.",
        ));
    }
    let agent_id = agent_id.trim().to_string();
    let (agent, what) = if agent_id.is_empty() {
        (None, "starts no runs from messages".to_string())
    } else {
        let agent = crate::server::db::agents::by_id(&state.db, &agent_id)
            .await?
            .filter(|a| a.deleted_at.is_none() && a.team_id == row.team_id)
            .ok_or_else(|| AppError::NotFound("No such agent in this channel's team.".into()))?;
        let what = format!("starts {} from messages", agent.name);
        (Some(agent.id), what)
    };
    change_row(&v, &state, &row, &what, move |conn, id| {
        Box::pin(async move { db::set_agent(conn, id, agent.as_deref()).await })
    })
    .await?;
    Ok(())
}

/// Turns a Slack or Discord channel's answer buttons on with the app's signing secret (Slack)
/// or public key (Discord), sealed, or off with an empty one.
pub async fn set_signing_secret(
    channel_id: String,
    signing_secret: String,
) -> Result<(), AppError> {
    let (v, state, row) = editable(&channel_id).await?;
    let raw = signing_secret.trim();
    let valid = match row.kind {
        ChannelKind::Slack => {
            (16..=128).contains(&raw.len()) && raw.bytes().all(|b| b.is_ascii_alphanumeric())
        }
        ChannelKind::Discord => super::answers::discord_public_key(raw).is_some(),
        _ => {
            return Err(AppError::invalid(
                "Only Slack and Discord channels take answers from buttons.",
            ));
        }
    };
    let sealed = if raw.is_empty() {
        None
    } else {
        if !valid {
            return Err(AppError::invalid(match row.kind {
                ChannelKind::Discord => {
                    "Paste the application's Public Key (Discord Developer Portal → your application → General Information): 64 hexadecimal digits."
                }
                _ => {
                    "Paste the app's Signing Secret (Slack app settings → Basic Information → App Credentials): letters and digits, usually 32."
                }
            }));
        }
        Some(sealer(&state)?.seal(&Secret::new(raw), &super::answers::signing_context(&row.id)))
    };
    let what = if sealed.is_some() {
        "takes answers from its buttons"
    } else {
        "takes no more answers from buttons"
    };
    let changed = change_row(&v, &state, &row, what, move |conn, id| {
        Box::pin(async move { db::set_signing_secret(conn, id, sealed.as_deref()).await })
    })
    .await?;
    if !changed {
        return Err(AppError::NotFound("No such channel.".into()));
    }
    Ok(())
}

pub async fn delete(channel_id: String) -> Result<(), AppError> {
    let (v, state, row) = editable(&channel_id).await?;
    let mut tx = state.db.begin().await?;
    if !db::delete(&mut *tx, &row.id).await? {
        return Err(AppError::NotFound("No such channel.".into()));
    }
    audit::record_for(
        &mut *tx,
        v.actor(),
        Some(&row.team_id),
        "channel.deleted",
        &row.id,
        &format!("{} \u{201c}{}\u{201d}", row.kind.as_str(), row.name),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Sends a test notice now, outside the outbox (nothing is retried), and reports the answer.
pub async fn test(channel_id: String) -> Result<TestResult, AppError> {
    let (v, state, row) = editable(&channel_id).await?;
    let delivery_id = new_id();
    let body = serde_json::json!({
        "event": "test",
        "delivery_id": delivery_id,
        "team_id": row.team_id,
        "channel": row.name,
        "message": "A test from Flare: this channel works.",
        "sent_at_ms": now_ms(),
    });
    let sent = match row.kind {
        ChannelKind::Slack => match super::open_secret(&state, &row) {
            Ok(token) => {
                let body = serde_json::json!({
                    "channel": row.target,
                    "text": "A test from Flare: this channel works.",
                });
                let api = &state.config.slack_api_url;
                let client = &state.notifier.client;
                Ok(
                    super::slack::call(client, api, &token, "chat.postMessage", &body)
                        .await
                        .outcome,
                )
            }
            Err(why) => Err(why),
        },
        ChannelKind::Discord => match super::open_secret(&state, &row) {
            Ok(token) => {
                let body = serde_json::json!({
                    "content": "A test from Flare: this channel works.",
                    "allowed_mentions": {"parse": []},
                });
                let path = format!("/channels/{}/messages", row.target);
                let api = &state.config.discord_api_url;
                let client = &state.notifier.client;
                let method = reqwest::Method::POST;
                Ok(
                    super::discord::call(client, api, &token, method, &path, &body)
                        .await
                        .outcome,
                )
            }
            Err(why) => Err(why),
        },
        ChannelKind::Email => match super::email::mailer(&state) {
            Ok(mailer) => super::email::send_test(mailer, &row.target, &delivery_id).await,
            Err(why) => Err(why),
        },
        ChannelKind::Webhook => {
            let body = serde_json::to_vec(&body).map_err(AppError::internal)?;
            super::send_webhook(&state, &row, &delivery_id, "test", body).await
        }
    };
    let protocol = match row.kind {
        ChannelKind::Email => "SMTP",
        _ => "HTTP",
    };
    let (delivered, detail) = match sent {
        Ok(webhook::Outcome::Delivered { status, took }) => (
            true,
            format!("{protocol} {status} in {} ms", took.as_millis()),
        ),
        Ok(webhook::Outcome::NotDelivered { error, .. }) => (false, error),
        Err(why) => (false, why),
    };
    audit::record_for(
        &state.db,
        v.actor(),
        Some(&row.team_id),
        "channel.tested",
        &row.id,
        &format!(
            "\u{201c}{}\u{201d}: {} ({detail})",
            row.name,
            if delivered {
                "delivered"
            } else {
                "not delivered"
            }
        ),
    )
    .await?;
    Ok(TestResult {
        channel_name: row.name,
        delivered,
        detail,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_full_http_addresses_without_credentials_are_webhook_targets() {
        assert!(webhook_url("https://example.com/flare").is_ok());
        assert!(webhook_url("  http://127.0.0.1:8080/x?y=1 ").is_ok());
        for bad in [
            "",
            "example.com/flare",
            "ftp://example.com/x",
            "javascript:alert(1)",
            "https://user:pw@example.com/",
            "http://",
        ] {
            assert!(webhook_url(bad).is_err(), "{bad:?} was accepted");
        }
        assert!(webhook_url(&format!("https://e.com/{}", "a".repeat(2000))).is_err());
    }

    #[test]
    fn discord_needs_a_bot_token_and_a_channel_id() {
        let token = format!("{}.{}.{}", "M".repeat(26), "Gx1a2b", "z".repeat(38));
        assert!(discord_token(&token).is_ok());
        assert!(discord_token(&format!("Bot {token}")).is_ok());
        for bad in [
            "",
            "abc",
            "xoxb-1234-5678-abcdefghijkl",
            &format!("{token} x"),
        ] {
            assert!(discord_token(bad).is_err(), "{bad:?} was accepted");
        }
        assert_eq!(
            discord_channel(" 123456789012345678 ").unwrap(),
            "123456789012345678"
        );
        for bad in [
            "",
            "#general",
            "12345",
            "12345678901234567a",
            "123456789012345678901",
        ] {
            assert!(discord_channel(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn slack_needs_a_bot_token_and_a_channel_id() {
        assert!(slack_token("xoxb-1234-5678-abcdefghijkl").is_ok());
        for bad in [
            "",
            "xoxp-1234-5678-abcdefghijkl",
            "xoxb-1",
            "xoxb-1234 5678 abcdefghijkl",
        ] {
            assert!(slack_token(bad).is_err(), "{bad:?} was accepted");
        }
        assert_eq!(slack_channel(" C0123ABCD ").unwrap(), "C0123ABCD");
        for bad in ["", "#general", "c0123abcd", "X0123ABCD", "C01"] {
            assert!(slack_channel(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
