//! Runs without a person in the chat: the v1 API with read and write tokens, idempotency keys,
//! inbound webhooks with their signatures, and what each refuses (starting nothing).

use crate::common::*;
use flare::server::config::Secret;
use flare::server::triggers::webhook::sign;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;

const KEY: &str = "cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd";

/// An app with a secret key (webhook secrets are sealed with it), the owner signed in, a team
/// "Support" with the tutorial's agent; returns (app, owner, team, agent).
pub(crate) async fn setup() -> (TestApp, reqwest::Client, String, String) {
    setup_with(|_| {}).await
}

/// `setup` with more of the configuration changed by `change`.
async fn setup_with(
    change: impl FnOnce(&mut flare::server::config::Config),
) -> (TestApp, reqwest::Client, String, String) {
    let mut config = TestApp::owner_config().await;
    config.secret_key = Some(Secret::new(KEY));
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
    (app, owner, team, agent)
}

pub(crate) async fn token(
    app: &TestApp,
    owner: &reqwest::Client,
    kind: &str,
    team: &str,
    name: &str,
) -> String {
    let r = app
        .send(
            owner,
            CreateToken {
                kind: kind.into(),
                team_id: team.into(),
                name: name.into(),
            },
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    r.body["value"].as_str().unwrap().to_string()
}

pub(crate) fn bearer(req: reqwest::RequestBuilder, token: &str) -> reqwest::RequestBuilder {
    req.header("authorization", format!("Bearer {token}"))
}

pub(crate) async fn get(app: &TestApp, token: &str, path: &str) -> Reply {
    Reply::read(bearer(client().get(app.url(path)), token)).await
}

pub(crate) async fn post(app: &TestApp, token: &str, path: &str, body: Value) -> Reply {
    Reply::read(
        bearer(client().post(app.url(path)), token)
            .header("content-type", "application/json")
            .body(body.to_string()),
    )
    .await
}

/// Polls `GET /api/v1/runs/{id}` until its status is `status`.
async fn run_until(app: &TestApp, token: &str, run: &str, status: &str) -> Value {
    for _ in 0..400 {
        let r = get(app, token, &format!("/api/v1/runs/{run}")).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        if r.body["status"] == status {
            return r.body;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("run {run} never became {status}");
}

async fn runs(app: &TestApp) -> i64 {
    app.count("SELECT COUNT(*) FROM runs").await
}

async fn audit_rows(app: &TestApp, owner: &reqwest::Client, action: &str) -> Vec<Value> {
    let r = app
        .send(
            owner,
            ListAudit {
                action: Some(action.into()),
                ..all_audit()
            },
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    r.body["rows"].as_array().unwrap().clone()
}

#[tokio::test]
async fn an_api_run_escalates_is_answered_through_the_api_and_resumes() {
    let (app, owner, team, agent) = setup().await;
    let write = token(&app, &owner, "api_write", &team, "Zendesk bridge").await;
    assert!(write.starts_with("flr_api_rw_"), "{write}");

    let agents = get(&app, &write, "/api/v1/agents").await;
    assert_eq!(agents.status, StatusCode::OK);
    assert_eq!(
        agents.body["agents"],
        json!([{ "id": agent, "name": "Customer Support Agent", "team": "Support" }])
    );

    let started = post(
        &app,
        &write,
        &format!("/api/v1/agents/{agent}/runs"),
        json!({ "message": TUTORIAL_MESSAGE }),
    )
    .await;
    assert_eq!(started.status, StatusCode::ACCEPTED, "{:?}", started.body);
    assert_eq!(started.body["status"], "running");
    let run = started.body["run_id"].as_str().unwrap().to_string();
    let thread = started.body["thread_id"].as_str().unwrap().to_string();

    let waiting = run_until(&app, &write, &run, "waiting").await;
    assert_eq!(waiting["trigger"], "api");
    assert_eq!(waiting["thread_id"], thread.as_str());
    let esc = waiting["escalation"]["id"].as_str().unwrap().to_string();
    assert_eq!(waiting["escalation"]["trigger"], "api");
    assert!(
        waiting["escalation"]["reason"]
            .as_str()
            .unwrap()
            .contains("refund")
    );

    // The thread is in the chat list with its trigger and a title saying where it came from,
    // and the Escalations page shows the card with `trigger: api`.
    let threads = app.send(&owner, ListThreads {}).await;
    let listed = threads.body.as_array().unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["trigger"], "api");
    assert_eq!(listed[0]["title"], "API: Zendesk bridge");
    let page = app
        .send(
            &owner,
            ListEscalations {
                trigger: Some("api".into()),
                ..all_escalations()
            },
        )
        .await;
    assert_eq!(page.body["rows"][0]["id"], esc.as_str(), "{:?}", page.body);
    let t = load(&app, &owner, &thread).await;
    assert_eq!(t["messages"][0]["author"], "token: Zendesk bridge");

    let one = get(&app, &write, &format!("/api/v1/escalations/{esc}")).await;
    assert_eq!(one.status, StatusCode::OK);
    assert_eq!(one.body["status"], "open");
    assert_eq!(one.body["run_id"], run.as_str());

    let answered = post(
        &app,
        &write,
        &format!("/api/v1/escalations/{esc}/respond"),
        json!({ "guidance": "Approve the refund." }),
    )
    .await;
    assert_eq!(answered.status, StatusCode::OK, "{:?}", answered.body);
    assert_eq!(answered.body["status"], "resolved");
    assert_eq!(answered.body["responder"], "token: Zendesk bridge");
    let done = run_until(&app, &write, &run, "completed").await;
    assert!(done["escalation"].is_null(), "{done}");
    assert!(
        done["reply"].as_str().is_some_and(|r| !r.is_empty()),
        "the agent's last reply: {done}"
    );

    // The first answer won: a later one, from the API or the web, is refused with the words.
    for later in [
        post(
            &app,
            &write,
            &format!("/api/v1/escalations/{esc}/respond"),
            json!({ "guidance": "No." }),
        )
        .await,
        post(
            &app,
            &write,
            &format!("/api/v1/escalations/{esc}/dismiss"),
            json!({}),
        )
        .await,
    ] {
        assert_eq!(later.status, StatusCode::CONFLICT);
        assert_eq!(
            later.body,
            json!({ "error": "This escalation is already resolved." })
        );
    }
    let web = app
        .send(
            &owner,
            DismissEscalation {
                escalation_id: esc.clone(),
            },
        )
        .await;
    assert_eq!(web.status, StatusCode::CONFLICT);

    let resolved = audit_rows(&app, &owner, "escalation.resolved").await;
    assert_eq!(resolved[0]["actor"], "token: Zendesk bridge");
    assert_eq!(resolved[0]["detail"], "Approve the refund.");
    let started = audit_rows(&app, &owner, "run.started").await;
    assert_eq!(started[0]["actor"], "token: Zendesk bridge");
}

#[tokio::test]
async fn the_web_answers_first_and_the_api_learns_it_and_dismiss_works_through_the_api() {
    let (app, owner, team, agent) = setup().await;
    let write = token(&app, &owner, "api_write", &team, "Bridge").await;
    let start = |body: &'static str| {
        let (app, write, agent) = (&app, &write, &agent);
        async move {
            post(
                app,
                write,
                &format!("/api/v1/agents/{agent}/runs"),
                json!({ "message": body }),
            )
            .await
            .body["run_id"]
                .as_str()
                .unwrap()
                .to_string()
        }
    };
    let first = start(TUTORIAL_MESSAGE).await;
    let esc = run_until(&app, &write, &first, "waiting").await["escalation"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let web = app
        .send(
            &owner,
            RespondEscalation {
                escalation_id: esc.clone(),
                guidance: "Done from the web.".into(),
            },
        )
        .await;
    assert_eq!(web.status, StatusCode::OK, "{:?}", web.body);
    let api = post(
        &app,
        &write,
        &format!("/api/v1/escalations/{esc}/dismiss"),
        json!({}),
    )
    .await;
    assert_eq!(api.status, StatusCode::CONFLICT);

    let second = start("Please delete my account.").await;
    let esc2 = run_until(&app, &write, &second, "waiting").await["escalation"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let dismissed = post(
        &app,
        &write,
        &format!("/api/v1/escalations/{esc2}/dismiss"),
        json!({}),
    )
    .await;
    assert_eq!(dismissed.status, StatusCode::OK, "{:?}", dismissed.body);
    assert_eq!(dismissed.body["status"], "dismissed");
    run_until(&app, &write, &second, "completed").await;
}

#[tokio::test]
async fn an_idempotency_key_starts_one_run_even_when_sent_at_once() {
    let (app, owner, team, agent) = setup().await;
    let write = token(&app, &owner, "api_write", &team, "Bridge").await;
    let path = format!("/api/v1/agents/{agent}/runs");
    let send = |key: &'static str, message: &'static str| {
        let req = bearer(client().post(app.url(&path)), &write)
            .header("idempotency-key", key)
            .header("content-type", "application/json")
            .body(json!({ "message": message }).to_string());
        Reply::read(req)
    };
    let replies =
        futures::future::join_all((0..8).map(|_| send("order-88", "Where is order 88?"))).await;
    let ids: std::collections::HashSet<String> = replies
        .iter()
        .map(|r| {
            assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
            r.body["run_id"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(ids.len(), 1, "eight sends of one key, one run: {ids:?}");
    assert_eq!(runs(&app).await, 1);
    assert_eq!(app.count("SELECT COUNT(*) FROM threads").await, 1);

    let again = send("order-88", "Where is order 88?").await;
    assert_eq!(again.body["run_id"], ids.iter().next().unwrap().as_str());
    let other = send("order-88", "Something else entirely").await;
    assert_eq!(
        other.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{:?}",
        other.body
    );
    assert!(
        other.body["error"]
            .as_str()
            .unwrap()
            .contains("Idempotency-Key")
    );
    assert_eq!(runs(&app).await, 1, "a reused key starts nothing");

    // A key from more than a day ago is free again.
    sqlx::query("UPDATE idempotency_keys SET created_at = created_at - 90000000")
        .execute(&app.db)
        .await
        .unwrap();
    let later = send("order-88", "Where is order 88?").await;
    assert_eq!(later.status, StatusCode::ACCEPTED);
    assert!(!ids.contains(later.body["run_id"].as_str().unwrap()));
    assert_eq!(runs(&app).await, 2);

    // Without a key, each request is its own run.
    let plain = post(&app, &write, &path, json!({ "message": "Hello" })).await;
    assert_eq!(plain.status, StatusCode::ACCEPTED);
    assert_eq!(runs(&app).await, 3);
}

/// Starts that arrive together (on SQLite written in one transaction, see `triggers::intake`):
/// each is written once, with its thread, first message, run and audit entry; a delivery sent
/// twice at once starts one run; a start the database refuses fails alone and spoils none of
/// the others.
#[tokio::test]
async fn starts_that_arrive_together_are_each_written_once_and_one_refused_spoils_none() {
    use flare::server::db::audit::Actor;
    use flare::server::triggers::{Start, StartError, start_run};
    let (app, owner, _team, agent) = setup().await;
    let hook = add_hook(&app, &owner, &agent, "Burst").await;
    let ts = now();
    let deliveries: Vec<(String, Vec<u8>)> = (0..40)
        .map(|i| {
            let body = format!(r#"{{"message": "What are your opening hours? ({i})"}}"#);
            (format!("burst-{i}"), body.into_bytes())
        })
        .collect();
    let replies = futures::future::join_all(deliveries.iter().flat_map(|(id, body)| {
        [
            deliver(&app, &hook, body, ts, None, Some(id)),
            deliver(&app, &hook, body, ts, None, Some(id)),
        ]
    }))
    .await;
    let mut runs_seen = std::collections::HashSet::new();
    for pair in replies.chunks(2) {
        for r in pair {
            assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
        }
        assert_eq!(
            pair[0].body["run_id"], pair[1].body["run_id"],
            "one delivery, one run"
        );
        runs_seen.insert(pair[0].body["run_id"].as_str().unwrap().to_string());
    }
    assert_eq!(runs_seen.len(), 40);
    assert_eq!(runs(&app).await, 40);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM threads WHERE trigger = 'webhook'")
            .await,
        40
    );
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM runs r JOIN messages m ON m.thread_id = r.thread_id \
             AND m.seq = r.message_seq AND m.kind = 'user' AND m.author = 'webhook: Burst'"
        )
        .await,
        40,
        "each run answers its own first message"
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_log WHERE action = 'trigger.fired'")
            .await,
        40
    );
    // Each thread was created held by its run: finishing frees it, and its messages follow on.
    let finished = "SELECT COUNT(*) FROM runs WHERE status = 'completed'";
    for _ in 0..600 {
        if app.count(finished).await == 40 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(app.count(finished).await, 40);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM threads WHERE active_run IS NOT NULL")
            .await,
        0
    );
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM threads t WHERE t.next_seq <> \
             (SELECT MAX(m.seq) + 1 FROM messages m WHERE m.thread_id = t.id)"
        )
        .await,
        0,
        "every thread's next place follows its last message"
    );

    // Five starts and one whose team does not exist, queued behind a held write turn so that
    // on SQLite they share one transaction.
    let state = app.state.clone().expect("in-process server");
    let row = flare::server::db::agents::by_id(&app.db, &agent)
        .await
        .unwrap()
        .unwrap();
    let mut orphan = row.clone();
    orphan.team_id = "no-such-team".into();
    let start = |agent, title: &str| {
        start_run(
            &state,
            Start {
                agent,
                trigger: flare::chat::Trigger::Api,
                title: title.to_string(),
                author: "token: Batch".into(),
                message: "Hello",
                once: None,
                actor: Actor::Token { name: "Batch" },
                action: "run.started",
                subject: &agent.id,
                claim: None,
                chain_depth: 0,
                reply_to: None,
            },
        )
    };
    let turn = state.writes.take().await.unwrap();
    let (results, ()) = tokio::join!(
        futures::future::join_all([
            start(&row, "API: a"),
            start(&row, "API: b"),
            start(&orphan, "API: orphan"),
            start(&row, "API: c"),
            start(&row, "API: d"),
            start(&row, "API: e"),
        ]),
        async {
            tokio::time::sleep(Duration::from_millis(200)).await;
            drop(turn);
        }
    );
    for (i, result) in results.iter().enumerate() {
        match (i, result) {
            (2, Err(StartError::Database(_))) => {}
            (2, other) => panic!("the orphan start: {other:?}"),
            (_, Ok(started)) => assert!(started.fresh),
            (_, Err(e)) => panic!("start {i} failed with the orphan: {e}"),
        }
    }
    assert_eq!(
        app.count("SELECT COUNT(*) FROM threads WHERE title LIKE 'API: %'")
            .await,
        5
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM threads WHERE team_id = 'no-such-team'")
            .await,
        0
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_log WHERE action = 'run.started'")
            .await,
        5
    );
    app.stop().await;
}

#[tokio::test]
async fn the_api_refuses_what_it_must_and_starts_nothing() {
    let (app, owner, team, agent) = setup().await;
    let read = token(&app, &owner, "api", &team, "Wallboard").await;
    let write = token(&app, &owner, "api_write", &team, "Bridge").await;
    let (_, other_agent) = team_with_agent(&app, &owner, "Sales", "Other", TUTORIAL_RULE).await;
    let path = format!("/api/v1/agents/{agent}/runs");
    let msg = json!({ "message": TUTORIAL_MESSAGE });

    let r = post(&app, &read, &path, msg.clone()).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(
        r.body["error"].as_str().unwrap().contains("read and write"),
        "{:?}",
        r.body
    );
    let r = post(
        &app,
        &write,
        &format!("/api/v1/agents/{other_agent}/runs"),
        msg.clone(),
    )
    .await;
    assert_eq!(
        (r.status, r.body.clone()),
        (StatusCode::NOT_FOUND, json!({ "error": "No such agent." }))
    );
    let r = post(&app, &write, "/api/v1/agents/nope/runs", msg.clone()).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = Reply::read(client().post(app.url(&path)).body(msg.to_string())).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    for (body, status) in [
        ("{not json".to_string(), StatusCode::BAD_REQUEST),
        (json!({ "text": "hi" }).to_string(), StatusCode::BAD_REQUEST),
        (
            json!({ "message": "   " }).to_string(),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({ "message": "x".repeat(33 * 1024) }).to_string(),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({ "message": "x".repeat(3 * 1024 * 1024) }).to_string(),
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
    ] {
        let r = Reply::read(
            bearer(client().post(app.url(&path)), &write)
                .header("content-type", "application/json")
                .body(body.clone()),
        )
        .await;
        assert_eq!(
            r.status,
            status,
            "{}: {:?}",
            &body[..body.len().min(40)],
            r.body
        );
        if status == StatusCode::BAD_REQUEST {
            assert!(r.body["error"].is_string(), "one error shape: {:?}", r.body);
        }
    }
    let bad_key = Reply::read(
        bearer(client().post(app.url(&path)), &write)
            .header("idempotency-key", "x".repeat(300))
            .body(msg.to_string()),
    )
    .await;
    assert_eq!(bad_key.status, StatusCode::BAD_REQUEST);
    assert_eq!(runs(&app).await, 0, "nothing was started");

    // Escalations: unknown, another team's, a read token answering.
    let c = post(&app, &write, &path, msg.clone()).await;
    let run = c.body["run_id"].as_str().unwrap().to_string();
    let esc = run_until(&app, &write, &run, "waiting").await["escalation"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = post(
        &app,
        &read,
        &format!("/api/v1/escalations/{esc}/respond"),
        json!({ "guidance": "ok" }),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = post(
        &app,
        &write,
        "/api/v1/escalations/nope/respond",
        json!({ "guidance": "ok" }),
    )
    .await;
    assert_eq!(
        (r.status, r.body.clone()),
        (
            StatusCode::NOT_FOUND,
            json!({ "error": "No such escalation." })
        )
    );
    let r = post(
        &app,
        &write,
        &format!("/api/v1/escalations/{esc}/respond"),
        json!({ "guidance": "" }),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let sales = app
        .count("SELECT COUNT(*) FROM teams WHERE name = 'Sales'")
        .await;
    assert_eq!(sales, 1);
    let sales_team: (String,) = sqlx::query_as("SELECT id FROM teams WHERE name = 'Sales'")
        .fetch_one(&app.db)
        .await
        .unwrap();
    let sales_write = token(&app, &owner, "api_write", &sales_team.0, "Sales bridge").await;
    for path in [
        format!("/api/v1/escalations/{esc}"),
        format!("/api/v1/runs/{run}"),
    ] {
        let r = get(&app, &sales_write, &path).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}: another team's");
    }
    let r = post(
        &app,
        &sales_write,
        &format!("/api/v1/escalations/{esc}/dismiss"),
        json!({}),
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = get(&app, &read, &format!("/api/v1/escalations/{esc}")).await;
    assert_eq!(r.body["status"], "open", "nothing answered it");
    assert_eq!(
        get(&app, &read, &format!("/api/v1/runs/{run}"))
            .await
            .status,
        StatusCode::OK,
        "a read token reads"
    );
}

// ---- Webhooks ----

struct Hook {
    id: String,
    secret: String,
}

async fn add_hook(app: &TestApp, owner: &reqwest::Client, agent: &str, name: &str) -> Hook {
    let r = app
        .send(
            owner,
            flare::triggers::AddWebhook {
                agent_id: agent.into(),
                name: name.into(),
            },
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(
        r.body["trigger"]["path"],
        format!("/hooks/{}", r.body["trigger"]["id"].as_str().unwrap())
    );
    Hook {
        id: r.body["trigger"]["id"].as_str().unwrap().to_string(),
        secret: r.body["secret"].as_str().unwrap().to_string(),
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

async fn deliver(
    app: &TestApp,
    hook: &Hook,
    body: &[u8],
    ts: i64,
    sig: Option<String>,
    delivery: Option<&str>,
) -> Reply {
    let sig = sig.unwrap_or_else(|| format!("sha256={}", sign(&hook.secret, ts, body)));
    let mut req = client()
        .post(app.url(&format!("/hooks/{}", hook.id)))
        .header("content-type", "application/json")
        .header("x-flare-timestamp", ts.to_string())
        .header("x-flare-signature", sig)
        .body(body.to_vec());
    if let Some(d) = delivery {
        req = req.header("x-flare-delivery", d);
    }
    Reply::read(req).await
}

#[tokio::test]
async fn a_signed_webhook_starts_a_run_that_escalates_with_its_trigger() {
    let (app, owner, team, agent) = setup().await;
    let hook = add_hook(&app, &owner, &agent, "Zendesk").await;
    assert!(hook.secret.starts_with("whsec_"));
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM triggers WHERE secret LIKE '%{}%'",
            &hook.secret[6..]
        ))
        .await,
        0,
        "the secret is stored sealed"
    );
    let listed = app
        .send(
            &owner,
            flare::triggers::ListTriggers {
                agent_id: agent.clone(),
            },
        )
        .await;
    assert!(
        !listed.body.to_string().contains(&hook.secret),
        "never listed"
    );
    assert_eq!(listed.body["triggers"][0]["name"], "Zendesk");

    let body = json!({ "message": TUTORIAL_MESSAGE, "ticket": 1234 }).to_string();
    let r = deliver(&app, &hook, body.as_bytes(), now(), None, None).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    let thread = r.body["thread_id"].as_str().unwrap().to_string();
    let t = wait_for(&app, &owner, &thread, "the card", |t| {
        run_status(t) == "waiting"
    })
    .await;
    assert_eq!(t["trigger"], "webhook");
    assert_eq!(t["title"], "Webhook: Zendesk");
    assert_eq!(t["messages"][0]["author"], "webhook: Zendesk");
    assert!(
        t["messages"][0]["html"]
            .as_str()
            .unwrap()
            .contains("full refund")
    );
    assert_eq!(card(&t).unwrap()["trigger"], "webhook");

    // A body without `message` is the message, as pretty JSON.
    let r = deliver(
        &app,
        &hook,
        br#"{"event":"ticket.created","id":7}"#,
        now(),
        None,
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    let t = load(&app, &owner, r.body["thread_id"].as_str().unwrap()).await;
    assert!(
        t["messages"][0]["html"]
            .as_str()
            .unwrap()
            .contains("ticket.created")
    );

    let fired = audit_rows(&app, &owner, "trigger.fired").await;
    assert_eq!(fired.len(), 2);
    assert_eq!(fired[0]["actor"], "webhook: Zendesk");
    let created = audit_rows(&app, &owner, "trigger.created").await;
    assert_eq!(created.len(), 1);
    let _ = team;
}

#[tokio::test]
async fn a_webhook_refuses_forged_replayed_old_huge_and_invalid_requests_and_starts_nothing() {
    let (app, owner, _team, agent) = setup().await;
    let hook = add_hook(&app, &owner, &agent, "Zendesk").await;
    let body = json!({ "message": "SECRET-BODY-TEXT refund please" }).to_string();
    let b = body.as_bytes();
    let ts = now();
    let cases: Vec<(&str, Reply, StatusCode)> = vec![
        (
            "forged",
            deliver(
                &app,
                &hook,
                b,
                ts,
                Some(format!("sha256={}", sign("whsec_guess", ts, b))),
                None,
            )
            .await,
            StatusCode::UNAUTHORIZED,
        ),
        (
            "not hex",
            deliver(&app, &hook, b, ts, Some("sha256=zz".into()), None).await,
            StatusCode::UNAUTHORIZED,
        ),
        (
            "unsigned",
            Reply::read(
                client()
                    .post(app.url(&format!("/hooks/{}", hook.id)))
                    .body(body.clone()),
            )
            .await,
            StatusCode::UNAUTHORIZED,
        ),
        (
            "expired",
            deliver(&app, &hook, b, ts - 400, None, None).await,
            StatusCode::UNAUTHORIZED,
        ),
        (
            "ahead",
            deliver(&app, &hook, b, ts + 400, None, None).await,
            StatusCode::UNAUTHORIZED,
        ),
        (
            "body changed",
            deliver(
                &app,
                &hook,
                b"{\"message\":\"other\"}",
                ts,
                Some(format!("sha256={}", sign(&hook.secret, ts, b))),
                None,
            )
            .await,
            StatusCode::UNAUTHORIZED,
        ),
        (
            "invalid json",
            deliver(&app, &hook, b"{nope", ts, None, None).await,
            StatusCode::BAD_REQUEST,
        ),
        (
            "huge",
            deliver(&app, &hook, &vec![b' '; 256 * 1024 + 1], ts, None, None).await,
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
        (
            "unknown hook",
            Reply::read(
                client()
                    .post(app.url("/hooks/nope"))
                    .header("x-flare-timestamp", ts.to_string())
                    .header("x-flare-signature", "sha256=00")
                    .body("{}"),
            )
            .await,
            StatusCode::NOT_FOUND,
        ),
    ];
    for (what, r, status) in &cases {
        assert_eq!(r.status, *status, "{what}: {:?}", r.body);
        assert!(
            r.body["error"].is_string(),
            "{what}: one error shape: {:?}",
            r.body
        );
    }
    assert!(
        cases[3].1.body["error"]
            .as_str()
            .unwrap()
            .contains("5 minutes")
    );
    assert_eq!(runs(&app).await, 0, "nothing was started");

    // Replayed: the same signed request twice starts one run; the second is told why.
    let first = deliver(&app, &hook, b, ts, None, None).await;
    assert_eq!(first.status, StatusCode::ACCEPTED);
    let replay = deliver(&app, &hook, b, ts, None, None).await;
    assert_eq!(replay.status, StatusCode::CONFLICT, "{:?}", replay.body);
    assert!(
        replay.body["error"]
            .as_str()
            .unwrap()
            .contains("received already")
    );
    assert_eq!(runs(&app).await, 1);
    // A retry with a delivery id (signed anew) answers with the first run.
    let d1 = deliver(&app, &hook, b, ts, None, Some("evt_1")).await;
    let d2 = deliver(&app, &hook, b, ts + 1, None, Some("evt_1")).await;
    assert_eq!(
        (d1.status, d2.status),
        (StatusCode::ACCEPTED, StatusCode::ACCEPTED)
    );
    assert_eq!(d1.body["run_id"], d2.body["run_id"]);
    let reused = deliver(
        &app,
        &hook,
        b"{\"message\":\"other\"}",
        ts,
        None,
        Some("evt_1"),
    )
    .await;
    assert_eq!(reused.status, StatusCode::CONFLICT);
    assert_eq!(runs(&app).await, 2);

    // Rejections are audited with why, never with the body.
    let rejected = audit_rows(&app, &owner, "trigger.rejected").await;
    assert!(rejected.len() >= 7, "{rejected:?}");
    assert!(
        !Value::Array(rejected.clone())
            .to_string()
            .contains("SECRET-BODY-TEXT")
    );
    for why in ["signature does not match", "over 256 KB"] {
        assert!(
            rejected
                .iter()
                .any(|r| r["detail"].as_str().unwrap().contains(why)),
            "{why}: {rejected:?}"
        );
    }
}

/// A flood of forged requests at a hook's address: the first refusals of a minute are audited
/// one by one, the rest counted and audited as one entry when the minute is over; the next
/// minute starts afresh, and nothing is started.
#[tokio::test]
async fn a_flood_of_refusals_is_counted_rather_than_audited_row_by_row() {
    use flare::server::triggers::webhook::{AUDITED_PER_MINUTE, audit_counted};
    let (app, owner, _team, agent) = setup().await;
    let hook = add_hook(&app, &owner, &agent, "Zendesk").await;
    let ts = now();
    let forged = || {
        deliver(
            &app,
            &hook,
            b"{}",
            ts,
            Some(format!("sha256={}", sign("whsec_guess", ts, b"{}"))),
            None,
        )
    };
    for _ in 0..25 {
        assert_eq!(forged().await.status, StatusCode::UNAUTHORIZED);
    }
    let rejected = || async { audit_rows(&app, &owner, "trigger.rejected").await };
    assert_eq!(rejected().await.len(), AUDITED_PER_MINUTE as usize);

    // The minute is over: the 15 counted refusals become one entry, in the hook's name.
    let state = app.state.clone().expect("in-process server");
    let later = std::time::Instant::now() + Duration::from_secs(61);
    audit_counted(&state, later).await;
    let rows = rejected().await;
    assert_eq!(rows.len(), AUDITED_PER_MINUTE as usize + 1, "{rows:?}");
    let summary = rows
        .iter()
        .find(|r| r["detail"].as_str().unwrap().contains("15 more refusals"))
        .unwrap_or_else(|| panic!("no count: {rows:?}"));
    assert_eq!(summary["actor"], "webhook: Zendesk");
    // Nothing more to write for that minute, and the next one audits its refusals again.
    audit_counted(&state, later).await;
    assert_eq!(forged().await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(rejected().await.len(), AUDITED_PER_MINUTE as usize + 2);
    assert_eq!(runs(&app).await, 0);
}

#[tokio::test]
async fn paused_deleted_and_orphaned_hooks_start_nothing_and_only_the_teams_managers_change_them() {
    let (app, owner, team, agent) = setup().await;
    let hook = add_hook(&app, &owner, &agent, "Zendesk").await;
    let body = br#"{"message":"hello"}"#;

    // Another team's admin and this team's member cannot change it.
    let admin = app.create_user(&owner, "admin2@example.com", "admin").await;
    let other = app.create_team(&owner, "Elsewhere").await;
    app.add_member(&owner, &other, &admin).await;
    let admin_c = app.sign_in("admin2@example.com", "password-123").await;
    let member = app
        .create_user(&owner, "member@example.com", "member")
        .await;
    app.add_member(&owner, &team, &member).await;
    let member_c = app.sign_in("member@example.com", "password-123").await;
    let pause = |id: &str| flare::triggers::SetTriggerEnabled {
        trigger_id: id.into(),
        enabled: false,
    };
    assert_eq!(
        app.send(&admin_c, pause(&hook.id)).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.send(
            &admin_c,
            flare::triggers::DeleteTrigger {
                trigger_id: hook.id.clone()
            }
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.send(&member_c, pause(&hook.id)).await.status,
        StatusCode::FORBIDDEN
    );
    let r = app
        .send(
            &member_c,
            flare::triggers::AddWebhook {
                agent_id: agent.clone(),
                name: "Mine".into(),
            },
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = app
        .send(
            &admin_c,
            flare::triggers::AddWebhook {
                agent_id: agent.clone(),
                name: "Mine".into(),
            },
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "another team's agent");
    let seen = app
        .send(
            &member_c,
            flare::triggers::ListTriggers {
                agent_id: agent.clone(),
            },
        )
        .await;
    assert_eq!(
        seen.body["triggers"].as_array().unwrap().len(),
        1,
        "members see them"
    );
    assert_eq!(seen.body["can_edit"], false);
    let hidden = app
        .send(
            &admin_c,
            flare::triggers::ListTriggers {
                agent_id: agent.clone(),
            },
        )
        .await;
    assert_eq!(hidden.status, StatusCode::NOT_FOUND);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM triggers WHERE enabled = 1")
            .await,
        1
    );

    // Paused: refused; resumed: works again.
    assert_eq!(
        app.send(&owner, pause(&hook.id)).await.status,
        StatusCode::OK
    );
    let r = deliver(&app, &hook, body, now(), None, None).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
    assert!(r.body["error"].as_str().unwrap().contains("paused"));
    let resume = flare::triggers::SetTriggerEnabled {
        trigger_id: hook.id.clone(),
        enabled: true,
    };
    assert_eq!(app.send(&owner, resume).await.status, StatusCode::OK);
    assert_eq!(
        deliver(&app, &hook, body, now(), None, None).await.status,
        StatusCode::ACCEPTED
    );
    let changed = audit_rows(&app, &owner, "trigger.changed").await;
    assert_eq!(changed.len(), 2, "paused and resumed: {changed:?}");

    // The agent deleted: refused.
    let second = add_hook(&app, &owner, &agent, "Second").await;
    let r = app
        .send(
            &owner,
            DeleteAgent {
                agent_id: agent.clone(),
            },
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let r = deliver(&app, &second, body, now(), None, None).await;
    assert_eq!(r.status, StatusCode::GONE, "{:?}", r.body);

    // The hook deleted: gone, its secret with it.
    let r = app
        .send(
            &owner,
            flare::triggers::DeleteTrigger {
                trigger_id: hook.id.clone(),
            },
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM triggers WHERE id = '{}' AND secret IS NULL",
            hook.id
        ))
        .await,
        1
    );
    let r = deliver(&app, &hook, body, now(), None, None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(
        runs(&app).await,
        1,
        "only the delivery while enabled started a run"
    );
}

// ---- Schedules ----

/// `setup` with schedules looked at every 100 ms.
async fn scheduled() -> (TestApp, reqwest::Client, String) {
    let (app, owner, _, agent) = setup_with(|c| c.scheduler_tick_ms = 100).await;
    (app, owner, agent)
}

async fn add_schedule(
    app: &TestApp,
    owner: &reqwest::Client,
    agent: &str,
    cron: &str,
    tz: &str,
) -> Reply {
    app.send(
        owner,
        flare::triggers::AddSchedule {
            agent_id: agent.into(),
            name: "Nightly review".into(),
            cron: cron.into(),
            time_zone: tz.into(),
            message: TUTORIAL_MESSAGE.into(),
        },
    )
    .await
}

async fn due_now(app: &TestApp, id: &str, ago_ms: i64) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    sqlx::query("UPDATE triggers SET next_fire_at = $2 WHERE id = $1")
        .bind(id)
        .bind(now - ago_ms)
        .execute(&app.db)
        .await
        .unwrap();
}

async fn next_fire(app: &TestApp, id: &str) -> i64 {
    app.count(&format!(
        "SELECT next_fire_at FROM triggers WHERE id = '{id}'"
    ))
    .await
}

/// Waits until the schedule's next firing is in the future again (it was fired or skipped).
async fn fired(app: &TestApp, id: &str) {
    for _ in 0..200 {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64;
        if next_fire(app, id).await > now {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the schedule never fired");
}

#[tokio::test]
async fn a_schedule_refuses_what_cannot_fire_and_previews_its_next_times() {
    let (app, owner, agent) = scheduled().await;
    for (cron, tz, words) in [
        ("", "UTC", "Enter a cron expression"),
        ("every day", "UTC", "not a cron expression"),
        ("* * * * * *", "UTC", "at most once a minute"),
        ("0 0 30 2 *", "UTC", "never fires"),
        ("0 9 * * *", "Mars/Olympus", "not an IANA time zone"),
    ] {
        let r = add_schedule(&app, &owner, &agent, cron, tz).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{cron}: {:?}", r.body);
        assert!(r.message().contains(words), "{cron}: {}", r.message());
        let p = app
            .send(
                &owner,
                flare::triggers::PreviewSchedule {
                    cron: cron.into(),
                    time_zone: tz.into(),
                },
            )
            .await;
        assert!(
            p.message().contains(words),
            "preview {cron}: {}",
            p.message()
        );
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM triggers").await, 0);
    let p = app
        .send(
            &owner,
            flare::triggers::PreviewSchedule {
                cron: "30 9 * * MON".into(),
                time_zone: "Europe/Paris".into(),
            },
        )
        .await;
    let times: Vec<String> = serde_json::from_value(p.body.clone()).unwrap();
    assert_eq!(times.len(), 3, "{times:?}");
    for t in &times {
        assert!(
            t.starts_with("Mon ") && t.contains(" 09:30 ") && t.ends_with("CET")
                || t.ends_with("CEST"),
            "{t}"
        );
    }
    let member = app
        .create_user(&owner, "member@example.com", "member")
        .await;
    let _ = member;
    let m = app.sign_in("member@example.com", "password-123").await;
    let r = add_schedule(&app, &m, &agent, "0 9 * * *", "UTC").await;
    assert_ne!(r.status, StatusCode::OK);
    let signed_out = Reply::read(
        client()
            .post(app.url("/api/preview_schedule"))
            .form(&[("cron", "0 9 * * *"), ("time_zone", "UTC")]),
    )
    .await;
    assert_eq!(signed_out.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_due_schedule_fires_once_even_after_downtime_and_not_while_paused() {
    let (app, owner, agent) = scheduled().await;
    let r = add_schedule(&app, &owner, &agent, "*/5 * * * *", "America/New_York").await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let id = r.body["id"].as_str().unwrap().to_string();
    assert_eq!(r.body["schedule"]["upcoming"].as_array().unwrap().len(), 3);
    let first = next_fire(&app, &id).await;
    assert_eq!(first % 300_000, 0, "a five-minute boundary");
    assert_eq!(runs(&app).await, 0, "not before its time");

    // Down for three hours: 36 missed slots fire as one run.
    due_now(&app, &id, 3 * 3600 * 1000).await;
    fired(&app, &id).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(runs(&app).await, 1);
    let (thread,): (String,) = sqlx::query_as("SELECT id FROM threads")
        .fetch_one(&app.db)
        .await
        .unwrap();
    let t = wait_for(&app, &owner, &thread, "the card", |t| {
        run_status(t) == "waiting"
    })
    .await;
    assert_eq!(t["trigger"], "cron");
    assert_eq!(t["title"], "Schedule: Nightly review");
    assert_eq!(card(&t).unwrap()["trigger"], "cron");
    let fired_rows = audit_rows(&app, &owner, "trigger.fired").await;
    assert_eq!(fired_rows[0]["actor"], "schedule: Nightly review");

    // Paused: a due firing does nothing; resumed, it waits for its next time.
    let pause = flare::triggers::SetTriggerEnabled {
        trigger_id: id.clone(),
        enabled: false,
    };
    assert_eq!(app.send(&owner, pause).await.status, StatusCode::OK);
    due_now(&app, &id, 1000).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(runs(&app).await, 1);
    let resume = flare::triggers::SetTriggerEnabled {
        trigger_id: id.clone(),
        enabled: true,
    };
    assert_eq!(app.send(&owner, resume).await.status, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        runs(&app).await,
        1,
        "what it missed while paused is skipped"
    );
    assert!(next_fire(&app, &id).await > first - 300_000);
}

#[tokio::test]
async fn two_instances_fire_each_slot_exactly_once() {
    let (app, owner, agent) = scheduled().await;
    let mut config = flare::server::config::Config::for_database(app.database_url.clone());
    config.secret_key = Some(Secret::new(KEY));
    config.scheduler_tick_ms = 100;
    let second = TestApp::start(config).await;
    // Once a year: only the slots the test makes due fire (with every minute, a real minute
    // boundary during the test fired an extra, honest run and failed the count).
    let r = add_schedule(&app, &owner, &agent, "0 0 1 1 *", "UTC").await;
    let id = r.body["id"].as_str().unwrap().to_string();
    for slot in 1..=6 {
        due_now(&app, &id, 10).await;
        fired(&app, &id).await;
        tokio::time::sleep(Duration::from_millis(250)).await; // both instances ticked past it
        assert_eq!(
            runs(&app).await,
            slot,
            "slot {slot}: one run across two instances"
        );
    }
    second.stop().await;
}

// ---- Metrics ----

/// The value of the series whose line starts with `series` (name and labels), if it is there.
fn series(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[tokio::test]
async fn metrics_are_served_on_their_own_address_only_when_asked() {
    let port = free_port();
    let (app, owner, team, agent) =
        setup_with(|c| c.metrics_addr = Some(format!("127.0.0.1:{port}").parse().unwrap())).await;
    let hook = add_hook(&app, &owner, &agent, "Zendesk").await;
    let body = json!({ "message": TUTORIAL_MESSAGE }).to_string();
    let r = deliver(&app, &hook, body.as_bytes(), now(), None, None).await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    let forged = deliver(
        &app,
        &hook,
        body.as_bytes(),
        now(),
        Some("sha256=00".into()),
        None,
    )
    .await;
    assert_eq!(forged.status, StatusCode::UNAUTHORIZED);
    let write = token(&app, &owner, "api_write", &team, "Bridge").await;
    let benign = post(
        &app,
        &write,
        &format!("/api/v1/agents/{agent}/runs"),
        json!({ "message": "What are your opening hours?" }),
    )
    .await;
    let run = benign.body["run_id"].as_str().unwrap().to_string();
    run_until(&app, &write, &run, "completed").await;
    let thread = r.body["thread_id"].as_str().unwrap().to_string();
    wait_for(&app, &owner, &thread, "the card", |t| {
        run_status(t) == "waiting"
    })
    .await;

    let res = client()
        .get(format!("http://127.0.0.1:{port}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let text = res.text().await.unwrap();
    let has = |s: &str| series(&text, s).unwrap_or_else(|| panic!("no {s} in:\n{text}"));
    assert!(has(r#"flare_http_requests_total{route="/hooks/{id}",status="202"}"#) >= 1.0);
    assert!(has(r#"flare_http_requests_total{route="/hooks/{id}",status="401"}"#) >= 1.0);
    assert!(
        has(r#"flare_http_request_duration_seconds_count{route="/api/v1/runs/{run_id}"}"#) >= 1.0
    );
    assert!(has(r#"flare_runs_total{status="started",trigger="webhook"}"#) >= 1.0);
    assert!(has(r#"flare_runs_total{status="waiting",trigger="webhook"}"#) >= 1.0);
    assert!(has(r#"flare_runs_total{status="completed",trigger="api"}"#) >= 1.0);
    assert!(has(r#"flare_trigger_firings_total{kind="webhook"}"#) >= 1.0);
    assert!(has(r#"flare_trigger_rejections_total{kind="webhook"}"#) >= 1.0);
    assert!(has("flare_provider_call_duration_seconds_count") >= 1.0);
    // Read from this Flare's database at the scrape: exactly its one open escalation.
    assert_eq!(has(r#"flare_open_escalations{severity="warning"}"#), 1.0);
    assert_eq!(has(r#"flare_open_escalations{severity="critical"}"#), 0.0);
    assert!(has("flare_live_subscribers") >= 0.0);
    assert!(
        !text.contains(&hook.secret) && !text.contains(&write),
        "no secret in metrics"
    );

    // Not on the app's own address.
    let on_app = client().get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(on_app.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn without_an_address_there_is_no_metrics_listener() {
    let config = TestApp::owner_config().await;
    assert!(config.metrics_addr.is_none(), "off by default");
    let app = TestApp::start(config).await;
    assert_eq!(
        client()
            .get(app.url("/metrics"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::NOT_FOUND
    );
}

// ---- Events ----

async fn add_agent(app: &TestApp, owner: &reqwest::Client, team: &str, name: &str) -> String {
    let agent = app
        .call_fn(
            owner,
            CreateAgent {
                name: name.into(),
                team_id: team.into(),
            },
        )
        .await
        .unwrap_or_else(|e| panic!("create_agent: {e}"))
        .id;
    app.call_fn(
        owner,
        SaveDescription {
            agent_id: agent.clone(),
            base_revision: 1,
            description: TUTORIAL_RULE.into(),
        },
    )
    .await
    .unwrap_or_else(|e| panic!("save_description: {e}"));
    agent
}

async fn follow(
    app: &TestApp,
    owner: &reqwest::Client,
    agent: &str,
    source: &str,
    on: &str,
    message: &str,
) -> Reply {
    app.send(
        owner,
        flare::triggers::AddEventTrigger {
            agent_id: agent.into(),
            name: format!("After {on}"),
            source_agent_id: source.into(),
            on_event: on.into(),
            message: message.into(),
        },
    )
    .await
}

/// The first message of each thread started by an event, with its run's depth.
async fn event_runs(app: &TestApp) -> Vec<(String, i64, String)> {
    sqlx::query_as(
        "SELECT th.title, r.chain_depth, m.body FROM runs r JOIN threads th ON th.id = r.thread_id \
         JOIN messages m ON m.thread_id = r.thread_id AND m.seq = r.message_seq \
         WHERE th.trigger = 'event' ORDER BY r.chain_depth",
    )
    .fetch_all(&app.db)
    .await
    .unwrap()
}

async fn settle(app: &TestApp, sql: &str, want: i64) {
    for _ in 0..200 {
        if app.count(sql).await >= want {
            tokio::time::sleep(Duration::from_millis(300)).await; // and nothing more comes
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("never reached {want}: {sql}");
}

#[tokio::test]
async fn an_agent_starts_when_another_completes_escalates_or_is_answered() {
    let (app, owner, team, first) = setup().await;
    let second = add_agent(&app, &owner, &team, "Follow-up Agent").await;
    let third = add_agent(&app, &owner, &team, "Escalation Watcher").await;
    let r = follow(
        &app,
        &owner,
        &second,
        &first,
        "run_completed",
        "{agent} finished: {reply}",
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(
        r.body["event"]["source_agent_name"],
        "Customer Support Agent"
    );
    assert_eq!(r.body["event"]["on"], "run_completed");
    let r = follow(
        &app,
        &owner,
        &third,
        &first,
        "escalation_raised",
        "{agent} escalated ({severity}): {reason}",
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let r = follow(
        &app,
        &owner,
        &third,
        &first,
        "escalation_answered",
        "{responder} {outcome} it: {guidance}",
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);

    let thread = start(&app, &owner, &first).await;
    send(&app, &owner, &thread, "What are your opening hours?").await;
    settle(
        &app,
        "SELECT COUNT(*) FROM threads WHERE trigger = 'event'",
        1,
    )
    .await;
    let runs = event_runs(&app).await;
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0].0, "Event: After run_completed");
    assert_eq!(runs[0].1, 1, "one link down the chain");
    assert!(
        runs[0].2.starts_with("Customer Support Agent finished: "),
        "{}",
        runs[0].2
    );

    send(&app, &owner, &thread, TUTORIAL_MESSAGE).await;
    let t = wait_for(&app, &owner, &thread, "the card", |t| {
        run_status(t) == "waiting"
    })
    .await;
    settle(
        &app,
        "SELECT COUNT(*) FROM threads WHERE trigger = 'event'",
        2,
    )
    .await;
    let runs = event_runs(&app).await;
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert!(
        runs.iter().any(|r| r
            .2
            .starts_with("Customer Support Agent escalated (warning): ")),
        "{runs:?}"
    );
    let esc = card(&t).unwrap()["id"].as_str().unwrap().to_string();
    let r = app
        .send(
            &owner,
            RespondEscalation {
                escalation_id: esc,
                guidance: "Approve it.".into(),
            },
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    // Resolved: the resumed run completes (the follow-up again) and the watcher hears of it.
    settle(
        &app,
        "SELECT COUNT(*) FROM threads WHERE trigger = 'event'",
        4,
    )
    .await;
    let runs = event_runs(&app).await;
    assert!(
        runs.iter()
            .any(|r| r.2.ends_with("resolved it: Approve it.")),
        "{runs:?}"
    );
    assert_eq!(runs.len(), 4, "{runs:?}");
    let fired = audit_rows(&app, &owner, "trigger.fired").await;
    assert!(
        fired
            .iter()
            .all(|r| r["actor"].as_str().unwrap().starts_with("event: "))
    );
}

#[tokio::test]
async fn two_agents_that_follow_each_other_stop_at_depth_five_with_a_note() {
    let (app, owner, team, first) = setup().await;
    let second = add_agent(&app, &owner, &team, "Echo Agent").await;
    assert_eq!(
        follow(
            &app,
            &owner,
            &second,
            &first,
            "run_completed",
            "ping: {reply}"
        )
        .await
        .status,
        StatusCode::OK
    );
    assert_eq!(
        follow(
            &app,
            &owner,
            &first,
            &second,
            "run_completed",
            "pong: {reply}"
        )
        .await
        .status,
        StatusCode::OK
    );
    let thread = start(&app, &owner, &first).await;
    send(&app, &owner, &thread, "What are your opening hours?").await;
    settle(
        &app,
        "SELECT COUNT(*) FROM messages WHERE kind = 'notice'",
        1,
    )
    .await;
    let runs = event_runs(&app).await;
    let depths: Vec<i64> = runs.iter().map(|r| r.1).collect();
    assert_eq!(depths, vec![1, 2, 3, 4, 5], "{runs:?}");
    assert_eq!(app.count("SELECT COUNT(*) FROM runs").await, 6);
    let (note, depth): (String, i64) = sqlx::query_as(
        "SELECT m.body, r.chain_depth FROM messages m JOIN runs r ON r.id = m.run_id WHERE m.kind = 'notice'",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(depth, 5, "the note is in the last link's thread");
    assert!(
        note.contains("5 agents in a row") && note.contains("not started"),
        "{note}"
    );
    let rejected = audit_rows(&app, &owner, "trigger.rejected").await;
    assert_eq!(rejected.len(), 1);
}

#[tokio::test]
async fn an_event_trigger_follows_only_its_own_teams_agents_and_only_managers_add_one() {
    let (app, owner, team, first) = setup().await;
    let second = add_agent(&app, &owner, &team, "Follow-up Agent").await;
    let (_, other) = team_with_agent(&app, &owner, "Sales", "Sales Agent", TUTORIAL_RULE).await;
    let r = follow(&app, &owner, &second, &other, "run_completed", "x").await;
    assert_eq!(
        r.status,
        StatusCode::NOT_FOUND,
        "another team's agent: {:?}",
        r.body
    );
    let r = follow(&app, &owner, &second, &first, "run_exploded", "x").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = follow(&app, &owner, &second, &first, "run_completed", "").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let member = app
        .create_user(&owner, "member@example.com", "member")
        .await;
    app.add_member(&owner, &team, &member).await;
    let m = app.sign_in("member@example.com", "password-123").await;
    let r = follow(&app, &m, &second, &first, "run_completed", "x").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM triggers").await,
        0,
        "nothing written"
    );
}
