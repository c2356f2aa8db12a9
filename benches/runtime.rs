//! The agent runtime's own cost, measured on the real `flare` binary over HTTP:
//! 1. one turn with the `rules` provider (no model): message sent → reply stored, p50/p99;
//! 2. answer-to-resumed: Respond & Resume sent → the resumed run's reply stored, p50/p99;
//! 3. server memory (RSS) with no waiting runs and with 10,000 waiting runs.
//!
//! Times are taken by the client from the request to the live event that reports the run done.
//! Rerun: `cargo bench --features ssr --bench runtime`
//! (FLARE_BENCH_DATABASE_URL=postgres://… for PostgreSQL; the database must be empty).

mod common;

use common::spread;
use futures::StreamExt;
use serde_json::Value;
use std::time::{Duration, Instant};

const TURNS: usize = 200;
const WAITING: usize = 10_000;
const RULE: &str =
    "Always escalate any request involving refunds, account deletions, or threats of legal action.";

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

struct Api {
    base: String,
    c: reqwest::Client,
}

impl Api {
    async fn call(&self, name: &str, form: &[(&str, &str)]) -> Value {
        common::call(&self.c, &self.base, name, form).await
    }
}

/// Waits on the live stream for `run` events of `thread` until `status`.
async fn until_run(
    events: &mut (impl futures::Stream<Item = Result<bytes::Bytes, reqwest::Error>> + Unpin),
    buf: &mut String,
    thread: &str,
    status: &str,
) {
    common::until_event(events, buf, |ev| {
        ev["thread_id"] == thread && ev["type"] == "run" && ev["status"] == status
    })
    .await
}

#[tokio::main]
async fn main() {
    let flare = common::start("runtime", &[("FLARE_PROVIDER", "rules")]).await;
    let url = flare.url.clone();
    let pid = flare.child.id().unwrap();
    let api = Api {
        base: flare.base.clone(),
        c: reqwest::Client::builder()
            .cookie_store(true)
            .build()
            .unwrap(),
    };
    let common::Setup { agent, thread, .. } =
        common::agent_with_rule(&api.c, &api.base, RULE).await;
    let mut events = api
        .c
        .get(format!("{}/api/live", api.base))
        .send()
        .await
        .unwrap()
        .bytes_stream();
    let mut buf = String::new();

    // 1. Turns with no escalation: the rules provider answers offline.
    let mut turns = Vec::with_capacity(TURNS);
    for _ in 0..TURNS {
        let t0 = Instant::now();
        api.call(
            "send_message",
            &[
                ("thread_id", &thread),
                ("body", "What are your opening hours?"),
            ],
        )
        .await;
        until_run(&mut events, &mut buf, &thread, "completed").await;
        turns.push(t0.elapsed());
    }
    turns.sort();

    // 2. Escalate, then time the answer until the resumed run's reply is stored.
    let mut resumes = Vec::with_capacity(TURNS);
    for _ in 0..TURNS {
        api.call(
            "send_message",
            &[
                ("thread_id", &thread),
                ("body", "I want a refund for order #1234."),
            ],
        )
        .await;
        until_run(&mut events, &mut buf, &thread, "waiting").await;
        let view = api.call("load_thread", &[("thread_id", &thread)]).await;
        let esc = view["messages"]
            .as_array()
            .unwrap()
            .iter()
            .rev()
            .find_map(|m| m["escalation"]["id"].as_str())
            .unwrap()
            .to_string();
        let t0 = Instant::now();
        api.call(
            "respond_escalation",
            &[("escalation_id", &esc), ("guidance", "approve the refund")],
        )
        .await;
        until_run(&mut events, &mut buf, &thread, "completed").await;
        resumes.push(t0.elapsed());
    }
    resumes.sort();
    drop(events);

    // 3. Memory: settle, measure, park 10,000 runs waiting on escalations, measure again.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = rss_kib(pid);
    let (api, agent) = (&api, &agent);
    let threads: Vec<String> = futures::stream::iter(0..WAITING)
        .map(|_| async move { api.call("start_thread", &[("agent_id", agent)]).await })
        .buffer_unordered(16)
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
        .await;
    let started = Instant::now();
    futures::stream::iter(threads.iter())
        .map(|t| async move {
            api.call(
                "send_message",
                &[("thread_id", t), ("body", "A refund please.")],
            )
            .await
        })
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await;
    // Every run must be waiting before measuring.
    let waiting_sql = "SELECT COUNT(*) FROM runs WHERE status = 'waiting'";
    let db = flare::server::db::connect(&url).await.unwrap();
    loop {
        let (n,): (i64,) = sqlx::query_as(waiting_sql).fetch_one(&db).await.unwrap();
        if n as usize >= WAITING {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let filled = started.elapsed();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after = rss_kib(pid);

    println!(
        "runtime benchmark ({}; rerun: cargo bench --features ssr --bench runtime)",
        flare.backend()
    );
    println!(
        "  turn with the rules provider, {TURNS} turns: {}",
        spread(&turns)
    );
    println!(
        "  answer to resumed reply, {TURNS} answers: {}",
        spread(&resumes)
    );
    println!(
        "  server RSS: {:.1} MiB with no waiting run, {:.1} MiB with {WAITING} waiting runs (+{:.1} MiB; {WAITING} escalated in {:.1} s)",
        before as f64 / 1024.0,
        after as f64 / 1024.0,
        (after as f64 - before as f64) / 1024.0,
        filled.as_secs_f64()
    );
    flare.stop().await;
}
