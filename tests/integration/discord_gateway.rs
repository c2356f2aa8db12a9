//! Issue 16: Discord messages (mentions, DMs, the connected channel) start runs. Flare reads
//! them over Discord's Gateway, here a local WebSocket server that speaks the same protocol
//! (Hello, Identify, heartbeats and their acks, READY, MESSAGE_CREATE, a reconnect request,
//! Resume with its replay, Invalid Session);
//! replies go to the local server that speaks Discord's HTTP API.

use crate::common::eventually;
use crate::notifications::{DISCORD_CHANNEL, FakeDiscord, add_chat, add_discord, setup_with};
use flare::notifications::SetChannelAgent;
use futures::{SinkExt, StreamExt};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::broadcast;
use tokio_tungstenite::tungstenite::Message as Frame;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};

const BOT: &str = "990000000000000001";
/// The Discord channel of a second Flare channel that uses the same bot.
const SALES_CHANNEL: &str = "770000000000000005";

/// A Gateway: says Hello (heartbeats every 300 ms), records each Identify, Resume, heartbeat
/// and the address each connection asked for, answers READY (session `s1`) and heartbeat acks,
/// sends what the test pushes to every session, and replays what was "missed" to a Resume.
struct FakeGateway {
    url: String,
    identified: Arc<Mutex<Vec<Value>>>,
    resumed: Arc<Mutex<Vec<Value>>>,
    paths: Arc<Mutex<Vec<String>>>,
    heartbeats: Arc<Mutex<usize>>,
    /// Messages written while no connection was open, replayed to the next Resume.
    missed: Arc<Mutex<Vec<Value>>>,
    /// The last sequence number sent (one count across sessions, as Discord's).
    seq: Arc<AtomicU64>,
    push: broadcast::Sender<Value>,
}

impl FakeGateway {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("ws://{}", listener.local_addr().unwrap());
        let url = format!("{base}/?v=10&encoding=json");
        let (push, _) = broadcast::channel::<Value>(64);
        let gateway = Self {
            url,
            identified: Default::default(),
            resumed: Default::default(),
            paths: Default::default(),
            heartbeats: Default::default(),
            missed: Default::default(),
            seq: Default::default(),
            push,
        };
        let g = gateway.shared();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let (g, base, mut rx) = (g.shared(), base.clone(), g.push.subscribe());
                tokio::spawn(async move {
                    let paths = g.paths.clone();
                    // The error type is tungstenite's, not ours to shrink.
                    #[allow(clippy::result_large_err)]
                    let record =
                        move |req: &Request, res: Response| -> Result<Response, ErrorResponse> {
                            paths.lock().unwrap().push(req.uri().to_string());
                            Ok(res)
                        };
                    let Ok(mut ws) = tokio_tungstenite::accept_hdr_async(tcp, record).await else {
                        return;
                    };
                    let hello = json!({"op": 10, "d": {"heartbeat_interval": 300}});
                    ws.send(Frame::text(hello.to_string())).await.unwrap();
                    // An event with the next sequence number.
                    let event = |t: &str, d: Value| {
                        let s = g.seq.fetch_add(1, Ordering::SeqCst) + 1;
                        Frame::text(json!({"op": 0, "t": t, "s": s, "d": d}).to_string())
                    };
                    loop {
                        tokio::select! {
                            got = ws.next() => {
                                let Some(Ok(Frame::Text(t))) = got else { return };
                                let p: Value = serde_json::from_str(t.as_str()).unwrap();
                                match p["op"].as_u64() {
                                    Some(2) => {
                                        g.identified.lock().unwrap().push(p["d"].clone());
                                        let ready = event("READY", json!({
                                            "user": {"id": BOT, "bot": true},
                                            "session_id": "s1",
                                            "resume_gateway_url": base,
                                        }));
                                        ws.send(ready).await.unwrap();
                                    }
                                    Some(6) => {
                                        g.resumed.lock().unwrap().push(p["d"].clone());
                                        let missed = std::mem::take(&mut *g.missed.lock().unwrap());
                                        for d in missed {
                                            ws.send(event("MESSAGE_CREATE", d)).await.unwrap();
                                        }
                                        ws.send(event("RESUMED", Value::Null)).await.unwrap();
                                    }
                                    Some(1) => {
                                        *g.heartbeats.lock().unwrap() += 1;
                                        ws.send(Frame::text(json!({"op": 11}).to_string())).await.unwrap();
                                    }
                                    _ => {}
                                }
                            }
                            pushed = rx.recv() => {
                                let Ok(p) = pushed else { return };
                                let frame = match p["t"].as_str() {
                                    Some(t) => event(t, p["d"].clone()),
                                    None => Frame::text(p.to_string()),
                                };
                                if ws.send(frame).await.is_err() {
                                    return;
                                }
                                if p["op"] == 7 || p["op"] == 9 {
                                    return; // reconnect, or a session ended: this connection is over
                                }
                            }
                        }
                    }
                });
            }
        });
        gateway
    }

    /// The same gateway's records, for its connection tasks.
    fn shared(&self) -> Self {
        Self {
            url: self.url.clone(),
            identified: self.identified.clone(),
            resumed: self.resumed.clone(),
            paths: self.paths.clone(),
            heartbeats: self.heartbeats.clone(),
            missed: self.missed.clone(),
            seq: self.seq.clone(),
            push: self.push.clone(),
        }
    }

    /// Waits for the `n`th Identify (10 s at most).
    async fn identified(&self, n: usize) -> Value {
        eventually(&format!("Identify #{n}"), 10, || async {
            self.identified.lock().unwrap().get(n - 1).cloned()
        })
        .await
    }

    /// Waits for the `n`th Resume (10 s at most).
    async fn resumed(&self, n: usize) -> Value {
        eventually(&format!("Resume #{n}"), 10, || async {
            self.resumed.lock().unwrap().get(n - 1).cloned()
        })
        .await
    }

    fn message(&self, d: Value) {
        let p = json!({"op": 0, "t": "MESSAGE_CREATE", "d": d});
        // No session open: nobody to send it to (as Discord would not).
        let _ = self.push.send(p);
    }
}

fn said(id: &str, channel: &str, guild: bool, content: &str, mentions: &[&str]) -> Value {
    let mut d = json!({
        "id": id, "channel_id": channel, "type": 0, "content": content,
        "author": {"id": "555", "username": "ada", "global_name": "Ada"},
        "mentions": mentions.iter().map(|m| json!({"id": m})).collect::<Vec<_>>(),
    });
    if guild {
        d["guild_id"] = json!("880000000000000001");
    }
    d
}

/// The replies posted to Discord so far: (channel path, body).
fn posted(discord: &FakeDiscord) -> Vec<(String, Value)> {
    discord
        .calls()
        .into_iter()
        .filter(|(m, p, _)| m == "POST" && p.ends_with("/messages"))
        .map(|(_, p, b)| (p, b))
        .collect()
}

async fn wait_posted(discord: &FakeDiscord, n: usize) -> Vec<(String, Value)> {
    eventually(&format!("{n} replies on Discord"), 15, || async {
        let got = posted(discord);
        (got.len() >= n).then_some(got)
    })
    .await
}

#[tokio::test]
async fn discord_mentions_dms_and_the_connected_channel_start_runs_answered_as_replies() {
    let gateway = FakeGateway::start().await;
    let discord = FakeDiscord::start(vec![]).await;
    let (api, gw) = (discord.url.clone(), gateway.url.clone());
    let (c, team) = setup_with(50, move |config| {
        config.discord_api_url = api;
        config.discord_gateway_url = gw;
    })
    .await;
    let channel = add_discord(&c, &team).await;
    // A second Flare channel (another team's, another agent's) uses the same bot for its own
    // Discord channel.
    let (sales_team, sales_agent) = crate::common::team_with_agent(
        &c.app,
        &c.owner,
        "Sales",
        "Sales Agent",
        crate::common::TUTORIAL_RULE,
    )
    .await;
    let sales = add_chat(
        &c,
        &sales_team,
        "discord",
        "Sales on Discord",
        crate::notifications::DISCORD_TOKEN,
        SALES_CHANNEL,
    )
    .await;
    assert_eq!(sales.status, StatusCode::OK, "{:?}", sales.body);
    let sales = sales.body["id"].as_str().unwrap().to_string();
    // No agent named: no connection.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(gateway.identified.lock().unwrap().is_empty());
    for (channel, agent) in [(&channel, &c.agent), (&sales, &sales_agent)] {
        let set = SetChannelAgent {
            channel_id: channel.clone(),
            agent_id: agent.clone(),
        };
        assert_eq!(c.app.send(&c.owner, set).await.status, StatusCode::OK);
    }
    let identify = gateway.identified(1).await;
    assert_eq!(identify["token"], crate::notifications::DISCORD_TOKEN);
    assert_eq!(identify["intents"], (1 << 9) | (1 << 12) | (1 << 15));
    // One connection for the one bot (Discord would send each of two the same events).
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(gateway.push.receiver_count(), 1);
    let identified = gateway.identified.lock().unwrap().len();

    gateway.message(said(
        "2001",
        "770000000000000009",
        true,
        &format!("<@{BOT}> What are your opening hours?"),
        &[BOT],
    ));
    gateway.message(said(
        "2002",
        "660000000000000001",
        false,
        "Do you ship to Lisbon?",
        &[],
    ));
    gateway.message(said(
        "2003",
        DISCORD_CHANNEL,
        true,
        "Is the shop open on Sunday?",
        &[],
    ));
    // Delivered twice: one run.
    gateway.message(said(
        "2003",
        DISCORD_CHANNEL,
        true,
        "Is the shop open on Sunday?",
        &[],
    ));
    // In the other Flare channel's Discord channel: its agent answers.
    gateway.message(said(
        "2011",
        SALES_CHANNEL,
        true,
        "Do you sell gift cards?",
        &[],
    ));
    // Not for Flare: elsewhere without a mention, a bot's own message, an empty mention.
    gateway.message(said("2004", "770000000000000009", true, "lunch?", &[]));
    let mut bot = said("2005", DISCORD_CHANNEL, true, "Done.", &[]);
    bot["author"]["bot"] = json!(true);
    gateway.message(bot);
    gateway.message(said(
        "2006",
        DISCORD_CHANNEL,
        true,
        &format!("<@{BOT}>"),
        &[BOT],
    ));

    let replies = wait_posted(&discord, 4).await;
    let mut paths: Vec<(String, String)> = replies
        .iter()
        .map(|(p, b)| {
            (
                p.clone(),
                b["message_reference"]["message_id"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            )
        })
        .collect();
    paths.sort();
    assert_eq!(
        paths,
        vec![
            (
                format!("/api/v10/channels/{DISCORD_CHANNEL}/messages"),
                "2003".to_string()
            ),
            (
                "/api/v10/channels/660000000000000001/messages".to_string(),
                "2002".to_string()
            ),
            (
                format!("/api/v10/channels/{SALES_CHANNEL}/messages"),
                "2011".to_string()
            ),
            (
                "/api/v10/channels/770000000000000009/messages".to_string(),
                "2001".to_string()
            ),
        ]
    );
    assert!(
        replies
            .iter()
            .all(|(_, b)| b["allowed_mentions"] == json!({"parse": []}))
    );
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(
        posted(&discord).len(),
        4,
        "nothing else answered, and nothing twice"
    );
    assert_eq!(
        c.app
            .count("SELECT COUNT(*) FROM threads WHERE trigger = 'discord'")
            .await,
        4
    );
    assert_eq!(
        c.app
            .count(&format!(
                "SELECT COUNT(*) FROM threads WHERE trigger = 'discord' AND agent_id = '{sales_agent}'"
            ))
            .await,
        1,
        "the DM and the mention go to the oldest channel's agent; the sales channel's message to its own"
    );
    let first: (String,) = sqlx::query_as(
        "SELECT m.body FROM messages m JOIN threads t ON t.id = m.thread_id \
         WHERE t.trigger = 'discord' AND m.author = 'discord: Ada' AND m.body LIKE 'What%'",
    )
    .fetch_one(&c.app.db)
    .await
    .unwrap();
    assert_eq!(
        first.0, "What are your opening hours?",
        "the mention is not part of the message"
    );
    assert!(
        *gateway.heartbeats.lock().unwrap() >= 1,
        "heartbeats are sent"
    );

    // Discord asks Flare to reconnect, and a DM is written before it has: Flare resumes the
    // session where it stopped (the last sequence number it read, at READY's address) and
    // Discord replays the DM, which is answered.
    let last = gateway.seq.load(Ordering::SeqCst);
    gateway.missed.lock().unwrap().push(said(
        "2007",
        "660000000000000001",
        false,
        "And on Monday?",
        &[],
    ));
    gateway.push.send(json!({"op": 7, "d": null})).unwrap();
    let resume = gateway.resumed(1).await;
    assert_eq!(resume["session_id"], "s1");
    assert_eq!(resume["seq"], last);
    assert_eq!(resume["token"], crate::notifications::DISCORD_TOKEN);
    assert_eq!(
        gateway.identified.lock().unwrap().len(),
        identified,
        "resumed, not identified"
    );
    assert_eq!(
        gateway.paths.lock().unwrap().last().unwrap(),
        "/?v=10&encoding=json"
    );
    let replies = wait_posted(&discord, 5).await;
    assert_eq!(replies[4].1["message_reference"]["message_id"], "2007");
    // The resumed session still knows the bot: a mention elsewhere is answered.
    gateway.message(said(
        "2008",
        "770000000000000009",
        true,
        &format!("<@{BOT}> And on Tuesday?"),
        &[BOT],
    ));
    wait_posted(&discord, 6).await;

    // Discord ends the session for good (Invalid Session, not resumable): a new one begins.
    gateway.push.send(json!({"op": 9, "d": false})).unwrap();
    gateway.identified(identified + 1).await;
    assert_eq!(gateway.resumed.lock().unwrap().len(), 1);
    gateway.message(said(
        "2009",
        "660000000000000001",
        false,
        "And on Wednesday?",
        &[],
    ));
    wait_posted(&discord, 7).await;

    // The agents let go: the connection closes and nothing more starts.
    for channel in [&channel, &sales] {
        let clear = c
            .app
            .call(
                &c.owner,
                "set_channel_agent",
                &[("channel_id", channel), ("agent_id", "")],
            )
            .await;
        assert_eq!(clear.status, StatusCode::OK, "{:?}", clear.body);
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while gateway.push.receiver_count() > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the Gateway connection is still open 10 s after the agent was let go"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    gateway.message(said("2010", "660000000000000001", false, "Hello?", &[]));
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(posted(&discord).len(), 7);
}
