//! `/app/audit`: who did what and when (owners and admins), filterable by actor, action and
//! date, in pages. The filters live in the URL.

use crate::audit::list_audit;
use crate::components::data::data;
use crate::components::in_step::IntoAnyInStep;
use crate::components::time::format_time;
use crate::components::url::encode_component;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Form;
use leptos_router::hooks::use_query_map;

#[component]
pub fn AuditPage() -> impl IntoView {
    let query = use_query_map();
    let page = data(
        move || query.get(),
        |q| {
            list_audit(
                q.get("actor"),
                q.get("action"),
                q.get("from"),
                q.get("to"),
                q.get("after"),
            )
        },
    );
    view! {
        <Title text="Audit · Flare" />
        <h1>"Audit"</h1>
        <p class="helper">"Who did what, and when. Entries are never changed or removed."</p>
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                let get = |k: &str| query.with_untracked(|m| m.get(k)).unwrap_or_default();
                let (actor, action, from, to) = (get("actor"), get("action"), get("from"), get("to"));
                match page.await {
                    Err(e) => {
                        view! {
                            <p class="form-error" role="alert">{e.to_string()}</p>
                            <a href="/app/audit">"Back to the latest entries"</a>
                        }
                            .into_any_in_step()
                    }
                    Ok(p) => {
                        let opt = |v: &String, current: &str| {
                            view! {
                                <option value=v.clone() selected=v == current>
                                    {v.clone()}
                                </option>
                            }
                        };
                        let next = p.next.clone().map(|c| {
                            format!(
                                "/app/audit?actor={}&action={}&from={from}&to={to}&after={c}",
                                encode_component(&actor),
                                encode_component(&action),
                            )
                        });
                        view! {
                            <Form method="GET" action="" attr:class="filters">
                                <label>
                                    "Actor"
                                    <select name="actor">
                                        <option value="">"Anyone"</option>
                                        {p.actors.iter().map(|a| opt(a, &actor)).collect_view()}
                                    </select>
                                </label>
                                <label>
                                    "Action"
                                    <select name="action">
                                        <option value="">"Any"</option>
                                        {p.actions.iter().map(|a| opt(a, &action)).collect_view()}
                                    </select>
                                </label>
                                <label>
                                    "From" <input type="date" name="from" value=from.clone() />
                                </label>
                                <label>
                                    "To" <input type="date" name="to" value=to.clone() />
                                </label>
                                <button type="submit">"Apply"</button>
                            </Form>
                            {if p.rows.is_empty() {
                                view! { <p class="empty-state">"No entries match."</p> }.into_any_in_step()
                            } else {
                                view! {
                                    <table class="data-table" aria-label="Audit entries">
                                        <thead>
                                            <tr>
                                                <th scope="col">"When"</th>
                                                <th scope="col">"Who"</th>
                                                <th scope="col">"Action"</th>
                                                <th scope="col">"Subject"</th>
                                                <th scope="col">"Detail"</th>
                                            </tr>
                                        </thead>
                                        <tbody>
                                            {p
                                                .rows
                                                .into_iter()
                                                .map(|r| {
                                                    view! {
                                                        <tr>
                                                            <td>{format_time(r.at_ms)}</td>
                                                            <td>{r.actor}</td>
                                                            <td>
                                                                <code>{r.action}</code>
                                                            </td>
                                                            <td>{r.subject}</td>
                                                            <td>{r.detail}</td>
                                                        </tr>
                                                    }
                                                })
                                                .collect_view()}
                                        </tbody>
                                    </table>
                                }
                                    .into_any_in_step()
                            }}
                            <nav class="pager" aria-label="Pages">
                                {next.map(|href| view! { <a href=href>"Older entries"</a> })}
                            </nav>
                        }
                            .into_any_in_step()
                    }
                }
            })}
        </Transition>
    }
}
