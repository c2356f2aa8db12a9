//! Chat fixtures shared by the tests: a team with an agent, a thread, sending, waiting for the
//! run, reading the card and the live stream.

use super::*;
use reqwest::StatusCode;
use serde_json::Value;
use std::time::Duration;

pub const TUTORIAL_RULE: &str =
    "Always escalate any request involving refunds, account deletions, or threats of legal action.";
pub const TUTORIAL_MESSAGE: &str =
    "A customer named John is asking for a full refund on order #1234. Draft my response.";

pub struct Chat {
    pub app: TestApp,
    pub owner: reqwest::Client,
    pub agent: String,
    pub thread: String,
}

/// A team with the owner in it, an agent with `description`, and a chat thread with it.
pub async fn chat_with(description: &str) -> Chat {
    chat_on(TestApp::with_owner().await, description).await
}

/// A new team with the signed-in `owner` in it, and an agent of that team with
/// `description` saved; returns (team id, agent id).
pub async fn team_with_agent(
    app: &TestApp,
    owner: &reqwest::Client,
    team: &str,
    agent_name: &str,
    description: &str,
) -> (String, String) {
    let team = app.create_team(owner, team).await;
    let me = app.send(owner, SignedInUser {}).await.body["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.add_member(owner, &team, &me).await;
    let agent = app
        .call_fn(
            owner,
            flare::agents::CreateAgent {
                name: agent_name.into(),
                team_id: team.clone(),
            },
        )
        .await
        .unwrap_or_else(|e| panic!("create_agent: {e}"))
        .id;
    app.call_fn(
        owner,
        flare::agents::SaveDescription {
            agent_id: agent.clone(),
            base_revision: 1,
            description: description.into(),
        },
    )
    .await
    .unwrap_or_else(|e| panic!("save_description: {e}"));
    (team, agent)
}

/// `chat_with` on an app started by the caller (another provider, tool workers).
pub async fn chat_on(app: TestApp, description: &str) -> Chat {
    let (owner, thread, agent) = chat_on_existing(&app, description).await;
    Chat {
        app,
        owner,
        agent,
        thread,
    }
}

/// Signs the owner in, makes a team, an agent with `description` and a thread with it;
/// returns the owner's client, the thread and the agent.
pub async fn chat_on_existing(
    app: &TestApp,
    description: &str,
) -> (reqwest::Client, String, String) {
    let owner = app.owner().await;
    let (_, agent) = team_with_agent(
        app,
        &owner,
        "Support",
        "Customer Support Agent",
        description,
    )
    .await;
    let thread = start(app, &owner, &agent).await;
    (owner, thread, agent)
}

pub async fn start(app: &TestApp, c: &reqwest::Client, agent: &str) -> String {
    app.call_fn(
        c,
        flare::chat::StartThread {
            agent_id: agent.into(),
        },
    )
    .await
    .unwrap_or_else(|e| panic!("start_thread: {e}"))
}

pub async fn send(app: &TestApp, c: &reqwest::Client, thread: &str, body: &str) -> Reply {
    app.send(
        c,
        SendMessage {
            thread_id: thread.to_string(),
            body: body.to_string(),
        },
    )
    .await
}

pub async fn load(app: &TestApp, c: &reqwest::Client, thread: &str) -> Value {
    let r = app
        .send(
            c,
            LoadThread {
                thread_id: thread.to_string(),
            },
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    r.body
}

/// Polls the thread until `done` holds (runs are driven in the background).
pub async fn wait_for(
    app: &TestApp,
    c: &reqwest::Client,
    thread: &str,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    for _ in 0..200 {
        let t = load(app, c, thread).await;
        if done(&t) {
            return t;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!(
        "timed out waiting for {what}: {}",
        load(app, c, thread).await
    );
}

pub fn run_status(t: &Value) -> &str {
    t["last_run"]["status"].as_str().unwrap_or("none")
}

pub fn card(t: &Value) -> Option<&Value> {
    t["messages"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find_map(|m| m["escalation"].as_object().map(|_| &m["escalation"]))
}

pub fn messages_of(t: &Value, kind: &str) -> Vec<String> {
    t["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["kind"] == kind)
        .map(|m| m["html"].as_str().unwrap().to_string())
        .collect()
}

pub async fn escalated(c: &Chat) -> (Value, String) {
    let r = send(&c.app, &c.owner, &c.thread, TUTORIAL_MESSAGE).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let t = wait_for(&c.app, &c.owner, &c.thread, "the card", |t| {
        run_status(t) == "waiting"
    })
    .await;
    let id = card(&t).expect("a card")["id"]
        .as_str()
        .unwrap()
        .to_string();
    (t, id)
}

/// Reads Server-Sent Events from `/api/live` until `until` returns true for a data line.
pub async fn read_live(mut res: reqwest::Response, until: impl Fn(&Value) -> bool) -> Vec<Value> {
    let mut seen = Vec::new();
    let mut buf = String::new();
    loop {
        let chunk = tokio::time::timeout(Duration::from_secs(5), res.chunk())
            .await
            .unwrap_or_else(|_| panic!("no live event in 5 s; saw {seen:?}"))
            .unwrap()
            .expect("stream open");
        buf.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buf.find("\n\n") {
            let frame: String = buf.drain(..end + 2).collect();
            for line in frame.lines() {
                if let Some(data) = line.strip_prefix("data: ") {
                    let ev: Value = serde_json::from_str(data).unwrap();
                    let stop = until(&ev);
                    seen.push(ev);
                    if stop {
                        return seen;
                    }
                }
            }
        }
    }
}
