//! `/app/settings/agents/{id}/triggers`: what starts an agent without a chat. A webhook is a
//! URL and a signing secret (shown once); a mailbox is an IMAP folder and a password (never
//! shown again); owners and admins add, pause and delete them, members see them. Its own page, so the agent page's piece of the bundle does not grow.

use crate::agents::list_agents;
use crate::components::data::data;
use crate::components::form_error::{FormError, error_text};
use crate::components::in_step::{InStep, IntoAnyInStep};
use crate::components::time::format_time;
use crate::triggers::{
    AddEventTrigger, AddMailbox, AddSchedule, AddWebhook, DeleteTrigger, EventKind,
    SetTriggerEnabled, TriggerKind, list_triggers, preview_schedule,
};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

#[component]
pub fn TriggersPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").unwrap_or_default();
    let add = ServerAction::<AddWebhook>::new();
    let add_schedule = ServerAction::<AddSchedule>::new();
    let add_event = ServerAction::<AddEventTrigger>::new();
    let add_mailbox = ServerAction::<AddMailbox>::new();
    let mailbox_error = Signal::derive(move || add_mailbox.value().with(error_text));
    let agents = data(|| (), |_| list_agents());
    let event_error = Signal::derive(move || add_event.value().with(error_text));
    // The schedule form's expression and zone, read back as the next firings while typing.
    let cron = RwSignal::new("0 9 * * MON-FRI".to_string());
    let zone = RwSignal::new("UTC".to_string());
    let upcoming = data(
        move || (cron.get(), zone.get()),
        |(c, z)| preview_schedule(c, z),
    );
    let schedule_error = Signal::derive(move || add_schedule.value().with(error_text));
    let toggle = ServerAction::<SetTriggerEnabled>::new();
    let delete = ServerAction::<DeleteTrigger>::new();
    let triggers = data(
        move || {
            (
                id(),
                add.version().get(),
                add_schedule.version().get(),
                add_event.version().get(),
                add_mailbox.version().get(),
                toggle.version().get(),
                delete.version().get(),
            )
        },
        |(id, ..)| list_triggers(id),
    );
    let add_error = Signal::derive(move || add.value().with(error_text));
    let change_error = Signal::derive(move || {
        toggle
            .value()
            .with(error_text)
            .or_else(|| delete.value().with(error_text))
    });
    // The new webhook's secret, shown once, with how to sign a request.
    let created = move || {
        add.value().get().and_then(Result::ok).map(|hook| {
            let url = format!(
                "{}{}",
                crate::components::url::page_origin(),
                hook.trigger.path.clone().unwrap_or_default()
            );
            let example = format!(
                "body='{{\"message\":\"Hello\"}}'\nts=$(date +%s)\nsig=$(printf '%s.%s' \"$ts\" \"$body\" | openssl dgst -sha256 -hmac '{}' | sed 's/^.* //')\ncurl -X POST -H \"X-Flare-Timestamp: $ts\" -H \"X-Flare-Signature: sha256=$sig\" -H 'Content-Type: application/json' -d \"$body\" {url}",
                hook.secret
            );
            view! {
                <section class="card new-token" role="status">
                    <h2>"Copy the signing secret now: it is not shown again"</h2>
                    <p>
                        <label for="new-hook-url">"Webhook URL"</label>
                        <input id="new-hook-url" readonly value=url />
                    </p>
                    <p>
                        <label for="new-hook-secret">"Signing secret"</label>
                        <input id="new-hook-secret" readonly value=hook.secret.clone() />
                    </p>
                    <label for="new-hook-usage">"How to send it a request"</label>
                    <textarea id="new-hook-usage" readonly rows=5>
                        {example}
                    </textarea>
                </section>
            }
        })
    };
    view! {
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match triggers.await {
                    Err(e) => {
                        view! {
                            <Title text="Triggers · Flare" />
                            <h1>"Triggers"</h1>
                            <p class="form-error" role="alert">{e.to_string()}</p>
                            <a href="/app/settings/agents">"Back to Agents"</a>
                        }
                            .into_any_in_step()
                    }
                    Ok(t) => {
                        let can_edit = t.can_edit;
                        let (agent_id, schedule_agent_id, event_agent_id, mail_agent_id) = (
                            t.agent_id.clone(),
                            t.agent_id.clone(),
                            t.agent_id.clone(),
                            t.agent_id.clone(),
                        );
                        let team_id = t.team_id.clone();
                        let rows = t
                            .triggers
                            .into_iter()
                            .map(|g| {
                                let state = if g.enabled { "Active" } else { "Paused" };
                                let (verb, enable) = if g.enabled { ("Pause", "false") } else { ("Resume", "true") };
                                let (pause_label, delete_label) = (format!("{verb} {}", g.name), format!("Delete {}", g.name));
                                let (toggle_id, delete_id) = (g.id.clone(), g.id.clone());
                                let actions = can_edit
                                    .then(move || {
                                        view! {
                                            <ActionForm action=toggle>
                                                {InStep(view! {
                                                    <input type="hidden" name="trigger_id" value=toggle_id />
                                                    <input type="hidden" name="enabled" value=enable />
                                                    <button type="submit" aria-label=pause_label>{verb}</button>
                                                })}
                                            </ActionForm>
                                            <ActionForm action=delete>
                                                {InStep(view! {
                                                    <input type="hidden" name="trigger_id" value=delete_id />
                                                    <button type="submit" class="danger" aria-label=delete_label>"Delete"</button>
                                                })}
                                            </ActionForm>
                                        }
                                    });
                                let (kind, what) = match (g.kind, &g.schedule) {
                                    (TriggerKind::Schedule, Some(s)) => (
                                        "Schedule",
                                        format!(
                                            "{} ({}) · next: {}",
                                            s.cron,
                                            s.time_zone,
                                            s.upcoming.first().cloned().unwrap_or_default()
                                        ),
                                    ),
                                    (TriggerKind::Email, _) => (
                                        "Email",
                                        g.mailbox
                                            .as_ref()
                                            .map(|m| {
                                                let checked = match (&m.last_error, m.checked_at_ms) {
                                                    (Some(e), _) => format!(" · could not be checked: {e}"),
                                                    (None, Some(at)) => format!(" · checked {}", format_time(at)),
                                                    (None, None) => " · not checked yet".to_string(),
                                                };
                                                format!("{} ({}:{}, {}){checked}", m.address, m.host, m.port, m.folder)
                                            })
                                            .unwrap_or_default(),
                                    ),
                                    (TriggerKind::Event, _) => (
                                        "Event",
                                        g.event
                                            .as_ref()
                                            .map(|e| format!("when {}'s {}", e.source_agent_name, e.on.label()))
                                            .unwrap_or_default(),
                                    ),
                                    _ => ("Webhook", g.path.clone().unwrap_or_default()),
                                };
                                view! {
                                    <tr>
                                        <td>{g.name.clone()}</td>
                                        <td>{kind}</td>
                                        <td><code>{what}</code></td>
                                        <td>{format_time(g.created_at_ms)}</td>
                                        <td>{state}</td>
                                        <td>{actions}</td>
                                    </tr>
                                }
                            })
                            .collect_view();
                        view! {
                            <Title text=format!("Triggers · {} · Flare", t.agent_name) />
                            <p class="crumbs">
                                <a href="/app/settings/agents">"Agents"</a>
                                " › "
                                <a href=format!("/app/settings/agents/{}", t.agent_id)>{t.agent_name.clone()}</a>
                            </p>
                            <h1>"Triggers"</h1>
                            <p class="helper">
                                "A webhook starts this agent when another system sends a signed request to this Flare's address followed by the webhook's path; a schedule starts it at the times a cron expression names; its mailbox starts it for each new mail, and the reply goes back in the mail's thread. Each start is a new thread with its trigger; you hear about it only if it escalates."
                            </p>
                            {created}
                            <FormError message=change_error />
                            <table class="data-table" aria-label="Triggers">
                                <thead>
                                    <tr>
                                        <th scope="col">"Name"</th>
                                        <th scope="col">"Kind"</th>
                                        <th scope="col">"Where or when"</th>
                                        <th scope="col">"Created"</th>
                                        <th scope="col">"State"</th>
                                        <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                                    </tr>
                                </thead>
                                <tbody>{rows}</tbody>
                            </table>
                            {can_edit
                                .then(|| {
                                    view! {
                                        <section class="card narrow" aria-labelledby="new-hook-heading">
                                            <h2 id="new-hook-heading">"Add webhook"</h2>
                                            <ActionForm action=add>
                                                {InStep(view! {
                                                    <input type="hidden" name="agent_id" value=agent_id />
                                                    <label for="hook-name">"Webhook name"</label>
                                                    <input id="hook-name" name="name" required maxlength=80 placeholder="Zendesk" />
                                                    <FormError message=add_error />
                                                    <button type="submit" class="primary">"Add webhook"</button>
                                                })}
                                            </ActionForm>
                                        </section>
                                        <section class="card narrow" aria-labelledby="new-schedule-heading">
                                            <h2 id="new-schedule-heading">"Add schedule"</h2>
                                            <ActionForm action=add_schedule>
                                                {InStep(view! {
                                                    <input type="hidden" name="agent_id" value=schedule_agent_id />
                                                    <label for="schedule-name">"Schedule name"</label>
                                                    <input id="schedule-name" name="name" required maxlength=80 placeholder="Nightly review" />
                                                    <label for="schedule-cron">"Cron expression"</label>
                                                    <input
                                                        id="schedule-cron"
                                                        name="cron"
                                                        required
                                                        maxlength=200
                                                        prop:value=move || cron.get()
                                                        on:input=move |ev| cron.set(event_target_value(&ev))
                                                    />
                                                    <label for="schedule-zone">"Time zone"</label>
                                                    <input
                                                        id="schedule-zone"
                                                        name="time_zone"
                                                        required
                                                        maxlength=64
                                                        prop:value=move || zone.get()
                                                        on:input=move |ev| zone.set(event_target_value(&ev))
                                                    />
                                                    <div aria-live="polite" aria-label="Next firings">
                                                        <Suspense>
                                                            {move || Suspend::new(async move {
                                                                match upcoming.await {
                                                                    Ok(times) => view! {
                                                                        <ul class="upcoming">
                                                                            {times.into_iter().map(|t| view! { <li>{t}</li> }).collect_view()}
                                                                        </ul>
                                                                    }.into_any_in_step(),
                                                                    Err(e) => view! { <p class="form-error">{e.to_string()}</p> }.into_any_in_step(),
                                                                }
                                                            })}
                                                        </Suspense>
                                                    </div>
                                                    <label for="schedule-message">"Message"</label>
                                                    <textarea id="schedule-message" name="message" required rows=3></textarea>
                                                    <FormError message=schedule_error />
                                                    <button type="submit" class="primary">"Add schedule"</button>
                                                })}
                                            </ActionForm>
                                        </section>
                                        <section class="card narrow" aria-labelledby="new-mailbox-heading">
                                            <h2 id="new-mailbox-heading">"Connect a mailbox"</h2>
                                            <p class="helper">
                                                "Each new mail to this address starts a run; the agent's reply goes back in the mail's thread, from this address, through Flare's SMTP relay. Flare reads the folder over IMAP and signs in before saving. Mail already in the folder is left alone, and automatic mail (auto-replies, bounces, mailing lists) is never answered. One mailbox per agent."
                                            </p>
                                            <ActionForm action=add_mailbox>
                                                {InStep(view! {
                                                    <input type="hidden" name="agent_id" value=mail_agent_id />
                                                    <label for="mailbox-name">"Mailbox name"</label>
                                                    <input id="mailbox-name" name="name" required maxlength=80 placeholder="Support inbox" />
                                                    <label for="mailbox-address">"The agent's email address"</label>
                                                    <input id="mailbox-address" name="address" type="email" required maxlength=320 placeholder="support@example.com" />
                                                    <label for="mailbox-host">"IMAP server"</label>
                                                    <input id="mailbox-host" name="host" required maxlength=253 placeholder="imap.example.com" />
                                                    <label for="mailbox-port">"Port"</label>
                                                    <input id="mailbox-port" name="port" required inputmode="numeric" maxlength=5 value="993" />
                                                    <label for="mailbox-security">"Security"</label>
                                                    <select id="mailbox-security" name="security">
                                                        <option value="tls">"TLS (port 993)"</option>
                                                        <option value="starttls">"STARTTLS (port 143)"</option>
                                                        <option value="none">"None (a server on this machine only)"</option>
                                                    </select>
                                                    <label for="mailbox-username">"User name"</label>
                                                    <input id="mailbox-username" name="username" required maxlength=320 autocomplete="off" />
                                                    <label for="mailbox-password">"Password"</label>
                                                    <input id="mailbox-password" name="password" type="password" required maxlength=1024 autocomplete="new-password" />
                                                    <label for="mailbox-folder">"Folder"</label>
                                                    <input id="mailbox-folder" name="folder" maxlength=200 value="INBOX" />
                                                    <FormError message=mailbox_error />
                                                    <button type="submit" class="primary">"Connect mailbox"</button>
                                                })}
                                            </ActionForm>
                                        </section>
                                        <section class="card narrow" aria-labelledby="new-event-heading">
                                            <h2 id="new-event-heading">"Add event trigger"</h2>
                                            <ActionForm action=add_event>
                                                {InStep(view! {
                                                    <input type="hidden" name="agent_id" value=event_agent_id />
                                                    <label for="event-name">"Trigger name"</label>
                                                    <input id="event-name" name="name" required maxlength=80 placeholder="Review every refund" />
                                                    <label for="event-source">"When this agent's"</label>
                                                    <Suspense>
                                                        {move || {
                                                            let team_id = team_id.clone();
                                                            Suspend::new(async move {
                                                                let list = agents.await.unwrap_or_default();
                                                                view! {
                                                                    <select id="event-source" name="source_agent_id">
                                                                        {list
                                                                            .into_iter()
                                                                            .filter(|a| a.team_id == team_id)
                                                                            .map(|a| view! { <option value=a.id>{a.name}</option> })
                                                                            .collect_view()}
                                                                    </select>
                                                                }
                                                            })
                                                        }}
                                                    </Suspense>
                                                    <label for="event-on">"Event"</label>
                                                    <select id="event-on" name="on_event">
                                                        {<EventKind as strum::VariantArray>::VARIANTS
                                                            .iter()
                                                            .map(|k| view! { <option value=k.as_str()>{k.label()}</option> })
                                                            .collect_view()}
                                                    </select>
                                                    <label for="event-message">"Message"</label>
                                                    <textarea id="event-message" name="message" required rows=3>
                                                        "{agent}'s {event}: {reply}"
                                                    </textarea>
                                                    <p class="helper">
                                                        "The message may name {agent}, {event}, {run_id}, {thread_id}, {reply} (completed), {error} (failed), {reason} and {severity} (escalations), {outcome}, {guidance} and {responder} (answered). A chain of agents started by events stops after 5."
                                                    </p>
                                                    <FormError message=event_error />
                                                    <button type="submit" class="primary">"Add event trigger"</button>
                                                })}
                                            </ActionForm>
                                        </section>
                                    }
                                })}
                        }
                            .into_any_in_step()
                    }
                }
            })}
        </Suspense>
    }
}
