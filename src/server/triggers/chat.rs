//! Slack and Discord as triggers. A Slack channel that names an agent (Settings → Notifications) starts a
//! run of it, `trigger: slack`, for each message people write to the bot: a mention
//! (`app_mention`), a direct message, or any message in the connected channel. Slack sends
//! them to `POST /integrations/slack/{channel}/events`, signed like its button clicks (see
//! `notifications::answers`). Once the run ends, a worker posts its reply under the message,
//! in the same Slack thread; a run that waits for a person replies after the answer.
//!
//! Loops: messages from bots (Flare's own replies included) and message edits, joins and other
//! subtypes never start a run. Slack retries an event it thinks was not received, and sends a
//! mention in the connected channel twice (as `app_mention` and as `message`): each Slack
//! message (its channel and ts) starts at most one run. A reply under a message that started
//! a run goes on in that run's Flare thread, so the agent sees the conversation so far.
//!
//! Discord sends people's messages only over its Gateway (a WebSocket), so there the trigger
//! is the `/ask` command, which Discord sends to the interactions endpoint the channel's
//! buttons already use; the reply is posted to the channel it was asked in.

use super::{Once, ReplyTo, Start, StartError};
use crate::chat::{MAX_MESSAGE_BYTES, MessageKind, RunStatus, Trigger};
use crate::notifications::ChannelKind;
use crate::server::db::audit::Actor;
use crate::server::db::chat_replies::Replies;
use crate::server::db::mailboxes::ClaimedReply;
use crate::server::db::{agents, channels, chat_replies, now_ms, runs, threads};
use crate::server::notifications::answers::{self, Refused};
use crate::server::notifications::{MAX_ATTEMPTS, backoff, discord, open_secret, slack, webhook};
use crate::server::state::AppState;
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};
use std::time::Duration;

/// How often the reply worker looks for runs that ended.
const TICK: Duration = Duration::from_millis(250);
/// How long a claim holds a reply: longer than an attempt may take.
const CLAIM: Duration = Duration::from_secs(webhook::DEADLINE.as_secs() + 20);
/// Replies one instance sends at once.
const BATCH: i64 = 16;

fn refused(status: StatusCode, why: impl Into<String>) -> Refused {
    Refused(status, why.into())
}

/// Handles one Events API request for the channel: `Ok` with the JSON to answer (the URL
/// check's challenge), or none for an empty 200 (Slack wants it within 3 seconds: the run is
/// started, not awaited).
pub async fn slack_event(
    state: &AppState,
    channel_id: &str,
    headers: &HeaderMap,
    body: &[u8],
    now_secs: i64,
) -> Result<Option<Value>, Refused> {
    let channel = answers::channel_of(state, channel_id, ChannelKind::Slack).await?;
    let signature = answers::verify(state, &channel, headers, body, now_secs)?;
    answers::first_sight(state, answers::SLACK, &signature).await?;
    let payload: Value = serde_json::from_slice(body).map_err(|_| {
        refused(
            StatusCode::BAD_REQUEST,
            "Slack sends events as JSON; this was not.",
        )
    })?;
    match payload["type"].as_str() {
        // Slack checks the Request URL once, when it is saved.
        Some("url_verification") => {
            return Ok(Some(json!({"challenge": payload["challenge"]})));
        }
        Some("event_callback") => {}
        _ => return Ok(None),
    }
    let channel = addressed(state, channel, payload["event"]["channel"].as_str()).await?;
    let Some(m) = Incoming::read(&payload["event"], &channel) else {
        return Ok(None);
    };
    let Some(agent) = channel_agent(state, &channel).await? else {
        return Ok(None);
    };
    let key = format!("{}:{}", m.conversation, m.ts);
    let author = format!("slack: {}", m.user);
    let reply_to = ReplyTo::Chat {
        channel_id: channel.id.clone(),
        conversation: m.conversation.clone(),
        thread: m.thread_ts.clone(),
    };
    // A reply under a message that started a run goes on in that run's thread: the agent
    // sees the conversation so far.
    if m.thread_ts != m.ts
        && let Some(thread) =
            chat_replies::thread_of(&state.db, &channel.id, &m.conversation, &m.thread_ts).await?
    {
        let scope = format!("slack:{}", channel.id);
        let once = (scope.as_str(), key.as_str());
        let went = crate::server::chat::continue_from_chat(
            state,
            &thread,
            &author,
            &m.text,
            once,
            reply_to.clone(),
        )
        .await
        .map_err(|e| {
            tracing::error!(error = %e, channel = %channel.id, "a Slack reply in a thread started no run");
            refused(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Flare could not start the run; it has been logged.",
            )
        })?;
        if went == crate::server::chat::Continued::Busy {
            tell_in_thread(state, &channel, &m, BUSY).await;
        }
        if went != crate::server::chat::Continued::Gone {
            return Ok(None);
        }
    }
    let asked = Asked {
        trigger: Trigger::Slack,
        author: &author,
        message: &m.text,
        key: &key,
        reply_to,
    };
    start(state, &channel, &agent, asked).await?;
    Ok(None)
}

/// What a message in a thread hears while the agent is still on the last one.
const BUSY: &str = "I'm still on the last message in this thread (or waiting for a person to answer my escalation). Send this again once I've replied.";

/// Says `text` under the message, in its Slack thread, now (best effort: nothing was started
/// that a lost notice would leave unexplained for long).
async fn tell_in_thread(
    state: &AppState,
    channel: &channels::ChannelRow,
    m: &Incoming,
    text: &str,
) {
    let Ok(token) = open_secret(state, channel) else {
        return;
    };
    let body = json!({"channel": m.conversation, "thread_ts": m.thread_ts, "text": text});
    let api = &state.config.slack_api_url;
    let posted = slack::call(
        &state.notifier.client,
        api,
        &token,
        "chat.postMessage",
        &body,
    )
    .await;
    if let webhook::Outcome::NotDelivered { error, .. } = posted.outcome {
        tracing::warn!(channel = %channel.id, %error, "could not tell a Slack thread the agent is busy");
    }
}

/// The agent that answers in the channel, if it names one that still exists in its team.
pub(super) async fn channel_agent(
    state: &AppState,
    channel: &channels::ChannelRow,
) -> Result<Option<agents::AgentRow>, sqlx::Error> {
    let Some(agent_id) = channel.agent_id.as_deref() else {
        return Ok(None);
    };
    let agent = agents::by_id(&state.db, agent_id)
        .await?
        .filter(|a| a.deleted_at.is_none() && a.team_id == channel.team_id);
    if agent.is_none() {
        tracing::warn!(channel = %channel.id, "a chat message for an agent that is gone");
    }
    Ok(agent)
}

/// A chat message that asks an agent something.
pub(super) struct Asked<'a> {
    pub trigger: Trigger,
    pub author: &'a str,
    pub message: &'a str,
    /// The chat message's identity: each starts at most one run.
    pub key: &'a str,
    pub reply_to: ReplyTo,
}

/// Starts a run of `agent` with what was asked, and where its reply goes, together.
pub(super) async fn start(
    state: &AppState,
    channel: &channels::ChannelRow,
    agent: &agents::AgentRow,
    asked: Asked<'_>,
) -> Result<(), Refused> {
    let started = super::start_run(
        state,
        Start {
            agent,
            trigger: asked.trigger,
            title: format!("{}: {}", channel.kind.label(), channel.name),
            author: asked.author.to_string(),
            message: asked.message,
            once: Some(Once {
                scope: format!("{}:{}", channel.kind.as_str(), channel.id),
                key: asked.key,
                fingerprint: Once::fingerprint(&[asked.key.as_bytes()]),
            }),
            actor: Actor::Trigger {
                kind: channel.kind.as_str(),
                name: &channel.name,
            },
            action: "trigger.fired",
            subject: &channel.id,
            claim: None,
            chain_depth: 0,
            reply_to: Some(asked.reply_to),
        },
    )
    .await;
    match started {
        Ok(_) => Ok(()),
        Err(StartError::Database(e)) => Err(e.into()),
        Err(e) => {
            tracing::error!(error = %e, channel = %channel.id, "a chat message started no run");
            Err(refused(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Flare could not start the run; it has been logged.",
            ))
        }
    }
}

/// The name of the Discord command people ask an agent with: `/ask message:…`.
pub const DISCORD_COMMAND: &str = "ask";

/// Discord's `/ask` command in a channel whose Flare channel names an agent: starts a run with
/// the command's message and answers at once (Discord wants an answer within 3 seconds); the
/// run's reply is posted to the Discord channel once it ends. `user` is who asked.
pub async fn discord_command(
    state: &AppState,
    channel: &channels::ChannelRow,
    payload: &Value,
    user: &str,
) -> Result<Value, Refused> {
    let say = |text: String, private: bool| {
        let flags = if private { 1 << 6 } else { 0 };
        json!({"type": 4, "data": {"content": text, "flags": flags, "allowed_mentions": {"parse": []}}})
    };
    let conversation = payload["channel_id"]
        .as_str()
        .or(payload["channel"]["id"].as_str())
        .unwrap_or_default();
    let channel = &addressed(state, channel.clone(), Some(conversation)).await?;
    let Some(agent) = channel_agent(state, channel).await? else {
        return Ok(say(
            "No agent answers here: an owner or admin chooses one on Flare's Settings → Notifications.".into(),
            true,
        ));
    };
    let asked = payload["data"]["options"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|o| o["name"] == "message")
        .and_then(|o| o["value"].as_str())
        .unwrap_or_default();
    let text = match crate::validate::long_text(asked, "message", MAX_MESSAGE_BYTES) {
        Ok(t) => t,
        Err(e) => return Ok(say(e.to_string(), true)),
    };
    let interaction = payload["id"].as_str().unwrap_or_default();
    if conversation.is_empty() || interaction.is_empty() {
        return Err(refused(
            StatusCode::BAD_REQUEST,
            "The command names no channel or interaction id.",
        ));
    }
    let author = format!("discord: {user}");
    let asked = Asked {
        trigger: Trigger::Discord,
        author: &author,
        message: &text,
        key: interaction,
        reply_to: ReplyTo::Chat {
            channel_id: channel.id.clone(),
            conversation: conversation.to_string(),
            thread: interaction.to_string(),
        },
    };
    start(state, channel, &agent, asked).await?;
    let quoted: String = text.chars().take(300).collect();
    Ok(say(
        format!(
            "\u{1f4ac} {}: {quoted}\n{} is on it; the reply follows here.",
            user, agent.name
        ),
        false,
    ))
}

/// The Flare channel a message written in `conversation` is for. A Slack or Discord app has
/// one Request URL (interactions endpoint), so when several Flare channels use one bot
/// (#support for one agent, #sales for another) all their events reach whichever URL was
/// pasted: a message in a chat channel another of them is connected to goes to that one (only
/// if it uses the same bot, told by its token); DMs and mentions elsewhere stay with the
/// channel whose URL was called.
async fn addressed(
    state: &AppState,
    channel: channels::ChannelRow,
    conversation: Option<&str>,
) -> Result<channels::ChannelRow, Refused> {
    let Some(conversation) = conversation else {
        return Ok(channel);
    };
    if conversation == channel.target {
        return Ok(channel);
    }
    let Ok(token) = open_secret(state, &channel) else {
        return Ok(channel);
    };
    let rows = channels::answering(&state.db, channel.kind).await?;
    Ok(rows
        .into_iter()
        .find(|r| {
            r.target == conversation
                && open_secret(state, r).is_ok_and(|t| t.expose() == token.expose())
        })
        .unwrap_or(channel))
}

/// A message a person wrote to the bot, as a run's first message.
#[derive(Debug, PartialEq)]
struct Incoming {
    conversation: String,
    user: String,
    ts: String,
    thread_ts: String,
    text: String,
}

impl Incoming {
    /// The event, if it is a person's message for this channel's bot; `None` for everything
    /// else (bots, edits, joins, other channels, nothing left to read).
    fn read(ev: &Value, channel: &channels::ChannelRow) -> Option<Self> {
        if ev.get("bot_id").is_some_and(|b| !b.is_null()) || ev.get("subtype").is_some() {
            return None;
        }
        let conversation = ev["channel"].as_str()?.to_string();
        let wanted = match ev["type"].as_str()? {
            "app_mention" => true,
            "message" => ev["channel_type"] == "im" || conversation == channel.target,
            _ => false,
        };
        let user = ev["user"].as_str().filter(|u| !u.is_empty())?.to_string();
        let ts = ev["ts"].as_str().filter(|t| !t.is_empty())?.to_string();
        let thread_ts = ev["thread_ts"].as_str().unwrap_or(&ts).to_string();
        let text = plain(ev["text"].as_str().unwrap_or_default());
        let text = crate::validate::long_text(&text, "message", MAX_MESSAGE_BYTES).ok()?;
        wanted.then_some(Self {
            conversation,
            user,
            ts,
            thread_ts,
            text,
        })
    }
}

/// Slack's message markup as plain text: mentions of people and the bot (`<@U…>`) dropped,
/// links (`<https://…|label>`) as their label or address, and its three escapes undone.
fn plain(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('<') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let Some(close) = after.find('>') else {
            out.push_str(&rest[open..]);
            rest = "";
            break;
        };
        let inner = &after[..close];
        if !inner.starts_with('@') && !inner.starts_with('!') {
            let (target, label) = inner.split_once('|').unwrap_or((inner, ""));
            out.push_str(if label.is_empty() { target } else { label });
        }
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    let out = out
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Sends the replies of runs started from Slack, Discord or email once they end, for as long
/// as the server runs.
pub async fn run_replier(state: AppState) {
    let postgres = !state.writes.is_shared();
    loop {
        let claimed = async {
            let now = now_ms();
            let due = (
                chat_replies::any_due(&state.db, Replies::Chat, now).await?,
                chat_replies::any_due(&state.db, Replies::Mail, now).await?,
            );
            if due == (false, false) {
                return Ok((Vec::new(), Vec::new()));
            }
            let _turn = state.writes.take().await?;
            let (now, until) = (now_ms(), now_ms() + CLAIM.as_millis() as i64);
            let mut chat: Vec<chat_replies::Claimed> = Vec::new();
            let mut mail: Vec<ClaimedReply> = Vec::new();
            if due.0 {
                chat = chat_replies::claim(&state.db, Replies::Chat, postgres, now, until, BATCH)
                    .await?;
            }
            if due.1 {
                mail = chat_replies::claim(&state.db, Replies::Mail, postgres, now, until, BATCH)
                    .await?;
            }
            Ok::<_, anyhow::Error>((chat, mail))
        }
        .await;
        match claimed {
            Ok((chat, mail)) if !(chat.is_empty() && mail.is_empty()) => {
                let state = &state;
                let chat = chat.into_iter().map(|row| async move {
                    let sent = send_reply(state, &row).await;
                    settle(state, Replies::Chat, &row.run_id, row.attempts, sent).await
                });
                let mail = mail.into_iter().map(|row| async move {
                    let sent = super::mail::send_reply(state, &row).await;
                    settle(state, Replies::Mail, &row.run_id, row.attempts, sent).await
                });
                futures::future::join(
                    futures::future::join_all(chat),
                    futures::future::join_all(mail),
                )
                .await;
                continue;
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "cannot claim chat and mail replies"),
        }
        tokio::time::sleep(TICK).await;
    }
}

/// Records how sending one run's reply went: sent, due again after a backoff, or given up.
async fn settle(
    state: &AppState,
    replies: Replies,
    run_id: &str,
    attempts: i64,
    outcome: Result<(), NotSent>,
) {
    let settled = async {
        let _turn = state.writes.take().await?;
        match outcome {
            Ok(()) => chat_replies::sent(&state.db, replies, run_id).await,
            Err((error, retry_after)) if attempts < MAX_ATTEMPTS && retry_after != Some(NEVER) => {
                let wait = backoff(state.config.outbox_retry_ms, attempts, retry_after);
                tracing::warn!(run = %run_id, attempts, %error, ?replies, "a reply was not sent; will retry");
                chat_replies::not_sent(&state.db, replies, run_id, Some(now_ms() + wait), &error)
                    .await
            }
            Err((error, _)) => {
                tracing::warn!(run = %run_id, attempts, %error, ?replies, "a reply was not sent; gave up");
                chat_replies::not_sent(&state.db, replies, run_id, None, &error).await
            }
        }
        .map_err(anyhow::Error::from)
    }
    .await;
    if let Err(e) = settled {
        // Unrecorded: the claim runs out and the reply is due again.
        tracing::warn!(error = %e, run = %run_id, "cannot record a reply's outcome");
    }
}

/// Why a reply was not sent, and when the other side asked to hear from Flare again
/// ([`NEVER`]: it refused for good).
pub(crate) type NotSent = (String, Option<Duration>);

/// A refusal for good (an SMTP 5xx): not tried again.
pub(crate) const NEVER: Duration = Duration::MAX;

/// What a run that ended says back: its last reply, or that it failed and why.
pub(crate) async fn final_text(
    state: &AppState,
    run_id: &str,
) -> Result<(runs::RunRow, String), NotSent> {
    let db_error = |e: sqlx::Error| (format!("the database could not be read: {e}"), None);
    let run = runs::by_id(&state.db, run_id)
        .await
        .map_err(db_error)?
        .ok_or_else(|| ("its run is gone".to_string(), None))?;
    let text = match run.status {
        RunStatus::Failed => format!(
            "Sorry, I could not finish this: {}",
            run.error.as_deref().unwrap_or("the run failed")
        ),
        _ => threads::messages(&state.db, &run.thread_id)
            .await
            .map_err(db_error)?
            .into_iter()
            .rev()
            .find(|m| m.kind == MessageKind::Agent && m.run_id.as_deref() == Some(&run.id))
            .map(|m| m.body)
            .unwrap_or_else(|| "Done.".to_string()),
    };
    Ok((run, text))
}

async fn send_reply(state: &AppState, row: &chat_replies::Claimed) -> Result<(), NotSent> {
    let channel = channels::by_id(&state.db, &row.channel_id)
        .await
        .map_err(|e| (format!("the database could not be read: {e}"), None))?
        .ok_or_else(|| ("its channel is gone".to_string(), None))?;
    let (run, text) = final_text(state, &row.run_id).await?;
    let token = open_secret(state, &channel).map_err(|why| (why, None))?;
    let client = &state.notifier.client;
    let posted = match channel.kind {
        ChannelKind::Discord => {
            let url = format!("{}/app/chat/{}", state.config.public_url, run.thread_id);
            // A reply to the message that asked (for `/ask`, whose thread is the
            // interaction, there is no such message, and it is posted as a plain message).
            let body = json!({
                "content": discord_text(&text, &url),
                "allowed_mentions": {"parse": []},
                "message_reference": {"message_id": row.thread_ts, "fail_if_not_exists": false},
            });
            let path = format!("/channels/{}/messages", row.conversation);
            let api = &state.config.discord_api_url;
            discord::call(client, api, &token, reqwest::Method::POST, &path, &body).await
        }
        _ => {
            let body = json!({
                "channel": row.conversation,
                "thread_ts": row.thread_ts,
                "text": slack::escape(&text),
                "unfurl_links": false,
            });
            let api = &state.config.slack_api_url;
            slack::call(client, api, &token, "chat.postMessage", &body).await
        }
    };
    match posted.outcome {
        webhook::Outcome::Delivered { .. } => Ok(()),
        webhook::Outcome::NotDelivered { error, retry_after } => Err((error, retry_after)),
    }
}

/// Discord takes at most 2,000 characters a message: a longer reply is cut, with a link to
/// the whole of it in Flare.
fn discord_text(text: &str, url: &str) -> String {
    const MAX: usize = 2000;
    if text.chars().count() <= MAX {
        return text.to_string();
    }
    let more = format!("\u{2026}\n(The whole reply: {url})");
    let keep = MAX.saturating_sub(more.chars().count());
    let mut cut: String = text.chars().take(keep).collect();
    cut.push_str(&more);
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    fn channel() -> channels::ChannelRow {
        channels::ChannelRow {
            id: "ch".into(),
            team_id: "t".into(),
            team_name: "Support".into(),
            kind: ChannelKind::Slack,
            name: "#support".into(),
            min_severity_rank: 0,
            muted: 0,
            target: "C0SUPPORT1".into(),
            secret: None,
            signing_secret: None,
            agent_id: Some("a".into()),
            created_at: 0,
            deleted_at: None,
        }
    }

    #[test]
    fn a_long_reply_is_cut_for_discord_with_a_link_to_the_whole() {
        assert_eq!(discord_text("short", "u"), "short");
        let long = "x".repeat(5000);
        let cut = discord_text(&long, "https://flare.example.com/app/chat/t");
        assert_eq!(cut.chars().count(), 2000);
        assert!(cut.ends_with("(The whole reply: https://flare.example.com/app/chat/t)"));
    }

    #[test]
    fn slack_markup_becomes_what_the_person_meant() {
        assert_eq!(
            plain(
                "<@U0BOT> please  refund &lt;order&gt; 88 &amp; see <https://x.example/o/88|the order>"
            ),
            "please refund <order> 88 & see the order"
        );
        assert_eq!(
            plain("<!here> look: <https://x.example>"),
            "look: https://x.example"
        );
        assert_eq!(plain("a < b"), "a < b");
    }

    #[test]
    fn only_peoples_messages_to_the_bot_start_runs() {
        let c = channel();
        let mention = json!({"type": "app_mention", "channel": "C0OTHER", "user": "U1",
            "ts": "1.2", "text": "<@U0BOT> hi"});
        let m = Incoming::read(&mention, &c).unwrap();
        assert_eq!((m.text.as_str(), m.thread_ts.as_str()), ("hi", "1.2"));
        let in_thread = json!({"type": "message", "channel": "C0SUPPORT1", "user": "U1",
            "ts": "1.3", "thread_ts": "1.0", "text": "more"});
        assert_eq!(Incoming::read(&in_thread, &c).unwrap().thread_ts, "1.0");
        let dm = json!({"type": "message", "channel_type": "im", "channel": "D1", "user": "U1",
            "ts": "1.4", "text": "hello"});
        assert!(Incoming::read(&dm, &c).is_some());
        for ignored in [
            json!({"type": "message", "channel": "C0OTHER", "user": "U1", "ts": "1", "text": "x"}),
            json!({"type": "message", "channel": "C0SUPPORT1", "bot_id": "B1", "user": "U1", "ts": "1", "text": "x"}),
            json!({"type": "message", "subtype": "message_changed", "channel": "C0SUPPORT1", "ts": "1"}),
            json!({"type": "app_mention", "channel": "C0SUPPORT1", "user": "U1", "ts": "1", "text": "<@U0BOT>"}),
            json!({"type": "reaction_added", "channel": "C0SUPPORT1", "user": "U1", "ts": "1"}),
        ] {
            assert_eq!(Incoming::read(&ignored, &c), None, "{ignored}");
        }
    }
}
