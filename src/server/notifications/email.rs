//! The email channel: an SMTP relay (FLARE_SMTP_URL, STARTTLS or TLS) sends each escalation to
//! the channel's recipients from FLARE_MAIL_FROM. Mail cannot be edited once sent, so its
//! answer and its reminders follow as replies in the same thread (`In-Reply-To`,
//! `References`). The only link is to the card: nothing answers from a bare GET, because
//! link scanners open every link in a mail. Every message says it was sent by a machine
//! (`Auto-Submitted`), so auto-replies stay away.
//!
//! Each delivery's Message-ID is made from its outbox row, the same on every attempt: when a
//! relay accepted a message but Flare died before recording it, the repeat carries the same
//! id, which mail clients show once.

use super::webhook::{DEADLINE, Outcome};
use crate::escalations::EscalationStatus;
use crate::server::config::Secret;
use crate::server::db::escalations::EscalationRow;
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::time::Instant;

/// Recipients one channel may have.
pub const MAX_RECIPIENTS: usize = 20;
const TEST_TEXT: &str = "A test from Flare: this channel works.";

/// The relay and the sender, checked at start.
#[derive(Clone)]
pub struct Mailer {
    url: Secret,
    from: Mailbox,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may hold the relay's password.
        write!(f, "Mailer(from {})", self.from)
    }
}

impl Mailer {
    /// Reads FLARE_SMTP_URL and FLARE_MAIL_FROM; an error says what to fix and never repeats
    /// the URL (it may hold a password).
    pub fn new(url: Secret, from: &str) -> Result<Self, String> {
        AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose()).map_err(|_| {
            "FLARE_SMTP_URL must be an SMTP relay's address, like \
             smtp://user:password@smtp.example.com:587?tls=required (STARTTLS) or \
             smtps://user:password@smtp.example.com:465 (TLS)"
                .to_string()
        })?;
        let from = from.trim().parse::<Mailbox>().map_err(|_| {
            format!(
                "FLARE_MAIL_FROM must be an address, like Flare <flare@example.com>, got {from:?}"
            )
        })?;
        Ok(Self { url, from })
    }

    fn transport(&self) -> Result<AsyncSmtpTransport<Tokio1Executor>, String> {
        Ok(
            AsyncSmtpTransport::<Tokio1Executor>::from_url(self.url.expose())
                .map_err(|_| "FLARE_SMTP_URL cannot be read".to_string())?
                .timeout(Some(DEADLINE))
                .build(),
        )
    }

    /// A Message-ID under the sender's domain.
    fn message_id(&self, local: &str) -> String {
        format!("<flare-{local}@{}>", self.from.email.domain())
    }
}

/// The deployment's mailer, or why there is none (said where a mail could not be sent).
pub fn mailer(state: &crate::server::state::AppState) -> Result<&Mailer, String> {
    state.config.mailer.as_ref().ok_or_else(|| {
        "email is not set up on this Flare (FLARE_SMTP_URL and FLARE_MAIL_FROM)".into()
    })
}

/// A channel's recipients: addresses separated by commas, semicolons or new lines; stored
/// as one normalised list, each once.
pub fn recipients(raw: &str) -> Result<String, String> {
    let mut list: Vec<String> = Vec::new();
    for part in raw.split([',', ';', '\n', '\r']) {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let address = part
            .parse::<Address>()
            .map_err(|_| format!("\u{201c}{part}\u{201d} is not an email address."))?;
        let address = address.to_string();
        if !list.iter().any(|a| a.eq_ignore_ascii_case(&address)) {
            list.push(address);
        }
    }
    if list.is_empty() {
        return Err("Enter at least one email address.".into());
    }
    if list.len() > MAX_RECIPIENTS {
        return Err(format!(
            "At most {MAX_RECIPIENTS} recipients; use a mailing list for more."
        ));
    }
    Ok(list.join(", "))
}

/// One escalation message as it stands, or a reply in its thread.
pub enum Mail<'a> {
    Raised,
    Answered { thread: Option<&'a str> },
    Reminder { thread: Option<&'a str> },
}

/// What one send came to, and the Message-ID (kept to thread what follows).
pub async fn send(
    mailer: &Mailer,
    recipients: &str,
    delivery_id: &str,
    e: &EscalationRow,
    url: &str,
    mail: Mail<'_>,
) -> Result<super::Posted, String> {
    let id = mailer.message_id(delivery_id);
    let subject = subject(e);
    let (subject, thread, text, html) = match mail {
        Mail::Raised => {
            let (mut text, mut html) = raised_body(e, url);
            if e.status != EscalationStatus::Open {
                let (t, h) = answered_body(e, url);
                text = format!("{t}\n{text}");
                html = format!("{h}<hr>{html}");
            }
            (subject, None, text, html)
        }
        Mail::Answered { thread } => {
            let (text, html) = answered_body(e, url);
            (format!("Re: {subject}"), thread, text, html)
        }
        Mail::Reminder { thread } => {
            let (text, html) = reminder_body(e, url);
            (format!("Re: {subject}"), thread, text, html)
        }
    };
    let mut b = Message::builder()
        .from(mailer.from.clone())
        .subject(subject)
        .message_id(Some(id.clone()));
    if let Some(t) = thread {
        b = b.in_reply_to(t.to_string()).references(t.to_string());
    }
    let message = build(
        b,
        recipients,
        MultiPart::alternative_plain_html(text, html),
        "auto-generated",
    )?;
    let mut posted = deliver(mailer, message).await?;
    posted.message_id = Some(id);
    Ok(posted)
}

/// "Send test": one short mail, outside any thread.
pub async fn send_test(
    mailer: &Mailer,
    recipients: &str,
    delivery_id: &str,
) -> Result<Outcome, String> {
    let b = Message::builder()
        .from(mailer.from.clone())
        .subject("A test from Flare")
        .message_id(Some(mailer.message_id(delivery_id)));
    let message = build(
        b,
        recipients,
        MultiPart::alternative_plain_html(
            TEST_TEXT.to_string(),
            format!("<p>{}</p>", escape(TEST_TEXT)),
        ),
        "auto-generated",
    )?;
    Ok(deliver(mailer, message).await?.outcome)
}

/// An agent's reply to a mail that started its run: from the agent's mailbox, in that mail's
/// thread.
pub struct Reply<'a> {
    pub from: Mailbox,
    pub to: &'a str,
    pub subject: &'a str,
    pub in_reply_to: &'a str,
    pub references: &'a str,
    pub message_id: &'a str,
    pub text: &'a str,
}

/// Sends a reply; `Err` when the relay refused it for good.
pub async fn reply(mailer: &Mailer, r: Reply<'_>) -> Result<Outcome, String> {
    let mut b = Message::builder()
        .from(r.from)
        .subject(r.subject)
        .message_id(Some(r.message_id.to_string()));
    if !r.in_reply_to.is_empty() {
        b = b.in_reply_to(r.in_reply_to.to_string());
    }
    if !r.references.is_empty() {
        b = b.references(r.references.to_string());
    }
    let html = format!(
        "<div style=\"white-space: pre-wrap\">{}</div>",
        escape(r.text)
    );
    let body = MultiPart::alternative_plain_html(r.text.to_string(), html);
    // RFC 3834: an answer a machine wrote; auto-responders must not answer it.
    let message = build(b, r.to, body, "auto-replied")?;
    Ok(deliver(mailer, message).await?.outcome)
}

fn build(
    mut b: lettre::message::MessageBuilder,
    recipients: &str,
    body: MultiPart,
    auto_submitted: &str,
) -> Result<Message, String> {
    for r in recipients.split(", ").filter(|r| !r.is_empty()) {
        let to = r
            .parse::<Mailbox>()
            .map_err(|_| format!("the recipient {r:?} is not an address"))?;
        b = b.to(to);
    }
    let mut message = b
        .multipart(body)
        .map_err(|e| format!("the mail could not be written: {e}"))?;
    // RFC 3834: a machine sent this; auto-responders (and Exchange's) must not answer it.
    let headers = message.headers_mut();
    headers.insert_raw(HeaderValue::new(
        HeaderName::new_from_ascii_str("Auto-Submitted"),
        auto_submitted.into(),
    ));
    headers.insert_raw(HeaderValue::new(
        HeaderName::new_from_ascii_str("X-Auto-Response-Suppress"),
        "All".into(),
    ));
    Ok(message)
}

/// Hands the message to the relay: accepted is delivered; a refusal the relay calls
/// permanent (5xx) is not retried, anything else is.
async fn deliver(mailer: &Mailer, message: Message) -> Result<super::Posted, String> {
    let transport = mailer.transport()?;
    let started = Instant::now();
    match transport.send(message).await {
        Ok(answer) => Ok(super::Posted {
            outcome: Outcome::Delivered {
                status: answer.code().to_string().parse().unwrap_or(250),
                took: started.elapsed(),
            },
            message_id: None,
        }),
        Err(e) => {
            let said = || {
                let code = e.status().map(|c| c.to_string()).unwrap_or_default();
                let text = std::error::Error::source(&e)
                    .map(|s| s.to_string())
                    .unwrap_or_default();
                format!("{code} {text}").trim().to_string()
            };
            if e.is_permanent() {
                return Err(format!("the SMTP server refused it: {}", said()));
            }
            let error = if e.is_transient() {
                format!("the SMTP server said to try later: {}", said())
            } else if e.is_timeout() {
                format!(
                    "the SMTP server did not answer within {} s",
                    DEADLINE.as_secs()
                )
            } else if e.is_tls() {
                "the TLS connection to the SMTP server failed (check its certificate and FLARE_SMTP_URL's tls setting)".to_string()
            } else {
                "could not connect to the SMTP server".to_string()
            };
            Ok(super::Posted::not_delivered(error, None))
        }
    }
}

/// The same subject for the message and its replies, so mail clients thread them.
fn subject(e: &EscalationRow) -> String {
    let (icon, _) = crate::escalations::severity_icon(e.severity);
    let reason: String = e.reason.chars().take(80).collect();
    let more = if e.reason.chars().count() > 80 {
        "\u{2026}"
    } else {
        ""
    };
    format!(
        "{icon} Agent Needs Help \u{2014} {}: {reason}{more}",
        e.agent_name
    )
}

/// Escapes text for HTML.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

const FOOTER: &str = "Answer on the card in Flare: nothing is answered from this mail.";

fn raised_body(e: &EscalationRow, url: &str) -> (String, String) {
    let (icon, _) = crate::escalations::severity_icon(e.severity);
    let text = format!(
        "{icon} {} needs a person.\n\nReason: {}\nSeverity: {}\nTrigger: {}\n\nOpen the card: {url}\n\n{FOOTER}\n",
        e.agent_name,
        e.reason,
        e.severity.label(),
        e.trigger
    );
    let html = format!(
        "<p>{icon} <strong>{}</strong> needs a person.</p>\
         <p><strong>Reason:</strong> {}<br><strong>Severity:</strong> {}<br><strong>Trigger:</strong> {}</p>\
         <p><a href=\"{}\">Open the card in Flare</a></p><p>{FOOTER}</p>",
        escape(&e.agent_name),
        escape(&e.reason),
        e.severity.label(),
        escape(&e.trigger.to_string()),
        escape(url)
    );
    (text, html)
}

/// When it was answered, in UTC.
fn when(ms: Option<i64>) -> String {
    ms.and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok())
        .map(|t| t.strftime(" on %Y-%m-%d at %H:%M UTC").to_string())
        .unwrap_or_default()
}

fn answered_body(e: &EscalationRow, url: &str) -> (String, String) {
    let verb = match e.status {
        EscalationStatus::Resolved => "\u{2705} Resolved",
        EscalationStatus::Dismissed => "\u{2716}\u{fe0f} Dismissed",
        EscalationStatus::Open => "Still open",
    };
    let who = e.responder.as_deref().unwrap_or("someone");
    let at = when(e.answered_at);
    let guidance = e.guidance.as_deref().filter(|g| !g.is_empty());
    let mut text = format!(
        "{verb} by {who}{at}.\n\nThe escalation from {}: {}\n",
        e.agent_name, e.reason
    );
    let mut html = format!(
        "<p><strong>{verb}</strong> by {}{at}.</p><p>The escalation from {}: {}</p>",
        escape(who),
        escape(&e.agent_name),
        escape(&e.reason)
    );
    if let Some(g) = guidance {
        text.push_str(&format!("\nGuidance: {g}\n"));
        html.push_str(&format!(
            "<blockquote>{}</blockquote>",
            escape(g).replace('\n', "<br>")
        ));
    }
    text.push_str(&format!("\nThe card: {url}\n"));
    html.push_str(&format!(
        "<p><a href=\"{}\">The card in Flare</a></p>",
        escape(url)
    ));
    (text, html)
}

fn reminder_body(e: &EscalationRow, url: &str) -> (String, String) {
    let text = format!(
        "\u{23f0} Still waiting for a person: {} escalated \u{201c}{}\u{201d}.\n\nOpen the card: {url}\n\n{FOOTER}\n",
        e.agent_name, e.reason
    );
    let html = format!(
        "<p>\u{23f0} Still waiting for a person: <strong>{}</strong> escalated \u{201c}{}\u{201d}.</p>\
         <p><a href=\"{}\">Open the card in Flare</a></p><p>{FOOTER}</p>",
        escape(&e.agent_name),
        escape(&e.reason),
        escape(url)
    );
    (text, html)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recipients_are_checked_and_kept_once_each() {
        assert_eq!(
            recipients("ada@example.com; bob@example.org\n ada@example.com ,").unwrap(),
            "ada@example.com, bob@example.org"
        );
        assert!(recipients("").is_err());
        assert!(recipients(" , ").is_err());
        let bad = recipients("ada@example.com, not an address").unwrap_err();
        assert!(bad.contains("not an address"), "{bad}");
        let many: Vec<String> = (0..21).map(|i| format!("p{i}@example.com")).collect();
        assert!(
            recipients(&many.join(","))
                .unwrap_err()
                .contains("At most 20")
        );
    }

    #[test]
    fn a_bad_relay_or_sender_is_refused_without_repeating_the_password() {
        let bad =
            Mailer::new(Secret::new("ftp://user:hunter2@mail"), "flare@example.com").unwrap_err();
        assert!(
            bad.contains("FLARE_SMTP_URL") && !bad.contains("hunter2"),
            "{bad}"
        );
        let bad = Mailer::new(Secret::new("smtp://127.0.0.1:2525"), "not an address").unwrap_err();
        assert!(bad.contains("FLARE_MAIL_FROM"), "{bad}");
        let ok = Mailer::new(
            Secret::new("smtp://u:hunter2@127.0.0.1:2525"),
            "Flare <flare@example.com>",
        )
        .unwrap();
        assert!(!format!("{ok:?}").contains("hunter2"));
        assert_eq!(ok.message_id("d1"), "<flare-d1@example.com>");
    }

    #[test]
    fn html_cannot_be_injected_through_what_an_agent_or_person_wrote() {
        assert_eq!(
            escape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }
}
