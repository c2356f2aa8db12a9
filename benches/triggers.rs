//! Webhooks under load, on the real `flare` binary with the `rules` provider:
//! 1. webhook request → its escalation visible on an open Escalations page (the `/api/live`
//!    event the page reacts to), p50/p99 over 200 requests, one at a time;
//! 2. intake throughput: 32 connections sending signed requests (each with its own
//!    `X-Flare-Delivery` id) for 10 s, runs started per second; then every accepted delivery
//!    is sent again, and the runs are counted: none lost, none duplicated;
//! 3. the backlog the burst left: how long until every run has finished (the model's
//!    warnings are shown, so a guardrail that fell back to words would say so).
//!
//! Rerun: `cargo bench --features ssr --bench triggers`
//! (FLARE_BENCH_DATABASE_URL=postgres://… for PostgreSQL; the database must be empty).

mod common;

use common::spread;
use flare::server::triggers::webhook::sign;
use futures::StreamExt;
use serde_json::Value;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const LATENCY_SAMPLES: usize = 200;
const CONNECTIONS: usize = 32;
const LOAD_FOR: Duration = Duration::from_secs(10);
const DRAIN_AT_MOST: Duration = Duration::from_secs(600);
const RULE: &str =
    "Always escalate any request involving refunds, account deletions, or threats of legal action.";

struct Hook {
    url: String,
    secret: String,
}

async fn deliver(c: &reqwest::Client, hook: &Hook, body: &str, delivery: Option<&str>) -> Value {
    let ts = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let mut req = c
        .post(&hook.url)
        .header("content-type", "application/json")
        .header("x-flare-timestamp", ts.to_string())
        .header(
            "x-flare-signature",
            format!("sha256={}", sign(&hook.secret, ts, body.as_bytes())),
        )
        .body(body.to_string());
    if let Some(d) = delivery {
        req = req.header("x-flare-delivery", d);
    }
    let res = req.send().await.unwrap();
    let status = res.status();
    let v: Value = res.json().await.unwrap_or(Value::Null);
    assert_eq!(status, reqwest::StatusCode::ACCEPTED, "{v}");
    v
}

/// Waits on the live stream for the escalation event of `thread`.
async fn until_escalation(
    events: &mut (impl futures::Stream<Item = Result<bytes::Bytes, reqwest::Error>> + Unpin),
    buf: &mut String,
    thread: &str,
) {
    common::until_event(events, buf, |ev| {
        ev["thread_id"] == thread && ev["type"] == "escalation"
    })
    .await
}

#[tokio::main]
async fn main() {
    let flare = common::start(
        "triggers",
        &[
            ("FLARE_PROVIDER", "rules"),
            ("RUST_LOG", "error,flare::server::runtime::semantic=warn"),
        ],
    )
    .await;
    let base = flare.base.clone();
    let c = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let common::Setup { agent, .. } = common::agent_with_rule(&c, &base, RULE).await;
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

    // 1. Request → escalation on the open page's live stream.
    let mut events = c
        .get(format!("{base}/api/live"))
        .send()
        .await
        .unwrap()
        .bytes_stream();
    let mut buf = String::new();
    let plain = reqwest::Client::new();
    let mut latencies = Vec::with_capacity(LATENCY_SAMPLES);
    for i in 0..LATENCY_SAMPLES {
        // Each its own body: the same signed request twice within a second is a replay.
        let body = format!(r#"{{"message": "Customer wants their money back for order {i}."}}"#);
        let t0 = Instant::now();
        let started = deliver(&plain, &hook, &body, None).await;
        let thread = started["thread_id"].as_str().unwrap();
        until_escalation(&mut events, &mut buf, thread).await;
        latencies.push(t0.elapsed());
    }
    latencies.sort();
    drop(events);

    // 2. Intake at 32 connections, each delivery with its own id.
    let next = Arc::new(AtomicU64::new(0));
    let t0 = Instant::now();
    let workers: Vec<_> = (0..CONNECTIONS)
        .map(|_| {
            let (hook, next) = (hook.clone(), next.clone());
            tokio::spawn(async move {
                let c = reqwest::Client::new();
                let mut sent = Vec::new();
                while t0.elapsed() < LOAD_FOR {
                    let id = format!("load-{}", next.fetch_add(1, Ordering::Relaxed));
                    let body = format!(r#"{{"message": "What are your opening hours? ({id})"}}"#);
                    deliver(&c, &hook, &body, Some(&id)).await;
                    sent.push((id, body));
                }
                sent
            })
        })
        .collect();
    let mut sent = Vec::new();
    for w in workers {
        sent.extend(w.await.unwrap());
    }
    let elapsed = t0.elapsed();
    let accepted = sent.len();

    // Every delivery again (a sender's retries): nothing new may start.
    futures::stream::iter(sent.iter())
        .map(|(id, body)| {
            let (c, hook) = (plain.clone(), hook.clone());
            async move { deliver(&c, &hook, body, Some(id)).await }
        })
        .buffer_unordered(CONNECTIONS)
        .collect::<Vec<_>>()
        .await;

    let db = flare::server::db::connect(&flare.url).await.unwrap();
    let count = |sql: &'static str| {
        let db = db.clone();
        async move {
            let (n,): (i64,) = sqlx::query_as(sql).fetch_one(&db).await.unwrap();
            n as usize
        }
    };
    let runs = count(
        "SELECT COUNT(*) FROM runs r JOIN messages m ON m.thread_id = r.thread_id AND m.seq = r.message_seq \
         WHERE m.body LIKE 'What are your opening hours? (load-%'",
    )
    .await;
    let distinct = count(
        "SELECT COUNT(DISTINCT m.body) FROM runs r JOIN messages m ON m.thread_id = r.thread_id \
         AND m.seq = r.message_seq WHERE m.body LIKE 'What are your opening hours? (load-%'",
    )
    .await;

    // 3. The backlog the burst left: how long until every run has finished. The model's
    // warnings are shown (RUST_LOG below), so a guardrail that fell back to words says so.
    let drain = Instant::now();
    let mut left = usize::MAX;
    while drain.elapsed() < DRAIN_AT_MOST {
        left = count("SELECT COUNT(*) FROM runs WHERE status = 'running'").await;
        if left == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let drained = drain.elapsed();
    let completed = count("SELECT COUNT(*) FROM runs WHERE status = 'completed'").await;

    println!(
        "triggers benchmark ({}; rerun: cargo bench --features ssr --bench triggers)",
        flare.backend()
    );
    println!(
        "  webhook request to escalation on the live stream, {LATENCY_SAMPLES} requests: {}",
        spread(&latencies)
    );
    println!(
        "  intake at {CONNECTIONS} connections for {:.1} s: {accepted} accepted, {:.0} runs started/s",
        elapsed.as_secs_f64(),
        accepted as f64 / elapsed.as_secs_f64()
    );
    println!(
        "  after sending all {accepted} again: {runs} runs for them, {distinct} distinct ({})",
        if runs == accepted && distinct == accepted {
            "none lost, none duplicated"
        } else {
            "LOST OR DUPLICATED RUNS"
        }
    );
    if left == 0 {
        println!(
            "  the backlog after the burst: every run finished {:.1} s after the re-sending ({completed} completed)",
            drained.as_secs_f64()
        );
    } else {
        println!(
            "  the backlog after the burst: {left} runs still running after {} s",
            DRAIN_AT_MOST.as_secs()
        );
    }
    flare.stop().await;
}
