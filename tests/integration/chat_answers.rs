//! Issue 16: answering from Slack. A local server speaks Slack's Web API (chat.postMessage,
//! views.open) and takes the private replies sent to a click's response_url; the test sends
//! Flare the interaction payloads Slack would, signed as Slack signs them.

use crate::common::*;
use crate::notifications::{BOT_TOKEN, FakeSlack, add_chat, setup_with};
use flare::escalations::DismissEscalation;
use flare::notifications::{
    ChatLinkOffer, LinkChatAccount, ListChannels, ListChatLinks, SetChannelSigningSecret,
    UnlinkChatAccount,
};
use flare::server::notifications::answers::slack_signature;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;

pub const SIGNING_SECRET: &str = "8f742231b10e8888abcd99aa7d3e9a5b";
const WORKSPACE: &str = "T0FLARE01";
const ADA: &str = "U0ADA0001";

pub fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A click on one of an escalation's buttons, as Slack sends it.
fn click(slack: &FakeSlack, action: &str, escalation: &str, user: &str) -> Value {
    json!({
        "type": "block_actions",
        "team": {"id": WORKSPACE},
        "user": {"id": user, "username": "ada", "team_id": WORKSPACE},
        "trigger_id": format!("1337.{}.trig", rand_suffix()),
        "response_url": slack.response_url(),
        "actions": [{"type": "button", "action_id": action, "value": escalation}],
    })
}

/// The "Respond & Resume" modal submitted with `guidance`.
fn submit(escalation: &str, user: &str, guidance: &str) -> Value {
    json!({
        "type": "view_submission",
        "team": {"id": WORKSPACE},
        "user": {"id": user, "username": "ada", "team_id": WORKSPACE},
        "view": {
            "callback_id": "flare_respond",
            "private_metadata": escalation,
            "state": {"values": {"guidance": {"guidance": {"type": "plain_text_input", "value": guidance}}}},
        },
    })
}

/// Distinct payloads sign differently (each request is accepted once).
fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

/// The form body Slack posts.
fn form(payload: &Value) -> String {
    let encoded = percent_encoding::utf8_percent_encode(
        &payload.to_string(),
        percent_encoding::NON_ALPHANUMERIC,
    )
    .to_string();
    format!("payload={encoded}")
}

/// Posts `body` to the channel's interactions URL signed with `secret` at `ts`.
async fn post(app: &TestApp, channel: &str, body: &str, secret: &str, ts: i64) -> Reply {
    let signature = slack_signature(secret, ts, body.as_bytes());
    Reply::read(
        client()
            .post(app.url(&format!("/integrations/slack/{channel}")))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-slack-request-timestamp", ts.to_string())
            .header("x-slack-signature", format!("v0={signature}"))
            .body(body.to_string()),
    )
    .await
}

/// Signed correctly, now.
async fn slack_sends(app: &TestApp, channel: &str, payload: &Value) -> Reply {
    post(app, channel, &form(payload), SIGNING_SECRET, now_secs()).await
}

/// Turns a channel's answer buttons on with `key` (empty: off), as `who`.
pub async fn set_key(app: &TestApp, who: &reqwest::Client, channel: &str, key: &str) -> Reply {
    app.send(
        who,
        SetChannelSigningSecret {
            channel_id: channel.into(),
            signing_secret: key.into(),
        },
    )
    .await
}

/// A Slack channel for `team` with answer buttons on; returns its id.
pub async fn slack_channel(c: &Chat, team: &str) -> String {
    let r = add_chat(
        c,
        team,
        "slack",
        "Support escalations",
        BOT_TOKEN,
        "C0SUPPORT1",
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let id = r.body["id"].as_str().unwrap().to_string();
    let r = set_key(&c.app, &c.owner, &id, SIGNING_SECRET).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    id
}

/// The last private reply Slack was asked to show, once there are `n` calls.
async fn private_reply(slack: &FakeSlack, n: usize) -> String {
    let calls = slack.wait_for(n).await;
    let (kind, _, body) = &calls[n - 1];
    assert_eq!(kind, "response_url", "{calls:?}");
    assert_eq!(
        body["response_type"], "ephemeral",
        "only the clicker sees it"
    );
    body["text"].as_str().unwrap().to_string()
}

/// The escalation's status as its thread's card shows it.
async fn status(c: &Chat) -> String {
    let t = load(&c.app, &c.owner, &c.thread).await;
    card(&t).unwrap()["status"].as_str().unwrap().to_string()
}

/// The token in a "link your account" reply.
fn link_token(reply: &str) -> String {
    let start = reply.find("?link=").expect("a link") + "?link=".len();
    reply[start..]
        .chars()
        .take_while(char::is_ascii_hexdigit)
        .collect()
}

#[tokio::test]
async fn a_linked_person_answers_from_slack_and_the_first_answer_wins() {
    let slack = FakeSlack::start(vec![]).await;
    let api = slack.url.clone();
    let (c, team) = setup_with(50, move |config| config.slack_api_url = api).await;
    let channel = slack_channel(&c, &team).await;
    let listed = c.app.send(&c.owner, ListChannels {}).await.body;
    assert_eq!(
        listed[0]["answers_url"],
        format!("https://flare.example.com/integrations/slack/{channel}"),
        "the Request URL to paste into Slack"
    );
    let plain = c
        .app
        .count(&format!(
            "SELECT COUNT(*) FROM channels WHERE signing_secret LIKE '%{SIGNING_SECRET}%'"
        ))
        .await;
    assert_eq!(plain, 0, "the signing secret is stored sealed");

    // The message carries the two answer buttons.
    let (_, esc) = escalated(&c).await;
    let calls = slack.wait_for(1).await;
    let buttons = &calls[0].2["blocks"][2]["elements"];
    assert_eq!(buttons[0]["action_id"], "flare_respond");
    assert_eq!(buttons[0]["text"]["text"], "Respond & Resume");
    assert_eq!(buttons[0]["value"], esc.as_str());
    assert_eq!(buttons[1]["action_id"], "flare_dismiss");
    assert_eq!(buttons[1]["text"]["text"], "Dismiss");

    // An unlinked account is asked, privately, to link first; nothing changes.
    let r = slack_sends(&c.app, &channel, &click(&slack, "flare_dismiss", &esc, ADA)).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let reply = private_reply(&slack, 2).await;
    assert!(reply.contains("Link your Slack account"), "{reply}");
    assert!(
        reply.contains("https://flare.example.com/app/settings/account?link="),
        "{reply}"
    );
    assert_eq!(status(&c).await, "open");

    // Linked from Flare, signed in: the offer says which account, and works once.
    let token = link_token(&reply);
    let shown = c
        .app
        .send(
            &c.owner,
            ChatLinkOffer {
                token: token.clone(),
            },
        )
        .await;
    assert_eq!(shown.body["external_id"], ADA, "{:?}", shown.body);
    assert_eq!(shown.body["workspace"], WORKSPACE);
    let signed_out = c
        .app
        .send(
            &client(),
            LinkChatAccount {
                token: token.clone(),
            },
        )
        .await;
    assert_eq!(signed_out.status, StatusCode::UNAUTHORIZED);
    let r = c
        .app
        .send(
            &c.owner,
            LinkChatAccount {
                token: token.clone(),
            },
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let again = c.app.send(&c.owner, LinkChatAccount { token }).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
    assert!(again.message().contains("expired or was used"));
    let links = c.app.send(&c.owner, ListChatLinks {}).await.body;
    assert_eq!(links[0]["external_id"], ADA);

    // Respond & Resume opens Slack's modal for the guidance.
    let r = slack_sends(&c.app, &channel, &click(&slack, "flare_respond", &esc, ADA)).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let calls = slack.wait_for(3).await;
    let (method, _, modal) = &calls[2];
    assert_eq!(method, "views.open");
    assert!(modal["trigger_id"].as_str().unwrap().starts_with("1337."));
    assert_eq!(modal["view"]["private_metadata"], esc.as_str());
    assert_eq!(modal["view"]["title"]["text"], "Respond & Resume");

    // An empty guidance is refused in the modal; the escalation stays open.
    let r = slack_sends(&c.app, &channel, &submit(&esc, ADA, "   ")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["response_action"], "errors", "{:?}", r.body);
    assert!(
        r.body["errors"]["guidance"]
            .as_str()
            .unwrap()
            .contains("guidance")
    );
    assert_eq!(status(&c).await, "open");

    // Submitted: resolved as the linked person, the run resumes with the guidance, the
    // audit says "via Slack", and the message is updated in place.
    let r = slack_sends(&c.app, &channel, &submit(&esc, ADA, "Approve the refund.")).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert!(
        r.body.as_str().is_some_and(str::is_empty),
        "an empty answer closes the modal: {:?}",
        r.body
    );
    let t = wait_for(&c.app, &c.owner, &c.thread, "the resumed run", |t| {
        run_status(t) == "completed"
    })
    .await;
    let k = card(&t).unwrap();
    assert_eq!(k["status"], "resolved");
    assert_eq!(k["guidance"], "Approve the refund.");
    let audited = c
        .app
        .count(
            "SELECT COUNT(*) FROM audit_log WHERE action = 'escalation.resolved' \
             AND actor = 'owner@example.com via Slack'",
        )
        .await;
    assert_eq!(audited, 1, "the audit names the channel");
    let calls = slack.wait_for(4).await;
    assert_eq!(calls[3].0, "chat.update");
    assert!(calls[3].2["blocks"].to_string().contains("Resolved"));

    // A later click, and a double submit: privately "already resolved", nothing changes.
    let r = slack_sends(&c.app, &channel, &click(&slack, "flare_dismiss", &esc, ADA)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        private_reply(&slack, 5).await,
        "This escalation is already resolved."
    );
    let r = slack_sends(&c.app, &channel, &submit(&esc, ADA, "Deny it.")).await;
    assert_eq!(
        r.body["errors"]["guidance"],
        "This escalation is already resolved."
    );
    assert_eq!(status(&c).await, "resolved");
    let t = load(&c.app, &c.owner, &c.thread).await;
    assert_eq!(card(&t).unwrap()["guidance"], "Approve the refund.");

    // Answered in Flare first: Slack's click is too late, and says so.
    let (_, second) = escalated(&c).await;
    slack.wait_for(6).await;
    let r = c
        .app
        .send(
            &c.owner,
            DismissEscalation {
                escalation_id: second.clone(),
            },
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    slack_sends(
        &c.app,
        &channel,
        &click(&slack, "flare_respond", &second, ADA),
    )
    .await;
    let calls = slack.wait_for(8).await;
    let reply = calls
        .iter()
        .rev()
        .find(|(kind, _, _)| kind == "response_url")
        .unwrap();
    assert_eq!(reply.2["text"], "This escalation is already resolved.");
    assert!(
        !calls.iter().skip(3).any(|(m, _, _)| m == "views.open"),
        "no modal for an answered escalation"
    );

    // Unlinked again: the next click asks to link.
    let r = c
        .app
        .send(
            &c.owner,
            UnlinkChatAccount {
                kind: "slack".into(),
                workspace: WORKSPACE.into(),
                external_id: ADA.into(),
            },
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(c.app.send(&c.owner, ListChatLinks {}).await.body, json!([]));
    c.app.stop().await;
}

#[tokio::test]
async fn forged_replayed_stale_unlinked_and_other_teams_clicks_change_nothing() {
    let slack = FakeSlack::start(vec![]).await;
    let api = slack.url.clone();
    let (c, team) = setup_with(50, move |config| config.slack_api_url = api).await;
    let channel = slack_channel(&c, &team).await;
    let (_, esc) = escalated(&c).await;
    slack.wait_for(1).await;
    let payload = form(&click(&slack, "flare_dismiss", &esc, ADA));

    // Forged (another secret), unsigned, stale, and for no such channel: refused.
    let forged = post(&c.app, &channel, &payload, "not-the-secret", now_secs()).await;
    assert_eq!(forged.status, StatusCode::UNAUTHORIZED);
    assert!(
        forged.body["error"]
            .as_str()
            .unwrap()
            .contains("does not match")
    );
    let unsigned = Reply::read(
        client()
            .post(c.app.url(&format!("/integrations/slack/{channel}")))
            .body(payload.clone()),
    )
    .await;
    assert_eq!(unsigned.status, StatusCode::UNAUTHORIZED);
    let stale = post(
        &c.app,
        &channel,
        &payload,
        SIGNING_SECRET,
        now_secs() - 6 * 60,
    )
    .await;
    assert_eq!(stale.status, StatusCode::UNAUTHORIZED);
    assert!(stale.body["error"].as_str().unwrap().contains("5 minutes"));
    let nowhere = post(
        &c.app,
        "no-such-channel",
        &payload,
        SIGNING_SECRET,
        now_secs(),
    )
    .await;
    assert_eq!(nowhere.status, StatusCode::NOT_FOUND);
    assert_eq!(slack.calls().len(), 1, "none of them was answered in Slack");

    // Replayed: the same signed request twice is handled once.
    let ts = now_secs();
    let first = post(&c.app, &channel, &payload, SIGNING_SECRET, ts).await;
    assert_eq!(first.status, StatusCode::OK, "{:?}", first.body);
    let token = link_token(&private_reply(&slack, 2).await);
    let replayed = post(&c.app, &channel, &payload, SIGNING_SECRET, ts).await;
    assert_eq!(replayed.status, StatusCode::CONFLICT);
    assert!(
        replayed.body["error"]
            .as_str()
            .unwrap()
            .contains("received already")
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(slack.calls().len(), 2, "the replay got no reply");

    // Linked to a person outside the channel's team: told so, privately.
    c.app
        .create_user(&c.owner, "outsider@example.com", "member")
        .await;
    let outsider = c.app.sign_in("outsider@example.com", "password-123").await;
    let r = c.app.send(&outsider, LinkChatAccount { token }).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    // Someone else's link is not theirs to see or undo.
    assert_eq!(c.app.send(&c.owner, ListChatLinks {}).await.body, json!([]));
    let r = c
        .app
        .send(
            &c.owner,
            UnlinkChatAccount {
                kind: "slack".into(),
                workspace: WORKSPACE.into(),
                external_id: ADA.into(),
            },
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    slack_sends(&c.app, &channel, &click(&slack, "flare_dismiss", &esc, ADA)).await;
    let reply = private_reply(&slack, 3).await;
    assert!(reply.contains("not in the team"), "{reply}");
    assert_eq!(status(&c).await, "open");

    // Another team's escalation through this channel: not found here, whoever clicks.
    let (_, other_agent) =
        team_with_agent(&c.app, &c.owner, "Billing", "Billing Agent", TUTORIAL_RULE).await;
    let other_thread = start(&c.app, &c.owner, &other_agent).await;
    let r = send(&c.app, &c.owner, &other_thread, TUTORIAL_MESSAGE).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let t = wait_for(&c.app, &c.owner, &other_thread, "the other card", |t| {
        run_status(t) == "waiting"
    })
    .await;
    let other_esc = card(&t).unwrap()["id"].as_str().unwrap().to_string();
    slack_sends(
        &c.app,
        &channel,
        &click(&slack, "flare_dismiss", &other_esc, ADA),
    )
    .await;
    let reply = private_reply(&slack, 4).await;
    assert!(reply.contains("not one of this channel's team"), "{reply}");
    let t = load(&c.app, &c.owner, &other_thread).await;
    assert_eq!(card(&t).unwrap()["status"], "open");

    // Only owners and admins of the team turn buttons on; the secret's shape is checked.
    let member = c.app.sign_in("outsider@example.com", "password-123").await;
    let r = set_key(&c.app, &member, &channel, SIGNING_SECRET).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = set_key(&c.app, &c.owner, &channel, "short; not a secret").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{:?}", r.body);
    // Turned off: clicks are refused.
    let r = set_key(&c.app, &c.owner, &channel, "").await;
    assert_eq!(r.status, StatusCode::OK);
    let off = slack_sends(&c.app, &channel, &click(&slack, "flare_dismiss", &esc, ADA)).await;
    assert_eq!(off.status, StatusCode::UNAUTHORIZED);
    assert!(
        off.body["error"]
            .as_str()
            .unwrap()
            .contains("takes no answers")
    );
    assert_eq!(status(&c).await, "open");
    c.app.stop().await;
}

/// The application's key pair: Discord keeps the private half and signs with it.
pub fn discord_key() -> ed25519_dalek::SigningKey {
    ed25519_dalek::SigningKey::from_bytes(&[7u8; 32])
}

/// An interaction, as Discord sends it from a server (guild), signed with `key` at `ts`.
pub async fn discord_sends(
    app: &TestApp,
    channel: &str,
    payload: &Value,
    key: &ed25519_dalek::SigningKey,
    ts: i64,
) -> Reply {
    use ed25519_dalek::Signer;
    let body = payload.to_string();
    let signature = key.sign(format!("{ts}{body}").as_bytes());
    Reply::read(
        client()
            .post(app.url(&format!("/integrations/discord/{channel}")))
            .header("content-type", "application/json")
            .header("x-signature-timestamp", ts.to_string())
            .header("x-signature-ed25519", hex_of(&signature.to_bytes()))
            .body(body),
    )
    .await
}

pub fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

const GUILD: &str = "880000000000000001";
const GRACE: &str = "770000000000000001";

fn discord_click(custom_id: &str) -> Value {
    json!({"type": 3, "guild_id": GUILD, "member": {"user": {"id": GRACE, "username": "grace"}},
           "data": {"custom_id": custom_id, "component_type": 2}})
}

fn discord_submit(custom_id: &str, guidance: &str) -> Value {
    json!({"type": 5, "guild_id": GUILD, "member": {"user": {"id": GRACE, "username": "grace"}},
    "data": {"custom_id": custom_id, "components": [{"type": 1, "components": [
        {"type": 4, "custom_id": "guidance", "value": guidance}
    ]}]}})
}

/// A Discord channel for team "Support" (posting through a local server that speaks Discord's
/// API) with its application's public key set: (Discord, chat, team, channel id, the key pair).
pub async fn discord_channel() -> (
    crate::notifications::FakeDiscord,
    Chat,
    String,
    String,
    ed25519_dalek::SigningKey,
) {
    use crate::notifications::FakeDiscord;
    let discord = FakeDiscord::start(vec![]).await;
    let api = discord.url.clone();
    let (c, team) = setup_with(50, move |config| config.discord_api_url = api).await;
    let channel = crate::notifications::add_discord(&c, &team).await;
    let key = discord_key();
    let public = hex_of(key.verifying_key().as_bytes());
    let r = set_key(&c.app, &c.owner, &channel, &public).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    (discord, c, team, channel, key)
}

#[tokio::test]
async fn discord_interactions_are_verified_with_ed25519_and_answer_for_the_linked_person() {
    let (discord, c, _, channel, key) = discord_channel().await;
    let bad = set_key(&c.app, &c.owner, &channel, "not a key").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.message().contains("Public Key"), "{}", bad.message());
    let listed = c.app.send(&c.owner, ListChannels {}).await.body;
    assert_eq!(
        listed[0]["answers_url"],
        format!("https://flare.example.com/integrations/discord/{channel}")
    );

    // Discord checks the endpoint with a signed PING, and a forged one must fail.
    let ping = json!({"type": 1});
    let r = discord_sends(&c.app, &channel, &ping, &key, now_secs()).await;
    assert_eq!(r.body, json!({"type": 1}));
    let impostor = ed25519_dalek::SigningKey::from_bytes(&[9u8; 32]);
    let r = discord_sends(&c.app, &channel, &ping, &impostor, now_secs()).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);

    // The message carries the buttons, their ids naming the escalation.
    let (_, esc) = escalated(&c).await;
    let calls = discord.wait_for(1).await;
    let row = &calls[0].2["components"][0]["components"];
    assert_eq!(row[0]["label"], "Respond & Resume");
    assert_eq!(row[0]["custom_id"], format!("flare_respond:{esc}"));
    assert_eq!(row[1]["label"], "Dismiss");
    assert_eq!(row[2]["label"], "Open in Flare");

    // Stale and replayed requests change nothing.
    let dismiss = discord_click(&format!("flare_dismiss:{esc}"));
    let stale = discord_sends(&c.app, &channel, &dismiss, &key, now_secs() - 600).await;
    assert_eq!(stale.status, StatusCode::UNAUTHORIZED);
    let ts = now_secs();
    let first = discord_sends(&c.app, &channel, &dismiss, &key, ts).await;
    assert_eq!(first.status, StatusCode::OK, "{:?}", first.body);
    let again = discord_sends(&c.app, &channel, &dismiss, &key, ts).await;
    assert_eq!(again.status, StatusCode::CONFLICT);

    // Unlinked: a private reply with the link; nothing changes.
    assert_eq!(first.body["type"], 4);
    assert_eq!(first.body["data"]["flags"], 64, "only the clicker sees it");
    let reply = first.body["data"]["content"].as_str().unwrap().to_string();
    assert!(reply.contains("Link your Discord account"), "{reply}");
    assert_eq!(status(&c).await, "open");
    let r = c
        .app
        .send(
            &c.owner,
            LinkChatAccount {
                token: link_token(&reply),
            },
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["kind"], "discord");

    // Respond & Resume opens Discord's modal; its submission resolves, via Discord.
    let respond = discord_click(&format!("flare_respond:{esc}"));
    let r = discord_sends(&c.app, &channel, &respond, &key, now_secs()).await;
    assert_eq!(r.body["type"], 9, "a modal: {:?}", r.body);
    let modal_id = r.body["data"]["custom_id"].as_str().unwrap().to_string();
    let submit = discord_submit(&modal_id, "Refund it, with an apology.");
    let r = discord_sends(&c.app, &channel, &submit, &key, now_secs()).await;
    assert_eq!(
        r.body,
        json!({"type": 6}),
        "acknowledged; the message is edited"
    );
    let t = wait_for(&c.app, &c.owner, &c.thread, "the resumed run", |t| {
        run_status(t) == "completed"
    })
    .await;
    assert_eq!(card(&t).unwrap()["status"], "resolved");
    assert_eq!(card(&t).unwrap()["guidance"], "Refund it, with an apology.");
    let audited = c
        .app
        .count(
            "SELECT COUNT(*) FROM audit_log WHERE action = 'escalation.resolved' \
             AND actor = 'owner@example.com via Discord'",
        )
        .await;
    assert_eq!(audited, 1);
    let calls = discord.wait_for(2).await;
    assert_eq!(
        calls[1].0, "PATCH",
        "the message is edited with the outcome"
    );

    // Later: privately "already resolved".
    let r = discord_sends(&c.app, &channel, &dismiss_again(&esc), &key, now_secs()).await;
    assert_eq!(
        r.body["data"]["content"],
        "This escalation is already resolved."
    );
    assert_eq!(r.body["data"]["flags"], 64);
    c.app.stop().await;
}

/// A second Dismiss click (another member's, so another signature).
fn dismiss_again(esc: &str) -> Value {
    let mut v = discord_click(&format!("flare_dismiss:{esc}"));
    v["id"] = json!("second-click");
    v
}
