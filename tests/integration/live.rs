//! The event bus under stress and across instances.

use crate::common::*;
use reqwest::StatusCode;
use std::time::Duration;

#[tokio::test]
async fn thousands_of_subscribers_leaving_at_once_leak_nothing() {
    // One user stands for 2,000 viewers: lift the per-user cap on open streams.
    let mut config = TestApp::owner_config().await;
    config.live_streams_per_user = 5000;
    let c = chat_on(TestApp::start(config).await, TUTORIAL_RULE).await;
    let bus = c.app.events.clone().unwrap();
    let base = bus.subscribers();
    let mut streams = Vec::new();
    for chunk in 0..20 {
        let opened =
            futures::future::join_all((0..100).map(|_| c.owner.get(c.app.url("/api/live")).send()))
                .await;
        for r in opened {
            let r = r.unwrap();
            assert_eq!(r.status(), StatusCode::OK, "stream {chunk}");
            streams.push(r);
        }
    }
    assert_eq!(bus.subscribers(), base + 2000);
    drop(streams); // All 2,000 clients go away at once.
    let mut left = usize::MAX;
    for _ in 0..100 {
        // Each stream notices its client is gone when it next writes: an event does it.
        send(&c.app, &c.owner, &c.thread, "What are your opening hours?").await;
        wait_for(&c.app, &c.owner, &c.thread, "the reply", |t| {
            run_status(t) == "completed"
        })
        .await;
        left = bus.subscribers();
        if left == base {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(left, base, "every subscription was released");
    assert_eq!(
        c.app
            .client
            .get(c.app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    c.app.stop().await;
}

/// Two Flare instances on one PostgreSQL database: a change on one reaches pages on the other.
#[tokio::test]
async fn events_cross_instances_on_postgres() {
    if !backend_is_postgres() {
        eprintln!("events_cross_instances_on_postgres: PostgreSQL only (SQLite has one instance)");
        return;
    }
    let c = chat_with(TUTORIAL_RULE).await;
    let mut config = flare::server::config::Config::for_database(c.app.database_url.clone());
    config.site_addr = "127.0.0.1:0".parse().unwrap();
    let second = TestApp::start(config).await;
    let watcher = second.owner().await;
    let live = watcher.get(second.url("/api/live")).send().await.unwrap();
    // The message goes to the first instance; the event comes out of the second.
    send(&c.app, &c.owner, &c.thread, TUTORIAL_MESSAGE).await;
    let seen = read_live(live, |e| e["type"] == "escalation").await;
    assert_eq!(seen.last().unwrap()["thread_id"], c.thread.as_str());
    // And an answer given on the second instance resumes the run.
    let t = wait_for(&second, &watcher, &c.thread, "the card", |t| {
        run_status(t) == "waiting"
    })
    .await;
    let esc = card(&t).unwrap()["id"].as_str().unwrap().to_string();
    let r = second
        .send(
            &watcher,
            RespondEscalation {
                escalation_id: esc.to_string(),
                guidance: "approve the refund".into(),
            },
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    wait_for(&c.app, &c.owner, &c.thread, "the reply", |t| {
        run_status(t) == "completed"
    })
    .await;
    let mut second = second;
    second.database_url = String::new(); // the first instance drops the database
    second.stop().await;
    c.app.stop().await;
}

/// The first frame of a stream, raw ("event: resync\ndata: {}" or "data: {…}").
async fn first_frame(mut res: reqwest::Response) -> String {
    let mut buf = String::new();
    loop {
        let chunk = tokio::time::timeout(std::time::Duration::from_secs(5), res.chunk())
            .await
            .unwrap_or_else(|_| panic!("no frame in 5 s; have {buf:?}"))
            .unwrap()
            .expect("stream open");
        buf.push_str(&String::from_utf8_lossy(&chunk));
        // Keep-alive comments (": …") are not frames of interest.
        while let Some(end) = buf.find("\n\n") {
            let frame: String = buf.drain(..end + 2).collect();
            if !frame.starts_with(':') {
                return frame.trim().to_string();
            }
        }
    }
}

#[tokio::test]
async fn a_page_whose_stream_opens_after_a_change_is_told_to_catch_up() {
    let c = chat_with(TUTORIAL_RULE).await;
    let live = |since: Option<i64>| {
        let url = match since {
            Some(s) => c.app.url(&format!("/api/live?since={s}")),
            None => c.app.url("/api/live"),
        };
        c.owner.get(url).send()
    };
    // The page is rendered, then the agent escalates before the page's stream is open.
    let rendered = flare::server::db::now_ms();
    escalated(&c).await;
    let res = live(Some(rendered)).await.unwrap();
    assert_eq!(first_frame(res).await, "event: resync\ndata: {}");

    // A page rendered well after the change, or a stream that names no render, starts with
    // the next event itself.
    tokio::time::sleep(std::time::Duration::from_millis(2_500)).await;
    for since in [Some(flare::server::db::now_ms()), None] {
        let res = live(since).await.unwrap();
        let thread = start(&c.app, &c.owner, &c.agent).await;
        let r = send(&c.app, &c.owner, &thread, TUTORIAL_MESSAGE).await;
        assert_eq!(r.status, StatusCode::OK);
        let frame = first_frame(res).await;
        assert!(frame.starts_with("data: {"), "{since:?}: {frame}");
    }
    c.app.stop().await;
}
