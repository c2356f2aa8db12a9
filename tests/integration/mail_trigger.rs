//! Issue 16: email as a trigger. A real IMAP server (Debian's Dovecot, which the test command
//! installs) holds each agent's mailbox, run from a temporary folder on a port of its own; mail
//! is put in it over IMAP (APPEND), as a mail server would deliver it. Flare's replies go to a
//! real SMTP server (aiosmtpd, see `email.rs`).

use crate::common::*;
use crate::email::SmtpSink;
use crate::notifications::{outsiders, setup_with};
use flare::server::config::Secret;
use flare::server::notifications::email::Mailer;
use flare::triggers::{AddMailbox, ListTriggers};
use reqwest::StatusCode;
use serde_json::Value;
use std::process::Stdio;
use std::time::Duration;

const USER: &str = "support";
const PASSWORD: &str = "mailbox-pass-7f3";
const ADDRESS: &str = "support@acme.test";

/// A Dovecot of its own (`tests/support/imap_server.py`): IMAP without TLS on 127.0.0.1 (Flare
/// allows that to loopback only), one user, mail kept in a temporary folder. Stopped when
/// dropped (the script stops Dovecot when its stdin closes).
pub struct ImapServer {
    pub port: u16,
    _child: tokio::process::Child,
}

impl ImapServer {
    pub async fn start() -> Self {
        use tokio::io::AsyncBufReadExt;
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/imap_server.py");
        let mut child = tokio::process::Command::new("python3")
            .arg(script)
            .args(["--user", USER, "--password", PASSWORD])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            // Not killed: closing its stdin (dropping the child) lets it stop Dovecot and
            // remove its folder.
            .spawn()
            .expect("python3 starts the IMAP server");
        let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
        let first = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
            .await
            .expect("the IMAP server says its port within 20 s")
            .unwrap()
            .expect(
                "the IMAP server's first line (is Dovecot installed? ./scripts/test installs it)",
            );
        let port = serde_json::from_str::<Value>(&first).unwrap()["port"]
            .as_u64()
            .unwrap() as u16;
        Self {
            port,
            _child: child,
        }
    }

    /// Signed in as the mailbox's user (10 s at most).
    async fn session(&self) -> async_imap::Session<tokio::net::TcpStream> {
        tokio::time::timeout(Duration::from_secs(10), async {
            let tcp = tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .unwrap();
            let mut client = async_imap::Client::new(tcp);
            client.read_response().await.unwrap();
            client.login(USER, PASSWORD).await.map_err(|e| e.0).unwrap()
        })
        .await
        .expect("signed in to the IMAP server within 10 s")
    }

    /// Delivers a mail to the mailbox's INBOX (an IMAP APPEND, as a mail server would).
    pub async fn deliver(&self, raw: &str) {
        let raw = raw.replace("\r\n", "\n").replace('\n', "\r\n");
        let mut s = self.session().await;
        tokio::time::timeout(Duration::from_secs(10), async {
            s.append("INBOX", None, None, raw.as_bytes()).await.unwrap();
            s.logout().await.unwrap();
        })
        .await
        .expect("the IMAP server took the mail within 10 s");
    }

    /// The flags of every mail in the INBOX, in order.
    pub async fn flags(&self) -> Vec<String> {
        use futures::TryStreamExt;
        let mut s = self.session().await;
        tokio::time::timeout(Duration::from_secs(10), async {
            s.examine("INBOX").await.unwrap();
            let fetched: Vec<_> = s
                .fetch("1:*", "FLAGS")
                .await
                .unwrap()
                .try_collect()
                .await
                .unwrap();
            let out = fetched
                .iter()
                .map(|f| format!("{:?}", f.flags().collect::<Vec<_>>()))
                .collect();
            s.logout().await.unwrap();
            out
        })
        .await
        .expect("the IMAP server listed the mail within 10 s")
    }
}

/// An app that reads mailboxes every 200 ms and mails through `smtp`.
async fn app_with_mail(smtp: &SmtpSink) -> (Chat, String) {
    let mailer = Mailer::new(Secret::new(smtp.url()), "Flare <flare@example.com>").unwrap();
    setup_with(50, move |config| {
        config.mailer = Some(mailer);
        config.mail_check_ms = 200;
    })
    .await
}

pub fn mailbox(agent: &str, port: u16) -> AddMailbox {
    AddMailbox {
        agent_id: agent.into(),
        name: "Support inbox".into(),
        address: ADDRESS.into(),
        host: "127.0.0.1".into(),
        port: port.to_string(),
        security: "none".into(),
        username: USER.into(),
        password: PASSWORD.into(),
        folder: "INBOX".into(),
    }
}

fn header<'a>(mail: &'a Value, name: &str) -> &'a str {
    mail["headers"][name].as_str().unwrap_or_default()
}

/// Waits until there are `threads` email threads with `messages` messages from people in all.
async fn email_runs(c: &Chat, threads: i64, messages: i64) {
    let what = format!("{threads} email threads with {messages} messages");
    eventually(&what, 15, || async {
        let t = c
            .app
            .count("SELECT COUNT(*) FROM threads WHERE trigger = 'email'")
            .await;
        let m = c
            .app
            .count(
                "SELECT COUNT(*) FROM messages m JOIN threads t ON t.id = m.thread_id \
                 WHERE t.trigger = 'email' AND m.kind = 'user'",
            )
            .await;
        (t == threads && m == messages).then_some(())
    })
    .await
}

const ORDER_MAIL: &str = "From: Ana Ruiz <ana@example.com>\nTo: support@acme.test\nSubject: Where is my order 88?\nMessage-ID: <m1@example.com>\nDate: Sat, 28 Nov 2026 10:00:00 +0000\n\nHi, my order 88 has not arrived. Can you check?\n";

#[tokio::test]
async fn a_mail_starts_a_run_and_the_reply_goes_back_in_its_thread_and_the_answer_continues_it() {
    let imap = ImapServer::start().await;
    let smtp = SmtpSink::start(&[]).await;
    let (c, _team) = app_with_mail(&smtp).await;
    // Mail already in the folder when it is connected is left alone.
    imap.deliver("From: old@example.com\nSubject: An old mail\n\nFrom before.\n")
        .await;
    let r = c.app.send(&c.owner, mailbox(&c.agent, imap.port)).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["kind"], "email");
    assert_eq!(r.body["mailbox"]["address"], ADDRESS);
    assert!(
        !r.body.to_string().contains(PASSWORD),
        "the password is never sent back"
    );
    let sealed = c
        .app
        .count(&format!(
            "SELECT COUNT(*) FROM triggers WHERE kind = 'email' AND secret IS NOT NULL \
             AND secret NOT LIKE '%{PASSWORD}%'"
        ))
        .await;
    assert_eq!(sealed, 1, "the password is stored sealed");

    imap.deliver(ORDER_MAIL).await;
    let mails = smtp.wait_for(1).await;
    let reply = &mails[0];
    assert_eq!(reply["rcpt_tos"], serde_json::json!(["ana@example.com"]));
    assert!(header(reply, "From").contains(ADDRESS), "{reply}");
    assert!(
        header(reply, "From").contains("Customer Support Agent"),
        "{reply}"
    );
    assert_eq!(header(reply, "Subject"), "Re: Where is my order 88?");
    assert_eq!(header(reply, "In-Reply-To"), "<m1@example.com>");
    assert_eq!(header(reply, "References"), "<m1@example.com>");
    assert_eq!(header(reply, "Auto-Submitted"), "auto-replied");
    let ours = header(reply, "Message-ID").to_string();
    assert!(
        ours.starts_with("<run.") && ours.ends_with("@acme.test>"),
        "{ours}"
    );
    assert!(!reply["text"].as_str().unwrap_or_default().trim().is_empty());
    email_runs(&c, 1, 1).await;
    let title: (String,) = sqlx::query_as("SELECT title FROM threads WHERE trigger = 'email'")
        .fetch_one(&c.app.db)
        .await
        .unwrap();
    assert_eq!(title.0, "Email: Where is my order 88?");
    let flags = imap.flags().await;
    assert_eq!(flags.len(), 2);
    assert!(
        !flags[0].contains("Seen"),
        "the old mail is untouched: {flags:?}"
    );
    assert!(
        flags[1].contains("Seen"),
        "the answered mail is marked read: {flags:?}"
    );

    // Ana answers the agent's reply: the same Flare thread goes on, and the reply threads on.
    imap.deliver(&format!(
        "From: Ana Ruiz <ana@example.com>\nTo: support@acme.test\nSubject: Re: Where is my order 88?\nMessage-ID: <m2@example.com>\nIn-Reply-To: {ours}\nReferences: <m1@example.com> {ours}\n\nIt was sent to Lisbon.\n\nOn Sat, Customer Support Agent wrote:\n> Sorry to hear that.\n"
    ))
    .await;
    let mails = smtp.wait_for(2).await;
    let second = &mails[1];
    assert_eq!(header(second, "In-Reply-To"), "<m2@example.com>");
    assert_eq!(
        header(second, "References"),
        format!("<m1@example.com> {ours} <m2@example.com>")
    );
    email_runs(&c, 1, 2).await;
    let body: (String,) = sqlx::query_as(
        "SELECT m.body FROM messages m JOIN threads t ON t.id = m.thread_id \
         WHERE t.trigger = 'email' AND m.kind = 'user' ORDER BY m.seq DESC LIMIT 1",
    )
    .fetch_one(&c.app.db)
    .await
    .unwrap();
    assert_eq!(
        body.0,
        "Re: Where is my order 88?\n\nIt was sent to Lisbon."
    );
    // Nothing more is sent: each mail was answered once.
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(smtp.got().len(), 2);
    let list = c
        .app
        .send(
            &c.owner,
            ListTriggers {
                agent_id: c.agent.clone(),
            },
        )
        .await;
    let checked = &list.body["triggers"][0]["mailbox"];
    assert!(checked["checked_at_ms"].is_i64(), "{checked}");
    assert!(checked["last_error"].is_null(), "{checked}");
}

#[tokio::test]
async fn automatic_mail_is_never_answered_and_malformed_mail_is_read_as_far_as_it_goes() {
    let imap = ImapServer::start().await;
    let smtp = SmtpSink::start(&[]).await;
    let (c, _team) = app_with_mail(&smtp).await;
    let r = c.app.send(&c.owner, mailbox(&c.agent, imap.port)).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    for loop_mail in [
        "From: ana@example.com\nSubject: Out of office\nAuto-Submitted: auto-replied\n\nI am away.\n",
        "From: news@example.com\nSubject: Our news\nPrecedence: bulk\n\nNews.\n",
        "From: MAILER-DAEMON@mx.example.com\nSubject: Undelivered Mail Returned to Sender\nContent-Type: multipart/report; report-type=delivery-status; boundary=b\n\n--b\nContent-Type: text/plain\n\nCould not deliver.\n--b--\n",
        "From: support@acme.test\nSubject: Re: your order\n\nOur own mail, come back.\n",
        "From: ana@example.com\n\n",
    ] {
        imap.deliver(loop_mail).await;
    }
    // A 3 MB attachment after the text: only the first megabyte is fetched.
    let attachment = "QUJD".repeat(3 * 1024 * 1024 / 4);
    let huge = format!(
        "From: Bo <bo@example.com>\nSubject: Invoice\nMessage-ID: <big@example.com>\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=zz\n\n--zz\nContent-Type: text/plain; charset=utf-8\n\nPlease check the invoice attached.\n--zz\nContent-Type: application/pdf; name=invoice.pdf\nContent-Disposition: attachment; filename=invoice.pdf\nContent-Transfer-Encoding: base64\n\n{attachment}\n--zz--\n"
    );
    imap.deliver(&huge).await;
    imap.deliver(
        "From: cy@example.com\nSubject: Charset\nMIME-Version: 1.0\nContent-Type: text/plain; charset=x-no-such-charset\n\nWhere is order 90?\n",
    )
    .await;
    let mails = smtp.wait_for(2).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    let mails_now = smtp.got();
    assert_eq!(
        mails_now.len(),
        2,
        "only the two real mails are answered: {mails_now:?}"
    );
    // Replies go out side by side: in any order.
    let mut to: Vec<&str> = mails
        .iter()
        .map(|m| m["rcpt_tos"][0].as_str().unwrap())
        .collect();
    to.sort_unstable();
    assert_eq!(to, ["bo@example.com", "cy@example.com"]);
    email_runs(&c, 2, 2).await;
    let bodies: Vec<(String,)> = sqlx::query_as(
        "SELECT m.body FROM messages m JOIN threads t ON t.id = m.thread_id \
         WHERE t.trigger = 'email' AND m.kind = 'user' ORDER BY t.created_at, t.id",
    )
    .fetch_all(&c.app.db)
    .await
    .unwrap();
    let all: String = bodies
        .iter()
        .map(|b| b.0.clone())
        .collect::<Vec<_>>()
        .join("|");
    assert!(all.contains("Please check the invoice attached."), "{all}");
    assert!(all.contains("(1 attachment was not read.)"), "{all}");
    assert!(all.contains("Where is order 90?"), "{all}");
    assert!(
        !all.contains("QUJD"),
        "the attachment is not read into the message"
    );
    // Each refusal is in the team's audit, with why (never the mail's text).
    let rejected = c
        .app
        .count("SELECT COUNT(*) FROM audit_log WHERE action = 'trigger.rejected'")
        .await;
    assert_eq!(rejected, 5, "the five unanswered mails are audited");
}

#[tokio::test]
async fn connecting_a_mailbox_checks_it_first_and_only_owners_and_admins_of_the_team_may() {
    let imap = ImapServer::start().await;
    let smtp = SmtpSink::start(&[]).await;
    let (c, team) = app_with_mail(&smtp).await;
    let refused = |r: &Reply, status: StatusCode, words: &str| {
        assert_eq!(r.status, status, "{:?}", r.body);
        assert!(
            r.message().contains(words),
            "{:?} lacks {words:?}",
            r.message()
        );
    };
    let mut wrong = mailbox(&c.agent, imap.port);
    wrong.password = "not-it".into();
    let r = c.app.send(&c.owner, wrong).await;
    refused(&r, StatusCode::BAD_REQUEST, "refused the login");
    assert!(!r.message().contains("not-it"));
    let closed = free_port();
    let r = c.app.send(&c.owner, mailbox(&c.agent, closed)).await;
    refused(&r, StatusCode::BAD_REQUEST, "could not connect");
    let mut far = mailbox(&c.agent, imap.port);
    far.host = "imap.example.com".into();
    let r = c.app.send(&c.owner, far).await;
    refused(&r, StatusCode::BAD_REQUEST, "choose TLS or STARTTLS");
    let mut folder = mailbox(&c.agent, imap.port);
    folder.folder = "Nowhere".into();
    let r = c.app.send(&c.owner, folder).await;
    refused(&r, StatusCode::BAD_REQUEST, "cannot be opened");
    let mut bad = mailbox(&c.agent, imap.port);
    bad.address = "not an address".into();
    refused(
        &c.app.send(&c.owner, bad).await,
        StatusCode::BAD_REQUEST,
        "email address",
    );
    let mut port = mailbox(&c.agent, imap.port);
    port.port = "99999".into();
    refused(
        &c.app.send(&c.owner, port).await,
        StatusCode::BAD_REQUEST,
        "port",
    );
    assert_eq!(
        c.app.count("SELECT COUNT(*) FROM triggers").await,
        0,
        "nothing saved"
    );

    let (admin, member, _) = outsiders(&c, &team).await;
    refused(
        &c.app.send(&member, mailbox(&c.agent, imap.port)).await,
        StatusCode::FORBIDDEN,
        "",
    );
    refused(
        &c.app.send(&admin, mailbox(&c.agent, imap.port)).await,
        StatusCode::NOT_FOUND,
        "",
    );
    refused(
        &c.app.send(&client(), mailbox(&c.agent, imap.port)).await,
        StatusCode::UNAUTHORIZED,
        "",
    );
    // The owner's own session, from another site: refused before the mailbox is even tried.
    let cross = c
        .app
        .send_from_another_site(&c.owner, mailbox(&c.agent, imap.port))
        .await;
    refused(&cross, StatusCode::FORBIDDEN, "");
    assert_eq!(c.app.count("SELECT COUNT(*) FROM triggers").await, 0);

    let r = c.app.send(&c.owner, mailbox(&c.agent, imap.port)).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let mut again = mailbox(&c.agent, imap.port);
    again.name = "Second".into();
    refused(
        &c.app.send(&c.owner, again).await,
        StatusCode::BAD_REQUEST,
        "one mailbox per agent",
    );
    assert_eq!(c.app.count("SELECT COUNT(*) FROM triggers").await, 1);
}

#[tokio::test]
async fn without_an_smtp_relay_a_mailbox_cannot_be_connected() {
    let imap = ImapServer::start().await;
    let (c, _team) = setup_with(50, |_| {}).await;
    let r = c.app.send(&c.owner, mailbox(&c.agent, imap.port)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.message().contains("FLARE_SMTP_URL"), "{}", r.message());
    assert_eq!(c.app.count("SELECT COUNT(*) FROM triggers").await, 0);
}

#[tokio::test]
async fn two_instances_reading_one_mailbox_answer_each_mail_once() {
    let imap = ImapServer::start().await;
    let smtp = SmtpSink::start(&[]).await;
    let (c, _team) = app_with_mail(&smtp).await;
    let mut config = flare::server::config::Config::for_database(c.app.database_url.clone());
    config.secret_key = Some(Secret::new(crate::notifications::KEY));
    config.mailer =
        Some(Mailer::new(Secret::new(smtp.url()), "Flare <flare@example.com>").unwrap());
    config.mail_check_ms = 100;
    let second = TestApp::start(config).await;
    let r = c.app.send(&c.owner, mailbox(&c.agent, imap.port)).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    for i in 1..=6 {
        imap.deliver(&format!(
            "From: person{i}@example.com\nSubject: Question {i}\nMessage-ID: <q{i}@example.com>\n\nWhere is order {i}?\n"
        ))
        .await;
    }
    smtp.wait_for(6).await;
    email_runs(&c, 6, 6).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    let mut to: Vec<String> = smtp
        .got()
        .iter()
        .map(|m| m["rcpt_tos"][0].as_str().unwrap().to_string())
        .collect();
    to.sort();
    let want: Vec<String> = (1..=6).map(|i| format!("person{i}@example.com")).collect();
    assert_eq!(to, want, "each mail answered once across two instances");
    second.stop().await;
}

#[tokio::test]
async fn a_mail_that_escalates_is_answered_once_a_person_has_decided() {
    let imap = ImapServer::start().await;
    let smtp = SmtpSink::start(&[]).await;
    let (c, _team) = app_with_mail(&smtp).await;
    let r = c.app.send(&c.owner, mailbox(&c.agent, imap.port)).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    imap.deliver(&format!(
        "From: ana@example.com\nSubject: Order 88\nMessage-ID: <esc@example.com>\n\n{TUTORIAL_MESSAGE}\n"
    ))
    .await;
    let esc = open_escalation(&c.app, "email").await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(smtp.got().is_empty(), "no reply while a person decides");
    let r = c
        .app
        .send(
            &c.owner,
            flare::escalations::RespondEscalation {
                escalation_id: esc,
                guidance: "Refund order 88 in full.".into(),
            },
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let mails = smtp.wait_for(1).await;
    assert_eq!(mails[0]["rcpt_tos"], serde_json::json!(["ana@example.com"]));
    assert_eq!(header(&mails[0], "In-Reply-To"), "<esc@example.com>");
}
