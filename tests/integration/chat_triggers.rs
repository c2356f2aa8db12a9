//! Issue 16, point 4: Slack as a trigger. The test sends Flare the Events API requests Slack
//! would, signed as Slack signs them; a local server speaking Slack's Web API takes the replies.

use crate::chat_answers::{SIGNING_SECRET, now_secs, slack_channel};
use crate::common::*;
use crate::notifications::{FakeSlack, outsiders, setup_with};
use flare::escalations::RespondEscalation;
use flare::notifications::{ListChannels, SetChannelAgent};
use flare::server::notifications::answers::slack_signature;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;

const ADA: &str = "U0ADA0001";
const CHANNEL: &str = "C0SUPPORT1";

/// Posts `body` to the channel's events URL signed with `secret` at `ts`.
async fn post(app: &TestApp, channel: &str, body: &str, secret: &str, ts: i64) -> Reply {
    let signature = slack_signature(secret, ts, body.as_bytes());
    Reply::read(
        client()
            .post(app.url(&format!("/integrations/slack/{channel}/events")))
            .header("content-type", "application/json")
            .header("x-slack-request-timestamp", ts.to_string())
            .header("x-slack-signature", format!("v0={signature}"))
            .body(body.to_string()),
    )
    .await
}

/// Sends an event as Slack does: signed with the app's secret, now.
pub async fn slack_event(app: &TestApp, channel: &str, payload: &Value) -> Reply {
    post(
        app,
        channel,
        &payload.to_string(),
        SIGNING_SECRET,
        now_secs(),
    )
    .await
}

/// An Events API callback around `event`, with its own event id.
pub fn callback(event: Value, event_id: &str) -> Value {
    json!({
        "type": "event_callback",
        "team_id": "T0FLARE01",
        "api_app_id": "A0FLARE",
        "event_id": event_id,
        "event_time": now_secs(),
        "authorizations": [{"user_id": "U0FLAREBOT", "is_bot": true}],
        "event": event,
    })
}

pub fn mention(ts: &str, text: &str) -> Value {
    json!({"type": "app_mention", "channel": CHANNEL, "user": ADA, "ts": ts,
           "text": format!("<@U0FLAREBOT> {text}"), "event_ts": ts})
}

async fn slack_runs(app: &TestApp) -> i64 {
    app.count("SELECT COUNT(*) FROM threads WHERE trigger = 'slack'")
        .await
}

async fn set_agent(c: &Chat, who: &reqwest::Client, channel: &str, agent: &str) -> Reply {
    c.app
        .send(
            who,
            SetChannelAgent {
                channel_id: channel.into(),
                agent_id: agent.into(),
            },
        )
        .await
}

/// The `chat.postMessage` calls that replied in a Slack thread.
fn replies(slack: &FakeSlack) -> Vec<Value> {
    slack
        .calls()
        .into_iter()
        .filter(|(m, _, b)| m == "chat.postMessage" && b["thread_ts"].is_string())
        .map(|(_, _, b)| b)
        .collect()
}

async fn wait_for_replies(slack: &FakeSlack, n: usize) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let got = replies(slack);
        if got.len() >= n {
            return got;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "waited 15 s for {n} replies in Slack threads, got {got:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The agent's last reply in the Slack-started thread whose first message is `text`.
async fn agent_reply(c: &Chat, text: &str) -> String {
    agent_reply_in(c, "slack", text).await
}

/// The agent's last reply in the thread `trigger` started whose first message is `text`.
async fn agent_reply_in(c: &Chat, trigger: &str, text: &str) -> String {
    let (said,): (String,) = sqlx::query_as(&format!(
        "SELECT a.body FROM threads t JOIN messages m ON m.thread_id = t.id \
         JOIN messages a ON a.thread_id = t.id \
         WHERE t.trigger = '{trigger}' AND m.body = '{text}' AND a.kind = 'agent' \
         ORDER BY a.seq DESC LIMIT 1"
    ))
    .fetch_one(&c.app.db)
    .await
    .unwrap();
    said
}

#[tokio::test]
async fn a_message_to_the_slack_bot_starts_a_run_that_replies_in_its_thread() {
    let slack = FakeSlack::start(vec![]).await;
    let api = slack.url.clone();
    let (c, team) = setup_with(50, move |config| config.slack_api_url = api).await;
    let channel = slack_channel(&c, &team).await;

    // Without an agent, the channel only notifies: messages start nothing.
    let listed = c.app.send(&c.owner, ListChannels {}).await.body;
    assert_eq!(listed[0]["events_url"], Value::Null);
    let r = slack_event(
        &c.app,
        &channel,
        &callback(mention("1700000050.000100", "hello"), "Ev0"),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(slack_runs(&c.app).await, 0);

    let r = set_agent(&c, &c.owner, &channel, &c.agent).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let listed = c.app.send(&c.owner, ListChannels {}).await.body;
    assert_eq!(
        listed[0]["events_url"],
        format!("https://flare.example.com/integrations/slack/{channel}/events"),
        "the Request URL to paste into Slack"
    );
    assert_eq!(listed[0]["agent_id"], c.agent.as_str());

    // Slack checks the Request URL when it is saved.
    let r = slack_event(
        &c.app,
        &channel,
        &json!({"type": "url_verification", "token": "legacy", "challenge": "3eZbrw1aBm2rZgRNFdxV"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["challenge"], "3eZbrw1aBm2rZgRNFdxV");

    // A mention starts a run; its reply goes under the message, in its thread.
    let ts = "1700000100.000200";
    let first = callback(mention(ts, "What are your opening hours?"), "Ev1");
    let r = slack_event(&c.app, &channel, &first).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let got = wait_for_replies(&slack, 1).await;
    assert_eq!(got[0]["channel"], CHANNEL);
    assert_eq!(got[0]["thread_ts"], ts);
    let said = agent_reply(&c, "What are your opening hours?").await;
    assert!(!said.is_empty());
    assert_eq!(
        got[0]["text"].as_str().unwrap(),
        said.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    );
    let (title, trigger): (String, String) =
        sqlx::query_as("SELECT title, trigger FROM threads WHERE trigger = 'slack'")
            .fetch_one(&c.app.db)
            .await
            .unwrap();
    assert_eq!(
        (title.as_str(), trigger.as_str()),
        ("Slack: Support escalations", "slack")
    );

    // Slack's retry of the event, and the same message as a plain `message` event: one run.
    slack_event(&c.app, &channel, &first).await;
    let as_message = json!({"type": "message", "channel": CHANNEL, "channel_type": "channel",
        "user": ADA, "ts": ts, "text": "<@U0FLAREBOT> What are your opening hours?"});
    let r = slack_event(&c.app, &channel, &callback(as_message, "Ev2")).await;
    assert_eq!(r.status, StatusCode::OK);
    // A bot's message (Flare's own reply among them) and an edit start nothing.
    for ignored in [
        json!({"type": "message", "channel": CHANNEL, "bot_id": "B0FLARE", "user": "U0FLAREBOT",
               "ts": "1700000101.000100", "thread_ts": ts, "text": said}),
        json!({"type": "message", "subtype": "message_changed", "channel": CHANNEL,
               "ts": "1700000102.000100", "message": {"text": "edited"}}),
    ] {
        let r = slack_event(&c.app, &channel, &callback(ignored, "Ev3")).await;
        assert_eq!(r.status, StatusCode::OK);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(slack_runs(&c.app).await, 1, "one Slack message, one run");
    assert_eq!(replies(&slack).len(), 1, "replied once");

    // A reply under it goes on in the same Flare thread (the agent sees the conversation),
    // and is answered in the same Slack thread.
    let follow_up = json!({"type": "message", "channel": CHANNEL, "channel_type": "channel",
        "user": ADA, "ts": "1700000103.000100", "thread_ts": ts, "text": "And on weekends?"});
    let r = slack_event(&c.app, &channel, &callback(follow_up.clone(), "Ev5")).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let got = wait_for_replies(&slack, 2).await;
    assert_eq!(got[1]["thread_ts"], ts);
    slack_event(&c.app, &channel, &callback(follow_up, "Ev5")).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(slack_runs(&c.app).await, 1, "the same Flare thread");
    assert_eq!(
        c.app
            .count(
                "SELECT COUNT(*) FROM messages m JOIN threads t ON t.id = m.thread_id \
                 WHERE t.trigger = 'slack' AND m.kind = 'user'"
            )
            .await,
        2,
        "both messages, each once"
    );
    assert_eq!(replies(&slack).len(), 2);

    // A direct message that must escalate: the run waits for a person, and replies in the DM
    // once they answer in Flare.
    let dm_ts = "1700000200.000300";
    let dm = json!({"type": "message", "channel": "D0ADA0001", "channel_type": "im",
        "user": ADA, "ts": dm_ts, "text": TUTORIAL_MESSAGE});
    let r = slack_event(&c.app, &channel, &callback(dm, "Ev4")).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let esc = open_escalation(&c.app, "slack").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(replies(&slack).len(), 2, "no reply while a person decides");
    // A reply in the DM's thread meanwhile hears that the agent is busy; nothing is added.
    let meanwhile = json!({"type": "message", "channel": "D0ADA0001", "channel_type": "im",
        "user": ADA, "ts": "1700000201.000100", "thread_ts": dm_ts, "text": "Any news?"});
    slack_event(&c.app, &channel, &callback(meanwhile, "Ev6")).await;
    let got = wait_for_replies(&slack, 3).await;
    assert_eq!(got[2]["thread_ts"], dm_ts);
    assert!(
        got[2]["text"]
            .as_str()
            .unwrap()
            .contains("still on the last message"),
        "{:?}",
        got[2]
    );
    assert_eq!(
        c.app
            .count("SELECT COUNT(*) FROM messages WHERE body = 'Any news?'")
            .await,
        0
    );
    let r = c
        .app
        .send(
            &c.owner,
            RespondEscalation {
                escalation_id: esc,
                guidance: "Refund order 88 in full.".into(),
            },
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let got = wait_for_replies(&slack, 4).await;
    assert_eq!(got[3]["channel"], "D0ADA0001");
    assert_eq!(got[3]["thread_ts"], dm_ts);
    c.app.stop().await;
}

#[tokio::test]
async fn flare_channels_sharing_one_slack_app_each_answer_their_own_slack_channel() {
    let slack = FakeSlack::start(vec![]).await;
    let api = slack.url.clone();
    let (c, team) = setup_with(50, move |config| config.slack_api_url = api).await;
    let support = slack_channel(&c, &team).await;
    assert_eq!(
        set_agent(&c, &c.owner, &support, &c.agent).await.status,
        StatusCode::OK
    );
    // Another team's Flare channel uses the same Slack app (its bot token) for #sales, and a
    // third uses another app for #elsewhere. Slack calls only the Request URL pasted into the
    // app: the first channel's.
    let (sales_team, sales_agent) =
        team_with_agent(&c.app, &c.owner, "Sales", "Sales Agent", TUTORIAL_RULE).await;
    let mut ids = Vec::new();
    for (name, token, target) in [
        ("Sales", crate::notifications::BOT_TOKEN, "C0SALES001"),
        ("Elsewhere", "xoxb-3333-4444-anotherslackapp", "C0ELSE0001"),
    ] {
        let r = crate::notifications::add_chat(&c, &sales_team, "slack", name, token, target).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        let id = r.body["id"].as_str().unwrap().to_string();
        assert_eq!(
            set_agent(&c, &c.owner, &id, &sales_agent).await.status,
            StatusCode::OK
        );
        ids.push(id);
    }
    let said = |channel: &str, ts: &str, text: &str| {
        json!({"type": "message", "channel": channel, "channel_type": "channel",
               "user": ADA, "ts": ts, "text": text})
    };
    let r = slack_event(
        &c.app,
        &support,
        &callback(
            said("C0SALES001", "1700000300.000100", "Do you sell gift cards?"),
            "Ev1",
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let got = wait_for_replies(&slack, 1).await;
    assert_eq!(got[0]["channel"], "C0SALES001");
    assert_eq!(got[0]["thread_ts"], "1700000300.000100");
    assert_eq!(
        c.app
            .count(&format!(
                "SELECT COUNT(*) FROM threads WHERE trigger = 'slack' AND agent_id = '{sales_agent}'"
            ))
            .await,
        1,
        "the sales channel's agent answered"
    );
    // Another app's channel, and a channel nobody connected: nothing starts.
    for (i, channel) in ["C0ELSE0001", "C0RANDOM01"].iter().enumerate() {
        let r = slack_event(
            &c.app,
            &support,
            &callback(
                said(channel, &format!("1700000400.00010{i}"), "Lunch, anyone?"),
                &format!("Ev{}", i + 2),
            ),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(slack_runs(&c.app).await, 1);
    assert_eq!(replies(&slack).len(), 1);
    c.app.stop().await;
}

#[tokio::test]
async fn slack_events_refuse_forgeries_and_only_managers_choose_the_agent() {
    let slack = FakeSlack::start(vec![]).await;
    let api = slack.url.clone();
    let (c, team) = setup_with(50, move |config| config.slack_api_url = api).await;
    let channel = slack_channel(&c, &team).await;
    assert_eq!(
        set_agent(&c, &c.owner, &channel, &c.agent).await.status,
        StatusCode::OK
    );
    let body = callback(mention("1700000300.000100", "hello"), "Ev9").to_string();
    let now = now_secs();

    let r = post(&c.app, &channel, &body, "not-the-secret", now).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "forged: {:?}", r.body);
    let r = post(&c.app, &channel, &body, SIGNING_SECRET, now - 600).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "stale: {:?}", r.body);
    let r = Reply::read(
        client()
            .post(c.app.url(&format!("/integrations/slack/{channel}/events")))
            .header("content-type", "application/json")
            .body(body.clone()),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "unsigned: {:?}", r.body);
    let r = post(&c.app, "no-such-channel", &body, SIGNING_SECRET, now).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = post(&c.app, &channel, "not json", SIGNING_SECRET, now).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(slack_runs(&c.app).await, 0, "nothing started");
    let r = post(&c.app, &channel, &body, SIGNING_SECRET, now).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let r = post(&c.app, &channel, &body, SIGNING_SECRET, now).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "replayed: {:?}", r.body);

    // Choosing the agent: the team's owners and admins only, an agent of the channel's own
    // team, and only for Slack channels.
    let (_, stranger) =
        team_with_agent(&c.app, &c.owner, "Elsewhere too", "Stranger", TUTORIAL_RULE).await;
    let r = set_agent(&c, &c.owner, &channel, &stranger).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{:?}", r.body);
    let (admin, member, _) = outsiders(&c, &team).await;
    assert_eq!(
        set_agent(&c, &member, &channel, "").await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        set_agent(&c, &admin, &channel, "").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        set_agent(&c, &client(), &channel, "").await.status,
        StatusCode::UNAUTHORIZED
    );
    // The owner's own session, from another site, cannot unplug the agent either.
    let cross = c
        .app
        .send_from_another_site(
            &c.owner,
            SetChannelAgent {
                channel_id: channel.clone(),
                agent_id: String::new(),
            },
        )
        .await;
    assert_eq!(cross.status, StatusCode::FORBIDDEN, "{:?}", cross.body);
    let hook = c
        .app
        .send(
            &c.owner,
            flare::notifications::AddWebhookChannel {
                team_id: team.clone(),
                name: "Ops hook".into(),
                url: "https://example.com/flare".into(),
                min_severity: "info".into(),
            },
        )
        .await;
    assert_eq!(hook.status, StatusCode::OK, "{:?}", hook.body);
    let hook = hook.body["channel"]["id"].as_str().unwrap().to_string();
    let r = set_agent(&c, &c.owner, &hook, &c.agent).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{:?}", r.body);
    let listed = c.app.send(&c.owner, ListChannels {}).await.body;
    assert_eq!(listed[0]["agent_id"], c.agent.as_str(), "unchanged");
    assert_eq!(listed[1]["agent_id"], Value::Null);
    c.app.stop().await;
}

#[tokio::test]
async fn discords_ask_command_starts_a_run_whose_reply_is_posted_where_it_was_asked() {
    use crate::chat_answers::{discord_channel, discord_sends};
    let (discord, c, _, channel, key) = discord_channel().await;
    let ask = |id: &str, message: &str| {
        json!({"type": 2, "id": id, "guild_id": "880000000000000001",
               "channel_id": "123456789012345999",
               "member": {"user": {"id": "770000000000000001", "username": "grace"}},
               "data": {"name": "ask", "type": 1, "options": [
                   {"name": "message", "type": 3, "value": message}]}})
    };

    // Without an agent: said so, privately; nothing starts.
    let r = discord_sends(&c.app, &channel, &ask("1001", "hello"), &key, now_secs()).await;
    assert_eq!(r.body["type"], 4);
    assert_eq!(r.body["data"]["flags"], 64);
    assert!(
        r.body["data"]["content"]
            .as_str()
            .unwrap()
            .contains("No agent answers here")
    );
    assert_eq!(
        c.app
            .count("SELECT COUNT(*) FROM threads WHERE trigger = 'discord'")
            .await,
        0
    );

    assert_eq!(
        set_agent(&c, &c.owner, &channel, &c.agent).await.status,
        StatusCode::OK
    );
    let r = discord_sends(
        &c.app,
        &channel,
        &ask("1002", "What are your opening hours?"),
        &key,
        now_secs(),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(
        r.body["type"], 4,
        "answered at once, for everyone in the channel"
    );
    assert_eq!(r.body["data"]["flags"], 0);
    assert!(
        r.body["data"]["content"]
            .as_str()
            .unwrap()
            .contains("What are your opening hours?")
    );
    // Sent again (Discord does not, but a replay must not start a second run).
    discord_sends(
        &c.app,
        &channel,
        &ask("1002", "What are your opening hours?"),
        &key,
        now_secs() - 1,
    )
    .await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let reply = loop {
        let posted: Vec<_> = discord
            .calls()
            .into_iter()
            .filter(|(m, p, _)| m == "POST" && p == "/api/v10/channels/123456789012345999/messages")
            .collect();
        if let Some(p) = posted.first() {
            break p.2.clone();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no reply posted: {:?}",
            discord.calls()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let said = agent_reply_in(&c, "discord", "What are your opening hours?").await;
    assert_eq!(reply["content"], said.as_str());
    assert_eq!(
        reply["allowed_mentions"],
        json!({"parse": []}),
        "a reply never pings anyone"
    );
    assert_eq!(
        c.app
            .count("SELECT COUNT(*) FROM threads WHERE trigger = 'discord'")
            .await,
        1
    );
    // Empty or unknown commands change nothing.
    let r = discord_sends(&c.app, &channel, &ask("1003", "   "), &key, now_secs()).await;
    assert_eq!(r.body["data"]["flags"], 64);
    let mut other = ask("1004", "hi");
    other["data"]["name"] = json!("weather");
    let r = discord_sends(&c.app, &channel, &other, &key, now_secs()).await;
    assert!(
        r.body["data"]["content"]
            .as_str()
            .unwrap()
            .contains("does not know this command")
    );
    assert_eq!(
        c.app
            .count("SELECT COUNT(*) FROM threads WHERE trigger = 'discord'")
            .await,
        1
    );

    // Another team's Flare channel uses the same bot for its own Discord channel: `/ask`
    // there (sent to the one interactions endpoint the application has, this channel's) is
    // answered by its agent, in that channel.
    let (sales_team, sales_agent) =
        team_with_agent(&c.app, &c.owner, "Sales", "Sales Agent", TUTORIAL_RULE).await;
    let r = crate::notifications::add_chat(
        &c,
        &sales_team,
        "discord",
        "Sales on Discord",
        crate::notifications::DISCORD_TOKEN,
        "123456789012345888",
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let sales = r.body["id"].as_str().unwrap().to_string();
    assert_eq!(
        set_agent(&c, &c.owner, &sales, &sales_agent).await.status,
        StatusCode::OK
    );
    let mut in_sales = ask("1005", "Do you sell gift cards?");
    in_sales["channel_id"] = json!("123456789012345888");
    let r = discord_sends(&c.app, &channel, &in_sales, &key, now_secs()).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let ack = r.body["data"]["content"].as_str().unwrap();
    assert!(ack.contains("Sales Agent is on it"), "{ack}");
    crate::common::eventually("the reply in the sales channel", 15, || async {
        discord
            .calls()
            .into_iter()
            .find(|(m, p, _)| m == "POST" && p == "/api/v10/channels/123456789012345888/messages")
    })
    .await;
    assert_eq!(
        c.app
            .count(&format!(
                "SELECT COUNT(*) FROM threads WHERE trigger = 'discord' AND agent_id = '{sales_agent}'"
            ))
            .await,
        1
    );
    c.app.stop().await;
}
