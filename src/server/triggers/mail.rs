//! Email as a trigger. An agent may have one mailbox (a trigger of kind `email`): Flare reads
//! its folder over IMAP (TLS, STARTTLS, or plain on this machine's loopback only) every
//! FLARE_MAIL_CHECK_MS, and each new mail starts a run, `trigger: email`. Once the run ends,
//! its reply goes back from the agent's address to whoever wrote, in the same thread
//! (`In-Reply-To`, `References`), through the SMTP relay email channels use. A reply to that
//! reply goes on in the same Flare thread, so the agent sees the conversation.
//!
//! Only mail that arrives after the mailbox was connected is read: the folder's last UID is
//! taken as the starting point when it is added. Each mail (its folder's UIDVALIDITY and UID)
//! starts at most one run, across restarts and instances: an instance claims a mailbox's check,
//! and the run's idempotency key is the mail's UID.
//!
//! Loops: automatic mail is never answered: `Auto-Submitted` other than `no`, `Precedence:
//! bulk/junk/list/auto_reply`, `X-Autoreply`/`X-Autorespond`, mailing lists (`List-Id`),
//! delivery reports and bounces (`multipart/report`, an empty `Return-Path`, MAILER-DAEMON),
//! and mail from the mailbox's own address. Flare's replies say `Auto-Submitted:
//! auto-replied`, so auto-responders stay away from them too.
//!
//! Malformed mail is read leniently (`mail-parser`): unknown charsets, no body (the subject is
//! the message), broken MIME. At most the first [`MAX_READ_BYTES`] of a mail are fetched, so a
//! huge attachment costs nothing; attachments are not read, and the run's message says so.

use super::{Once, ReplyTo, Start};
use crate::chat::MAX_MESSAGE_BYTES;
use crate::server::config::Secret;
use crate::server::db::mailboxes::{self, ClaimedReply, MailReply, MailboxRow};
use crate::server::db::triggers::{self as db, TriggerRow};
use crate::server::db::{agents, now_ms};
use crate::server::notifications::webhook::Outcome;
use crate::server::state::AppState;
use crate::server::tls::Stream;
use async_imap::Client;
use futures::TryStreamExt;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

/// How long one step (connecting, logging in, each command) may take.
pub const STEP_DEADLINE: Duration = Duration::from_secs(10);
/// How long one check of a mailbox holds it: longer than a check may take.
const CLAIM: Duration = Duration::from_secs(60);
/// Mail read per check: a flood is read over several checks, oldest first.
const MAX_PER_CHECK: usize = 20;
/// How much of each mail is fetched: its text comes first; attachments after it are not read.
pub const MAX_READ_BYTES: u32 = 1024 * 1024;
/// The longest the worker sleeps before it looks again for a mailbox due for a check.
const TICK: Duration = Duration::from_secs(1);

/// How the connection to the IMAP server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// TLS from the first byte (usually port 993).
    Tls,
    /// A plain connection upgraded with STARTTLS (usually port 143).
    Starttls,
    /// No encryption: only to this machine (a local test server or a bridge).
    None,
}

impl Security {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "tls" => Some(Self::Tls),
            "starttls" => Some(Self::Starttls),
            "none" => Some(Self::None),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Tls => "tls",
            Self::Starttls => "starttls",
            Self::None => "none",
        }
    }
}

/// Where a mailbox is.
pub struct Place<'a> {
    pub host: &'a str,
    pub port: u16,
    pub security: Security,
    pub username: &'a str,
    pub folder: &'a str,
}

impl<'a> Place<'a> {
    fn of(row: &'a MailboxRow) -> Result<Self, String> {
        Ok(Place {
            host: &row.host,
            port: u16::try_from(row.port).map_err(|_| "its port is not a port".to_string())?,
            security: Security::parse(&row.security)
                .ok_or_else(|| "its security setting is unknown".to_string())?,
            username: &row.username,
            folder: &row.folder,
        })
    }
}

type Session = async_imap::Session<Box<dyn Stream>>;

/// Runs one network step with [`STEP_DEADLINE`]; `what` names it in the error.
async fn step<T, E: std::fmt::Display>(
    what: &str,
    f: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, String> {
    match tokio::time::timeout(STEP_DEADLINE, f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(format!("{what}: {e}")),
        Err(_) => Err(format!(
            "{what}: the IMAP server did not answer within {} s",
            STEP_DEADLINE.as_secs()
        )),
    }
}

async fn upgrade(host: &str, tcp: TcpStream) -> Result<Box<dyn Stream>, String> {
    crate::server::tls::upgrade(host, tcp, STEP_DEADLINE).await
}

/// Reads the server's greeting (the first thing it says).
async fn greeted<T: AsyncRead + AsyncWrite + Unpin + Send + std::fmt::Debug>(
    client: &mut Client<T>,
) -> Result<(), String> {
    match step("the IMAP server did not greet", client.read_response()).await? {
        Some(_) => Ok(()),
        None => Err("the IMAP server closed the connection at once".into()),
    }
}

/// Connects and logs in; each error says which step failed, never the password.
async fn open(place: &Place<'_>, password: &Secret) -> Result<Session, String> {
    let address = format!("{}:{}", place.host, place.port);
    let tcp = step(
        &format!("could not connect to {address}"),
        TcpStream::connect((place.host, place.port)),
    )
    .await?;
    let stream: Box<dyn Stream> = match place.security {
        Security::Tls => upgrade(place.host, tcp).await?,
        Security::None => Box::new(tcp),
        Security::Starttls => {
            let mut client = Client::new(tcp);
            greeted(&mut client).await?;
            step(
                "the IMAP server refused STARTTLS",
                client.run_command_and_check_ok("STARTTLS", None),
            )
            .await?;
            upgrade(place.host, client.into_inner()).await?
        }
    };
    let mut client = Client::new(stream);
    if place.security != Security::Starttls {
        greeted(&mut client).await?;
    }
    match tokio::time::timeout(
        STEP_DEADLINE,
        client.login(place.username, password.expose()),
    )
    .await
    {
        Ok(Ok(session)) => Ok(session),
        Ok(Err((e, _))) => Err(format!("the IMAP server refused the login: {e}")),
        Err(_) => Err(format!(
            "the IMAP server did not answer the login within {} s",
            STEP_DEADLINE.as_secs()
        )),
    }
}

/// Says goodbye, briefly: a server that does not answer is left.
async fn close(mut session: Session) {
    let _ = tokio::time::timeout(Duration::from_secs(2), session.logout()).await;
}

/// Connects to a mailbox being added: logs in, opens the folder, and answers where reading
/// starts (its UIDVALIDITY and the last UID in it), or what went wrong, for the form.
pub async fn probe(place: &Place<'_>, password: &Secret) -> Result<(u32, u32), String> {
    let mut session = open(place, password).await?;
    let folder = step(
        &format!(
            "the folder \u{201c}{}\u{201d} cannot be opened",
            place.folder
        ),
        session.select(place.folder),
    )
    .await;
    let at = folder.map(|f| start_of(&f));
    close(session).await;
    at
}

/// (UIDVALIDITY, the last UID so far) of a folder just opened.
fn start_of(folder: &async_imap::types::Mailbox) -> (u32, u32) {
    (
        folder.uid_validity.unwrap_or(0),
        folder.uid_next.unwrap_or(1).saturating_sub(1),
    )
}

/// Checks the mailboxes that are due, for as long as the server runs.
pub async fn run_checker(state: AppState) {
    let postgres = !state.writes.is_shared();
    loop {
        // A read first, so an idle worker never takes SQLite's write turn.
        let next = match mailboxes::next_due(&state.db).await {
            Ok(next) => next,
            Err(e) => {
                tracing::warn!(error = %e, "cannot look for mailboxes to check");
                None
            }
        };
        let now = now_ms();
        if next.is_some_and(|due| due <= now) {
            let claimed = async {
                let _turn = state.writes.take().await?;
                let now = now_ms();
                let until = now + CLAIM.as_millis() as i64;
                mailboxes::claim_due(&state.db, postgres, now, until, 8).await
            }
            .await;
            match claimed {
                Ok(rows) if !rows.is_empty() => {
                    let checks = rows.iter().map(|row| check_and_record(&state, row));
                    futures::future::join_all(checks).await;
                    continue;
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "cannot claim mailboxes to check"),
            }
        }
        // Until the next check is due, looking again at least every tick (a new mailbox).
        let tick = TICK.as_millis() as i64;
        let wait = next.map_or(tick, |due| (due - now).clamp(50, tick));
        tokio::time::sleep(Duration::from_millis(wait as u64)).await;
    }
}

async fn check_and_record(state: &AppState, row: &MailboxRow) {
    let outcome = match tokio::time::timeout(CLAIM / 2, check(state, row)).await {
        Ok(outcome) => outcome,
        Err(_) => Err(format!(
            "checking took longer than {} s and was stopped",
            CLAIM.as_secs() / 2
        )),
    };
    if let Err(why) = &outcome {
        tracing::warn!(trigger = %row.trigger_id, error = %why, "a mailbox could not be checked");
    }
    let next = now_ms() + state.config.mail_check_ms as i64;
    let recorded = async {
        let _turn = state.writes.take().await?;
        mailboxes::checked(&state.db, &row.trigger_id, outcome.err().as_deref(), next).await
    }
    .await;
    if let Err(e) = recorded {
        tracing::warn!(error = %e, trigger = %row.trigger_id, "cannot record a mailbox check");
    }
}

/// Reads what is new in one mailbox and starts a run for each mail that asks for one.
async fn check(state: &AppState, row: &MailboxRow) -> Result<(), String> {
    let db_error = |e: sqlx::Error| format!("the database could not be read: {e}");
    let trigger = db::by_id(&state.db, &row.trigger_id)
        .await
        .map_err(db_error)?
        .ok_or("its trigger is gone")?;
    let agent = agents::by_id(&state.db, &trigger.agent_id)
        .await
        .map_err(db_error)?
        .filter(|a| a.deleted_at.is_none())
        .ok_or("its agent is gone")?;
    let password = crate::server::notifications::open_sealed(
        state,
        trigger.secret.as_deref(),
        &super::manage::seal_context(&trigger.id),
    )
    .ok_or("its password cannot be opened on this Flare (FLARE_SECRET_KEY changed)")?;
    let place = Place::of(row)?;
    let mut session = open(&place, &password).await?;
    let read = read_new(state, &mut session, row, &trigger, &agent).await;
    close(session).await;
    read
}

async fn read_new(
    state: &AppState,
    session: &mut Session,
    row: &MailboxRow,
    trigger: &TriggerRow,
    agent: &agents::AgentRow,
) -> Result<(), String> {
    let folder = step(
        &format!("the folder \u{201c}{}\u{201d} cannot be opened", row.folder),
        session.select(&row.folder),
    )
    .await?;
    let (validity, last) = start_of(&folder);
    if i64::from(validity) != row.uid_validity {
        // The server renumbered the folder: the old numbers mean nothing now, so reading goes
        // on from what arrives next (a mail may be missed; none is answered twice).
        tracing::warn!(trigger = %row.trigger_id, "the mailbox's folder was renumbered (UIDVALIDITY changed); reading goes on from new mail");
        mailboxes::renumbered(&state.db, &row.trigger_id, validity, last)
            .await
            .map_err(|e| e.to_string())?;
        return Ok(());
    }
    let from = row.last_uid + 1;
    let found = step(
        "the folder cannot be searched",
        session.uid_search(format!("UID {from}:*")),
    )
    .await?;
    // `n:*` names the last mail even when its UID is below n.
    let mut uids: Vec<u32> = found
        .into_iter()
        .filter(|u| i64::from(*u) > row.last_uid)
        .collect();
    uids.sort_unstable();
    uids.truncate(MAX_PER_CHECK);
    for uid in uids {
        let raw = fetch(session, uid).await?;
        take(state, trigger, agent, row, validity, uid, &raw).await?;
        mailboxes::read_up_to(&state.db, &row.trigger_id, uid)
            .await
            .map_err(|e| e.to_string())?;
        // Marked read for people who look at the mailbox too (best effort).
        if let Ok(flags) = step(
            "",
            session.uid_store(uid.to_string(), "+FLAGS.SILENT (\\Seen)"),
        )
        .await
        {
            let _ = step("", flags.try_collect::<Vec<_>>()).await;
        }
        while session.unsolicited_responses.try_recv().is_ok() {}
    }
    Ok(())
}

/// The first [`MAX_READ_BYTES`] of one mail, left unread on the server.
async fn fetch(session: &mut Session, uid: u32) -> Result<Vec<u8>, String> {
    let query = format!("(UID BODY.PEEK[]<0.{MAX_READ_BYTES}>)");
    let what = "a mail cannot be fetched";
    let fetches: Vec<_> = step(what, async {
        session
            .uid_fetch(uid.to_string(), &query)
            .await?
            .try_collect::<Vec<_>>()
            .await
    })
    .await?;
    while session.unsolicited_responses.try_recv().is_ok() {}
    Ok(fetches
        .iter()
        .find(|f| f.uid == Some(uid))
        .and_then(|f| f.body())
        .map(<[u8]>::to_vec)
        .unwrap_or_default())
}

/// Starts the run a mail asks for, or records why it is not answered. `Err` only when the
/// database failed: the mail is read again at the next check.
async fn take(
    state: &AppState,
    trigger: &TriggerRow,
    agent: &agents::AgentRow,
    row: &MailboxRow,
    validity: u32,
    uid: u32,
    raw: &[u8],
) -> Result<(), String> {
    let mail = match read(raw, &row.address) {
        Ok(mail) => mail,
        Err(why) => {
            tracing::info!(trigger = %trigger.id, uid, why, "a mail was not answered");
            super::audit_rejected(
                &state.db,
                trigger,
                &format!("a mail was not answered: {why}"),
            )
            .await;
            return Ok(());
        }
    };
    let scope = format!("email:{}", trigger.id);
    let key = format!("{validity}:{uid}");
    let author = format!("email: {}", mail.from);
    let reply_to = ReplyTo::Mail(MailReply {
        trigger_id: trigger.id.clone(),
        recipient: mail.reply_to.clone(),
        subject: reply_subject(&mail.subject),
        in_reply_to: mail.message_id.clone(),
        refs: mail.thread_refs(),
    });
    // An answer to one of the agent's replies goes on in that reply's thread.
    for run_id in mail.replied_runs() {
        let Some(thread) = mailboxes::thread_of(&state.db, &trigger.id, &run_id)
            .await
            .map_err(|e| e.to_string())?
        else {
            continue;
        };
        let went = crate::server::chat::continue_from_chat(
            state,
            &thread,
            &author,
            &mail.text,
            (&scope, &key),
            reply_to.clone(),
        )
        .await
        .map_err(|e| e.to_string())?;
        use crate::server::chat::Continued;
        match went {
            Continued::Started | Continued::Earlier => return Ok(()),
            // Busy (the agent is still on the last mail) or gone: a thread of its own, so the
            // mail is answered all the same.
            Continued::Busy | Continued::Gone => break,
        }
    }
    let mut start = Start::fired(trigger, agent, &mail.text);
    start.title = format!(
        "Email: {}",
        crate::server::notifications::discord::clip(&mail.subject, 80)
    );
    start.author = author;
    start.once = Some(Once {
        scope,
        key: &key,
        fingerprint: Once::fingerprint(&[key.as_bytes()]),
    });
    start.reply_to = Some(reply_to);
    super::start_run(state, start)
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

fn reply_subject(subject: &str) -> String {
    let s = subject.trim();
    if s.is_empty() {
        "Re: your message".into()
    } else if s.len() >= 3 && s[..3].eq_ignore_ascii_case("re:") {
        s.to_string()
    } else {
        format!("Re: {s}")
    }
}

/// A mail that asks for a run.
#[derive(Debug, PartialEq)]
pub(crate) struct Mail {
    /// Who wrote, as people read it ("Ana <ana@example.com>").
    pub from: String,
    /// Where the reply goes (`Reply-To`, else `From`).
    pub reply_to: String,
    pub subject: String,
    /// The run's first message: the subject and what the person wrote above any quote.
    pub text: String,
    /// Its Message-ID, with angle brackets (empty when it has none).
    pub message_id: String,
    /// The thread's earlier Message-IDs (`References`, else `In-Reply-To`), with brackets.
    pub references: Vec<String>,
}

impl Mail {
    /// `References` for a reply to this mail: the thread so far and this mail.
    fn thread_refs(&self) -> String {
        let mut refs = self.references.clone();
        if !self.message_id.is_empty() {
            refs.push(self.message_id.clone());
        }
        // Long threads keep the first and the latest ids, as mail clients do.
        if refs.len() > 20 {
            refs.drain(1..refs.len() - 19);
        }
        refs.join(" ")
    }

    /// The runs whose replies this mail answers (Flare's own Message-IDs in its thread),
    /// latest first.
    fn replied_runs(&self) -> Vec<String> {
        self.references
            .iter()
            .rev()
            .filter_map(|id| run_of_message_id(id))
            .collect()
    }
}

/// The Message-ID of a run's reply: `<run.{id}@{the mailbox's domain}>`.
pub fn reply_message_id(run_id: &str, address: &str) -> String {
    let domain = address.rsplit_once('@').map(|(_, d)| d).unwrap_or("flare");
    format!("<run.{run_id}@{domain}>")
}

fn run_of_message_id(id: &str) -> Option<String> {
    let local = id.trim().strip_prefix("<run.")?.split_once('@')?.0;
    (!local.is_empty() && local.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
        .then(|| local.to_string())
}

/// Reads one mail: what it asks, or why it is not answered.
pub(crate) fn read(raw: &[u8], own_address: &str) -> Result<Mail, &'static str> {
    let message = mail_parser::MessageParser::default()
        .parse(raw)
        .ok_or("it could not be read as a mail")?;
    let header = |name: &str| {
        message
            .header_raw(name)
            .map(|v| v.trim().to_ascii_lowercase())
    };
    if let Some(v) = header("Auto-Submitted")
        && v.split(';').next().map(str::trim) != Some("no")
    {
        return Err("it was sent automatically (Auto-Submitted)");
    }
    if let Some(v) = header("Precedence")
        && matches!(v.as_str(), "bulk" | "junk" | "list" | "auto_reply")
    {
        return Err("it was sent in bulk or automatically (Precedence)");
    }
    if header("X-Autoreply").is_some() || header("X-Autorespond").is_some() {
        return Err("it is an auto-reply");
    }
    if header("List-Id").is_some() {
        return Err("it was sent to a mailing list");
    }
    let report = message
        .header("Content-Type")
        .and_then(|h| h.as_content_type())
        .is_some_and(|c| {
            c.ctype().eq_ignore_ascii_case("multipart")
                && c.subtype()
                    .is_some_and(|s| s.eq_ignore_ascii_case("report"))
        });
    let null_sender =
        header("Return-Path").is_some_and(|v| v.trim_matches([' ', '<', '>']).is_empty());
    let from = message
        .from()
        .and_then(|a| a.first())
        .and_then(|a| {
            a.address()
                .map(|addr| (a.name().map(str::to_string), addr.to_string()))
        })
        .ok_or("it names no sender to answer")?;
    let local = from
        .1
        .split('@')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    if report || null_sender || local == "mailer-daemon" || local == "postmaster" {
        return Err("it is a delivery report (a bounce)");
    }
    if from.1.eq_ignore_ascii_case(own_address) {
        return Err("it was sent from this mailbox itself");
    }
    let reply_to = message
        .reply_to()
        .and_then(|a| a.first())
        .and_then(|a| a.address())
        .filter(|a| a.parse::<lettre::Address>().is_ok())
        .unwrap_or(&from.1)
        .to_string();
    if reply_to.parse::<lettre::Address>().is_err() {
        return Err("its sender's address cannot be answered");
    }
    let subject = clean(message.subject().unwrap_or_default());
    let body = message
        .body_text(0)
        .map(|t| above_quote(&t))
        .unwrap_or_default();
    let attachments = message.attachment_count();
    let mut text = match (subject.is_empty(), body.is_empty()) {
        (true, true) if attachments == 0 => return Err("it is empty"),
        (true, true) => String::new(),
        (false, true) => subject.clone(),
        (true, false) => body,
        (false, false) => format!("{subject}\n\n{body}"),
    };
    if attachments > 0 {
        let note = match attachments {
            1 => "(1 attachment was not read.)".to_string(),
            n => format!("({n} attachments were not read.)"),
        };
        text = if text.is_empty() {
            note
        } else {
            format!("{text}\n\n{note}")
        };
    }
    let text = cut(&text, MAX_MESSAGE_BYTES);
    let bracket = |id: &str| format!("<{}>", id.trim().trim_matches(['<', '>']));
    let message_id = message.message_id().map(bracket).unwrap_or_default();
    let list = |v: &mail_parser::HeaderValue| -> Vec<String> {
        match v {
            mail_parser::HeaderValue::Text(t) => vec![bracket(t)],
            mail_parser::HeaderValue::TextList(l) => l.iter().map(|t| bracket(t)).collect(),
            _ => Vec::new(),
        }
    };
    let mut references = list(message.references());
    if references.is_empty() {
        references = list(message.in_reply_to());
    }
    references.retain(|r| r.len() > 2 && r.len() <= 250 && !r.contains(char::is_whitespace));
    let from = match from.0.map(|n| clean(&n)).filter(|n| !n.is_empty()) {
        Some(name) => format!("{name} <{}>", from.1),
        None => from.1,
    };
    Ok(Mail {
        from,
        reply_to,
        subject,
        text,
        message_id,
        references,
    })
}

/// One line, without control characters.
fn clean(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// What the person wrote, above the quote of what they answer ("On … wrote:", "> …",
/// "-----Original Message-----"), without control characters other than line breaks.
fn above_quote(text: &str) -> String {
    let mut kept: Vec<&str> = Vec::new();
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with("-----Original Message-----")
            || (t.starts_with("On ") && t.ends_with("wrote:"))
        {
            break;
        }
        if t.starts_with('>') {
            continue;
        }
        kept.push(line.trim_end());
    }
    let text = kept.join("\n");
    text.chars()
        .filter(|c| !c.is_control() || matches!(c, '\n' | '\t'))
        .collect::<String>()
        .trim()
        .to_string()
}

/// At most `max` bytes, cut at a character, saying so.
fn cut(text: &str, max: usize) -> String {
    const MORE: &str = "\n\n(The rest of the mail was cut.)";
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max - MORE.len();
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{MORE}", &text[..end])
}

/// Sends a run's reply into the thread of the mail that started it.
pub(crate) async fn send_reply(
    state: &AppState,
    row: &ClaimedReply,
) -> Result<(), super::chat::NotSent> {
    let db_error = |e: sqlx::Error| (format!("the database could not be read: {e}"), None);
    let mailer = crate::server::notifications::email::mailer(state).map_err(|why| (why, None))?;
    let trigger = db::by_id(&state.db, &row.to.trigger_id)
        .await
        .map_err(db_error)?
        .ok_or_else(|| ("its mailbox is gone".to_string(), None))?;
    let mailbox = mailboxes::by_trigger(&state.db, &trigger.id)
        .await
        .map_err(db_error)?
        .ok_or_else(|| ("its mailbox is gone".to_string(), None))?;
    let (run, text) = super::chat::final_text(state, &row.run_id).await?;
    let from = lettre::message::Mailbox::new(
        Some(trigger.agent_name.clone()),
        mailbox
            .address
            .parse()
            .map_err(|_| ("the mailbox's address is not an address".to_string(), None))?,
    );
    let reply = crate::server::notifications::email::Reply {
        from,
        to: &row.to.recipient,
        subject: &row.to.subject,
        in_reply_to: &row.to.in_reply_to,
        references: &row.to.refs,
        message_id: &reply_message_id(&run.id, &mailbox.address),
        text: &text,
    };
    match crate::server::notifications::email::reply(mailer, reply).await {
        Ok(Outcome::Delivered { .. }) => Ok(()),
        Ok(Outcome::NotDelivered { error, retry_after }) => Err((error, retry_after)),
        // Refused for good (5xx): not retried.
        Err(error) => Err((error, Some(super::chat::NEVER))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mail(headers: &str, body: &str) -> Vec<u8> {
        format!("{headers}\r\n\r\n{body}").into_bytes()
    }

    const PLAIN: &str = "From: Ana Ruiz <ana@example.com>\r\nTo: support@acme.test\r\nSubject: Refund for order 88\r\nMessage-ID: <m1@example.com>";

    #[test]
    fn a_plain_mail_is_read_with_its_subject_sender_and_id() {
        let m = read(
            &mail(PLAIN, "I want my money back.\r\n"),
            "support@acme.test",
        )
        .unwrap();
        assert_eq!(m.from, "Ana Ruiz <ana@example.com>");
        assert_eq!(m.reply_to, "ana@example.com");
        assert_eq!(m.text, "Refund for order 88\n\nI want my money back.");
        assert_eq!(m.message_id, "<m1@example.com>");
        assert!(m.references.is_empty());
        assert_eq!(m.thread_refs(), "<m1@example.com>");
    }

    #[test]
    fn automatic_mail_and_bounces_are_never_answered() {
        for extra in [
            "Auto-Submitted: auto-replied",
            "Auto-Submitted: auto-generated; type=vacation",
            "Precedence: bulk",
            "Precedence: auto_reply",
            "X-Autoreply: yes",
            "List-Id: <team.lists.example.com>",
            "Return-Path: <>",
            "Content-Type: multipart/report; report-type=delivery-status; boundary=x",
        ] {
            let raw = mail(&format!("{PLAIN}\r\n{extra}"), "Out of office.");
            assert!(
                read(&raw, "support@acme.test").is_err(),
                "{extra} was answered"
            );
        }
        let daemon = mail(
            "From: MAILER-DAEMON@mx.example.com\r\nSubject: Undeliverable",
            "x",
        );
        assert!(read(&daemon, "support@acme.test").is_err());
        let own = mail("From: support@acme.test\r\nSubject: Hi", "x");
        assert!(read(&own, "SUPPORT@acme.test").is_err());
        let ok = mail(&format!("{PLAIN}\r\nAuto-Submitted: no"), "Please help");
        assert!(read(&ok, "support@acme.test").is_ok());
    }

    #[test]
    fn quotes_are_left_out_and_a_reply_to_flare_names_its_run() {
        let raw = mail(
            &format!(
                "{PLAIN}\r\nIn-Reply-To: <run.abc-123@acme.test>\r\nReferences: <m0@example.com> <run.abc-123@acme.test>"
            ),
            "Yes, order 88.\r\n\r\nOn Mon, 1 Dec 2026, Support wrote:\r\n> Which order?\r\n",
        );
        let m = read(&raw, "support@acme.test").unwrap();
        assert_eq!(m.text, "Refund for order 88\n\nYes, order 88.");
        assert_eq!(m.replied_runs(), vec!["abc-123".to_string()]);
        assert_eq!(
            m.thread_refs(),
            "<m0@example.com> <run.abc-123@acme.test> <m1@example.com>"
        );
        assert_eq!(reply_subject("RE: x"), "RE: x");
        assert_eq!(reply_subject("x"), "Re: x");
        assert_eq!(reply_subject(" "), "Re: your message");
    }

    #[test]
    fn malformed_mail_is_read_as_far_as_it_can_be() {
        // No body: the subject is the message.
        let m = read(&mail(PLAIN, ""), "support@acme.test").unwrap();
        assert_eq!(m.text, "Refund for order 88");
        // Nothing at all to answer.
        let empty = mail("From: ana@example.com", "");
        assert_eq!(read(&empty, "support@acme.test"), Err("it is empty"));
        // An unknown charset: the bytes are still read as text.
        let odd = mail(
            &format!("{PLAIN}\r\nContent-Type: text/plain; charset=x-unknown-42"),
            "Please refund me",
        );
        assert!(
            read(&odd, "support@acme.test")
                .unwrap()
                .text
                .contains("Please refund me")
        );
        // No sender.
        assert!(read(&mail("Subject: hi", "x"), "support@acme.test").is_err());
        // Too long: cut at a character, saying so.
        let long = "é".repeat(MAX_MESSAGE_BYTES);
        let m = read(
            &mail(
                &format!("{PLAIN}\r\nContent-Type: text/plain; charset=utf-8"),
                &long,
            ),
            "support@acme.test",
        )
        .unwrap();
        assert!(m.text.len() <= MAX_MESSAGE_BYTES);
        assert!(m.text.ends_with("(The rest of the mail was cut.)"));
    }

    #[test]
    fn header_injection_through_a_subject_stays_on_one_line() {
        let raw = mail(
            "From: ana@example.com\r\nSubject: =?utf-8?q?Hi=0D=0ABcc:_x@evil.test?=",
            "x",
        );
        let m = read(&raw, "support@acme.test").unwrap();
        assert!(!m.subject.contains('\n') && !m.subject.contains('\r'));
    }
}
