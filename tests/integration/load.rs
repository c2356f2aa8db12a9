//! Issue 11, "never hang": 5,000 server-rendered requests across every page, 32 at a time;
//! a single response slower than 5 s fails the test. Run against the in-process server here,
//! and against the release build by the test command (`release_build_...`, with
//! FLARE_LOAD_BIN naming the binary).

use crate::common::*;
use futures::StreamExt;
use reqwest::StatusCode;
use std::time::{Duration, Instant};

const REQUESTS: usize = 5_000;
const AT_ONCE: usize = 32;
const LIMIT: Duration = Duration::from_secs(5);

/// Every page, with data behind it: an agent, a thread with an escalation, an answered one,
/// an embed token. Returns (path, signed in?, expected status).
async fn every_page(app: &TestApp) -> (reqwest::Client, Vec<(String, bool, StatusCode)>) {
    let (owner, thread, agent) = chat_on_existing(app, TUTORIAL_RULE).await;
    send(app, &owner, &thread, TUTORIAL_MESSAGE).await;
    wait_for(app, &owner, &thread, "the card", |t| {
        run_status(t) == "waiting"
    })
    .await;
    let team = app.send(&owner, MyTeams {}).await.body[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let token = app
        .send(
            &owner,
            CreateToken {
                kind: "embed".into(),
                team_id: team.to_string(),
                name: "Wall".into(),
            },
        )
        .await;
    let token = token.body["value"].as_str().unwrap_or("none").to_string();
    let ok = StatusCode::OK;
    let pages = vec![
        ("/app/escalations".to_string(), true, ok),
        ("/app/escalations?view=answered".into(), true, ok),
        (
            "/app/escalations?severity=critical&sort=oldest".into(),
            true,
            ok,
        ),
        ("/app/chat".into(), true, ok),
        (format!("/app/chat/{thread}"), true, ok),
        ("/app/settings/agents".into(), true, ok),
        (format!("/app/settings/agents/{agent}"), true, ok),
        ("/app/settings/members".into(), true, ok),
        ("/app/settings/tokens".into(), true, ok),
        ("/app/settings/account".into(), true, ok),
        ("/app/audit".into(), true, ok),
        ("/app/dashboard".into(), true, ok),
        ("/app/no-such-page".into(), true, StatusCode::NOT_FOUND),
        ("/login".into(), false, ok),
        (format!("/embed/widget?token={token}"), false, ok),
    ];
    (owner, pages)
}

/// A page's status and how long it took in full, or why there was no whole answer.
type Answer = Result<(StatusCode, Duration), String>;

/// Sends the requests; panics naming any page that answered late, wrongly or not at all.
async fn hammer(app: &TestApp, owner: &reqwest::Client, pages: &[(String, bool, StatusCode)]) {
    let anon = client();
    let started = Instant::now();
    let results: Vec<(usize, Answer)> = futures::stream::iter(0..REQUESTS)
        .map(|i| {
            let (path, signed_in, _) = &pages[i % pages.len()];
            let c = if *signed_in { owner } else { &anon };
            let url = app.url(path);
            async move {
                let t = Instant::now();
                let answer = tokio::time::timeout(LIMIT, async {
                    let res = c.get(url).send().await.map_err(|e| e.to_string())?;
                    let status = res.status();
                    res.bytes().await.map_err(|e| e.to_string())?;
                    Ok::<_, String>(status)
                })
                .await;
                let r = match answer {
                    Err(_) => Err(format!("no whole response in {} s", LIMIT.as_secs())),
                    Ok(Err(e)) => Err(e),
                    Ok(Ok(status)) => Ok((status, t.elapsed())),
                };
                (i, r)
            }
        })
        .buffer_unordered(AT_ONCE)
        .collect()
        .await;
    let mut slowest = Duration::ZERO;
    for (i, r) in &results {
        let (path, _, expected) = &pages[i % pages.len()];
        match r {
            Err(e) => panic!("request {i} for {path}: {e}"),
            Ok((status, took)) => {
                assert_eq!(status, expected, "request {i} for {path}");
                slowest = slowest.max(*took);
            }
        }
    }
    println!(
        "{REQUESTS} page requests, {AT_ONCE} at a time, across {} pages: {:.1} s, slowest {} ms",
        pages.len(),
        started.elapsed().as_secs_f64(),
        slowest.as_millis()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_answers_within_5_s_under_load() {
    let app = TestApp::with_owner().await;
    let (owner, pages) = every_page(&app).await;
    hammer(&app, &owner, &pages).await;
    app.stop().await;
}

/// The same against the release build, as `./scripts/run` serves it (run by the test command
/// after the release build, with FLARE_LOAD_BIN set).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the release build: FLARE_LOAD_BIN=target/release/flare"]
async fn release_build_answers_every_page_within_5_s_under_load() {
    let bin = std::env::var("FLARE_LOAD_BIN").expect("FLARE_LOAD_BIN: the release binary");
    let url = fresh_database_url().await;
    let p = Process::launch(&bin, &url, &[]).await;
    let (owner, pages) = every_page(&p.app).await;
    hammer(&p.app, &owner, &pages).await;
    p.kill().await;
    drop_database(&url).await;
}
