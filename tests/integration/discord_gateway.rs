//! Issue 16: Discord messages (mentions, DMs, the connected channel) start runs. Flare reads
//! them over Discord's Gateway, here a local WebSocket server that speaks the same protocol
//! (Hello, Identify, heartbeats and their acks, READY, MESSAGE_CREATE, a reconnect request);
//! replies go to the local server that speaks Discord's HTTP API.

use crate::common::eventually;
use crate::notifications::{DISCORD_CHANNEL, FakeDiscord, add_discord, setup_with};
use flare::notifications::SetChannelAgent;
use futures::{SinkExt, StreamExt};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::broadcast;
use tokio_tungstenite::tungstenite::Message as Frame;

const BOT: &str = "990000000000000001";

/// A Gateway: says Hello (heartbeats every 300 ms), records each Identify and heartbeat,
/// answers READY and heartbeat acks, and sends what the test pushes to every session.
struct FakeGateway {
    url: String,
    identified: Arc<Mutex<Vec<Value>>>,
    heartbeats: Arc<Mutex<usize>>,
    push: broadcast::Sender<Value>,
}

impl FakeGateway {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!(
            "ws://{}/?v=10&encoding=json",
            listener.local_addr().unwrap()
        );
        let identified = Arc::new(Mutex::new(Vec::new()));
        let heartbeats = Arc::new(Mutex::new(0));
        let (push, _) = broadcast::channel::<Value>(64);
        let (ids, beats, tx) = (identified.clone(), heartbeats.clone(), push.clone());
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let (ids, beats, mut rx) = (ids.clone(), beats.clone(), tx.subscribe());
                tokio::spawn(async move {
                    let Ok(mut ws) = tokio_tungstenite::accept_async(tcp).await else {
                        return;
                    };
                    let hello = json!({"op": 10, "d": {"heartbeat_interval": 300}});
                    ws.send(Frame::text(hello.to_string())).await.unwrap();
                    let mut seq = 1;
                    loop {
                        tokio::select! {
                            got = ws.next() => {
                                let Some(Ok(Frame::Text(t))) = got else { return };
                                let p: Value = serde_json::from_str(t.as_str()).unwrap();
                                match p["op"].as_u64() {
                                    Some(2) => {
                                        ids.lock().unwrap().push(p["d"].clone());
                                        let ready = json!({"op": 0, "t": "READY", "s": seq,
                                            "d": {"user": {"id": BOT, "bot": true}, "session_id": "s1"}});
                                        ws.send(Frame::text(ready.to_string())).await.unwrap();
                                    }
                                    Some(1) => {
                                        *beats.lock().unwrap() += 1;
                                        ws.send(Frame::text(json!({"op": 11}).to_string())).await.unwrap();
                                    }
                                    _ => {}
                                }
                            }
                            pushed = rx.recv() => {
                                let Ok(mut p) = pushed else { return };
                                seq += 1;
                                p["s"] = json!(seq);
                                if ws.send(Frame::text(p.to_string())).await.is_err() {
                                    return;
                                }
                                if p["op"] == 7 {
                                    return; // asked to reconnect: this session is over
                                }
                            }
                        }
                    }
                });
            }
        });
        Self {
            url,
            identified,
            heartbeats,
            push,
        }
    }

    /// Waits for the `n`th Identify (10 s at most).
    async fn identified(&self, n: usize) -> Value {
        eventually(&format!("Identify #{n}"), 10, || async {
            self.identified.lock().unwrap().get(n - 1).cloned()
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
    // No agent named: no connection.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(gateway.identified.lock().unwrap().is_empty());
    let set = SetChannelAgent {
        channel_id: channel.clone(),
        agent_id: c.agent.clone(),
    };
    assert_eq!(c.app.send(&c.owner, set).await.status, StatusCode::OK);
    let identify = gateway.identified(1).await;
    assert_eq!(identify["token"], crate::notifications::DISCORD_TOKEN);
    assert_eq!(identify["intents"], (1 << 9) | (1 << 12) | (1 << 15));

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

    let replies = wait_posted(&discord, 3).await;
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
    assert_eq!(posted(&discord).len(), 3, "nothing else answered");
    assert_eq!(
        c.app
            .count("SELECT COUNT(*) FROM threads WHERE trigger = 'discord'")
            .await,
        3
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

    // Discord asks Flare to reconnect: it identifies again and goes on reading.
    gateway.push.send(json!({"op": 7, "d": null})).unwrap();
    gateway.identified(2).await;
    gateway.message(said(
        "2007",
        "660000000000000001",
        false,
        "And on Monday?",
        &[],
    ));
    wait_posted(&discord, 4).await;

    // The agent let go: the connection closes and nothing more starts.
    let clear = c
        .app
        .call(
            &c.owner,
            "set_channel_agent",
            &[("channel_id", &channel), ("agent_id", "")],
        )
        .await;
    assert_eq!(clear.status, StatusCode::OK, "{:?}", clear.body);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while gateway.push.receiver_count() > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the Gateway connection is still open 10 s after the agent was let go"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    gateway.message(said("2008", "660000000000000001", false, "Hello?", &[]));
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(posted(&discord).len(), 4);
}
