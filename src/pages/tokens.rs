//! `/app/settings/tokens`: embed tokens (the dashboard widget in another site's `<iframe>`) and
//! API tokens (`GET /api/v1/escalations`), each for one team, read-only. Owners and admins
//! create and revoke them; a token's value is shown once.

use crate::components::data::data;
use crate::components::form_error::{FormError, error_text};
use crate::components::in_step::{InStep, IntoAnyInStep};
use crate::components::team_select::TeamSelect;
use crate::components::time::format_time;
use crate::members::my_teams;
use crate::tokens::{CreateToken, RevokeToken, TokenKind, list_tokens};
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn TokensPage() -> impl IntoView {
    let create = ServerAction::<CreateToken>::new();
    let revoke = ServerAction::<RevokeToken>::new();
    let tokens = data(
        move || (create.version().get(), revoke.version().get()),
        |_| list_tokens(),
    );
    let teams = data(|| (), |_| my_teams());
    let create_error = Signal::derive(move || create.value().with(error_text));
    let revoke_error = Signal::derive(move || revoke.value().with(error_text));
    // The new token's value, shown once, with how to use it.
    let created = move || {
        create.value().get().and_then(Result::ok).map(|t| {
            let origin = crate::components::url::page_origin();
            let usage = match t.kind {
                TokenKind::Embed => format!(
                    "<iframe src=\"{origin}/embed/widget?token={}\" title=\"Open escalations\" width=\"320\" height=\"220\" style=\"border:0\"></iframe>",
                    t.value
                ),
                TokenKind::Api => format!(
                    "curl -H \"Authorization: Bearer {}\" \"{origin}/api/v1/escalations?status=open\"",
                    t.value
                ),
                TokenKind::ApiWrite => format!(
                    "curl -X POST -H \"Authorization: Bearer {}\" -H \"Content-Type: application/json\" -d '{{\"message\": \"Hello\"}}' \"{origin}/api/v1/agents/AGENT_ID/runs\"",
                    t.value
                ),
            };
            view! {
                <section class="card new-token" role="status">
                    <h2>"Copy it now: it is not shown again"</h2>
                    <p>
                        <label for="new-token-value">"Token"</label>
                        <input id="new-token-value" readonly value=t.value.clone() />
                    </p>
                    <label for="new-token-usage">"How to use it"</label>
                    <textarea id="new-token-usage" readonly rows=3>
                        {usage}
                    </textarea>
                </section>
            }
        })
    };
    view! {
        <Title text="Tokens · Flare" />
        <h1>"Tokens"</h1>
        <p class="helper">
            "An embed token shows one team's open-escalation count in another site's page. An API (read) token reads that team's agents, runs and escalations as JSON; an API (read and write) token may also start runs and answer escalations."
        </p>
        {created}
        <FormError message=revoke_error />
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match tokens.await {
                    Err(e) => view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any_in_step(),
                    Ok(list) if list.is_empty() => view! { <p class="empty-state">"No tokens yet."</p> }.into_any_in_step(),
                    Ok(list) => {
                        view! {
                            <table class="data-table" aria-label="Tokens">
                                <thead>
                                    <tr>
                                        <th scope="col">"Name"</th>
                                        <th scope="col">"Kind"</th>
                                        <th scope="col">"Team"</th>
                                        <th scope="col">"Created"</th>
                                        <th scope="col">"State"</th>
                                    </tr>
                                </thead>
                                <tbody>
                                    {list
                                        .into_iter()
                                        .map(|t| {
                                            let kind = match t.kind {
                                                TokenKind::Embed => "Embed widget",
                                                TokenKind::Api => "API (read)",
                                                TokenKind::ApiWrite => "API (read and write)",
                                            };
                                            let label = format!("Revoke {}", t.name);
                                            view! {
                                                <tr>
                                                    <td>{t.name.clone()}</td>
                                                    <td>{kind}</td>
                                                    <td>{t.team_name.clone()}</td>
                                                    <td>{format_time(t.created_at_ms)}</td>
                                                    <td>
                                                        {match t.revoked_at_ms {
                                                            Some(at) => format!("Revoked {}", format_time(at)).into_any_in_step(),
                                                            None => {
                                                                view! {
                                                                    <ActionForm action=revoke>
                                                                        {InStep(view! {
                                                                            <input type="hidden" name="token_id" value=t.id.clone() />
                                                                            <button type="submit" aria-label=label>
                                                                                "Revoke"
                                                                            </button>
                                                                        })}
                                                                    </ActionForm>
                                                                }
                                                                    .into_any_in_step()
                                                            }
                                                        }}
                                                    </td>
                                                </tr>
                                            }
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
        <section class="card narrow" aria-labelledby="new-token-heading">
            <h2 id="new-token-heading">"Create a token"</h2>
            <ActionForm action=create>
                {InStep(view! {
                    <label for="token-name">"Token name"</label>
                    <input id="token-name" name="name" required maxlength=80 />
                    <label for="token-kind">"Kind"</label>
                    <select id="token-kind" name="kind">
                        <option value="embed">"Embed widget"</option>
                        <option value="api">"API (read)"</option>
                        <option value="api_write">"API (read and write)"</option>
                    </select>
                    <label for="token-team">"Team"</label>
                    <TeamSelect id="token-team" teams />
                    <FormError message=create_error />
                    <button type="submit" class="primary">"Create token"</button>
                })}
            </ActionForm>
        </section>
    }
}
