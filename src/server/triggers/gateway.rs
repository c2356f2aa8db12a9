//! Discord as a trigger for what people write: a mention of the bot, a direct message, or any
//! message in the Discord channel a Flare channel is connected to. Discord sends messages
//! only over its Gateway, a WebSocket the bot keeps open, so each bot that a Discord channel
//! naming an agent (Settings → Notifications) uses gets a connection while it does: Hello,
//! Identify (with the `GUILD_MESSAGES`, `DIRECT_MESSAGES` and privileged `MESSAGE_CONTENT`
//! intents), heartbeats at the interval Discord asks, and `MESSAGE_CREATE` events read as
//! they come. A message starts a run (`trigger: discord`) whose reply is posted as a reply to
//! it once the run ends, like `/ask`'s.
//!
//! Several Flare channels may use one bot (say #support for one agent, #sales for another):
//! they share its connection, since Discord sends every connection of a bot the same events.
//! A message in a connected Discord channel goes to that channel's agent; a DM, or a mention
//! anywhere else, to the agent of the oldest of them, so it is answered once, not once each.
//!
//! Each Discord message starts at most one run (its id is the run's key), so two instances
//! that each hold a connection, or a message delivered twice, start one run. Messages from
//! bots (Flare's own replies included) and webhooks never start one. A connection that drops
//! is opened again, waiting 1 s, then twice as long each time up to a minute; one Discord
//! refuses for good (a wrong token, an intent the application was not granted) waits 10
//! minutes and says why in the log. A dropped connection resumes its session (op 6) where
//! Discord allows it, so Discord replays what was written meanwhile; when it does not (the
//! session expired, or Flare restarted), a new session begins and what was written while no
//! connection was open is not seen.

use super::ReplyTo;
use super::chat::{Asked, channel_agent, start};
use crate::chat::{MAX_MESSAGE_BYTES, Trigger};
use crate::notifications::ChannelKind;
use crate::server::db::channels::{self, ChannelRow};
use crate::server::notifications::open_secret;
use crate::server::state::AppState;
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message as Frame;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// The intents Flare asks for: messages in servers, direct messages, and their text.
pub const INTENTS: u64 = (1 << 9) | (1 << 12) | (1 << 15);
/// How long connecting (and Discord's Hello) may take.
const DEADLINE: Duration = Duration::from_secs(10);
/// How often the supervisor looks for channels that were connected, changed or let go.
const SUPERVISE: Duration = Duration::from_secs(2);
const MAX_BACKOFF: Duration = Duration::from_secs(60);
const REFUSED_WAIT: Duration = Duration::from_secs(600);

/// Keeps one Gateway connection per bot that a Discord channel naming an agent uses, for as
/// long as the server runs.
pub async fn run_gateways(state: AppState) {
    let mut live: HashMap<String, (String, tokio::task::JoinHandle<()>)> = HashMap::new();
    loop {
        match channels::answering(&state.db, ChannelKind::Discord).await {
            Ok(rows) => {
                // The channels of each bot, oldest first (as listed), and what its connection
                // is for: a new token, channel or agent gets a new one.
                let mut bots: HashMap<String, (Vec<String>, String)> = HashMap::new();
                for r in &rows {
                    let bot = bot_key(&state, r);
                    let (ids, what) = bots.entry(bot).or_default();
                    ids.push(r.id.clone());
                    what.push_str(&format!(
                        "{}|{}|{};",
                        r.id,
                        r.target,
                        r.agent_id.as_deref().unwrap_or_default()
                    ));
                }
                live.retain(|bot, (what, task)| {
                    let keep = bots.get(bot).map(|(_, w)| w) == Some(what) && !task.is_finished();
                    if !keep {
                        task.abort();
                    }
                    keep
                });
                for (bot, (ids, what)) in bots {
                    if let std::collections::hash_map::Entry::Vacant(slot) = live.entry(bot) {
                        let task = tokio::spawn(connection(state.clone(), ids));
                        slot.insert((what, task));
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot list the Discord channels to connect"),
        }
        tokio::time::sleep(SUPERVISE).await;
    }
}

/// Which bot a channel uses: a digest of its token (the token itself is held only while
/// connecting). A token that cannot be opened is a bot of its own, refused when connecting.
fn bot_key(state: &AppState, row: &ChannelRow) -> String {
    use sha2::Digest;
    match open_secret(state, row) {
        Ok(token) => hex::encode(sha2::Sha256::digest(token.expose().as_bytes())),
        Err(_) => format!("channel {}", row.id),
    }
}

/// Why a session ended.
enum Ended {
    /// Discord asked for a new connection, or it dropped: open another soon, resuming.
    Again(String),
    /// The session cannot be resumed (Discord said so): open another with a new session.
    Fresh(String),
    /// Discord refused this bot for good (a wrong token, intents not granted).
    Refused(String),
}

/// What a new connection needs to resume a session: Discord then replays what it sent
/// while no connection was open.
struct Resume {
    session_id: String,
    /// Where Discord wants resumed sessions to connect (READY's `resume_gateway_url`).
    url: String,
    /// The last event's sequence number.
    seq: Value,
    /// The bot's own user id, for telling mentions of it (READY is not sent again).
    bot_id: String,
}

/// One bot's connection, opened again whenever it ends; `channel_ids` are the Flare channels
/// that use it, oldest first.
async fn connection(state: AppState, channel_ids: Vec<String>) {
    let channel_id = channel_ids.join(",");
    let mut backoff = Duration::from_secs(1);
    let mut resume = None;
    loop {
        let started = tokio::time::Instant::now();
        let ended = session(&state, &channel_ids, &mut resume).await;
        if matches!(ended, Ended::Fresh(_) | Ended::Refused(_)) {
            resume = None;
        }
        let wait = match ended {
            Ended::Again(why) | Ended::Fresh(why) => {
                // A session that lasted a while starts the backoff again.
                if started.elapsed() > MAX_BACKOFF {
                    backoff = Duration::from_secs(1);
                }
                tracing::info!(channel = %channel_id, %why, "the Discord Gateway connection ended; opening another");
                let wait = backoff;
                backoff = (backoff * 2).min(MAX_BACKOFF);
                wait
            }
            Ended::Refused(why) => {
                tracing::warn!(channel = %channel_id, %why, "Discord refused the Gateway connection");
                REFUSED_WAIT
            }
        };
        tokio::time::sleep(wait).await;
    }
}

async fn session(state: &AppState, channel_ids: &[String], resume: &mut Option<Resume>) -> Ended {
    let again = |why: String| Ended::Again(why);
    let mut rows = Vec::new();
    for id in channel_ids {
        match channels::live_by_id(&state.db, id).await {
            Ok(Some(c)) => rows.push(c),
            Ok(None) => {}
            Err(e) => return again(format!("the database could not be read: {e}")),
        }
    }
    let Some(first) = rows.first() else {
        return again("the channels are gone".into());
    };
    let token = match open_secret(state, first) {
        Ok(t) => t,
        Err(why) => return Ended::Refused(why),
    };
    let url = match resume {
        Some(r) => resume_url(&r.url, &state.config.discord_gateway_url),
        None => state.config.discord_gateway_url.clone(),
    };
    let mut ws = match connect(&url).await {
        Ok(ws) => ws,
        Err(why) => return again(why),
    };
    // Hello: how often Discord wants a heartbeat.
    let interval = match tokio::time::timeout(DEADLINE, next_payload(&mut ws)).await {
        Ok(Ok(Some(p))) if p["op"] == 10 => p["d"]["heartbeat_interval"].as_u64().unwrap_or(41_250),
        Ok(Ok(_)) => return again("Discord did not say Hello first".into()),
        Ok(Err(ended)) => return ended,
        Err(_) => return again("Discord said nothing within 10 s".into()),
    };
    let hello = match resume {
        Some(r) => json!({"op": 6, "d": {
            "token": token.expose(),
            "session_id": r.session_id,
            "seq": r.seq,
        }}),
        None => json!({"op": 2, "d": {
            "token": token.expose(),
            "intents": INTENTS,
            "properties": {"os": std::env::consts::OS, "browser": "flare", "device": "flare"},
        }}),
    };
    if let Err(e) = ws.send(Frame::text(hello.to_string())).await {
        return again(format!("Identify could not be sent: {e}"));
    }
    let interval = Duration::from_millis(interval.max(100));
    let mut beat = tokio::time::interval_at(tokio::time::Instant::now() + interval / 2, interval);
    let mut acked = true;
    let (mut seq, mut bot_id) = match resume {
        Some(r) => (r.seq.clone(), r.bot_id.clone()),
        None => (Value::Null, String::new()),
    };
    loop {
        tokio::select! {
            _ = beat.tick() => {
                if !acked {
                    return again("Discord stopped answering heartbeats".into());
                }
                acked = false;
                let hb = json!({"op": 1, "d": seq});
                if let Err(e) = ws.send(Frame::text(hb.to_string())).await {
                    return again(format!("a heartbeat could not be sent: {e}"));
                }
            }
            read = next_payload(&mut ws) => {
                let p = match read {
                    Ok(Some(p)) => p,
                    Ok(None) => continue,
                    Err(ended) => return ended,
                };
                match p["op"].as_u64() {
                    Some(0) => {
                        if !p["s"].is_null() {
                            seq = p["s"].clone();
                            if let Some(r) = resume.as_mut() {
                                r.seq = seq.clone();
                            }
                        }
                        match p["t"].as_str() {
                            Some("READY") => {
                                let d = &p["d"];
                                bot_id = d["user"]["id"].as_str().unwrap_or_default().to_string();
                                *resume = d["session_id"].as_str().map(|id| Resume {
                                    session_id: id.to_string(),
                                    url: d["resume_gateway_url"].as_str().unwrap_or_default().to_string(),
                                    seq: seq.clone(),
                                    bot_id: bot_id.clone(),
                                });
                            }
                            // Started beside the connection, so a slow start never holds
                            // up a heartbeat.
                            Some("MESSAGE_CREATE") => {
                                let (state, rows, bot_id) = (state.clone(), rows.clone(), bot_id.clone());
                                let d = p["d"].clone();
                                tokio::spawn(async move { message(&state, &rows, &bot_id, &d).await });
                            }
                            _ => {}
                        }
                    }
                    // Discord asks for a heartbeat now.
                    Some(1) => {
                        let hb = json!({"op": 1, "d": seq});
                        if let Err(e) = ws.send(Frame::text(hb.to_string())).await {
                            return again(format!("a heartbeat could not be sent: {e}"));
                        }
                    }
                    Some(7) => return again("Discord asked to reconnect".into()),
                    // Invalid Session: `d` says whether it may still be resumed.
                    Some(9) if p["d"] == true => return again("Discord ended the connection".into()),
                    Some(9) => return Ended::Fresh("Discord ended the session".into()),
                    Some(11) => acked = true,
                    _ => {}
                }
            }
        }
    }
}

/// Where a resumed session connects: READY's address with the version and encoding of the
/// configured one (Discord's own address when READY named none).
fn resume_url(resume: &str, configured: &str) -> String {
    if resume.is_empty() {
        return configured.to_string();
    }
    match configured.split_once('?') {
        Some((_, query)) => format!("{}/?{query}", resume.trim_end_matches('/')),
        None => resume.to_string(),
    }
}

type Socket = tokio_tungstenite::WebSocketStream<Box<dyn crate::server::tls::Stream>>;

/// Opens the Gateway's WebSocket (`wss://`, or `ws://` for a local test server).
async fn connect(url: &str) -> Result<Socket, String> {
    let request = url
        .into_client_request()
        .map_err(|e| format!("FLARE_DISCORD_GATEWAY_URL cannot be used: {e}"))?;
    let uri = request.uri().clone();
    let host = uri
        .host()
        .unwrap_or_default()
        .trim_matches(['[', ']'])
        .to_string();
    let tls = uri.scheme_str() == Some("wss");
    let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
    let tcp = match tokio::time::timeout(
        DEADLINE,
        tokio::net::TcpStream::connect((host.as_str(), port)),
    )
    .await
    {
        Ok(Ok(tcp)) => tcp,
        Ok(Err(e)) => return Err(format!("could not connect to Discord's Gateway: {e}")),
        Err(_) => return Err("Discord's Gateway did not answer within 10 s".into()),
    };
    let stream: Box<dyn crate::server::tls::Stream> = if tls {
        crate::server::tls::upgrade(&host, tcp, DEADLINE).await?
    } else {
        Box::new(tcp)
    };
    match tokio::time::timeout(DEADLINE, tokio_tungstenite::client_async(request, stream)).await {
        Ok(Ok((ws, _))) => Ok(ws),
        Ok(Err(e)) => Err(format!("the WebSocket handshake with Discord failed: {e}")),
        Err(_) => Err("the WebSocket handshake with Discord took longer than 10 s".into()),
    }
}

/// The next JSON payload; `Ok(None)` for frames that carry none (pings); `Err` when the
/// connection ended, with why.
async fn next_payload(ws: &mut Socket) -> Result<Option<Value>, Ended> {
    match ws.next().await {
        None => Err(Ended::Again("Discord closed the connection".into())),
        Some(Err(e)) => Err(Ended::Again(format!("the connection failed: {e}"))),
        Some(Ok(Frame::Text(text))) => Ok(serde_json::from_str(text.as_str()).ok()),
        Some(Ok(Frame::Close(frame))) => {
            let code = frame.as_ref().map(|f| u16::from(f.code)).unwrap_or(1000);
            Err(match code {
                4004 => Ended::Refused(
                    "Discord refused the bot token (4004): paste the bot's token again on Settings → Notifications".into(),
                ),
                4013 | 4014 => Ended::Refused(format!(
                    "Discord refused the intents ({code}): turn on Message Content Intent in the Discord Developer Portal, under Bot"
                )),
                4010..=4012 => Ended::Refused(format!("Discord refused the connection ({code})")),
                // A bad sequence number, or a session that timed out: only a new one will do.
                4007 | 4009 => Ended::Fresh(format!("Discord ended the session ({code})")),
                _ => Ended::Again(format!("Discord closed the connection ({code})")),
            })
        }
        Some(Ok(_)) => Ok(None),
    }
}

/// A message people wrote where the bot reads: what it asks, or `None` when it asks nothing
/// of Flare (a bot's, a webhook's, a system message, one elsewhere that does not mention the
/// bot, or an empty one).
#[derive(Debug, PartialEq)]
pub(crate) struct Said {
    pub id: String,
    pub conversation: String,
    pub user: String,
    pub text: String,
}

pub(crate) fn said(d: &Value, connected: &str, bot_id: &str) -> Option<Said> {
    if d["author"]["bot"].as_bool() == Some(true) || !d["webhook_id"].is_null() {
        return None;
    }
    // 0: a message; 19: a reply to one. Joins, pins and the like are not asked of anyone.
    if !matches!(d["type"].as_u64(), Some(0) | Some(19) | None) {
        return None;
    }
    let id = d["id"].as_str()?.to_string();
    let conversation = d["channel_id"].as_str()?.to_string();
    let direct = d["guild_id"].is_null();
    let mentioned = !bot_id.is_empty()
        && d["mentions"]
            .as_array()
            .is_some_and(|m| m.iter().any(|u| u["id"].as_str() == Some(bot_id)));
    if !(direct || mentioned || conversation == connected) {
        return None;
    }
    let mut text = d["content"].as_str().unwrap_or_default().to_string();
    if !bot_id.is_empty() {
        text = text
            .replace(&format!("<@{bot_id}>"), "")
            .replace(&format!("<@!{bot_id}>"), "");
    }
    let text = text.trim().to_string();
    if text.is_empty() {
        return None;
    }
    let user = d["author"]["global_name"]
        .as_str()
        .or(d["author"]["username"].as_str())
        .unwrap_or("someone")
        .to_string();
    Some(Said {
        id,
        conversation,
        user,
        text,
    })
}

/// The Flare channel a message is for: the one connected to the Discord channel it was
/// written in, else (a DM, a mention elsewhere) the oldest of the bot's.
pub(crate) fn answerer<'a>(rows: &'a [ChannelRow], d: &Value) -> Option<&'a ChannelRow> {
    rows.iter()
        .find(|r| d["channel_id"].as_str() == Some(r.target.as_str()))
        .or(rows.first())
}

/// Starts the run a message asks for (at most one per message); what goes wrong is logged.
async fn message(state: &AppState, rows: &[ChannelRow], bot_id: &str, d: &Value) {
    let Some(channel) = answerer(rows, d) else {
        return;
    };
    let Some(m) = said(d, &channel.target, bot_id) else {
        return;
    };
    let Ok(text) = crate::validate::long_text(&m.text, "message", MAX_MESSAGE_BYTES) else {
        tracing::info!(channel = %channel.id, "a Discord message too long or with control characters was not answered");
        return;
    };
    let agent = match channel_agent(state, channel).await {
        Ok(Some(agent)) => agent,
        Ok(None) => return,
        Err(e) => {
            tracing::warn!(channel = %channel.id, error = %e, "a Discord message started no run");
            return;
        }
    };
    let author = format!("discord: {}", m.user);
    let asked = Asked {
        trigger: Trigger::Discord,
        author: &author,
        message: &text,
        key: &m.id,
        reply_to: ReplyTo::Chat {
            channel_id: channel.id.clone(),
            conversation: m.conversation.clone(),
            thread: m.id.clone(),
        },
    };
    if let Err(e) = start(state, channel, &agent, asked).await {
        tracing::warn!(channel = %channel.id, why = %e.1, "a Discord message started no run");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOT: &str = "990000000000000001";
    const HERE: &str = "770000000000000001";

    fn msg(channel: &str, guild: bool, content: &str, mentions: &[&str]) -> Value {
        let mut d = json!({
            "id": "1", "channel_id": channel, "type": 0, "content": content,
            "author": {"id": "5", "username": "ada", "global_name": "Ada"},
            "mentions": mentions.iter().map(|m| json!({"id": m})).collect::<Vec<_>>(),
        });
        if guild {
            d["guild_id"] = json!("880000000000000001");
        }
        d
    }

    #[test]
    fn mentions_direct_messages_and_the_connected_channel_are_read_and_nothing_else() {
        let m = said(
            &msg("123", true, "<@990000000000000001> hours?", &[BOT]),
            HERE,
            BOT,
        )
        .unwrap();
        assert_eq!((m.text.as_str(), m.user.as_str()), ("hours?", "Ada"));
        assert!(
            said(&msg("123", false, "hours?", &[]), HERE, BOT).is_some(),
            "a DM"
        );
        assert!(
            said(&msg(HERE, true, "hours?", &[]), HERE, BOT).is_some(),
            "the channel"
        );
        assert!(
            said(&msg("123", true, "hours?", &[]), HERE, BOT).is_none(),
            "elsewhere"
        );
        assert!(
            said(
                &msg(HERE, true, "<@!990000000000000001>", &[BOT]),
                HERE,
                BOT
            )
            .is_none(),
            "empty"
        );
        let mut bot = msg(HERE, true, "hours?", &[]);
        bot["author"]["bot"] = json!(true);
        assert!(said(&bot, HERE, BOT).is_none(), "a bot's own");
        let mut hook = msg(HERE, true, "hours?", &[]);
        hook["webhook_id"] = json!("4");
        assert!(said(&hook, HERE, BOT).is_none(), "a webhook's");
        let mut join = msg(HERE, true, "joined", &[]);
        join["type"] = json!(7);
        assert!(said(&join, HERE, BOT).is_none(), "a join");
    }

    #[test]
    fn a_resumed_session_connects_where_ready_said_with_the_configured_version() {
        let configured = "wss://gateway.discord.gg/?v=10&encoding=json";
        assert_eq!(
            resume_url("wss://gateway-us-east1-b.discord.gg", configured),
            "wss://gateway-us-east1-b.discord.gg/?v=10&encoding=json"
        );
        assert_eq!(
            resume_url("wss://gateway-us-east1-b.discord.gg/", configured),
            "wss://gateway-us-east1-b.discord.gg/?v=10&encoding=json"
        );
        assert_eq!(resume_url("", configured), configured);
    }
}
