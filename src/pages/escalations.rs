//! `/app/escalations`: open escalations of the user's teams, live; the resolved and dismissed
//! ones in a second view. Filters and order live in the URL (shareable, survive reload), pages
//! are keyset cursors.

use crate::chat::Trigger;
use crate::components::data::data;
use crate::components::escalation_card::Deliveries;
use crate::components::form_error::{FormError, error_text};
use crate::components::in_step::{InStep, IntoAnyInStep};
use crate::components::live::{coalesced, use_live};
use crate::components::time::format_time;
use crate::escalations::{
    DismissEscalation, EscalationList, EscalationStatus, EscalationView, ListQuery, ListView, Sort,
    list_escalations, severity_icon, show_age,
};
use crate::live::Change;
use crate::rules::Severity;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Form;
use leptos_router::hooks::use_query_map;

#[component]
pub fn EscalationsPage() -> impl IntoView {
    let query = use_query_map();
    let list = data(
        move || query.get(),
        |q| {
            list_escalations(
                q.get("view"),
                q.get("severity"),
                q.get("agent"),
                q.get("trigger"),
                q.get("sort"),
                q.get("after"),
            )
        },
    );
    let dismiss = ServerAction::<DismissEscalation>::new();
    Effect::new(move |_| {
        if dismiss.version().get() > 0 {
            list.refetch();
        }
    });
    let refetch = coalesced(move || list.refetch());
    use_live(move |event| {
        if event.is_none_or(|e| matches!(e.change, Change::Escalation { .. })) {
            refetch();
        }
    });
    let dismiss_error = Signal::derive(move || dismiss.value().with(error_text));
    view! {
        <Title text="Escalations · Flare" />
        <h1>"Escalations"</h1>
        <p class="helper">
            "When an agent asks for a person, open items show here. Open the thread to reply, or dismiss if it's handled elsewhere."
        </p>
        <FormError message=dismiss_error />
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                let q = ListQuery::parse(|k| query.with_untracked(|m| m.get(k))).unwrap_or_default();
                match list.await {
                    Err(e) => {
                        view! {
                            <p class="form-error" role="alert">{e.to_string()}</p>
                            <a href="/app/escalations">"Back to open escalations"</a>
                        }
                            .into_any_in_step()
                    }
                    Ok(l) if !l.any_ever => {
                        view! {
                            <section class="empty-state">
                                <p class="empty-title">
                                    "No escalations yet. All agents are running smoothly."
                                </p>
                                <p>"Escalations appear here when an agent needs human help."</p>
                            </section>
                        }
                            .into_any_in_step()
                    }
                    Ok(l) => view! { <Listing l q dismiss /> }.into_any_in_step(),
                }
            })}
        </Transition>
    }
}

#[component]
fn Listing(
    l: EscalationList,
    q: ListQuery,
    dismiss: ServerAction<DismissEscalation>,
) -> impl IntoView {
    let open_view = q.view == ListView::Open;
    let tab = |view: ListView, label: String| {
        let target = ListQuery {
            view,
            ..Default::default()
        }
        .to_query(None);
        let current = (view == q.view).then_some("page");
        view! {
            <a href=format!("/app/escalations{target}") aria-current=current>
                {label}
            </a>
        }
    };
    let next = l
        .next
        .clone()
        .map(|c| format!("/app/escalations{}", q.to_query(Some(&c))));
    let first = q
        .after
        .is_some()
        .then(|| format!("/app/escalations{}", q.to_query(None)));
    let filtered = q.severity.is_some() || q.agent.is_some() || q.trigger.is_some();
    let body = if open_view && l.open_count == 0 {
        view! {
            <section class="empty-state">
                <p class="empty-title">"All agents are running smoothly"</p>
                <p>"No escalation is open right now."</p>
            </section>
        }
        .into_any_in_step()
    } else if l.rows.is_empty() {
        view! {
            <p class="empty-state">
                {if filtered { "No escalations match these filters." } else { "Nothing here yet." }}
            </p>
        }
        .into_any_in_step()
    } else {
        let now = l.now_ms;
        let rows = l
            .rows
            .into_iter()
            .map(|e| view! { <Row e open_view now dismiss /> })
            .collect_view();
        view! {
            <table class="data-table escalations" aria-labelledby="list-heading">
                <thead>
                    <tr>
                        <th scope="col">"Severity"</th>
                        <th scope="col">"Agent"</th>
                        <th scope="col">"Reason"</th>
                        <th scope="col">"Trigger"</th>
                        {if open_view {
                            view! { <th scope="col">"Age"</th> }.into_any_in_step()
                        } else {
                            view! {
                                <th scope="col">"Outcome"</th>
                                <th scope="col">"Guidance"</th>
                            }
                                .into_any_in_step()
                        }}
                        <th scope="col">
                            <span class="visually-hidden">"Actions"</span>
                        </th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        }
        .into_any_in_step()
    };
    view! {
        <nav class="tabs" aria-label="Escalation lists">
            {tab(ListView::Open, format!("Open ({})", l.open_count))}
            {tab(ListView::Answered, "Resolved & dismissed".into())}
        </nav>
        <Filters q=q.clone() agents=l.agents />
        <h2 id="list-heading">
            {if open_view { "Open escalations" } else { "Resolved and dismissed" }}
        </h2>
        {body}
        <nav class="pager" aria-label="Pages">
            {first.map(|href| view! { <a href=href>"First page"</a> })}
            {next.map(|href| view! { <a href=href>"Next page"</a> })}
        </nav>
    }
}

#[component]
fn Filters(q: ListQuery, agents: Vec<crate::escalations::AgentOption>) -> impl IntoView {
    let sev = q.severity;
    let opt = |value: &str, label: &str, selected: bool| {
        view! {
            <option value=value.to_string() selected=selected>
                {label.to_string()}
            </option>
        }
    };
    view! {
        <Form method="GET" action="" attr:class="filters">
            {(q.view == ListView::Answered)
                .then(|| view! { <input type="hidden" name="view" value="answered" /> })}
            <label>
                "Severity"
                <select name="severity">
                    {opt("", "All", sev.is_none())}
                    {[Severity::Critical, Severity::Warning, Severity::Info]
                        .into_iter()
                        .map(|s| opt(s.as_str(), s.label(), sev == Some(s)))
                        .collect_view()}
                </select>
            </label>
            <label>
                "Agent"
                <select name="agent">
                    {opt("", "All", q.agent.is_none())}
                    {agents
                        .iter()
                        .map(|a| opt(&a.id, &a.name, q.agent.as_deref() == Some(a.id.as_str())))
                        .collect_view()}
                </select>
            </label>
            <label>
                "Trigger"
                <select name="trigger">
                    {opt("", "All", q.trigger.is_none())}
                    {<Trigger as strum::VariantArray>::VARIANTS
                        .iter()
                        .map(|&t| opt(t.as_str(), t.as_str(), q.trigger == Some(t)))
                        .collect_view()}
                </select>
            </label>
            {(q.view == ListView::Open)
                .then(|| {
                    view! {
                        <label>
                            "Order"
                            <select name="sort">
                                {opt("newest", "Newest first", q.sort == Sort::Newest)}
                                {opt("oldest", "Oldest first", q.sort == Sort::Oldest)}
                                {opt("severity", "Most severe first", q.sort == Sort::Severity)}
                            </select>
                        </label>
                    }
                })}
            <button type="submit">"Apply"</button>
        </Form>
    }
}

#[component]
fn Row(
    e: EscalationView,
    open_view: bool,
    now: i64,
    dismiss: ServerAction<DismissEscalation>,
) -> impl IntoView {
    let (icon, label) = severity_icon(e.severity);
    let age = now - e.created_at_ms;
    let is_overdue = open_view && e.overdue;
    let thread = format!("/app/chat/{}", e.thread_id);
    let id = e.id.clone();
    view! {
        <tr class:overdue=is_overdue data-severity=e.severity.as_str()>
            <td>
                <span class="severity-icon" role="img" aria-label=label title=label>
                    {icon}
                </span>
            </td>
            <td>{e.agent_name.clone()}</td>
            <td class="reason">
                {e.reason.clone()}
                <Deliveries list=e.deliveries.clone() />
            </td>
            <td>
                <code>{format!("trigger: {}", e.trigger)}</code>
            </td>
            {if open_view {
                view! {
                    <td>
                        {show_age(age)}
                        {is_overdue.then(|| view! { <strong class="overdue-badge">" Overdue"</strong> })}
                    </td>
                }
                    .into_any_in_step()
            } else {
                let verb = if e.status == EscalationStatus::Resolved { "Resolved" } else { "Dismissed" };
                view! {
                    <td>
                        {format!(
                            "{verb} by {} · {}",
                            e.responder.clone().unwrap_or_default(),
                            e.answered_at_ms.map(format_time).unwrap_or_default(),
                        )}
                    </td>
                    <td>{e.guidance.clone().unwrap_or_default()}</td>
                }
                    .into_any_in_step()
            }}
            <td class="row-actions">
                <a href=thread>"Open thread"</a>
                {open_view
                    .then(|| {
                        view! {
                            <ActionForm action=dismiss>
                                {InStep(view! {
                                    <input type="hidden" name="escalation_id" value=id />
                                    <button type="submit">"Dismiss"</button>
                                })}
                            </ActionForm>
                        }
                    })}
            </td>
        </tr>
    }
}
