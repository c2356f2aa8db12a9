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
