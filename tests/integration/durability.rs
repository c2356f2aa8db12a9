//! Runs survive the server being killed: a real `flare` process, SIGKILL, a restart on the
//! same database.

use crate::common::*;
use crate::fake_openai::{Fake, Script};
use reqwest::StatusCode;

/// Starts the real binary on `database_url` and waits until it answers.
async fn launch(database_url: &str, extra: &[(&str, &str)]) -> Process {
    Process::launch(env!("CARGO_BIN_EXE_flare"), database_url, extra).await
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
        .send(
            &owner,
            RespondEscalation {
                escalation_id: esc.to_string(),
                guidance: "approve the refund".into(),
            },
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

/// A process whose model is the fake OpenAI server playing `script`, and a chat that said
/// "Hello": returned once the model has the request and is "thinking".
struct Asked {
    fake: Fake,
    url: String,
    fake_url: String,
    p: Process,
    owner: reqwest::Client,
    thread: String,
}

impl Asked {
    async fn start(script: Vec<Script>) -> Self {
        let (fake, fake_url) = Fake::start(script).await;
        let url = fresh_database_url().await;
        let p = launch(&url, &Self::env(&fake_url)).await;
        let (owner, thread) = chat_in(&p, "Answer questions.").await;
        send(&p.app, &owner, &thread, "Hello").await;
        for _ in 0..200 {
            if !fake.requests().is_empty() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        Asked {
            fake,
            url,
            fake_url,
            p,
            owner,
            thread,
        }
    }

    fn env(fake_url: &str) -> [(&'static str, &str); 4] {
        [
            ("FLARE_PROVIDER", "openai"),
            ("FLARE_OPENAI_BASE_URL", fake_url),
            ("FLARE_OPENAI_MODEL", "test-model"),
            ("FLARE_PROVIDER_TIMEOUT_MS", "60000"),
        ]
    }
}

#[tokio::test]
async fn a_running_run_is_taken_over_after_sigkill_and_finishes() {
    let Asked {
        fake,
        url,
        fake_url,
        p,
        owner,
        thread,
    } = Asked::start(vec![
        Script::Hang,
        Script::Text(vec!["Back after the crash."]),
    ])
    .await;
    // The model has the request and is "thinking" when the server dies.
    assert_eq!(run_status(&load(&p.app, &owner, &thread).await), "running");
    p.kill().await;

    let p = launch(&url, &Asked::env(&fake_url)).await;
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

/// A run that outlasts its lease keeps it while its driver lives: the instance renews the
/// leases of the runs it drives (together), so nobody takes the run over and the model is
/// asked once.
#[tokio::test]
async fn a_run_longer_than_its_lease_is_not_taken_over_while_its_driver_lives() {
    // The process's lease is 1 s (see `Process::launch`); the take-over sweep looks every 0.5 s.
    let Asked {
        fake,
        url,
        p,
        owner,
        thread,
        ..
    } = Asked::start(vec![Script::Hang]).await;
    assert_eq!(fake.requests().len(), 1);
    // Four leases later, the run is still its first driver's.
    tokio::time::sleep(std::time::Duration::from_secs(4)).await;
    assert_eq!(run_status(&load(&p.app, &owner, &thread).await), "running");
    assert_eq!(
        p.app
            .count("SELECT COUNT(*) FROM runs WHERE attempts > 0")
            .await,
        0,
        "never taken over"
    );
    assert_eq!(fake.requests().len(), 1, "the model was asked once");
    p.kill().await;
    drop_database(&url).await;
}

/// Issue 16: a notification whose channel fails three times, with the server killed between
/// its attempts, is delivered once the channel accepts, and accepted once.
#[tokio::test]
async fn a_notification_survives_sigkill_between_attempts_and_is_accepted_once() {
    use crate::notifications::{KEY, Receiver, add_channel};
    let hook = Receiver::start(vec![(500, None), (500, None), (500, None)]).await;
    let url = fresh_database_url().await;
    let env = [("FLARE_SECRET_KEY", KEY), ("FLARE_OUTBOX_RETRY_MS", "300")];
    let p = launch(&url, &env).await;
    let owner = p.app.owner().await;
    let (team, agent) = team_with_agent(
        &p.app,
        &owner,
        "Support",
        "Customer Support Agent",
        TUTORIAL_RULE,
    )
    .await;
    add_channel(&p.app, &owner, &team, "Flaky", &hook.url, "info").await;
    let thread = start(&p.app, &owner, &agent).await;
    send(&p.app, &owner, &thread, TUTORIAL_MESSAGE).await;
    hook.wait_for(2).await;
    // Killed once the second failure is on record (its retry is due 600 ms later).
    for _ in 0..200 {
        // Claimed rows are due at their claim's end (30 s on); a settled failure sooner.
        let soon = flare::server::db::now_ms() + 5_000;
        let sql = format!("SELECT COUNT(*) FROM outbox WHERE attempts = 2 AND due_at < {soon}");
        if p.app.count(&sql).await == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    p.kill().await;
    let p = launch(&url, &env).await;
    let got = hook.wait_for(4).await;
    let accepted: Vec<_> = got.iter().filter(|g| g.status == 200).collect();
    assert_eq!(accepted.len(), 1, "{got:?}");
    let ids: std::collections::HashSet<String> =
        got.iter().map(|g| g.header("x-flare-delivery")).collect();
    assert_eq!(ids.len(), 1, "one delivery, the same id on every attempt");
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_eq!(hook.got().len(), 4, "nothing after it was accepted");
    assert_eq!(
        p.app
            .count("SELECT COUNT(*) FROM outbox WHERE state = 'sent' AND attempts = 4")
            .await,
        1
    );
    p.kill().await;
    drop_database(&url).await;
}

/// Issue 16: the reply of a run started from Slack, whose post fails three times with the
/// server killed between attempts, is posted once Slack accepts it, and once.
#[tokio::test]
async fn a_slack_reply_survives_sigkill_between_attempts_and_is_posted_once() {
    use crate::chat_answers::{SIGNING_SECRET, set_key};
    use crate::chat_triggers::{callback, mention, slack_event};
    use crate::notifications::{BOT_TOKEN, FakeSlack, KEY};
    use flare::notifications::{AddChatChannel, SetChannelAgent};
    let slack = FakeSlack::start(vec![(500, None), (500, None), (500, None)]).await;
    let url = fresh_database_url().await;
    let api = slack.url.clone();
    let env = [
        ("FLARE_SECRET_KEY", KEY),
        ("FLARE_OUTBOX_RETRY_MS", "300"),
        ("FLARE_SLACK_API_URL", api.as_str()),
    ];
    let p = launch(&url, &env).await;
    let owner = p.app.owner().await;
    let (team, agent) = team_with_agent(
        &p.app,
        &owner,
        "Support",
        "Customer Support Agent",
        TUTORIAL_RULE,
    )
    .await;
    let add = AddChatChannel {
        kind: "slack".into(),
        team_id: team,
        name: "Support".into(),
        bot_token: BOT_TOKEN.into(),
        channel_id: "C0SUPPORT1".into(),
        min_severity: "critical".into(),
    };
    let r = p.app.send(&owner, add).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let channel = r.body["id"].as_str().unwrap().to_string();
    let r = set_key(&p.app, &owner, &channel, SIGNING_SECRET).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let set = SetChannelAgent {
        channel_id: channel.clone(),
        agent_id: agent,
    };
    assert_eq!(p.app.send(&owner, set).await.status, StatusCode::OK);
    let ts = "1700000900.000100";
    let ev = callback(mention(ts, "What are your opening hours?"), "EvKill");
    assert_eq!(
        slack_event(&p.app, &channel, &ev).await.status,
        StatusCode::OK
    );
    slack.wait_for(2).await;
    // Killed once the second failure is on record (its retry is due 600 ms later).
    for _ in 0..200 {
        let soon = flare::server::db::now_ms() + 5_000;
        let sql =
            format!("SELECT COUNT(*) FROM chat_replies WHERE attempts = 2 AND due_at < {soon}");
        if p.app.count(&sql).await == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    p.kill().await;
    let p = launch(&url, &env).await;
    let calls = slack.wait_for(4).await;
    assert!(
        calls
            .iter()
            .all(|(m, _, b)| m == "chat.postMessage" && b["thread_ts"] == ts),
        "{calls:?}"
    );
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_eq!(slack.calls().len(), 4, "nothing after it was accepted");
    assert_eq!(
        p.app
            .count("SELECT COUNT(*) FROM chat_replies WHERE state = 'sent' AND attempts = 4")
            .await,
        1
    );
    p.kill().await;
    drop_database(&url).await;
}

#[tokio::test]
async fn a_mail_is_answered_once_across_sigkill_between_reply_attempts() {
    use crate::email::SmtpSink;
    use crate::mail_trigger::{ImapServer, mailbox};
    use crate::notifications::KEY;
    let imap = ImapServer::start().await;
    // The relay says "try later" twice: Flare is killed between the attempts.
    let smtp = SmtpSink::start(&["--refuse-first", "2"]).await;
    let url = fresh_database_url().await;
    let relay = smtp.url();
    let env = [
        ("FLARE_SECRET_KEY", KEY),
        ("FLARE_OUTBOX_RETRY_MS", "300"),
        ("FLARE_SMTP_URL", relay.as_str()),
        ("FLARE_MAIL_FROM", "Flare <flare@example.com>"),
        ("FLARE_MAIL_CHECK_MS", "200"),
    ];
    let p = launch(&url, &env).await;
    let owner = p.app.owner().await;
    let (_team, agent) = team_with_agent(
        &p.app,
        &owner,
        "Support",
        "Customer Support Agent",
        TUTORIAL_RULE,
    )
    .await;
    let r = p.app.send(&owner, mailbox(&agent, imap.port)).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    imap.deliver(
        "From: ana@example.com\nSubject: Hours\nMessage-ID: <kill@example.com>\n\nWhat are your opening hours?\n",
    )
    .await;
    let mut killed = false;
    for _ in 0..1500 {
        let sql = "SELECT COUNT(*) FROM mail_replies WHERE attempts = 1 AND state = 'pending' \
                   AND last_error IS NOT NULL";
        if p.app.count(sql).await == 1 {
            killed = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(
        killed,
        "the first attempt was refused and recorded within 15 s"
    );
    p.kill().await;
    let p = launch(&url, &env).await;
    let mails = smtp.wait_for(1).await;
    assert_eq!(mails[0]["rcpt_tos"], serde_json::json!(["ana@example.com"]));
    assert_eq!(mails[0]["headers"]["In-Reply-To"], "<kill@example.com>");
    // Two more checks of the mailbox after the restart: nothing read twice, nothing sent twice.
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    assert_eq!(smtp.got().len(), 1, "one reply in all");
    assert_eq!(
        p.app
            .count("SELECT COUNT(*) FROM threads WHERE trigger = 'email'")
            .await,
        1,
        "one run for the mail across the kill"
    );
    p.kill().await;
    drop_database(&url).await;
}
