//! Runs survive the server being killed: a real `flare` process, SIGKILL, a restart on the
//! same database.

use crate::chat::*;
use crate::common::*;
use crate::fake_openai::{Fake, Script};
use reqwest::StatusCode;
use std::process::Stdio;
use tokio::process::{Child, Command};

struct Process {
    child: Child,
    app: TestApp,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts the real binary on `database_url` and waits until it answers.
async fn launch(database_url: &str, extra: &[(&str, &str)]) -> Process {
    let port = free_port();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_flare"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", database_url)
        .env("LEPTOS_SITE_ADDR", format!("127.0.0.1:{port}"))
        .env("FLARE_ADMIN_EMAIL", OWNER_EMAIL)
        .env("FLARE_ADMIN_PASSWORD", OWNER_PASSWORD)
        .env("FLARE_RUN_LEASE_MS", "1000")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true);
    for (k, v) in extra {
        cmd.env(k, v);
    }
    let child = cmd.spawn().expect("start flare");
    let base = format!("http://127.0.0.1:{port}");
    for _ in 0..200 {
        if reqwest::get(format!("{base}/healthz"))
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            let db = flare::server::db::connect(database_url).await.unwrap();
            return Process {
                child,
                app: TestApp::attach(base, db, database_url),
            };
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("flare did not start");
}

impl Process {
    /// SIGKILL: no shutdown, no cleanup, exactly like a crash.
    async fn kill(mut self) {
        self.child.start_kill().unwrap();
        self.child.wait().await.unwrap();
        self.app.db.close().await;
    }
}

/// Team, agent with `description`, thread: what `chat_with` does, on a running process.
async fn chat_in(p: &Process, description: &str) -> (reqwest::Client, String) {
    let (owner, thread, _) = chat_on_existing(&p.app, description).await;
    (owner, thread)
}

#[tokio::test]
async fn a_waiting_run_survives_sigkill_and_resumes_when_answered() {
    let url = fresh_database_url().await;
    let p = launch(&url, &[]).await;
    let (owner, thread) = chat_in(&p, TUTORIAL_RULE).await;
    send(&p.app, &owner, &thread, TUTORIAL_MESSAGE).await;
    let t = wait_for(&p.app, &owner, &thread, "the card", |t| {
        run_status(t) == "waiting"
    })
    .await;
    let esc = card(&t).unwrap()["id"].as_str().unwrap().to_string();
    p.kill().await;

    let p = launch(&url, &[]).await;
    let owner = p.app.owner().await;
    let t = load(&p.app, &owner, &thread).await;
    assert_eq!(
        card(&t).unwrap()["status"],
        "open",
        "the card is still open after the crash"
    );
    assert_eq!(run_status(&t), "waiting");
    let r = p
        .app
        .call(
            &owner,
            "respond_escalation",
            &[("escalation_id", &esc), ("guidance", "approve the refund")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let t = wait_for(&p.app, &owner, &thread, "the reply", |t| {
        run_status(t) == "completed"
    })
    .await;
    assert!(messages_of(&t, "agent")[0].contains("approve the refund"));
    p.kill().await;
    drop_database(&url).await;
}

#[tokio::test]
async fn a_running_run_is_taken_over_after_sigkill_and_finishes() {
    let (fake, fake_url) = Fake::start(vec![
        Script::Hang,
        Script::Text(vec!["Back after the crash."]),
    ])
    .await;
    let url = fresh_database_url().await;
    let env = [
        ("FLARE_PROVIDER", "openai"),
        ("FLARE_OPENAI_BASE_URL", fake_url.as_str()),
        ("FLARE_OPENAI_MODEL", "test-model"),
        ("FLARE_PROVIDER_TIMEOUT_MS", "60000"),
    ];
    let p = launch(&url, &env).await;
    let (owner, thread) = chat_in(&p, "Answer questions.").await;
    send(&p.app, &owner, &thread, "Hello").await;
    // The model has the request and is "thinking" when the server dies.
    for _ in 0..200 {
        if !fake.requests().is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert_eq!(run_status(&load(&p.app, &owner, &thread).await), "running");
    p.kill().await;

    let p = launch(&url, &env).await;
    let owner = p.app.owner().await;
    let t = wait_for(&p.app, &owner, &thread, "the resumed reply", |t| {
        run_status(t) == "completed"
    })
    .await;
    assert_eq!(messages_of(&t, "agent"), ["<p>Back after the crash.</p>\n"]);
    assert_eq!(
        messages_of(&t, "user").len(),
        1,
        "nothing lost, nothing doubled"
    );
    assert_eq!(fake.requests().len(), 2);
    p.kill().await;
    drop_database(&url).await;
}
