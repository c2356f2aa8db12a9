//! The Escalations page and live fan-out, on the real `flare` binary:
//! 1. server-rendered `/app/escalations` (signed in, 50 rows shown, 100,000 escalations stored:
//!    2,000 open, 98,000 answered) and its "Resolved & dismissed" view (98,000 rows behind its
//!    first page):
//!    - the target: latency at a steady 200 requests per second for 10 s, as people would send
//!      them (requests leave on schedule whether or not earlier ones have answered, and each is
//!      timed from when it was due, so a stall shows in the figures instead of hiding them);
//!    - a figure to watch: saturated throughput, 32 connections each for 10 s, against a trivial
//!      Leptos page of the same binary (`/login`, signed out), and the ratio;
//! 2. live fan-out: 1,000 subscribers on `/api/live`; time from an escalation's commit to its
//!    event at each subscriber, p50/p99 over 10 rounds. "Commit" is the escalation's stored
//!    `created_at`, stamped inside its transaction just before it commits (same machine, same
//!    clock), so the figure includes the commit. Also shown: from the request that raises it.
//!
//! Rerun: `cargo bench --features ssr --bench escalations`
//! (FLARE_BENCH_DATABASE_URL=postgres://… for PostgreSQL; the database must be empty).

mod common;

use common::{call, spread};
use futures::StreamExt;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const STORED: usize = 100_000;
const OPEN: usize = 2_000;
const CONNECTIONS: usize = 32;
const LOAD_SECS: u64 = 10;
const SUBSCRIBERS: usize = 1_000;
const ROUNDS: usize = 10;
const RULE: &str = "Always escalate any request involving refunds.";

const RATE: u64 = 200;

/// One page view: it must answer 2xx and render `expect`.
async fn view_page(c: &reqwest::Client, url: &str, expect: &str) {
    let res = c.get(url).send().await.unwrap();
    assert!(res.status().is_success(), "{url}: {}", res.status());
    let body = res.text().await.unwrap();
    assert!(body.contains(expect), "{url} did not render");
}

/// `RATE` requests per second to `url` for `LOAD_SECS`, each on schedule (open loop): the
/// sorted latencies, each from when its request was due.
async fn steady(c: &reqwest::Client, url: String, expect: &'static str) -> Vec<Duration> {
    let start = tokio::time::Instant::now();
    let every = Duration::from_micros(1_000_000 / RATE);
    let mut requests = Vec::new();
    for i in 0..(RATE * LOAD_SECS) as u32 {
        let due = start + every * i;
        tokio::time::sleep_until(due).await;
        let (c, url) = (c.clone(), url.clone());
        requests.push(tokio::spawn(async move {
            view_page(&c, &url, expect).await;
            due.elapsed()
        }));
    }
    let mut all = Vec::new();
    for r in requests {
        all.push(r.await.unwrap());
    }
    all.sort();
    all
}

/// `CONNECTIONS` workers requesting `path` for `LOAD_SECS`: (requests per second, sorted latencies).
async fn load(c: &reqwest::Client, url: String, expect: &'static str) -> (f64, Vec<Duration>) {
    let until = Instant::now() + Duration::from_secs(LOAD_SECS);
    let mut workers = Vec::new();
    for _ in 0..CONNECTIONS {
        let (c, url) = (c.clone(), url.clone());
        workers.push(tokio::spawn(async move {
            let mut times = Vec::new();
            while Instant::now() < until {
                let t0 = Instant::now();
                view_page(&c, &url, expect).await;
                times.push(t0.elapsed());
            }
            times
        }));
    }
    let mut all = Vec::new();
    for w in workers {
        all.extend(w.await.unwrap());
    }
    all.sort();
    (all.len() as f64 / LOAD_SECS as f64, all)
}

#[tokio::main]
async fn main() {
    // One user stands for 1,000 viewers here: lift the per-user cap on open streams.
    let flare = common::start("escalations", &[("FLARE_LIVE_STREAMS_PER_USER", "5000")]).await;
    let (base, backend) = (flare.base.clone(), flare.backend());
    let url = flare.url.clone();
    let c = reqwest::Client::builder()
        .cookie_store(true)
        .pool_max_idle_per_host(2000)
        .build()
        .unwrap();
    let common::Setup {
        team,
        agent,
        thread,
    } = common::agent_with_rule(&c, &base, RULE).await;
    call(
        &c,
        &base,
        "send_message",
        &[("thread_id", &thread), ("body", "A refund please.")],
    )
    .await;

    // A year of history, straight into the database.
    let db = flare::server::db::connect(&url).await.unwrap();
    let (run,): (String,) = loop {
        if let Some(r) = sqlx::query_as("SELECT id FROM runs WHERE status = 'waiting'")
            .fetch_optional(&db)
            .await
            .unwrap()
        {
            break r;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let start = flare::server::db::now_ms() - 365 * 86_400_000;
    for chunk in (0..STORED).collect::<Vec<_>>().chunks(5_000) {
        let mut tx = db.begin().await.unwrap();
        for &i in chunk {
            let open = i >= STORED - OPEN;
            let sev = ["info", "warning", "critical"][i % 3];
            let at = start + (i as i64) * 315_000;
            sqlx::query(
                "INSERT INTO escalations (id, team_id, agent_id, thread_id, run_id, trigger, reason, severity, \
                 severity_rank, blocking, status, guidance, responder, created_at, answered_at) \
                 VALUES ($1, $2, $3, $4, $5, 'chat', $6, $7, $8, 1, $9, $10, $11, $12, $13)",
            )
            .bind(uuid::Uuid::new_v4().to_string())
            .bind(&team)
            .bind(&agent)
            .bind(&thread)
            .bind(&run)
            .bind(format!("Customer {i} asks for a refund of ${}.", i % 500))
            .bind(sev)
            .bind((i % 3) as i64)
            .bind(if open { "open" } else if i % 5 == 0 { "dismissed" } else { "resolved" })
            .bind((!open).then_some("approve the refund"))
            .bind((!open).then_some("bench"))
            .bind(at)
            .bind((!open).then_some(at + 60_000))
            .execute(&mut *tx)
            .await
            .unwrap();
        }
        tx.commit().await.unwrap();
    }
    if backend == "PostgreSQL" {
        sqlx::query("ANALYZE").execute(&db).await.unwrap();
    }

    let anon = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()
        .unwrap();
    let steady_page = steady(&c, format!("{base}/app/escalations"), "Open escalations").await;
    let steady_answered = steady(
        &c,
        format!("{base}/app/escalations?view=answered"),
        "Resolved and dismissed",
    )
    .await;
    let (trivial_rps, trivial) = load(&anon, format!("{base}/login"), "Sign in").await;
    let (page_rps, page) = load(&c, format!("{base}/app/escalations"), "Open escalations").await;
    // The answered list: 98,000 rows behind its first page.
    let (answered_rps, answered) = load(
        &c,
        format!("{base}/app/escalations?view=answered"),
        "Resolved and dismissed",
    )
    .await;

    // Fan-out: 1,000 open streams, then escalations raised one at a time.
    // Each arrival: the escalation's id, and when it came (monotonic, and wall clock to compare
    // with the stored commit time).
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(String, Instant, SystemTime)>();
    let mut subscribers = Vec::new();
    for _ in 0..SUBSCRIBERS {
        let res = c.get(format!("{base}/api/live")).send().await.unwrap();
        assert!(res.status().is_success());
        let tx = tx.clone();
        subscribers.push(tokio::spawn(async move {
            let mut stream = res.bytes_stream();
            let mut buf = String::new();
            while let Some(Ok(chunk)) = stream.next().await {
                let (now, wall) = (Instant::now(), SystemTime::now());
                buf.push_str(&String::from_utf8_lossy(&chunk));
                while let Some(end) = buf.find("\n\n") {
                    let frame: String = buf.drain(..end + 2).collect();
                    let Some(data) = frame.lines().find_map(|l| l.strip_prefix("data:")) else {
                        continue;
                    };
                    let Ok(ev) = serde_json::from_str::<serde_json::Value>(data.trim()) else {
                        continue;
                    };
                    if ev["type"] == "escalation" && ev["status"] == "open" {
                        let id = ev["escalation_id"].as_str().unwrap_or_default();
                        let _ = tx.send((id.to_string(), now, wall));
                    }
                }
            }
        }));
    }
    let threads: Vec<String> = futures::future::join_all((0..ROUNDS).map(|_| {
        let (c, base, agent) = (c.clone(), base.clone(), agent.clone());
        async move {
            call(&c, &base, "start_thread", &[("agent_id", &agent)])
                .await
                .as_str()
                .unwrap()
                .to_string()
        }
    }))
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (mut fanout, mut from_request) = (Vec::new(), Vec::new());
    for t in &threads {
        let t0 = Instant::now();
        call(
            &c,
            &base,
            "send_message",
            &[("thread_id", t), ("body", "A refund please.")],
        )
        .await;
        let mut arrivals = Vec::new();
        for _ in 0..SUBSCRIBERS {
            let arrival = tokio::time::timeout(Duration::from_secs(30), rx.recv())
                .await
                .expect("event lost")
                .unwrap();
            from_request.push(arrival.1.duration_since(t0));
            arrivals.push(arrival);
        }
        // The newest open escalation is this round's; every subscriber got that one.
        let list = call(&c, &base, "list_escalations", &[]).await;
        let newest = &list["rows"][0];
        let committed_ms = newest["created_at_ms"].as_i64().expect("created_at_ms");
        let committed = UNIX_EPOCH + Duration::from_millis(committed_ms as u64);
        for (id, _, wall) in arrivals {
            assert_eq!(
                Some(id.as_str()),
                newest["id"].as_str(),
                "another escalation's event"
            );
            fanout.push(wall.duration_since(committed).unwrap_or_default());
        }
    }
    fanout.sort();
    from_request.sort();
    for s in subscribers {
        s.abort();
    }

    println!(
        "escalations benchmark ({backend}; rerun: cargo bench --features ssr --bench escalations)"
    );
    println!(
        "  {STORED} escalations stored ({OPEN} open), 50 rows shown; at a steady {RATE} req/s for {LOAD_SECS} s (target p99 < 10 ms):"
    );
    println!("  /app/escalations:           {}", spread(&steady_page));
    println!(
        "  /app/escalations?view=answered: {}",
        spread(&steady_answered)
    );
    println!("  saturated, {CONNECTIONS} connections, {LOAD_SECS} s each (a figure to watch):");
    println!(
        "  trivial page /login:        {trivial_rps:.0} req/s, {}",
        spread(&trivial)
    );
    println!(
        "  /app/escalations:           {page_rps:.0} req/s, {}",
        spread(&page)
    );
    println!(
        "  /app/escalations?view=answered: {answered_rps:.0} req/s, {}",
        spread(&answered)
    );
    println!(
        "  ratio: {:.0}% of the trivial page's throughput",
        page_rps / trivial_rps * 100.0
    );
    println!(
        "  live fan-out to {SUBSCRIBERS} subscribers, {ROUNDS} escalations, from the commit: {} (target p99 < 50 ms); from the request that raises it: {}",
        spread(&fanout),
        spread(&from_request)
    );
    flare.stop().await;
}
