//! Notifications under load, on the real `flare` binary with the `rules` provider and a local
//! receiver standing in for a team's webhook endpoint:
//! 1. escalation committed → its notice accepted by the receiver, p50/p99 over 200
//!    escalations, one at a time (each started by a signed inbound webhook), for a webhook
//!    channel and for a Slack channel (a local server speaking Slack's `chat.postMessage`);
//! 2. outbox throughput: 1,000 escalations at once (32 connections), every tenth notice
//!    refused once with a 503 so retries are part of it; then: all delivered, duplicates (a
//!    delivery id accepted twice), lost (an escalation never accepted).
//!
//! Rerun: `cargo bench --features ssr --bench notifications`
//! (FLARE_BENCH_DATABASE_URL=postgres://… for PostgreSQL; the database must be empty).

mod common;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use common::spread;
use flare::server::triggers::webhook::sign;
use futures::StreamExt;
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const LATENCY_SAMPLES: usize = 200;
const BURST: usize = 1_000;
const CONNECTIONS: usize = 32;
const WAIT_AT_MOST: Duration = Duration::from_secs(600);
const RULE: &str =
    "Always escalate any request involving refunds, account deletions, or threats of legal action.";
const KEY: &str = "abababababababababababababababababababababababababababababababab";

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// What the receiver saw: per delivery id, the escalation, when it was created, when the
/// notice was accepted, and how many times it was accepted.
#[derive(Default)]
struct Seen {
    /// Refuse every tenth notice once (the burst only).
    refusing: bool,
    requests: usize,
    refused: usize,
    accepted: HashMap<String, (String, i64, i64, usize)>,
    /// Slack messages posted: escalation id → when.
    slack: HashMap<String, i64>,
}

/// Slack's `chat.postMessage`, as a local server: the escalation is read from the button's
/// link to its card.
async fn slack_post(State(seen): State<Arc<Mutex<Seen>>>, body: String) -> axum::Json<Value> {
    let at = now_ms();
    let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    let url = v["blocks"][2]["elements"][0]["url"]
        .as_str()
        .unwrap_or_default();
    if let Some((_, esc)) = url.split_once("#escalation-") {
        seen.lock()
            .unwrap()
            .slack
            .entry(esc.to_string())
            .or_insert(at);
    }
    axum::Json(
        serde_json::json!({"ok": true, "channel": v["channel"], "ts": format!("{at}.000100")}),
    )
}

async fn receive(
    State(seen): State<Arc<Mutex<Seen>>>,
    headers: HeaderMap,
    body: String,
) -> StatusCode {
    let at = now_ms();
    let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    if v["event"] != "escalation.raised" {
        return StatusCode::OK;
    }
    let id = headers
        .get("x-flare-delivery")
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let mut s = seen.lock().unwrap();
    s.requests += 1;
    // Every tenth notice is refused the first time it comes.
    if s.refusing && s.requests % 10 == 0 && !s.accepted.contains_key(&id) {
        s.refused += 1;
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    let esc = v["escalation"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let created = v["escalation"]["created_at_ms"].as_i64().unwrap_or(0);
    s.accepted
        .entry(id)
        .and_modify(|e| e.3 += 1)
        .or_insert((esc, created, at, 1));
    StatusCode::OK
}

struct Hook {
    url: String,
    secret: String,
}

async fn start_run(c: &reqwest::Client, hook: &Hook, body: &str) {
    let ts = now_ms() / 1000;
    let res = c
        .post(&hook.url)
        .header("content-type", "application/json")
        .header("x-flare-timestamp", ts.to_string())
        .header(
            "x-flare-signature",
            format!("sha256={}", sign(&hook.secret, ts, body.as_bytes())),
        )
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), reqwest::StatusCode::ACCEPTED);
}

#[tokio::main]
async fn main() {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let receiver = format!("http://{}/notices", listener.local_addr().unwrap());
    let slack_api = format!("http://{}/api", listener.local_addr().unwrap());
    let app = axum::Router::new()
        .route("/notices", axum::routing::post(receive))
        .route("/api/chat.postMessage", axum::routing::post(slack_post))
        .with_state(seen.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });

    let flare = common::start(
        "notifications",
        &[
            ("FLARE_PROVIDER", "rules"),
            ("FLARE_SECRET_KEY", KEY),
            ("FLARE_OUTBOX_RETRY_MS", "200"),
            ("FLARE_SLACK_API_URL", &slack_api),
        ],
    )
    .await;
    let base = flare.base.clone();
    let c = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let common::Setup { team, agent, .. } = common::agent_with_rule(&c, &base, RULE).await;
    common::call(
        &c,
        &base,
        "add_webhook_channel",
        &[
            ("team_id", &team),
            ("name", "Bench receiver"),
            ("url", &receiver),
            ("min_severity", "info"),
        ],
    )
    .await;
    let slack_channel = common::call(
        &c,
        &base,
        "add_chat_channel",
        &[
            ("kind", "slack"),
            ("team_id", &team),
            ("name", "Bench Slack"),
            ("bot_token", "xoxb-0000-0000-benchbenchbench"),
            ("channel_id", "C0BENCH01"),
            ("min_severity", "info"),
        ],
    )
    .await;
    let added = common::call(
        &c,
        &base,
        "add_webhook",
        &[("agent_id", &agent), ("name", "Bench")],
    )
    .await;
    let hook = Arc::new(Hook {
        url: format!("{base}{}", added["trigger"]["path"].as_str().unwrap()),
        secret: added["secret"].as_str().unwrap().to_string(),
    });
    let accepted = |seen: &Arc<Mutex<Seen>>| seen.lock().unwrap().accepted.len();

    // 1. One at a time: committed → accepted.
    let plain = reqwest::Client::new();
    for i in 0..LATENCY_SAMPLES {
        let before = accepted(&seen);
        let body = format!(r#"{{"message": "Customer wants a refund for order {i}."}}"#);
        start_run(&plain, &hook, &body).await;
        let t0 = Instant::now();
        while accepted(&seen) == before {
            assert!(
                t0.elapsed() < Duration::from_secs(30),
                "notice {i} not accepted in 30 s"
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    let mut latencies: Vec<Duration> = {
        let s = seen.lock().unwrap();
        s.accepted
            .values()
            .map(|(_, created, at, _)| Duration::from_millis((at - created).max(0) as u64))
            .collect()
    };
    latencies.sort();
    // The same escalations' Slack messages (the channel's created_at from the database).
    let slack_seen: Vec<(String, i64)> = seen.lock().unwrap().slack.drain().collect();
    let db = flare::server::db::connect(&flare.url).await.unwrap();
    let mut slack_latencies = Vec::new();
    for (esc, at) in slack_seen {
        let (created,): (i64,) = sqlx::query_as("SELECT created_at FROM escalations WHERE id = $1")
            .bind(&esc)
            .fetch_one(&db)
            .await
            .unwrap();
        slack_latencies.push(Duration::from_millis((at - created).max(0) as u64));
    }
    slack_latencies.sort();
    // The burst measures the webhook channel alone.
    common::call(
        &c,
        &base,
        "set_channel_muted",
        &[
            ("channel_id", slack_channel["id"].as_str().unwrap()),
            ("muted", "true"),
        ],
    )
    .await;

    // 2. 1,000 escalations at once.
    seen.lock().unwrap().refusing = true;
    let before = accepted(&seen);
    let t0 = Instant::now();
    futures::stream::iter(0..BURST)
        .map(|i| {
            let (c, hook) = (plain.clone(), hook.clone());
            async move {
                let body = format!(r#"{{"message": "Burst: refund for order {i}."}}"#);
                start_run(&c, &hook, &body).await
            }
        })
        .buffer_unordered(CONNECTIONS)
        .collect::<Vec<_>>()
        .await;
    let started = t0.elapsed();
    while accepted(&seen) < before + BURST && t0.elapsed() < WAIT_AT_MOST {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let all_in = t0.elapsed();
    // Anything more that would come (a duplicate) has a moment to.
    tokio::time::sleep(Duration::from_secs(3)).await;

    let escalations: Vec<(String,)> = sqlx::query_as("SELECT id FROM escalations")
        .fetch_all(&db)
        .await
        .unwrap();
    let (unsent,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM outbox WHERE state <> 'sent'")
        .fetch_one(&db)
        .await
        .unwrap();
    {
        let s = seen.lock().unwrap();
        let duplicates: usize = s.accepted.values().map(|e| e.3 - 1).sum();
        let told: HashSet<&String> = s.accepted.values().map(|e| &e.0).collect();
        let lost = escalations
            .iter()
            .filter(|(id,)| !told.contains(id))
            .count();

        println!(
            "notifications benchmark ({}; rerun: cargo bench --features ssr --bench notifications)",
            flare.backend()
        );
        println!(
            "  escalation committed to notice accepted, {} escalations one at a time: webhook {}; Slack ({} messages) {}",
            latencies.len(),
            spread(&latencies),
            slack_latencies.len(),
            spread(&slack_latencies)
        );
        println!(
            "  {BURST} escalations at once: started in {:.1} s, every notice accepted after {:.1} s; {} refused once and retried",
            started.as_secs_f64(),
            all_in.as_secs_f64(),
            s.refused
        );
        println!(
            "  escalations {}, notices accepted {}, duplicates {duplicates}, lost {lost}, outbox rows not sent {unsent}",
            escalations.len(),
            s.accepted.len()
        );
    }
    flare.stop().await;
}
