//! Issue 16, first slice: escalations reach a team's webhook channels through the outbox,
//! signed, retried with backoff (honouring Retry-After) and delivered once per receiver's
//! acknowledgement; each card shows how its notices stand; Settings → Notifications adds,
//! tunes, mutes, tests and deletes channels, for owners and admins of the team only.

use crate::common::*;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode as AxumStatus, Uri};
use axum::response::{IntoResponse, Response};
use flare::escalations::SnoozeEscalation;
use flare::notifications::{
    AddChatChannel, AddWebhookChannel, DeleteChannel, ListChannels, LoadSlas, SaveSla,
    SetChannelMinSeverity, SetChannelMuted, TestChannel,
};
use flare::server::config::Secret;
use flare::server::triggers::webhook::sign;
use reqwest::StatusCode;
use serde_json::Value;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const KEY: &str = "efefefefefefefefefefefefefefefefefefefefefefefefefefefefefefefef";

/// What a local server recorded, in order, shared with the test.
pub struct Log<T>(Arc<Mutex<Vec<T>>>);

impl<T> Clone for Log<T> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<T> Default for Log<T> {
    fn default() -> Self {
        Self(Default::default())
    }
}

impl<T: Clone + std::fmt::Debug> Log<T> {
    /// Records one entry; returns how many there are now.
    pub fn push(&self, t: T) -> usize {
        let mut all = self.0.lock().unwrap();
        all.push(t);
        all.len()
    }

    pub fn all(&self) -> Vec<T> {
        self.0.lock().unwrap().clone()
    }

    /// Waits (at most 20 s) until there are `n` entries.
    pub async fn wait_for(&self, n: usize) -> Vec<T> {
        let until = Instant::now() + Duration::from_secs(20);
        loop {
            let all = self.all();
            if all.len() >= n {
                return all;
            }
            assert!(
                Instant::now() < until,
                "{n} requests expected within 20 s; got {}: {all:?}",
                all.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// One request a receiver got.
#[derive(Clone, Debug)]
pub struct Got {
    pub path: String,
    pub headers: HeaderMap,
    pub body: String,
    pub at: Instant,
    /// What it was answered.
    pub status: u16,
}

impl Got {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("a JSON body")
    }

    pub fn header(&self, name: &str) -> String {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default()
    }

    /// Whether the request is signed with `secret` as Flare's inbound hooks are.
    pub fn signed_with(&self, secret: &str) -> bool {
        let ts: i64 = self.header("x-flare-timestamp").parse().unwrap_or(0);
        let now = flare::server::db::now_ms() / 1000;
        (now - ts).abs() < 60
            && self.header("x-flare-signature")
                == format!("sha256={}", sign(secret, ts, self.body.as_bytes()))
    }
}

/// How a receiver answers one request: a status and, optionally, `Retry-After` seconds.
pub type Answer = (u16, Option<u64>);

/// A local HTTP server standing in for whatever a team points its webhook at: it answers each
/// request with the next scripted (status, Retry-After), then 200, and records everything.
#[derive(Clone)]
pub struct Receiver {
    script: Arc<Mutex<VecDeque<Answer>>>,
    got: Log<Got>,
    pub url: String,
}

impl Receiver {
    pub async fn start(script: Vec<Answer>) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let r = Self {
            script: Arc::new(Mutex::new(script.into())),
            got: Default::default(),
            url,
        };
        async fn handle(
            State(r): State<Receiver>,
            uri: Uri,
            headers: HeaderMap,
            body: String,
        ) -> Response {
            let (status, retry_after) = r.script.lock().unwrap().pop_front().unwrap_or((200, None));
            r.got.push(Got {
                path: uri.path().to_string(),
                headers,
                body,
                at: Instant::now(),
                status,
            });
            let mut res = AxumStatus::from_u16(status).unwrap().into_response();
            if let Some(s) = retry_after {
                res.headers_mut()
                    .insert("retry-after", s.to_string().parse().unwrap());
            }
            res
        }
        let app = Router::new().fallback(handle).with_state(r.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        r
    }

    pub fn got(&self) -> Vec<Got> {
        self.got.all()
    }

    /// Waits (at most 20 s) until `n` requests came.
    pub async fn wait_for(&self, n: usize) -> Vec<Got> {
        self.got.wait_for(n).await
    }
}

/// An app with a secret key and retries `retry_ms` apart (doubling), the owner signed in, the
/// tutorial's agent in team "Support" and a thread with it; returns (chat, team).
async fn setup(retry_ms: u64) -> (Chat, String) {
    setup_with(retry_ms, |_| {}).await
}

/// `setup` with more of the configuration changed by `change`.
pub async fn setup_with(
    retry_ms: u64,
    change: impl FnOnce(&mut flare::server::config::Config),
) -> (Chat, String) {
    let mut config = TestApp::owner_config().await;
    config.secret_key = Some(Secret::new(KEY));
    config.outbox_retry_ms = retry_ms;
    config.public_url = "https://flare.example.com".into();
    config.scheduler_tick_ms = 100;
    change(&mut config);
    let app = TestApp::start(config).await;
    let owner = app.owner().await;
    let (team, agent) = team_with_agent(
        &app,
        &owner,
        "Support",
        "Customer Support Agent",
        TUTORIAL_RULE,
    )
    .await;
    let thread = start(&app, &owner, &agent).await;
    (
        Chat {
            app,
            owner,
            agent,
            thread,
        },
        team,
    )
}

/// Adds a webhook channel; returns (channel id, signing secret).
pub async fn add_channel(
    app: &TestApp,
    c: &reqwest::Client,
    team: &str,
    name: &str,
    url: &str,
    min_severity: &str,
) -> (String, String) {
    let r = app
        .send(
            c,
            AddWebhookChannel {
                team_id: team.into(),
                name: name.into(),
                url: url.into(),
                min_severity: min_severity.into(),
            },
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    (
        r.body["channel"]["id"].as_str().unwrap().to_string(),
        r.body["secret"].as_str().unwrap().to_string(),
    )
}

/// Adds a Slack or Discord channel (`kind`) named `name` for `team`, sending every
/// severity; returns the server function's answer.
pub async fn add_chat(
    c: &Chat,
    team: &str,
    kind: &str,
    name: &str,
    bot_token: &str,
    channel_id: &str,
) -> Reply {
    c.app
        .send(
            &c.owner,
            AddChatChannel {
                kind: kind.into(),
                team_id: team.into(),
                name: name.into(),
                bot_token: bot_token.into(),
                channel_id: channel_id.into(),
                min_severity: "info".into(),
            },
        )
        .await
}

/// Adds the test's Discord channel ("Support on Discord", its bot token, its channel) to
/// `team`; returns its id.
pub async fn add_discord(c: &Chat, team: &str) -> String {
    let r = add_chat(
        c,
        team,
        "discord",
        "Support on Discord",
        DISCORD_TOKEN,
        DISCORD_CHANNEL,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    r.body["id"].as_str().unwrap().to_string()
}

/// An admin of another team (signed in), a member of `team` (signed in), and that other
/// team's id: the people a channel's checks must keep out.
pub async fn outsiders(c: &Chat, team: &str) -> (reqwest::Client, reqwest::Client, String) {
    let other_team = c.app.create_team(&c.owner, "Elsewhere").await;
    let admin = c
        .app
        .create_user(&c.owner, "ada@example.com", "admin")
        .await;
    c.app.add_member(&c.owner, &other_team, &admin).await;
    let admin = c.app.sign_in("ada@example.com", "password-123").await;
    let member = c
        .app
        .create_user(&c.owner, "mo@example.com", "member")
        .await;
    c.app.add_member(&c.owner, team, &member).await;
    let member = c.app.sign_in("mo@example.com", "password-123").await;
    (admin, member, other_team)
}

/// The thread's card once its deliveries satisfy `done`.
pub async fn card_when(c: &Chat, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let t = wait_for(&c.app, &c.owner, &c.thread, what, |t| {
        card(t).is_some_and(|k| done(&k["deliveries"]))
    })
    .await;
    card(&t).unwrap().clone()
}

/// The posted message's reference (Slack's ts, Discord's message id) of an escalation's
/// notice, once the worker has recorded it: the chat server sees the post a moment before
/// the worker commits what it answered, so this waits rather than reads once.
pub async fn sent_ref(c: &Chat, escalation: &str) -> String {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let got: Option<(String,)> = sqlx::query_as(&format!(
            "SELECT external_ref FROM outbox WHERE escalation_id = '{escalation}' \
             AND event = 'raised' AND state = 'sent' AND external_ref IS NOT NULL"
        ))
        .fetch_optional(&c.app.db)
        .await
        .unwrap();
        if let Some((r,)) = got {
            return r;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the notice of {escalation} was not recorded as sent within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn an_escalation_reaches_a_webhook_channel_signed_and_so_does_its_answer() {
    let (c, team) = setup(100).await;
    let hook = Receiver::start(vec![]).await;
    let (_, secret) = add_channel(
        &c.app,
        &c.owner,
        &team,
        "Ops hook",
        &format!("{}/flare", hook.url),
        "info",
    )
    .await;
    let (_, esc) = escalated(&c).await;
    let got = hook.wait_for(1).await;
    let raised = &got[0];
    assert_eq!(raised.path, "/flare");
    assert!(raised.signed_with(&secret), "signature: {raised:?}");
    assert!(
        !raised.signed_with("whsec_other"),
        "only its own secret signs it"
    );
    assert_eq!(raised.header("x-flare-event"), "escalation.raised");
    assert_eq!(raised.header("content-type"), "application/json");
    let body = raised.json();
    assert_eq!(raised.header("x-flare-delivery"), body["delivery_id"]);
    let e = &body["escalation"];
    assert_eq!(e["id"], esc.as_str());
    assert_eq!(e["agent"], "Customer Support Agent");
    assert_eq!(e["severity"], "warning");
    assert_eq!(body["severity_icon"], "\u{26a0}\u{fe0f}");
    assert_eq!(e["trigger"], "chat");
    assert_eq!(e["status"], "open");
    assert!(
        e["reason"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("refund"),
        "{e}"
    );
    assert_eq!(
        body["url"],
        format!(
            "https://flare.example.com/app/chat/{}#escalation-{esc}",
            c.thread
        )
    );
    // The card says it was sent.
    let k = card_when(&c, "the card's delivery", |d| d[0]["state"] == "sent").await;
    assert_eq!(k["deliveries"][0]["channel"], "Ops hook");

    // Answered: the same channel hears the outcome, who answered and when.
    let r = c
        .app
        .send(
            &c.owner,
            RespondEscalation {
                escalation_id: esc.clone(),
                guidance: "approve the refund".into(),
            },
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let got = hook.wait_for(2).await;
    let answered = &got[1];
    assert!(answered.signed_with(&secret));
    assert_eq!(answered.header("x-flare-event"), "escalation.answered");
    let a = answered.json();
    assert_ne!(
        a["delivery_id"], body["delivery_id"],
        "a delivery of its own"
    );
    assert_eq!(a["escalation"]["status"], "resolved");
    assert_eq!(a["escalation"]["guidance"], "approve the refund");
    assert!(
        a["escalation"]["responder"]
            .as_str()
            .is_some_and(|r| !r.is_empty())
    );
    assert!(a["escalation"]["answered_at_ms"].as_i64().is_some());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(hook.got().len(), 2, "each notice once");

    // The secret is stored sealed and never sent back.
    let plain = c
        .app
        .count(&format!(
            "SELECT COUNT(*) FROM channels WHERE secret LIKE '%{}%'",
            &secret[6..]
        ))
        .await;
    assert_eq!(plain, 0, "the signing secret is not stored in the clear");
    let listed = c.app.send(&c.owner, ListChannels {}).await;
    assert_eq!(listed.status, StatusCode::OK);
    assert!(!listed.body.to_string().contains(&secret[6..]));
    assert_eq!(listed.body[0]["name"], "Ops hook");
    c.app.stop().await;
}

#[tokio::test]
async fn a_channel_that_fails_three_times_is_retried_with_backoff_and_delivered_once() {
    let (c, team) = setup(150).await;
    let hook = Receiver::start(vec![(500, None), (500, None), (503, None)]).await;
    add_channel(&c.app, &c.owner, &team, "Flaky", &hook.url, "info").await;
    escalated(&c).await;
    // While it fails, the card says so, with the reason.
    let k = card_when(&c, "a retrying delivery", |d| d[0]["state"] == "retrying").await;
    assert!(
        k["deliveries"][0]["error"]
            .as_str()
            .is_some_and(|e| e.starts_with("HTTP 50")),
        "{k}"
    );
    let got = hook.wait_for(4).await;
    let ids: Vec<String> = got.iter().map(|g| g.header("x-flare-delivery")).collect();
    assert!(
        ids.iter().all(|i| i == &ids[0]),
        "one delivery id on every attempt: {ids:?}"
    );
    // Each wait at least doubles: 150, 300, 600 ms.
    for (i, min) in [150u64, 300, 600].into_iter().enumerate() {
        let gap = got[i + 1].at - got[i].at;
        assert!(gap >= Duration::from_millis(min), "wait {i}: {gap:?}");
    }
    let k = card_when(&c, "the delivery sent", |d| d[0]["state"] == "sent").await;
    assert_eq!(k["deliveries"][0]["attempts"], 4);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(hook.got().len(), 4, "nothing more once it was accepted");
    assert_eq!(
        c.app
            .count("SELECT COUNT(*) FROM outbox WHERE state = 'sent' AND attempts = 4")
            .await,
        1
    );
    c.app.stop().await;
}

#[tokio::test]
async fn a_channel_that_never_accepts_is_given_up_with_the_reason_on_the_card() {
    let (c, team) = setup(100).await;
    // Nothing listens on this port: every attempt fails to connect.
    let port = free_port();
    add_channel(
        &c.app,
        &c.owner,
        &team,
        "Gone",
        &format!("http://127.0.0.1:{port}/x"),
        "info",
    )
    .await;
    escalated(&c).await;
    let until = Instant::now() + Duration::from_secs(60);
    let k = loop {
        let t = load(&c.app, &c.owner, &c.thread).await;
        let k = card(&t).unwrap().clone();
        if k["deliveries"][0]["state"] == "failed" {
            break k;
        }
        assert!(Instant::now() < until, "not given up within 60 s: {k}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let d = &k["deliveries"][0];
    assert_eq!(d["attempts"], flare::server::notifications::MAX_ATTEMPTS);
    assert_eq!(d["error"], "could not connect");
    // The run was never held up by it: it still waits for a person, as it should.
    let t = load(&c.app, &c.owner, &c.thread).await;
    assert_eq!(run_status(&t), "waiting");
    c.app.stop().await;
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let (c, team) = setup(50).await;
    let hook = Receiver::start(vec![(429, Some(1))]).await;
    add_channel(&c.app, &c.owner, &team, "Limited", &hook.url, "info").await;
    escalated(&c).await;
    let got = hook.wait_for(2).await;
    let gap = got[1].at - got[0].at;
    assert!(
        gap >= Duration::from_millis(950),
        "asked for 1 s, waited {gap:?}"
    );
    assert_eq!(got[1].status, 200);
    c.app.stop().await;
}

#[tokio::test]
async fn muted_channels_and_those_asking_for_more_severity_hear_nothing() {
    let (c, team) = setup(100).await;
    let hook = Receiver::start(vec![]).await;
    let (critical_only, _) = add_channel(
        &c.app,
        &c.owner,
        &team,
        "Pager",
        &format!("{}/pager", hook.url),
        "critical",
    )
    .await;
    let (muted, _) = add_channel(
        &c.app,
        &c.owner,
        &team,
        "Muted",
        &format!("{}/muted", hook.url),
        "info",
    )
    .await;
    add_channel(
        &c.app,
        &c.owner,
        &team,
        "All",
        &format!("{}/all", hook.url),
        "info",
    )
    .await;
    let r = c
        .app
        .send(
            &c.owner,
            SetChannelMuted {
                channel_id: muted.clone(),
                muted: true,
            },
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let listed = c.app.send(&c.owner, ListChannels {}).await.body;
    let shown: Vec<(String, bool)> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["name"].as_str().unwrap().into(), c["muted"] == true))
        .collect();
    assert!(shown.contains(&("Muted".into(), true)), "{shown:?}");
    assert!(shown.contains(&("All".into(), false)), "{shown:?}");
    let (_, first) = escalated(&c).await; // a warning
    hook.wait_for(1).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let paths: Vec<String> = hook.got().into_iter().map(|g| g.path).collect();
    assert_eq!(paths, ["/all"], "only the channel that asked for warnings");

    // Unmuted, and the pager lowered to warnings: the next escalation reaches all three.
    for r in [
        c.app
            .send(
                &c.owner,
                SetChannelMuted {
                    channel_id: muted.clone(),
                    muted: false,
                },
            )
            .await,
        c.app
            .send(
                &c.owner,
                SetChannelMinSeverity {
                    channel_id: critical_only.clone(),
                    min_severity: "warning".into(),
                },
            )
            .await,
    ] {
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    }
    let r = c
        .app
        .send(
            &c.owner,
            DismissEscalation {
                escalation_id: first,
            },
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    // The dismissal reaches the one channel that was told of the escalation.
    let got = hook.wait_for(2).await;
    assert_eq!(got[1].path, "/all");
    assert_eq!(got[1].json()["escalation"]["status"], "dismissed");
    wait_for(&c.app, &c.owner, &c.thread, "the run's end", |t| {
        run_status(t) == "completed"
    })
    .await;
    escalated(&c).await;
    let got = hook.wait_for(5).await;
    let mut later: Vec<String> = got[2..].iter().map(|g| g.path.clone()).collect();
    later.sort();
    assert_eq!(later, ["/all", "/muted", "/pager"]);
    // A deleted channel hears nothing more.
    let r = c
        .app
        .send(
            &c.owner,
            DeleteChannel {
                channel_id: muted.clone(),
            },
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let listed = c.app.send(&c.owner, ListChannels {}).await.body;
    assert_eq!(listed.as_array().unwrap().len(), 2);
    let audit = c.app.send(&c.owner, all_audit()).await.body.to_string();
    for action in ["channel.created", "channel.changed", "channel.deleted"] {
        assert!(audit.contains(action), "{action} audited");
    }
    c.app.stop().await;
}

#[tokio::test]
async fn send_test_reports_what_the_channel_answered() {
    let (c, team) = setup(100).await;
    let hook = Receiver::start(vec![(200, None), (500, None)]).await;
    let (ok, secret) = add_channel(&c.app, &c.owner, &team, "Hook", &hook.url, "info").await;
    let test = |id: &str| TestChannel {
        channel_id: id.to_string(),
    };
    let r = c.app.send(&c.owner, test(&ok)).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["delivered"], true);
    assert!(
        r.body["detail"]
            .as_str()
            .unwrap()
            .starts_with("HTTP 200 in ")
    );
    let got = hook.wait_for(1).await;
    assert!(got[0].signed_with(&secret));
    assert_eq!(got[0].json()["event"], "test");
    // The receiver fails: said so, and nothing is queued to retry.
    let r = c.app.send(&c.owner, test(&ok)).await;
    assert_eq!(r.body["delivered"], false);
    assert_eq!(r.body["detail"], "HTTP 500");
    // Nothing listens: said so within the deadline.
    let (gone, _) = add_channel(
        &c.app,
        &c.owner,
        &team,
        "Gone",
        &format!("http://127.0.0.1:{}/", free_port()),
        "info",
    )
    .await;
    let r = c.app.send(&c.owner, test(&gone)).await;
    assert_eq!(r.body["delivered"], false);
    assert_eq!(r.body["detail"], "could not connect");
    assert_eq!(c.app.count("SELECT COUNT(*) FROM outbox").await, 0);
    let audit = c.app.send(&c.owner, all_audit()).await.body.to_string();
    assert!(audit.contains("channel.tested"));
    c.app.stop().await;
}

#[tokio::test]
async fn only_owners_and_admins_of_its_team_manage_a_channel() {
    let (c, team) = setup(100).await;
    let hook = Receiver::start(vec![]).await;
    let (channel, _) = add_channel(&c.app, &c.owner, &team, "Ops", &hook.url, "info").await;
    let (admin, member, _) = outsiders(&c, &team).await;

    let r = c.app.send(&member, ListChannels {}).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(
        r.message(),
        "Only owners and admins can manage notifications."
    );
    let r = c.app.send(&admin, ListChannels {}).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.body,
        serde_json::json!([]),
        "another team's channels are not listed"
    );
    let r = c
        .app
        .send(
            &admin,
            AddWebhookChannel {
                team_id: team.clone(),
                name: "Mine".into(),
                url: hook.url.clone(),
                min_severity: "info".into(),
            },
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{:?}", r.body);
    for who in [&admin, &member] {
        let rs = [
            c.app
                .send(
                    who,
                    SetChannelMuted {
                        channel_id: channel.clone(),
                        muted: true,
                    },
                )
                .await,
            c.app
                .send(
                    who,
                    TestChannel {
                        channel_id: channel.clone(),
                    },
                )
                .await,
            c.app
                .send(
                    who,
                    DeleteChannel {
                        channel_id: channel.clone(),
                    },
                )
                .await,
        ];
        for r in rs {
            assert!(
                matches!(r.status, StatusCode::NOT_FOUND | StatusCode::FORBIDDEN),
                "{:?}",
                r.body
            );
        }
    }
    assert_eq!(hook.got().len(), 0, "no test was sent for them");
    assert_eq!(
        c.app
            .count("SELECT COUNT(*) FROM channels WHERE muted = 0 AND deleted_at IS NULL")
            .await,
        1,
        "the channel is as it was"
    );
    // A state change from another site is refused before it is read.
    let r = c
        .owner
        .post(c.app.url("/api/set_channel_muted"))
        .header("origin", "https://evil.example")
        .form(&[("channel_id", channel.as_str()), ("muted", "true")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        c.app
            .count("SELECT COUNT(*) FROM channels WHERE muted = 1")
            .await,
        0
    );
    c.app.stop().await;
}

#[tokio::test]
async fn two_instances_share_the_outbox_and_deliver_each_notice_once() {
    let (c, team) = setup(100).await;
    let mut config = flare::server::config::Config::for_database(c.app.database_url.clone());
    config.secret_key = Some(Secret::new(KEY));
    config.outbox_retry_ms = 100;
    let second = TestApp::start(config).await;
    // Every fifth request is refused, so retries cross instances too.
    let script = (0..60).map(|i| if i % 5 == 0 { (503, None) } else { (200, None) });
    let hook = Receiver::start(script.collect()).await;
    add_channel(&c.app, &c.owner, &team, "Shared", &hook.url, "info").await;
    const N: usize = 30;
    for _ in 0..N {
        let thread = start(&c.app, &c.owner, &c.agent).await;
        let r = send(&c.app, &c.owner, &thread, TUTORIAL_MESSAGE).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    }
    let until = Instant::now() + Duration::from_secs(60);
    let accepted = loop {
        let accepted: Vec<Got> = hook.got().into_iter().filter(|g| g.status == 200).collect();
        if accepted.len() >= N {
            break accepted;
        }
        assert!(
            Instant::now() < until,
            "{} of {N} accepted in 60 s",
            accepted.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let accepted_ids: std::collections::HashSet<String> = accepted
        .iter()
        .map(|g| g.header("x-flare-delivery"))
        .collect();
    assert_eq!(accepted_ids.len(), N, "each notice accepted once");
    assert_eq!(
        hook.got().iter().filter(|g| g.status == 200).count(),
        N,
        "no notice accepted twice"
    );
    let escalations: std::collections::HashSet<String> = accepted
        .iter()
        .map(|g| g.json()["escalation"]["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(escalations.len(), N, "every escalation told");
    assert_eq!(
        c.app
            .count("SELECT COUNT(*) FROM outbox WHERE state <> 'sent'")
            .await,
        0
    );
    second.stop().await;
}

/// Moves an escalation's clock: raised `created_ago` ms ago, its SLA passed `due_ago` ms ago
/// (the reminder due then too).
pub async fn age(app: &TestApp, esc: &str, created_ago: i64, due_ago: i64) {
    let now = flare::server::db::now_ms();
    sqlx::query(
        "UPDATE escalations SET created_at = $2, due_at = $3, remind_at = $3 WHERE id = $1",
    )
    .bind(esc)
    .bind(now - created_ago)
    .bind(now - due_ago)
    .execute(&app.db)
    .await
    .unwrap();
}

/// Once the thread's run has ended, a second escalation in it; returns its id.
pub async fn escalated_again(c: &Chat) -> String {
    wait_for(&c.app, &c.owner, &c.thread, "the run's end", |t| {
        run_status(t) == "completed"
    })
    .await;
    escalated(c).await.1
}

/// Makes an escalation overdue: raised 20 minutes ago, its SLA passed 5 minutes ago.
pub async fn overdue(app: &TestApp, esc: &str) {
    age(app, esc, 20 * 60_000, 5 * 60_000).await
}

/// Makes an escalation's next reminder due now.
async fn remind_now(app: &TestApp, esc: &str) {
    sqlx::query("UPDATE escalations SET remind_at = $2 WHERE id = $1")
        .bind(esc)
        .bind(flare::server::db::now_ms() - 10)
        .execute(&app.db)
        .await
        .unwrap();
}

fn events(hook: &Receiver) -> Vec<(String, String)> {
    hook.got()
        .into_iter()
        .map(|g| (g.path.clone(), g.header("x-flare-event")))
        .collect()
}

#[tokio::test]
async fn an_overdue_escalation_reminds_its_channels_then_the_fallback_once_across_instances() {
    let (c, team) = setup(100).await;
    let mut config = flare::server::config::Config::for_database(c.app.database_url.clone());
    config.secret_key = Some(Secret::new(KEY));
    config.scheduler_tick_ms = 100;
    let second = TestApp::start(config).await;
    let hook = Receiver::start(vec![]).await;
    add_channel(
        &c.app,
        &c.owner,
        &team,
        "Ops",
        &format!("{}/ops", hook.url),
        "info",
    )
    .await;
    let (pager, _) = add_channel(
        &c.app,
        &c.owner,
        &team,
        "Pager",
        &format!("{}/pager", hook.url),
        "critical",
    )
    .await;
    let r = c
        .app
        .send(
            &c.owner,
            SaveSla {
                team_id: team.clone(),
                info_minutes: "".into(),
                warning_minutes: "60".into(),
                critical_minutes: "15".into(),
                fallback_channel_id: pager.clone(),
            },
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let slas = c.app.send(&c.owner, LoadSlas {}).await.body;
    assert_eq!(slas[0]["warning_minutes"], 60);
    assert_eq!(slas[0]["info_minutes"], Value::Null);
    assert_eq!(slas[0]["fallback_channel_id"], pager.as_str());

    let (t, esc) = escalated(&c).await; // a warning: due in 60 minutes
    assert_eq!(card(&t).unwrap()["overdue"], false);
    let sla = c
        .app
        .count(&format!(
            "SELECT due_at - created_at FROM escalations WHERE id = '{esc}'"
        ))
        .await;
    assert!(
        (3_599_000..=3_601_000).contains(&sla),
        "due after 60 min: {sla} ms"
    );
    hook.wait_for(1).await;

    // 61 minutes old, due a minute ago: one reminder to the channels told of it, across
    // both instances' ticks.
    age(&c.app, &esc, 61 * 60_000, 60_000).await;
    hook.wait_for(2).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(
        events(&hook),
        [
            ("/ops".to_string(), "escalation.raised".to_string()),
            ("/ops".to_string(), "escalation.reminder".to_string())
        ]
    );
    let reminder = hook.got()[1].json();
    assert_eq!(reminder["reminders_sent"], 1);
    let t = load(&c.app, &c.owner, &c.thread).await;
    assert_eq!(card(&t).unwrap()["overdue"], true);
    let html = c.app.page(&c.owner, "/app/escalations").await;
    assert!(html.contains("Overdue"), "the row is marked");
    let counts = c.app.call(&c.owner, "open_counts", &[]).await;
    assert_eq!(
        counts.body["overdue"], 1,
        "the widget counts it: {:?}",
        counts.body
    );
    let dashboard = c.app.page(&c.owner, "/app/dashboard").await;
    assert!(dashboard.contains("Overdue: 1"), "the widget shows it");
    // The second reminder is due at twice the SLA (59 minutes from now): then the fallback.
    let next = c
        .app
        .count(&format!(
            "SELECT remind_at - due_at FROM escalations WHERE id = '{esc}'"
        ))
        .await;
    assert_eq!(next, 60 * 60_000);
    remind_now(&c.app, &esc).await;
    hook.wait_for(3).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(
        events(&hook)[2..],
        [("/pager".to_string(), "escalation.reminder".to_string())]
    );
    assert_eq!(
        c.app
            .count(&format!(
                "SELECT COUNT(*) FROM escalations WHERE id = '{esc}' AND remind_at IS NULL AND reminders = 2"
            ))
            .await,
        1,
        "no third reminder of its own"
    );

    // "Remind me in 1 h": one more reminder then, to the channels told of it (now both).
    let r = c
        .app
        .send(
            &c.owner,
            SnoozeEscalation {
                escalation_id: esc.clone(),
                minutes: 60,
            },
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let t = load(&c.app, &c.owner, &c.thread).await;
    let until = card(&t).unwrap()["snoozed_until_ms"].as_i64().unwrap();
    let ahead = until - flare::server::db::now_ms();
    assert!((3_500_000..=3_600_000).contains(&ahead), "{ahead}");
    remind_now(&c.app, &esc).await;
    hook.wait_for(5).await;
    let mut paths: Vec<String> = hook.got()[3..].iter().map(|g| g.path.clone()).collect();
    paths.sort();
    assert_eq!(paths, ["/ops", "/pager"]);

    // Answered: reminders stop.
    let r = c
        .app
        .send(
            &c.owner,
            DismissEscalation {
                escalation_id: esc.clone(),
            },
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    hook.wait_for(7).await; // the dismissal, to Ops and the Pager (both were told)
    remind_now(&c.app, &esc).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(
        hook.got().len(),
        7,
        "no reminder once answered: {:?}",
        events(&hook)
    );
    let r = c
        .app
        .send(
            &c.owner,
            SnoozeEscalation {
                escalation_id: esc.clone(),
                minutes: 60,
            },
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    let audit = c.app.send(&c.owner, all_audit()).await.body;
    let actions: Vec<&str> = audit["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    let reminded = actions
        .iter()
        .filter(|a| **a == "escalation.reminded")
        .count();
    assert_eq!(reminded, 3, "{actions:?}");
    assert!(actions.contains(&"escalation.snoozed") && actions.contains(&"sla.changed"));
    second.stop().await;
}

#[tokio::test]
async fn slas_and_snoozes_refuse_bad_input_and_other_teams() {
    let (c, team) = setup(100).await;
    let (_, esc) = escalated(&c).await;
    let other = c.app.create_team(&c.owner, "Elsewhere").await;
    let me = c.app.send(&c.owner, SignedInUser {}).await.body["id"]
        .as_str()
        .unwrap()
        .to_string();
    c.app.add_member(&c.owner, &other, &me).await;
    let hook = Receiver::start(vec![]).await;
    let (elsewhere, _) = add_channel(&c.app, &c.owner, &other, "Theirs", &hook.url, "info").await;
    let sla = |team: &str, warning: &str, fallback: &str| SaveSla {
        team_id: team.into(),
        info_minutes: "".into(),
        warning_minutes: warning.into(),
        critical_minutes: "".into(),
        fallback_channel_id: fallback.into(),
    };
    for (what, form, status) in [
        (
            "not a number",
            sla(&team, "soon", ""),
            StatusCode::BAD_REQUEST,
        ),
        ("zero", sla(&team, "0", ""), StatusCode::BAD_REQUEST),
        (
            "over 30 days",
            sla(&team, "43201", ""),
            StatusCode::BAD_REQUEST,
        ),
        (
            "another team's fallback",
            sla(&team, "60", &elsewhere),
            StatusCode::NOT_FOUND,
        ),
        (
            "an unknown team",
            sla("nope", "60", ""),
            StatusCode::NOT_FOUND,
        ),
    ] {
        let r = c.app.send(&c.owner, form).await;
        assert_eq!(r.status, status, "{what}: {:?}", r.body);
        assert!(!r.message().is_empty());
    }
    assert_eq!(c.app.count("SELECT COUNT(*) FROM team_slas").await, 0);
    for minutes in [0, -5, 43_201] {
        let r = c
            .app
            .send(
                &c.owner,
                SnoozeEscalation {
                    escalation_id: esc.clone(),
                    minutes,
                },
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{minutes}");
    }
    assert_eq!(
        c.app
            .count("SELECT COUNT(*) FROM escalations WHERE snoozed_until IS NOT NULL")
            .await,
        0
    );
    // A member of the team may snooze; only owners and admins set SLAs.
    let member = c
        .app
        .create_user(&c.owner, "mo@example.com", "member")
        .await;
    c.app.add_member(&c.owner, &team, &member).await;
    let member = c.app.sign_in("mo@example.com", "password-123").await;
    let r = c.app.send(&member, sla(&team, "60", "")).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = c
        .app
        .send(
            &member,
            SnoozeEscalation {
                escalation_id: esc.clone(),
                minutes: 30,
            },
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    c.app.stop().await;
}

// ---- Slack ----

pub const BOT_TOKEN: &str = "xoxb-1111-2222-abcdefghijklmnop";

/// A local server that speaks Slack's Web API for `chat.postMessage` and `chat.update`: it
/// checks the bot token as Slack does, answers each call with the next scripted answer
/// (`None`: Slack's usual success), and records every call.
#[derive(Clone)]
pub struct FakeSlack {
    calls: Log<(String, HeaderMap, Value)>,
    script: Arc<Mutex<VecDeque<Answer>>>,
    next_ts: Arc<Mutex<u64>>,
    pub url: String,
}

impl FakeSlack {
    pub async fn start(script: Vec<Answer>) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/api", listener.local_addr().unwrap());
        let fake = Self {
            calls: Default::default(),
            script: Arc::new(Mutex::new(script.into())),
            next_ts: Arc::new(Mutex::new(1_700_000_000)),
            url,
        };
        async fn method(
            State(f): State<FakeSlack>,
            axum::extract::Path(name): axum::extract::Path<String>,
            headers: HeaderMap,
            body: String,
        ) -> Response {
            let body: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
            f.calls.push((name.clone(), headers.clone(), body.clone()));
            if let Some((status, retry_after)) = f.script.lock().unwrap().pop_front() {
                let mut res = (
                    AxumStatus::from_u16(status).unwrap(),
                    axum::Json(serde_json::json!({"ok": false, "error": "ratelimited"})),
                )
                    .into_response();
                if let Some(s) = retry_after {
                    res.headers_mut()
                        .insert("retry-after", s.to_string().parse().unwrap());
                }
                return res;
            }
            let auth = headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            if auth != format!("Bearer {BOT_TOKEN}") {
                return axum::Json(serde_json::json!({"ok": false, "error": "invalid_auth"}))
                    .into_response();
            }
            let ts = match name.as_str() {
                "chat.update" => body["ts"].as_str().unwrap_or_default().to_string(),
                _ => {
                    let mut n = f.next_ts.lock().unwrap();
                    *n += 1;
                    format!("{n}.000100")
                }
            };
            axum::Json(serde_json::json!({"ok": true, "channel": body["channel"], "ts": ts}))
                .into_response()
        }
        // Where a click's `response_url` points: private replies, recorded as "response_url".
        async fn respond(State(f): State<FakeSlack>, headers: HeaderMap, body: String) -> Response {
            let body: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
            f.calls.push(("response_url".into(), headers, body));
            AxumStatus::OK.into_response()
        }
        let app = Router::new()
            .route("/api/{method}", axum::routing::post(method))
            .route("/respond", axum::routing::post(respond))
            .with_state(fake.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        fake
    }

    pub fn calls(&self) -> Vec<(String, HeaderMap, Value)> {
        self.calls.all()
    }

    pub async fn wait_for(&self, n: usize) -> Vec<(String, HeaderMap, Value)> {
        self.calls.wait_for(n).await
    }

    /// Where a click's private replies go.
    pub fn response_url(&self) -> String {
        self.url.replace("/api", "/respond")
    }
}

#[tokio::test]
async fn a_slack_channel_gets_the_escalation_then_its_outcome_in_place_and_reminders_in_thread() {
    // The first post is rate limited: Slack's 429 with Retry-After is honoured.
    let slack = FakeSlack::start(vec![(429, Some(1))]).await;
    let api = slack.url.clone();
    let (c, team) = setup_with(50, move |config| config.slack_api_url = api).await;
    let r = add_chat(
        &c,
        &team,
        "slack",
        "Support escalations",
        BOT_TOKEN,
        "C0SUPPORT1",
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert!(
        !r.body.to_string().contains(BOT_TOKEN),
        "the token is never sent back"
    );
    let plain = c
        .app
        .count(&format!(
            "SELECT COUNT(*) FROM channels WHERE secret LIKE '%{}%'",
            &BOT_TOKEN[5..]
        ))
        .await;
    assert_eq!(plain, 0, "the token is stored sealed");

    let (_, esc) = escalated(&c).await;
    let calls = slack.wait_for(2).await;
    let (method, headers, post) = &calls[1];
    assert_eq!(method, "chat.postMessage");
    assert_eq!(
        headers.get("authorization").unwrap(),
        &format!("Bearer {BOT_TOKEN}")
    );
    assert_eq!(post["channel"], "C0SUPPORT1");
    let blocks = post["blocks"].to_string();
    assert!(blocks.contains("Agent Needs Help"), "{blocks}");
    assert!(blocks.contains("Customer Support Agent"), "{blocks}");
    assert!(blocks.contains("refund"), "{blocks}");
    assert_eq!(
        post["blocks"][2]["elements"][0]["url"],
        format!(
            "https://flare.example.com/app/chat/{}#escalation-{esc}",
            c.thread
        )
    );
    let k = card_when(&c, "the Slack delivery", |d| d[0]["state"] == "sent").await;
    assert_eq!(k["deliveries"][0]["channel"], "Support escalations");
    assert_eq!(
        k["deliveries"][0]["attempts"], 2,
        "once rate limited, then posted"
    );
    let ts = c
        .app
        .count("SELECT COUNT(*) FROM outbox WHERE external_ref IS NOT NULL")
        .await;
    assert_eq!(ts, 1, "the message's ts is kept");

    // Answered in Flare: the same message is updated with who answered and how.
    let r = c
        .app
        .send(
            &c.owner,
            RespondEscalation {
                escalation_id: esc.clone(),
                guidance: "approve the refund".into(),
            },
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let calls = slack.wait_for(3).await;
    let (method, _, update) = &calls[2];
    assert_eq!(method, "chat.update");
    let (first_ts,): (String,) = sqlx::query_as(
        "SELECT external_ref FROM outbox WHERE event = 'raised' AND external_ref IS NOT NULL",
    )
    .fetch_one(&c.app.db)
    .await
    .unwrap();
    assert_eq!(
        update["ts"],
        first_ts.as_str(),
        "the posted message, in place"
    );
    assert_eq!(update["channel"], "C0SUPPORT1");
    let text = update["blocks"].to_string();
    assert!(
        text.contains("Resolved") && text.contains("approve the refund"),
        "{text}"
    );
    assert!(
        !text.contains("Open in Flare"),
        "no button once answered: {text}"
    );

    // A second escalation, overdue: the reminder is a reply in its message's thread.
    let second = escalated_again(&c).await;
    let calls = slack.wait_for(4).await;
    assert_eq!(calls[3].0, "chat.postMessage");
    let posted = sent_ref(&c, &second).await;
    overdue(&c.app, &second).await;
    let calls = slack.wait_for(5).await;
    let (method, _, reminder) = &calls[4];
    assert_eq!(method, "chat.postMessage");
    assert_eq!(reminder["thread_ts"], posted.as_str());
    assert!(
        reminder["text"]
            .as_str()
            .unwrap()
            .contains("Still waiting for a person")
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(slack.calls().len(), 5, "each once");

    // Send test, and a token Slack refuses: said so, in Slack's words.
    let listed = c.app.send(&c.owner, ListChannels {}).await.body;
    let id = listed[0]["id"].as_str().unwrap().to_string();
    let r = c.app.send(&c.owner, TestChannel { channel_id: id }).await;
    assert_eq!(r.body["delivered"], true, "{:?}", r.body);
    assert_eq!(
        slack.calls()[5].2["text"],
        "A test from Flare: this channel works."
    );
    c.app.stop().await;
}

#[tokio::test]
async fn a_token_slack_refuses_is_reported_and_retried_not_lost() {
    let slack = FakeSlack::start(vec![]).await;
    let api = slack.url.clone();
    let (c, team) = setup_with(50, move |config| config.slack_api_url = api).await;
    let r = add_chat(
        &c,
        &team,
        "slack",
        "Wrong app",
        "xoxb-9999-9999-notthetokenatall",
        "C0SUPPORT1",
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let id = r.body["id"].as_str().unwrap().to_string();
    let r = c.app.send(&c.owner, TestChannel { channel_id: id }).await;
    assert_eq!(r.body["delivered"], false);
    assert_eq!(r.body["detail"], "Slack said invalid_auth");
    escalated(&c).await;
    let k = card_when(&c, "a retrying Slack delivery", |d| {
        d[0]["state"] == "retrying"
    })
    .await;
    assert_eq!(k["deliveries"][0]["error"], "Slack said invalid_auth");
    for (kind, token, channel) in [
        ("slack", "xoxp-1234-5678-abcdefghijkl", "C0SUPPORT1"),
        ("slack", BOT_TOKEN, "#general"),
        ("discord", "not.a.token", "123456789012345678"),
        ("discord", DISCORD_TOKEN, "#general"),
        ("teams", BOT_TOKEN, "C0SUPPORT1"),
    ] {
        let r = add_chat(&c, &team, kind, "Bad", token, channel).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{:?}", r.body);
    }
    assert_eq!(c.app.count("SELECT COUNT(*) FROM channels").await, 1);
    c.app.stop().await;
}

// ---- Discord ----

pub const DISCORD_TOKEN: &str =
    "MTIzNDU2Nzg5MDEyMzQ1Njc4OQ.Gx1a2b.abcdefghijklmnopqrstuvwxyz0123456789ABCD";
pub const DISCORD_CHANNEL: &str = "123456789012345678";

/// A local server that speaks Discord's HTTP API for messages: `POST` creates one (its id
/// answered), `PATCH` edits one; the bot token is checked as Discord does, the first answers
/// can be scripted, and every call is recorded as (method, path, body).
#[derive(Clone)]
pub struct FakeDiscord {
    calls: Log<(String, String, Value)>,
    script: Arc<Mutex<VecDeque<Answer>>>,
    pub url: String,
}

impl FakeDiscord {
    pub async fn start(script: Vec<Answer>) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/api/v10", listener.local_addr().unwrap());
        let fake = Self {
            calls: Default::default(),
            script: Arc::new(Mutex::new(script.into())),
            url,
        };
        async fn handle(
            State(f): State<FakeDiscord>,
            method: axum::http::Method,
            uri: Uri,
            headers: HeaderMap,
            body: String,
        ) -> Response {
            let body: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
            let n = f
                .calls
                .push((method.to_string(), uri.path().to_string(), body));
            if let Some((status, retry_after)) = f.script.lock().unwrap().pop_front() {
                let mut res = (
                    AxumStatus::from_u16(status).unwrap(),
                    axum::Json(serde_json::json!({"message": "You are being rate limited.", "retry_after": 1.0, "global": false})),
                )
                    .into_response();
                if let Some(s) = retry_after {
                    res.headers_mut()
                        .insert("retry-after", s.to_string().parse().unwrap());
                }
                return res;
            }
            let auth = headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            if auth != format!("Bot {DISCORD_TOKEN}") {
                return (
                    AxumStatus::UNAUTHORIZED,
                    axum::Json(serde_json::json!({"message": "401: Unauthorized", "code": 0})),
                )
                    .into_response();
            }
            let id = match uri.path().rsplit_once("/messages/") {
                Some((_, id)) => id.to_string(),
                None => format!("99000000000000{n:04}"),
            };
            axum::Json(serde_json::json!({"id": id, "channel_id": DISCORD_CHANNEL})).into_response()
        }
        let app = Router::new().fallback(handle).with_state(fake.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        fake
    }

    pub fn calls(&self) -> Vec<(String, String, Value)> {
        self.calls.all()
    }

    pub async fn wait_for(&self, n: usize) -> Vec<(String, String, Value)> {
        self.calls.wait_for(n).await
    }
}

#[tokio::test]
async fn a_discord_channel_gets_the_escalation_then_its_outcome_in_place_and_reminders_as_replies()
{
    let discord = FakeDiscord::start(vec![(429, Some(1))]).await;
    let api = discord.url.clone();
    let (c, team) = setup_with(50, move |config| config.discord_api_url = api).await;
    let r = add_chat(
        &c,
        &team,
        "discord",
        "Support on Discord",
        DISCORD_TOKEN,
        DISCORD_CHANNEL,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["kind"], "discord");
    assert!(!r.body.to_string().contains(DISCORD_TOKEN));

    let (_, esc) = escalated(&c).await;
    let calls = discord.wait_for(2).await;
    let (method, path, post) = &calls[1];
    assert_eq!(method, "POST");
    assert_eq!(
        path,
        &format!("/api/v10/channels/{DISCORD_CHANNEL}/messages")
    );
    assert!(
        post["content"]
            .as_str()
            .unwrap()
            .contains("Agent Needs Help")
    );
    assert!(
        post["embeds"][0]["description"]
            .as_str()
            .unwrap()
            .contains("refund")
    );
    assert_eq!(post["embeds"][0]["color"], 0xf59e0b, "a warning's colour");
    assert_eq!(post["allowed_mentions"]["parse"], serde_json::json!([]));
    assert_eq!(
        post["components"][0]["components"][0]["url"],
        format!(
            "https://flare.example.com/app/chat/{}#escalation-{esc}",
            c.thread
        )
    );
    let k = card_when(&c, "the Discord delivery", |d| d[0]["state"] == "sent").await;
    assert_eq!(
        k["deliveries"][0]["attempts"], 2,
        "once rate limited, then posted"
    );
    let (message_id,): (String,) =
        sqlx::query_as("SELECT external_ref FROM outbox WHERE event = 'raised' AND state = 'sent'")
            .fetch_one(&c.app.db)
            .await
            .unwrap();

    // Dismissed in Flare: the message is edited in place.
    let r = c
        .app
        .send(
            &c.owner,
            DismissEscalation {
                escalation_id: esc.clone(),
            },
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let calls = discord.wait_for(3).await;
    let (method, path, edit) = &calls[2];
    assert_eq!(method, "PATCH");
    assert_eq!(
        path,
        &format!("/api/v10/channels/{DISCORD_CHANNEL}/messages/{message_id}")
    );
    assert!(
        edit["embeds"][0]["fields"]
            .to_string()
            .contains("Dismissed")
    );
    assert_eq!(
        edit["components"],
        serde_json::json!([]),
        "no button once answered"
    );

    // A second escalation, overdue: the reminder replies to its message.
    let second = escalated_again(&c).await;
    discord.wait_for(4).await;
    let second_id = sent_ref(&c, &second).await;
    overdue(&c.app, &second).await;
    let calls = discord.wait_for(5).await;
    let (method, _, reminder) = &calls[4];
    assert_eq!(method, "POST");
    assert_eq!(
        reminder["message_reference"]["message_id"],
        second_id.as_str()
    );
    assert!(
        reminder["content"]
            .as_str()
            .unwrap()
            .contains("Still waiting for a person")
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(discord.calls().len(), 5, "each once");
    c.app.stop().await;
}
