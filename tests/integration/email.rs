//! Issue 16: email channels. A real SMTP server (aiosmtpd, which the test command installs)
//! takes Flare's mail over a real socket; `tests/support/smtp_sink.py` reports each message it
//! accepted, decoded, and can refuse like a relay having a bad day.

use crate::common::*;
use crate::notifications::{card_when, escalated_again, outsiders, overdue, sent_ref, setup_with};
use flare::escalations::RespondEscalation;
use flare::notifications::{AddEmailChannel, ListChannels, TestChannel};
use flare::server::config::Secret;
use flare::server::notifications::email::Mailer;
use reqwest::StatusCode;
use serde_json::Value;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};

/// A running aiosmtpd and the messages it accepted, in order.
pub struct SmtpSink {
    pub port: u16,
    got: Arc<Mutex<Vec<Value>>>,
    _child: tokio::process::Child,
}

impl SmtpSink {
    pub async fn start(args: &[&str]) -> Self {
        let home = std::env::var("HOME").unwrap_or_default();
        let cache = std::env::var("FLARE_CACHE").unwrap_or_else(|_| format!("{home}/.cache/flare"));
        let site = format!("{cache}/tools/python");
        assert!(
            std::path::Path::new(&format!("{site}/aiosmtpd")).is_dir(),
            "the test SMTP server (aiosmtpd) is not installed in {site}: run ./scripts/test once, it installs it"
        );
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/smtp_sink.py");
        let mut child = tokio::process::Command::new("python3")
            .arg(script)
            .args(args)
            .env("PYTHONPATH", &site)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("python3 starts the SMTP server");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
            .await
            .expect("the SMTP server says its port within 20 s")
            .unwrap()
            .expect("the SMTP server's first line");
        let port = serde_json::from_str::<Value>(&first).unwrap()["port"]
            .as_u64()
            .unwrap() as u16;
        let got = Arc::new(Mutex::new(Vec::new()));
        let log = got.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Ok(v) = serde_json::from_str::<Value>(&line) {
                    log.lock().unwrap().push(v);
                }
            }
        });
        Self {
            port,
            got,
            _child: child,
        }
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    pub fn got(&self) -> Vec<Value> {
        self.got.lock().unwrap().clone()
    }

    /// The first `n` messages, once there are that many (10 s at most).
    pub async fn wait_for(&self, n: usize) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let got = self.got();
            if got.len() >= n {
                return got;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "waited 10 s for {n} mails, got {}: {got:?}",
                got.len()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

fn mailer(url: &str) -> Mailer {
    Mailer::new(Secret::new(url), "Flare <flare@example.com>").unwrap()
}

/// An app that mails through `url`, retrying after `retry_ms`.
async fn app_mailing(url: &str, retry_ms: u64) -> (Chat, String) {
    let m = mailer(url);
    setup_with(retry_ms, move |config| config.mailer = Some(m)).await
}

async fn add_email(c: &Chat, team: &str, name: &str, recipients: &str) -> Reply {
    c.app
        .send(
            &c.owner,
            AddEmailChannel {
                team_id: team.into(),
                name: name.into(),
                recipients: recipients.into(),
                min_severity: "info".into(),
            },
        )
        .await
}

fn header<'a>(mail: &'a Value, name: &str) -> &'a str {
    mail["headers"][name].as_str().unwrap_or_default()
}

#[tokio::test]
async fn an_email_channel_mails_the_escalation_then_its_answer_and_reminder_in_one_thread() {
    let smtp = SmtpSink::start(&[]).await;
    let (c, team) = app_mailing(&smtp.url(), 50).await;
    let r = add_email(
        &c,
        &team,
        "On-call mail",
        "oncall@example.com; ada@example.com\nONCALL@example.com",
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(
        r.body["target"], "oncall@example.com, ada@example.com",
        "recipients checked, kept once each"
    );
    let id = r.body["id"].as_str().unwrap().to_string();

    // Send test: accepted by the relay, in its words.
    let r = c
        .app
        .send(
            &c.owner,
            TestChannel {
                channel_id: id.clone(),
            },
        )
        .await;
    assert_eq!(r.body["delivered"], true, "{:?}", r.body);
    let detail = r.body["detail"].as_str().unwrap();
    assert!(detail.starts_with("SMTP 250 in "), "{detail}");
    let test = &smtp.wait_for(1).await[0];
    assert_eq!(
        test["text"].as_str().unwrap().trim(),
        "A test from Flare: this channel works."
    );

    // The escalation: to every recipient, from the configured sender, with the card's link.
    let (_, esc) = escalated(&c).await;
    let mails = smtp.wait_for(2).await;
    let raised = &mails[1];
    assert_eq!(raised["mail_from"], "flare@example.com");
    assert_eq!(
        raised["rcpt_tos"],
        serde_json::json!(["oncall@example.com", "ada@example.com"])
    );
    let subject = header(raised, "Subject").to_string();
    assert!(
        subject.contains("Agent Needs Help \u{2014} Customer Support Agent"),
        "{subject}"
    );
    assert_eq!(header(raised, "Auto-Submitted"), "auto-generated");
    let link = format!(
        "https://flare.example.com/app/chat/{}#escalation-{esc}",
        c.thread
    );
    let text = raised["text"].as_str().unwrap();
    assert!(text.contains(&link) && text.contains("refund"), "{text}");
    assert!(
        text.contains("nothing is answered from this mail"),
        "{text}"
    );
    let html = raised["html"].as_str().unwrap();
    assert!(html.contains(&format!("href=\"{link}\"")), "{html}");
    let k = card_when(&c, "the mail's delivery", |d| d[0]["state"] == "sent").await;
    assert_eq!(k["deliveries"][0]["channel"], "On-call mail");
    let first_id = sent_ref(&c, &esc).await;
    assert_eq!(
        header(raised, "Message-ID"),
        first_id,
        "kept to thread what follows"
    );

    // Answered in Flare: a reply in the same thread says who answered and how.
    let r = c
        .app
        .send(
            &c.owner,
            RespondEscalation {
                escalation_id: esc.clone(),
                guidance: "approve the <b>refund</b>".into(),
            },
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let mails = smtp.wait_for(3).await;
    let answer = &mails[2];
    assert_eq!(header(answer, "Subject"), format!("Re: {subject}"));
    assert_eq!(header(answer, "In-Reply-To"), first_id);
    assert_eq!(header(answer, "References"), first_id);
    let text = answer["text"].as_str().unwrap();
    assert!(
        text.contains("Resolved by owner") && text.contains("approve the <b>refund</b>"),
        "{text}"
    );
    let html = answer["html"].as_str().unwrap();
    assert!(
        html.contains("approve the &lt;b&gt;refund&lt;/b&gt;") && !html.contains("<b>refund"),
        "what a person wrote is text, never markup: {html}"
    );

    // A second escalation, overdue: the reminder is a reply under its own mail.
    let second = escalated_again(&c).await;
    smtp.wait_for(4).await;
    let second_id = sent_ref(&c, &second).await;
    overdue(&c.app, &second).await;
    let mails = smtp.wait_for(5).await;
    let reminder = &mails[4];
    assert_eq!(header(reminder, "In-Reply-To"), second_id);
    assert!(
        reminder["text"]
            .as_str()
            .unwrap()
            .contains("Still waiting for a person"),
        "{reminder}"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(smtp.got().len(), 5, "each once");
    c.app.stop().await;
}

#[tokio::test]
async fn an_unreachable_or_refusing_relay_is_reported_and_retried_and_never_blocks_the_run() {
    // Nothing listens here: the port was free a moment ago.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let (c, team) = app_mailing(&format!("smtp://127.0.0.1:{closed}"), 60_000).await;
    let r = add_email(&c, &team, "Nobody home", "oncall@example.com").await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let id = r.body["id"].as_str().unwrap().to_string();
    let r = c.app.send(&c.owner, TestChannel { channel_id: id }).await;
    assert_eq!(r.body["delivered"], false);
    assert_eq!(r.body["detail"], "could not connect to the SMTP server");
    // The run pauses on its card as always; the mail waits for its retry.
    let (t, _) = escalated(&c).await;
    assert_eq!(card(&t).unwrap()["status"], "open");
    let k = card_when(&c, "a retrying mail", |d| d[0]["state"] == "retrying").await;
    assert_eq!(
        k["deliveries"][0]["error"],
        "could not connect to the SMTP server"
    );
    c.app.stop().await;

    // A relay that says "try later" twice, then takes it: delivered once, on the third try.
    let smtp = SmtpSink::start(&["--refuse-first", "2"]).await;
    let (c, team) = app_mailing(&smtp.url(), 50).await;
    let r = add_email(&c, &team, "Busy relay", "oncall@example.com").await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    escalated(&c).await;
    let k = card_when(&c, "the mail after two refusals", |d| {
        d[0]["state"] == "sent"
    })
    .await;
    assert_eq!(k["deliveries"][0]["attempts"], 3);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(smtp.got().len(), 1, "delivered once");
    c.app.stop().await;

    // A recipient the relay refuses for good: given up at once, with the relay's words.
    let smtp = SmtpSink::start(&["--reject", "gone@example.com"]).await;
    let (c, team) = app_mailing(&smtp.url(), 50).await;
    let r = add_email(&c, &team, "Old list", "gone@example.com").await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    escalated(&c).await;
    let k = card_when(&c, "a refused mail", |d| d[0]["state"] == "failed").await;
    assert_eq!(
        k["deliveries"][0]["attempts"], 1,
        "a permanent refusal is not retried"
    );
    let error = k["deliveries"][0]["error"].as_str().unwrap();
    assert!(
        error.starts_with("the SMTP server refused it: 550") && error.contains("No such user"),
        "{error}"
    );
    assert!(smtp.got().is_empty());
    c.app.stop().await;
}

#[tokio::test]
async fn email_channels_need_a_relay_good_recipients_and_a_manager_of_the_team() {
    // No relay configured: said so, nothing stored.
    let (c, team) = setup_with(50, |_| {}).await;
    let r = add_email(&c, &team, "Mail", "oncall@example.com").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{:?}", r.body);
    assert!(r.message().contains("FLARE_SMTP_URL"), "{}", r.message());
    assert_eq!(c.app.count("SELECT COUNT(*) FROM channels").await, 0);
    c.app.stop().await;

    let smtp = SmtpSink::start(&[]).await;
    let (c, team) = app_mailing(&smtp.url(), 50).await;
    for (bad, says) in [
        ("", "at least one"),
        (
            "oncall@example.com, not an address",
            "is not an email address",
        ),
        (
            "a@b.example\r\nBcc: evil@example.com",
            "is not an email address",
        ),
    ] {
        let r = add_email(&c, &team, "Mail", bad).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad:?}: {:?}", r.body);
        assert!(r.message().contains(says), "{bad:?}: {}", r.message());
    }
    let many: Vec<String> = (0..21).map(|i| format!("p{i}@example.com")).collect();
    let r = add_email(&c, &team, "Mail", &many.join(",")).await;
    assert!(r.message().contains("At most 20"), "{}", r.message());
    assert_eq!(c.app.count("SELECT COUNT(*) FROM channels").await, 0);

    // A member of the team, and an admin of another, cannot add one.
    let (admin, member, _) = outsiders(&c, &team).await;
    let ask = || AddEmailChannel {
        team_id: team.clone(),
        name: "Mine".into(),
        recipients: "me@example.com".into(),
        min_severity: "info".into(),
    };
    let r = c.app.send(&member, ask()).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
    let r = c.app.send(&admin, ask()).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{:?}", r.body);
    let r = c.app.send(&client(), ask()).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{:?}", r.body);
    assert_eq!(c.app.count("SELECT COUNT(*) FROM channels").await, 0);
    assert!(
        c.app
            .send(&c.owner, ListChannels {})
            .await
            .body
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert!(smtp.got().is_empty(), "nothing was mailed");
    c.app.stop().await;
}

#[tokio::test]
async fn a_bad_relay_setting_stops_the_start_without_showing_its_password() {
    let bin = env!("CARGO_BIN_EXE_flare");
    let db = ("DATABASE_URL", "sqlite::memory:");
    let said = Process::refused_start(
        bin,
        &[
            ("FLARE_SMTP_URL", "ftp://ada:hunter2@mail.example.com"),
            ("FLARE_MAIL_FROM", "flare@example.com"),
            db,
        ],
    )
    .await;
    assert!(said.contains("FLARE_SMTP_URL must be"), "{said}");
    assert!(
        !said.contains("hunter2"),
        "the password is not echoed: {said}"
    );
    let said = Process::refused_start(
        bin,
        &[
            ("FLARE_SMTP_URL", "smtp://ada:hunter2@mail.example.com:587"),
            db,
        ],
    )
    .await;
    assert!(
        said.contains("set both FLARE_SMTP_URL and FLARE_MAIL_FROM"),
        "{said}"
    );
    assert!(!said.contains("hunter2"), "{said}");
}
