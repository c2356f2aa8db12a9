//! `/app/settings/notifications`: where each team's escalations are sent. Owners and admins add
//! webhook, Slack, Discord and email channels (each escalation raised and answered), choose the lowest
//! severity each one sends, mute, test and delete them. A webhook's signing secret is shown once.

use crate::agents::{AgentSummary, list_agents};
use crate::components::data::data;
use crate::components::form_error::{FormError, error_text};
use crate::components::in_step::{InStep, IntoAnyInStep};
use crate::components::team_select::TeamSelect;
use crate::members::my_teams;
use crate::notifications::{
    AddChatChannel, AddEmailChannel, AddWebhookChannel, ChannelInfo, DeleteChannel, SaveSla,
    SetChannelAgent, SetChannelMinSeverity, SetChannelMuted, SetChannelSigningSecret, TeamSla,
    TestChannel, list_channels, load_slas,
};
use crate::rules::Severity;
use leptos::prelude::*;
use leptos_meta::Title;

/// The options of a "lowest severity" select, `current` chosen.
fn severity_options(current: Severity) -> impl IntoView {
    [Severity::Info, Severity::Warning, Severity::Critical]
        .into_iter()
        .map(|s| {
            view! {
                <option value=s.as_str() selected=s == current>
                    {format!("{} and above", s.label())}
                </option>
            }
        })
        .collect_view()
}

#[component]
pub fn NotificationsPage() -> impl IntoView {
    let add = ServerAction::<AddWebhookChannel>::new();
    let add_chat = ServerAction::<AddChatChannel>::new();
    let chat_error = Signal::derive(move || add_chat.value().with(error_text));
    let add_email = ServerAction::<AddEmailChannel>::new();
    let email_error = Signal::derive(move || add_email.value().with(error_text));
    let mute = ServerAction::<SetChannelMuted>::new();
    let tune = ServerAction::<SetChannelMinSeverity>::new();
    let delete = ServerAction::<DeleteChannel>::new();
    let test = ServerAction::<TestChannel>::new();
    let sign = ServerAction::<SetChannelSigningSecret>::new();
    let set_agent = ServerAction::<SetChannelAgent>::new();
    let agents = data(|| (), |_| list_agents());
    let channels = data(
        move || {
            (
                add.version().get(),
                add_chat.version().get(),
                add_email.version().get(),
                mute.version().get(),
                tune.version().get(),
                delete.version().get(),
                sign.version().get(),
                set_agent.version().get(),
            )
        },
        |_| list_channels(),
    );
    let teams = data(|| (), |_| my_teams());
    let save_sla = ServerAction::<SaveSla>::new();
    let slas = data(move || save_sla.version().get(), |_| load_slas());
    let sla_error = Signal::derive(move || save_sla.value().with(error_text));
    let add_error = Signal::derive(move || add.value().with(error_text));
    let row_error = Signal::derive(move || {
        mute.value()
            .with(error_text)
            .or_else(|| tune.value().with(error_text))
            .or_else(|| delete.value().with(error_text))
            .or_else(|| test.value().with(error_text))
            .or_else(|| sign.value().with(error_text))
            .or_else(|| set_agent.value().with(error_text))
    });
    let tested = move || {
        test.value().get().and_then(Result::ok).map(|r| {
            let (class, verb) = match r.delivered {
                true => ("test-result delivered", "delivered"),
                false => ("test-result failed", "not delivered"),
            };
            view! {
                <p class=class role="status">
                    {format!("Test to {}: {verb} ({})", r.channel_name, r.detail)}
                </p>
            }
        })
    };
    let created = move || {
        add.value().get().and_then(Result::ok).map(|c| {
            view! {
                <section class="card new-token" role="status">
                    <h2>"Copy the signing secret now: it is not shown again"</h2>
                    <p>
                        <label for="new-channel-secret">"Signing secret"</label>
                        <input id="new-channel-secret" readonly value=c.secret.clone() />
                    </p>
                    <p class="helper">
                        "Each request carries X-Flare-Timestamp and X-Flare-Signature: sha256= and the hex HMAC-SHA256 of \"{timestamp}.{body}\" under this secret. X-Flare-Delivery is the same on every retry of one notice."
                    </p>
                </section>
            }
        })
    };
    view! {
        <Title text="Notifications · Flare" />
        <h1>"Notifications"</h1>
        <p class="helper">
            "Where your teams hear of escalations. Each channel gets every escalation of its team at or above its lowest severity, and again when it is answered. Failed deliveries are retried, and each card shows how its notices stand."
        </p>
        {created}
        {tested}
        <FormError message=row_error />
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                let agents = agents.await.unwrap_or_default();
                match channels.await {
                    Err(e) => view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any_in_step(),
                    Ok(list) if list.is_empty() => view! { <p class="empty-state">"No channels yet."</p> }.into_any_in_step(),
                    Ok(list) => {
                        view! {
                            <table class="data-table" aria-label="Notification channels">
                                <thead>
                                    <tr>
                                        <th scope="col">"Name"</th>
                                        <th scope="col">"Kind"</th>
                                        <th scope="col">"Team"</th>
                                        <th scope="col">"Sends to"</th>
                                        <th scope="col">"Lowest severity"</th>
                                        <th scope="col">"State"</th>
                                        <th scope="col">"Actions"</th>
                                    </tr>
                                </thead>
                                <tbody>
                                    {list
                                        .into_iter()
                                        .map(|c| {
                                            let own: Vec<AgentSummary> = agents
                                                .iter()
                                                .filter(|a| a.team_id == c.team_id)
                                                .cloned()
                                                .collect();
                                            view! { <ChannelRow c mute tune delete test sign set_agent own /> }
                                        })
                                        .collect_view()}
                                </tbody>
                            </table>
                        }
                            .into_any_in_step()
                    }
                }
            })}
        </Suspense>
        <h2>"SLAs and reminders"</h2>
        <p class="helper">
            "How long an escalation may stay open, in minutes, by severity (empty: no SLA). Past it, it is marked overdue and the channels told of it get a reminder; when nobody answered in twice that time, a second reminder goes to the fallback channel. A critical escalation without an SLA is overdue after the deployment's default. Changes apply to escalations raised from then on."
        </p>
        <FormError message=sla_error />
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                let (slas, channels) = (slas.await, channels.await);
                let channels = channels.unwrap_or_default();
                slas.unwrap_or_default()
                    .into_iter()
                    .map(|s| {
                        let own: Vec<ChannelInfo> = channels
                            .iter()
                            .filter(|c| c.team_id == s.team_id)
                            .cloned()
                            .collect();
                        view! { <SlaForm s own save_sla /> }
                    })
                    .collect_view()
                    .into_any_in_step()
            })}
        </Suspense>
        <section class="card narrow" aria-labelledby="new-chat-heading">
            <h2 id="new-chat-heading">"Add a Slack or Discord channel"</h2>
            <p class="helper">
                "Your Slack app's or Discord bot's token and the channel's ID; add the bot to the channel first. The README says how, step by step."
            </p>
            <ActionForm action=add_chat>
                {InStep(view! {
                    <label for="chat-kind">"Chat app"</label>
                    <select id="chat-kind" name="kind">
                        <option value="slack">"Slack"</option>
                        <option value="discord">"Discord"</option>
                    </select>
                    <label for="chat-name">"Chat channel name"</label>
                    <input id="chat-name" name="name" required maxlength=80 placeholder="#support-escalations" />
                    <label for="chat-token">"Bot token"</label>
                    <input id="chat-token" name="bot_token" type="password" required autocomplete="off" placeholder="xoxb-… (Slack) or the bot's token (Discord)" />
                    <label for="chat-channel">"Channel ID"</label>
                    <input id="chat-channel" name="channel_id" required placeholder="C0123ABCD (Slack) or 1234567890123456789 (Discord)" />
                    <label for="chat-severity">"Lowest severity to post"</label>
                    <select id="chat-severity" name="min_severity">
                        {severity_options(Severity::Info)}
                    </select>
                    <label for="chat-team">"Team to post for"</label>
                    <TeamSelect id="chat-team" teams />
                    <FormError message=chat_error />
                    <button type="submit" class="primary" disabled=move || add_chat.pending().get()>
                        "Add chat channel"
                    </button>
                })}
            </ActionForm>
        </section>
        <section class="card narrow" aria-labelledby="new-email-heading">
            <h2 id="new-email-heading">"Add an email channel"</h2>
            <p class="helper">
                "Each escalation is mailed through this Flare's SMTP relay (FLARE_SMTP_URL), with a link to its card; its answer and reminders follow in the same thread. Nothing is answered from a mail."
            </p>
            <ActionForm action=add_email>
                {InStep(view! {
                    <label for="email-name">"Email channel name"</label>
                    <input id="email-name" name="name" required maxlength=80 placeholder="On-call mail" />
                    <label for="email-recipients">"Recipients"</label>
                    <textarea id="email-recipients" name="recipients" required rows=2 placeholder="oncall@example.com, ada@example.com"></textarea>
                    <label for="email-severity">"Lowest severity to mail"</label>
                    <select id="email-severity" name="min_severity">
                        {severity_options(Severity::Info)}
                    </select>
                    <label for="email-team">"Team to mail for"</label>
                    <TeamSelect id="email-team" teams />
                    <FormError message=email_error />
                    <button type="submit" class="primary" disabled=move || add_email.pending().get()>
                        "Add email channel"
                    </button>
                })}
            </ActionForm>
        </section>
        <section class="card narrow" aria-labelledby="new-channel-heading">
            <h2 id="new-channel-heading">"Add a webhook"</h2>
            <ActionForm action=add>
                {InStep(view! {
                    <label for="channel-name">"Channel name"</label>
                    <input id="channel-name" name="name" required maxlength=80 />
                    <label for="channel-url">"URL"</label>
                    <input id="channel-url" name="url" type="url" required placeholder="https://example.com/flare" />
                    <label for="channel-severity">"Lowest severity"</label>
                    <select id="channel-severity" name="min_severity">
                        {severity_options(Severity::Info)}
                    </select>
                    <label for="channel-team">"Team"</label>
                    <TeamSelect id="channel-team" teams />
                    <FormError message=add_error />
                    <button type="submit" class="primary" disabled=move || add.pending().get()>
                        "Add channel"
                    </button>
                })}
            </ActionForm>
        </section>
    }
}

#[component]
fn ChannelRow(
    c: ChannelInfo,
    mute: ServerAction<SetChannelMuted>,
    tune: ServerAction<SetChannelMinSeverity>,
    delete: ServerAction<DeleteChannel>,
    test: ServerAction<TestChannel>,
    sign: ServerAction<SetChannelSigningSecret>,
    set_agent: ServerAction<SetChannelAgent>,
    /// The agents of the channel's team.
    own: Vec<AgentSummary>,
) -> impl IntoView {
    use crate::notifications::ChannelKind;
    let answers = matches!(c.kind, ChannelKind::Slack | ChannelKind::Discord)
        .then(|| view! { <AnswerButtons c=c.clone() sign /> });
    let starts = matches!(c.kind, ChannelKind::Slack | ChannelKind::Discord)
        .then(|| view! { <StartsRuns c=c.clone() set_agent own /> });
    let severity_id = format!("severity-{}", c.id);
    let (state, toggle, muted_next) = match c.muted {
        true => ("Muted", "Unmute", "false"),
        false => ("Active", "Mute", "true"),
    };
    // The forms' children are closures: each takes its own copies.
    let ids = [c.id.clone(), c.id.clone(), c.id.clone(), c.id.clone()];
    let [tune_id, test_id, mute_id, delete_id] = ids;
    let severity_label = format!("Lowest severity for {}", c.name);
    let save_label = format!("Save lowest severity for {}", c.name);
    let test_label = format!("Send test to {}", c.name);
    let mute_label = format!("{toggle} {}", c.name);
    let delete_label = format!("Delete {}", c.name);
    view! {
        <tr data-muted=c.muted.to_string()>
            <td>{c.name.clone()}</td>
            <td>{c.kind.label()}</td>
            <td>{c.team_name.clone()}</td>
            <td class="reason">
                <code>{c.target.clone()}</code>
                {answers}
                {starts}
            </td>
            <td>
                <ActionForm action=tune attr:class="inline-form">
                    {InStep(view! {
                        <input type="hidden" name="channel_id" value=tune_id.clone() />
                        <label for=severity_id.clone() class="visually-hidden">
                            {severity_label.clone()}
                        </label>
                        <select id=severity_id.clone() name="min_severity">
                            {severity_options(c.min_severity)}
                        </select>
                        <button type="submit" aria-label=save_label.clone()>
                            "Save"
                        </button>
                    })}
                </ActionForm>
            </td>
            <td>{state}</td>
            <td class="row-actions">
                <ActionForm action=test>
                    {InStep(view! {
                        <input type="hidden" name="channel_id" value=test_id.clone() />
                        <button
                            type="submit"
                            aria-label=test_label.clone()
                            disabled=move || test.pending().get()
                        >
                            "Send test"
                        </button>
                    })}
                </ActionForm>
                <ActionForm action=mute>
                    {InStep(view! {
                        <input type="hidden" name="channel_id" value=mute_id.clone() />
                        <input type="hidden" name="muted" value=muted_next />
                        <button type="submit" aria-label=mute_label.clone()>
                            {toggle}
                        </button>
                    })}
                </ActionForm>
                <ActionForm action=delete>
                    {InStep(view! {
                        <input type="hidden" name="channel_id" value=delete_id.clone() />
                        <button type="submit" aria-label=delete_label.clone()>
                            "Delete"
                        </button>
                    })}
                </ActionForm>
            </td>
        </tr>
    }
}

/// A Slack or Discord channel's Respond & Resume and Dismiss buttons: on with the Slack app's
/// signing secret or the Discord application's public key; the app then needs the URL shown.
#[component]
fn AnswerButtons(c: ChannelInfo, sign: ServerAction<SetChannelSigningSecret>) -> impl IntoView {
    let id = c.id.clone();
    let (key, where_) = match c.kind {
        crate::notifications::ChannelKind::Discord => {
            ("Public key", "Discord's Interactions Endpoint URL: ")
        }
        _ => ("Signing secret", "Slack's Interactivity Request URL: "),
    };
    match c.answers_url {
        Some(url) => {
            let label = format!("Turn off buttons for {}", c.name);
            view! {
                <p class="helper">"Answer buttons on. " {where_} <code>{url}</code></p>
                <ActionForm action=sign>
                    {InStep(view! {
                        <input type="hidden" name="channel_id" value=id.clone() />
                        <input type="hidden" name="signing_secret" value="" />
                        <button type="submit" aria-label=label.clone()>
                            "Turn off buttons"
                        </button>
                    })}
                </ActionForm>
            }
            .into_any_in_step()
        }
        None => {
            let input_id = format!("signing-{}", c.id);
            let label = format!("{key} for {}", c.name);
            view! {
                <ActionForm action=sign attr:class="inline-form">
                    {InStep(view! {
                        <input type="hidden" name="channel_id" value=id.clone() />
                        <label for=input_id.clone() class="visually-hidden">
                            {label.clone()}
                        </label>
                        <input
                            id=input_id.clone()
                            name="signing_secret"
                            type="password"
                            autocomplete="off"
                            placeholder=key
                            required
                        />
                        <button type="submit" disabled=move || sign.pending().get()>
                            "Turn on buttons"
                        </button>
                    })}
                </ActionForm>
            }
            .into_any_in_step()
        }
    }
}

/// A Slack or Discord channel's agent: messages people write to the Slack bot (or `/ask` in
/// Discord) start a run of it, and the reply goes back where they asked. Slack needs the
/// events URL shown once the channel also has its signing secret.
#[component]
fn StartsRuns(
    c: ChannelInfo,
    set_agent: ServerAction<SetChannelAgent>,
    own: Vec<AgentSummary>,
) -> impl IntoView {
    let id = c.id.clone();
    let select_id = format!("agent-{}", c.id);
    let label = format!("Agent answering messages in {}", c.name);
    let save_label = format!("Save the agent for {}", c.name);
    let current = c.agent_id.clone().unwrap_or_default();
    let discord = c.kind == crate::notifications::ChannelKind::Discord;
    let url = match (&c.events_url, &c.agent_id) {
        (_, Some(_)) if discord => Some(
            view! { <p class="helper">"People ask it with Discord's /ask command (the README says how to add it)."</p> }
                .into_any_in_step(),
        ),
        (Some(url), _) => Some(
            view! { <p class="helper">"Slack's Event Subscriptions Request URL: " <code>{url.clone()}</code></p> }
                .into_any_in_step(),
        ),
        (None, Some(_)) => Some(
            view! { <p class="helper">"Turn on buttons with the signing secret: Slack's messages are checked with it."</p> }
                .into_any_in_step(),
        ),
        _ => None,
    };
    view! {
        <ActionForm action=set_agent attr:class="inline-form">
            {InStep(view! {
                <input type="hidden" name="channel_id" value=id.clone() />
                <label for=select_id.clone()>"Answers messages with"</label>
                <select id=select_id.clone() name="agent_id" aria-label=label.clone()>
                    <option value="" selected=current.is_empty()>"No agent"</option>
                    {own
                        .clone()
                        .into_iter()
                        .map(|a| {
                            let chosen = a.id == current;
                            view! { <option value=a.id selected=chosen>{a.name}</option> }
                        })
                        .collect_view()}
                </select>
                <button type="submit" aria-label=save_label.clone()>
                    "Save"
                </button>
            })}
        </ActionForm>
        {url}
    }
}

#[component]
fn SlaForm(s: TeamSla, own: Vec<ChannelInfo>, save_sla: ServerAction<SaveSla>) -> impl IntoView {
    let heading = format!("SLAs for {}", s.team_name);
    let field = |m: Option<i64>| m.map(|m| m.to_string()).unwrap_or_default();
    let fields = [
        ("critical_minutes", "Critical", field(s.critical_minutes)),
        ("warning_minutes", "Warning", field(s.warning_minutes)),
        ("info_minutes", "Info", field(s.info_minutes)),
    ];
    let team_id = s.team_id.clone();
    let fallback = s.fallback_channel_id.clone().unwrap_or_default();
    let fallback_id = format!("fallback-{}", s.team_id);
    view! {
        <section class="card narrow" aria-label=heading.clone()>
            <h3>{heading.clone()}</h3>
            <ActionForm action=save_sla>
                {InStep(view! {
                    <input type="hidden" name="team_id" value=team_id.clone() />
                    {fields
                        .clone()
                        .into_iter()
                        .map(|(name, label, value)| {
                            let id = format!("{name}-{}", team_id);
                            view! {
                                <label for=id.clone()>{format!("{label} (minutes)")}</label>
                                <input id=id name=name type="number" min="1" max="43200" value=value />
                            }
                        })
                        .collect_view()}
                    <label for=fallback_id.clone()>"Fallback channel"</label>
                    <select id=fallback_id.clone() name="fallback_channel_id">
                        <option value="" selected=fallback.is_empty()>"None"</option>
                        {own
                            .clone()
                            .into_iter()
                            .map(|c| {
                                let chosen = c.id == fallback;
                                view! { <option value=c.id selected=chosen>{c.name}</option> }
                            })
                            .collect_view()}
                    </select>
                    <button type="submit" class="primary" disabled=move || save_sla.pending().get()>
                        "Save SLAs"
                    </button>
                })}
            </ActionForm>
        </section>
    }
}
