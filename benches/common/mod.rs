//! What the server benchmarks share: the real `flare` binary on a fresh database, percentiles.

use std::process::Stdio;
use std::time::Duration;

pub struct Flare {
    pub child: tokio::process::Child,
    pub base: String,
    pub url: String,
    pub dir: std::path::PathBuf,
}

/// Starts `flare` (release build) on FLARE_BENCH_DATABASE_URL or a new SQLite file, with an
/// owner `bench@example.com` / `bench-password-1`, and waits until it answers.
pub async fn start(name: &str, env: &[(&str, &str)]) -> Flare {
    let dir = std::env::temp_dir().join(format!("flare-bench-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = std::env::var("FLARE_BENCH_DATABASE_URL")
        .unwrap_or_else(|_| format!("sqlite://{}/bench.db", dir.display()));
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_flare"));
    cmd.env("DATABASE_URL", &url)
        .env("LEPTOS_SITE_ADDR", format!("127.0.0.1:{port}"))
        .env("FLARE_ADMIN_EMAIL", "bench@example.com")
        .env("FLARE_ADMIN_PASSWORD", "bench-password-1")
        .env("RUST_LOG", "error")
        .stdout(Stdio::null())
        .kill_on_drop(true);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let child = cmd.spawn().expect("start flare");
    let base = format!("http://127.0.0.1:{port}");
    while reqwest::get(format!("{base}/healthz")).await.is_err() {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Flare {
        child,
        base,
        url,
        dir,
    }
}

impl Flare {
    pub fn backend(&self) -> &'static str {
        if self.url.starts_with("postgres") {
            "PostgreSQL"
        } else {
            "SQLite"
        }
    }

    pub async fn stop(mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The `p` quantile of sorted durations, in milliseconds.
pub fn pct(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

/// Calls a server function as the browser does; panics on an error answer.
pub async fn call(
    c: &reqwest::Client,
    base: &str,
    name: &str,
    form: &[(&str, &str)],
) -> serde_json::Value {
    let res = c
        .post(format!("{base}/api/{name}"))
        .form(form)
        .send()
        .await
        .unwrap();
    let status = res.status();
    let body: serde_json::Value = res.json().await.unwrap_or(serde_json::Value::Null);
    assert!(status.is_success(), "{name}: {status} {body}");
    body
}

/// "p50 … ms, p99 … ms" of sorted durations.
pub fn spread(sorted: &[Duration]) -> String {
    format!(
        "p50 {:.2} ms, p99 {:.2} ms",
        pct(sorted, 0.5),
        pct(sorted, 0.99)
    )
}

/// What the server benchmarks work on: a team with the bench owner in it, an agent of that
/// team whose Description is `rule`, and a chat thread with it.
pub struct Setup {
    // Each bench compiles this module on its own; the runtime bench has no use for the team.
    #[allow(dead_code)]
    pub team: String,
    pub agent: String,
    // The triggers bench starts its runs by webhook, with threads of their own.
    #[allow(dead_code)]
    pub thread: String,
}

/// Signs `c` in as the bench owner and makes a [`Setup`].
pub async fn agent_with_rule(c: &reqwest::Client, base: &str, rule: &str) -> Setup {
    let id = |v: serde_json::Value| v["id"].as_str().unwrap().to_string();
    call(
        c,
        base,
        "login",
        &[
            ("email", "bench@example.com"),
            ("password", "bench-password-1"),
        ],
    )
    .await;
    let team = id(call(c, base, "create_team", &[("name", "Bench")]).await);
    let me = id(call(c, base, "signed_in_user", &[]).await);
    call(
        c,
        base,
        "add_member",
        &[("team_id", &team), ("user_id", &me)],
    )
    .await;
    let agent = id(call(
        c,
        base,
        "create_agent",
        &[("name", "Bench Agent"), ("team_id", &team)],
    )
    .await);
    call(
        c,
        base,
        "save_description",
        &[
            ("agent_id", &agent),
            ("base_revision", "1"),
            ("description", rule),
        ],
    )
    .await;
    let thread = call(c, base, "start_thread", &[("agent_id", &agent)])
        .await
        .as_str()
        .unwrap()
        .to_string();
    Setup {
        team,
        agent,
        thread,
    }
}

/// Reads the live stream (`/api/live`) until an event for which `found` holds; frames after it
/// stay in `buf` for the next call.
// Each bench compiles this module on its own; not every one follows the live stream.
#[allow(dead_code)]
pub async fn until_event(
    events: &mut (impl futures::Stream<Item = Result<bytes::Bytes, reqwest::Error>> + Unpin),
    buf: &mut String,
    found: impl Fn(&serde_json::Value) -> bool,
) {
    use futures::StreamExt;
    loop {
        while let Some(end) = buf.find("\n\n") {
            let frame: String = buf.drain(..end + 2).collect();
            if let Some(data) = frame.lines().find_map(|l| l.strip_prefix("data: "))
                && let Ok(ev) = serde_json::from_str::<serde_json::Value>(data)
                && found(&ev)
            {
                return;
            }
        }
        let chunk = tokio::time::timeout(Duration::from_secs(30), events.next())
            .await
            .expect("a live event within 30 s")
            .expect("live stream open")
            .unwrap();
        buf.push_str(&String::from_utf8_lossy(&chunk));
    }
}
