//! Adding, pausing and deleting an agent's triggers (webhooks, schedules, events, its mailbox):
//! members of its team see them, owners and admins of that team change them. A webhook's
//! signing secret is shown once, then kept sealed; a mailbox's password is never shown again.

use super::schedule::Schedule;
use crate::error::AppError;
use crate::server::auth::{Viewer, viewer};
use crate::server::config::Secret;
use crate::server::db::agents::AgentRow;
use crate::server::db::audit;
use crate::server::db::mailboxes;
use crate::server::db::triggers::{self as db, NewTrigger, TriggerRow};
use crate::server::db::{new_id, now_ms};
use crate::server::state::{AppState, app_state};
use crate::triggers::{
    AgentTriggers, EventInfo, EventKind, MailboxInfo, NewWebhook, ScheduleInfo, TriggerInfo,
    TriggerKind,
};
use crate::validate;

/// Where a trigger's sealed secret belongs (a sealed value opens only for its own row).
pub fn seal_context(trigger_id: &str) -> String {
    format!("trigger:{trigger_id}")
}

pub fn hook_path(trigger_id: &str) -> String {
    format!("/hooks/{trigger_id}")
}

fn info(row: &TriggerRow) -> TriggerInfo {
    let schedule = (row.kind == TriggerKind::Schedule).then(|| {
        let (cron, tz) = (
            row.cron.clone().unwrap_or_default(),
            row.time_zone.clone().unwrap_or_default(),
        );
        let upcoming = Schedule::parse(&cron, &tz)
            .map(|s| s.upcoming(now_ms(), 3))
            .unwrap_or_default();
        ScheduleInfo {
            cron,
            time_zone: tz,
            message: row.message.clone().unwrap_or_default(),
            upcoming,
        }
    });
    TriggerInfo {
        id: row.id.clone(),
        kind: row.kind,
        name: row.name.clone(),
        enabled: row.enabled != 0,
        path: (row.kind == TriggerKind::Webhook).then(|| hook_path(&row.id)),
        schedule,
        event: None,
        mailbox: None,
        created_at_ms: row.created_at,
    }
}

/// With an event trigger's source agent named, and a mailbox's place (one lookup each).
async fn info_named(db: &crate::server::db::Db, row: &TriggerRow) -> Result<TriggerInfo, AppError> {
    let mut out = info(row);
    if row.kind == TriggerKind::Email
        && let Some(m) = mailboxes::by_trigger(db, &row.id).await?
    {
        out.mailbox = Some(MailboxInfo {
            address: m.address,
            host: m.host,
            port: u16::try_from(m.port).unwrap_or_default(),
            security: m.security,
            username: m.username,
            folder: m.folder,
            checked_at_ms: m.checked_at,
            last_error: m.last_error,
        });
    }
    if let (Some(source), Some(on)) = (&row.source_agent_id, &row.on_event) {
        let name = crate::server::db::agents::by_id(db, source)
            .await?
            .map(|a| a.name)
            .unwrap_or_else(|| "a deleted agent".into());
        out.event = Some(EventInfo {
            source_agent_id: source.clone(),
            source_agent_name: name,
            on: EventKind::from_stored(on).map_err(AppError::internal)?,
            message: row.message.clone().unwrap_or_default(),
        });
    }
    Ok(out)
}

pub async fn add_event(
    agent_id: String,
    name: String,
    source_agent_id: String,
    on_event: String,
    message: String,
) -> Result<TriggerInfo, AppError> {
    let (v, state, agent) = addable(&agent_id).await?;
    let name = validate::name(&name, "trigger name", 80)?;
    // The agent it follows must be of the same team: another team's runs are not its business.
    let source = crate::server::agents::visible(&v, &state.db, &source_agent_id)
        .await
        .ok()
        .filter(|s| s.team_id == agent.team_id)
        .ok_or_else(|| {
            AppError::NotFound("No such agent to follow in this agent's team.".into())
        })?;
    let on = on_event
        .parse::<EventKind>()
        .map_err(|_| AppError::invalid("Choose what to follow: a run completes, a run fails, an escalation is raised or answered."))?;
    let message = validate::long_text(&message, "message", crate::chat::MAX_MESSAGE_BYTES)?;
    let id = new_id();
    let trigger = NewTrigger {
        id: &id,
        team_id: &agent.team_id,
        agent_id: &agent.id,
        kind: TriggerKind::Event,
        name: &name,
        secret: None,
        created_by: &v.user.id,
        schedule: None,
        event: Some((&source.id, on.as_str(), &message)),
    };
    let detail = format!(
        "event \u{201c}{name}\u{201d}: when {}'s {}, start {}",
        source.name,
        on.label(),
        agent.name
    );
    store(&state, &v, trigger, &detail).await?;
    let row = db::by_id(&state.db, &id).await?.ok_or(AppError::Internal)?;
    info_named(&state.db, &row).await
}

pub async fn preview(cron: String, time_zone: String) -> Result<Vec<String>, AppError> {
    viewer().await?;
    Ok(Schedule::parse(&cron, &time_zone)?.upcoming(now_ms(), 3))
}

pub async fn add_schedule(
    agent_id: String,
    name: String,
    cron: String,
    time_zone: String,
    message: String,
) -> Result<TriggerInfo, AppError> {
    let (v, state, agent) = addable(&agent_id).await?;
    let name = validate::name(&name, "schedule name", 80)?;
    let schedule = Schedule::parse(&cron, &time_zone)?;
    let message = validate::long_text(&message, "message", crate::chat::MAX_MESSAGE_BYTES)?;
    let (cron, time_zone) = (cron.trim(), time_zone.trim());
    let first = schedule.next_after(now_ms()).map_err(AppError::internal)?;
    let id = new_id();
    let trigger = NewTrigger {
        id: &id,
        team_id: &agent.team_id,
        agent_id: &agent.id,
        kind: TriggerKind::Schedule,
        name: &name,
        secret: None,
        created_by: &v.user.id,
        schedule: Some((cron, time_zone, &message, first)),
        event: None,
    };
    let detail = format!(
        "schedule \u{201c}{name}\u{201d} ({cron}, {time_zone}) for {}",
        agent.name
    );
    store(&state, &v, trigger, &detail).await?;
    let row = db::by_id(&state.db, &id).await?.ok_or(AppError::Internal)?;
    Ok(info(&row))
}

pub async fn list(agent_id: String) -> Result<AgentTriggers, AppError> {
    let v = viewer().await?;
    let state = app_state()?;
    let agent = crate::server::agents::visible(&v, &state.db, &agent_id).await?;
    let rows = db::for_agent(&state.db, &agent.id).await?;
    let mut triggers = Vec::with_capacity(rows.len());
    for row in &rows {
        triggers.push(info_named(&state.db, row).await?);
    }
    Ok(AgentTriggers {
        agent_id: agent.id,
        team_id: agent.team_id,
        agent_name: agent.name,
        can_edit: v.user.role.can_manage(),
        triggers,
    })
}

/// The viewer, the state and the agent, if the viewer may add triggers to it.
async fn addable(agent_id: &str) -> Result<(Viewer, AppState, AgentRow), AppError> {
    let v = viewer().await?;
    v.require_manager_to("add triggers")?;
    let state = app_state()?;
    let agent = crate::server::agents::visible(&v, &state.db, agent_id).await?;
    Ok((v, state, agent))
}

/// Stores a new trigger with its audit entry, together.
async fn store(
    state: &AppState,
    v: &Viewer,
    trigger: NewTrigger<'_>,
    detail: &str,
) -> Result<(), AppError> {
    let mut tx = state.db.begin().await?;
    let (id, team_id) = (trigger.id, trigger.team_id);
    db::insert(&mut *tx, trigger).await?;
    audit::record_for(
        &mut *tx,
        v.actor(),
        Some(team_id),
        "trigger.created",
        id,
        detail,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

pub async fn add_webhook(agent_id: String, name: String) -> Result<NewWebhook, AppError> {
    let (v, state, agent) = addable(&agent_id).await?;
    let name = validate::name(&name, "webhook name", 80)?;
    let id = new_id();
    let secret = format!("whsec_{}", crate::server::secret_box::random_hex());
    let sealed = seal(&state, &secret, &id)?;
    let trigger = NewTrigger {
        id: &id,
        team_id: &agent.team_id,
        agent_id: &agent.id,
        kind: TriggerKind::Webhook,
        name: &name,
        secret: Some(&sealed),
        created_by: &v.user.id,
        schedule: None,
        event: None,
    };
    let detail = format!("webhook \u{201c}{name}\u{201d} for {}", agent.name);
    store(&state, &v, trigger, &detail).await?;
    Ok(NewWebhook {
        trigger: TriggerInfo {
            id: id.clone(),
            kind: TriggerKind::Webhook,
            name,
            enabled: true,
            path: Some(hook_path(&id)),
            schedule: None,
            event: None,
            mailbox: None,
            created_at_ms: now_ms(),
        },
        secret,
    })
}

/// What the mailbox form sends.
pub struct NewMailbox {
    pub agent_id: String,
    pub name: String,
    pub address: String,
    pub host: String,
    pub port: String,
    pub security: String,
    pub username: String,
    pub password: String,
    pub folder: String,
}

/// Whether `host` is this machine, the only place Flare sends a password unencrypted.
fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .trim_matches(['[', ']'])
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

pub async fn add_mailbox(form: NewMailbox) -> Result<TriggerInfo, AppError> {
    use super::mail::{Place, Security, probe};
    let (v, state, agent) = addable(&form.agent_id).await?;
    let name = validate::name(&form.name, "mailbox name", 80)?;
    let address = form
        .address
        .trim()
        .parse::<lettre::Address>()
        .map_err(|_| {
            AppError::invalid("Enter the agent's email address, like support@example.com.")
        })?
        .to_string();
    let host = form.host.trim().to_string();
    if host.is_empty()
        || host.len() > 253
        || host.contains(['/', ':', '@'])
        || host.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(AppError::invalid(
            "Enter the IMAP server's host name, like imap.example.com (no scheme, no port).",
        ));
    }
    let port = form
        .port
        .trim()
        .parse::<u16>()
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| {
            AppError::invalid(
                "The port is a number from 1 to 65535 (993 for TLS, 143 for STARTTLS).",
            )
        })?;
    let security = Security::parse(form.security.trim())
        .ok_or_else(|| AppError::invalid("Choose TLS, STARTTLS or none."))?;
    if security == Security::None && !is_loopback(&host) {
        return Err(AppError::invalid(
            "Without TLS the password would cross the network readable: choose TLS or STARTTLS (no encryption is only for a server on this machine).",
        ));
    }
    let username = validate::name(&form.username, "user name", 320)?;
    if form.password.is_empty() || form.password.len() > 1024 {
        return Err(AppError::invalid("Enter the mailbox's password."));
    }
    let folder = match form.folder.trim() {
        "" => "INBOX".to_string(),
        f => validate::name(f, "folder", 200)?,
    };
    if state.config.mailer.is_none() {
        return Err(AppError::invalid(
            "Replies go out through the SMTP relay: set FLARE_SMTP_URL and FLARE_MAIL_FROM, restart Flare, then add the mailbox.",
        ));
    }
    let existing = db::for_agent(&state.db, &agent.id).await?;
    if let Some(m) = existing.iter().find(|t| t.kind == TriggerKind::Email) {
        return Err(AppError::invalid(format!(
            "{} already reads the mailbox \u{201c}{}\u{201d}: one mailbox per agent. Delete it first to connect another.",
            agent.name, m.name
        )));
    }
    if mailboxes::same_place(&state.db, &host, port, &username, &folder)
        .await?
        .is_some()
    {
        return Err(AppError::invalid(
            "Another agent already reads this mailbox's folder: each mail would be answered twice.",
        ));
    }
    let place = Place {
        host: &host,
        port,
        security,
        username: &username,
        folder: &folder,
    };
    let password = Secret::new(form.password);
    let (uid_validity, last_uid) = probe(&place, &password).await.map_err(|why| {
        AppError::invalid(format!(
            "Flare could not read this mailbox: {why}. Nothing was saved."
        ))
    })?;
    let id = new_id();
    let sealed = seal(&state, password.expose(), &id)?;
    let trigger = NewTrigger {
        id: &id,
        team_id: &agent.team_id,
        agent_id: &agent.id,
        kind: TriggerKind::Email,
        name: &name,
        secret: Some(&sealed),
        created_by: &v.user.id,
        schedule: None,
        event: None,
    };
    let mut tx = state.db.begin().await?;
    db::insert(&mut *tx, trigger).await?;
    mailboxes::insert(
        &mut *tx,
        mailboxes::NewMailbox {
            trigger_id: &id,
            address: &address,
            host: &host,
            port,
            security: security.as_str(),
            username: &username,
            folder: &folder,
            uid_validity,
            last_uid,
        },
    )
    .await?;
    audit::record_for(
        &mut *tx,
        v.actor(),
        Some(&agent.team_id),
        "trigger.created",
        &id,
        &format!(
            "mailbox \u{201c}{name}\u{201d} ({address}, {host}:{port} {folder}) for {}",
            agent.name
        ),
    )
    .await?;
    tx.commit().await?;
    let row = db::by_id(&state.db, &id).await?.ok_or(AppError::Internal)?;
    info_named(&state.db, &row).await
}

fn seal(state: &AppState, secret: &str, trigger_id: &str) -> Result<String, AppError> {
    let secrets = state.runtime.connections.secrets().ok_or_else(|| {
        AppError::invalid(
            "Flare cannot store secrets yet: set FLARE_SECRET_KEY (64 hexadecimal digits, openssl rand -hex 32, the same on every instance) and restart.",
        )
    })?;
    Ok(secrets.seal(&Secret::new(secret), &seal_context(trigger_id)))
}

/// The trigger if the viewer may change it; another team's does not exist for them.
async fn editable(
    trigger_id: &str,
) -> Result<(crate::server::auth::Viewer, AppState, TriggerRow), AppError> {
    let v = viewer().await?;
    v.require_manager_to("change triggers")?;
    let state = app_state()?;
    let not_found = || AppError::NotFound("No such trigger.".into());
    let row = db::by_id(&state.db, trigger_id)
        .await?
        .ok_or_else(not_found)?;
    v.require_team(&row.team_id).map_err(|_| not_found())?;
    Ok((v, state, row))
}

pub async fn set_enabled(trigger_id: String, enabled: bool) -> Result<(), AppError> {
    let (v, state, row) = editable(&trigger_id).await?;
    let mut tx = state.db.begin().await?;
    if !db::set_enabled(&mut *tx, &row.id, enabled).await? {
        // Already so (a double click, or another admin): nothing changed, nothing to say.
        return Ok(());
    }
    // A resumed schedule fires next at its next time from now: what it missed while paused
    // is skipped, not fired all at once.
    if enabled && row.kind == TriggerKind::Schedule {
        let next = Schedule::parse(
            row.cron.as_deref().unwrap_or_default(),
            row.time_zone.as_deref().unwrap_or_default(),
        )?
        .next_after(now_ms())
        .map_err(AppError::internal)?;
        db::set_next_fire(&mut *tx, &row.id, next).await?;
    }
    let what = if enabled { "resumed" } else { "paused" };
    audit::record_for(
        &mut *tx,
        v.actor(),
        Some(&row.team_id),
        "trigger.changed",
        &row.id,
        &format!("{} \u{201c}{}\u{201d} {what}", row.kind.as_str(), row.name),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

pub async fn delete(trigger_id: String) -> Result<(), AppError> {
    let (v, state, row) = editable(&trigger_id).await?;
    let mut tx = state.db.begin().await?;
    if !db::delete(&mut *tx, &row.id).await? {
        return Err(AppError::NotFound("No such trigger.".into()));
    }
    audit::record_for(
        &mut *tx,
        v.actor(),
        Some(&row.team_id),
        "trigger.deleted",
        &row.id,
        &format!("{} \u{201c}{}\u{201d}", row.kind.as_str(), row.name),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
