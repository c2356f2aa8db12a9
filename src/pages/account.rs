//! `/app/settings/account`: the signed-in user's own account: a new password, and the Slack
//! and Discord accounts whose button clicks answer as them (linked from a one-time link Slack replied with,
//! `?link=…`, confirmed here with a POST; unlinked here).

use crate::auth::ChangePassword;
use crate::components::data::data;
use crate::components::form_error::{FormError, error_text};
use crate::components::in_step::{InStep, IntoAnyInStep};
use crate::components::time::format_time;
use crate::notifications::{
    ChatLink, LinkChatAccount, UnlinkChatAccount, chat_link_offer, list_chat_links, platform,
};
use crate::validate::MIN_PASSWORD;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn AccountPage() -> impl IntoView {
    let change = ServerAction::<ChangePassword>::new();
    let error = Signal::derive(move || change.value().with(error_text));
    let done = move || matches!(change.value().get(), Some(Ok(())));
    view! {
        <Title text="Account · Flare" />
        <h1>"Account"</h1>
        <section aria-labelledby="password-heading" class="card">
            <h2 id="password-heading">"Change your password"</h2>
            <p class="helper">
                "Your other browsers and devices are signed out; this one stays signed in."
            </p>
            <ActionForm action=change>
                {InStep(view! {
                    <label for="current">"Current password"</label>
                    <input id="current" name="current" type="password" autocomplete="current-password" required />
                    <label for="new">"New password"</label>
                    <input
                        id="new"
                        name="new"
                        type="password"
                        autocomplete="new-password"
                        required
                        minlength=MIN_PASSWORD
                    />
                    <FormError message=error />
                    <Show when=done>
                        <p role="status">"Password changed. Other sessions were signed out."</p>
                    </Show>
                    <button type="submit" class="primary" disabled=move || change.pending().get()>
                        "Change password"
                    </button>
                })}
            </ActionForm>
        </section>
        <LinkedAccounts />
    }
}

/// The Slack and Discord accounts linked to this one, and the link offered by `?link=`, if any.
#[component]
fn LinkedAccounts() -> impl IntoView {
    let query = leptos_router::hooks::use_query_map();
    let link = ServerAction::<LinkChatAccount>::new();
    let unlink = ServerAction::<UnlinkChatAccount>::new();
    let token = move || query.read().get("link").filter(|t| !t.is_empty());
    let offer = data(token, |t| async move {
        match t {
            Some(t) => chat_link_offer(t).await.map(Some),
            None => Ok(None),
        }
    });
    let links = data(
        move || (link.version().get(), unlink.version().get()),
        |_| list_chat_links(),
    );
    let error = Signal::derive(move || {
        link.value()
            .with(error_text)
            .or_else(|| unlink.value().with(error_text))
    });
    let linked = move || {
        link.value().get().and_then(Result::ok).map(|o| {
            view! {
                <p role="status">
                    {format!(
                        "Linked: your clicks as {} in {} now answer as you. Go back and click again.",
                        o.external_name,
                        platform(&o.kind),
                    )}
                </p>
            }
        })
    };
    view! {
        <section aria-labelledby="links-heading" class="card">
            <h2 id="links-heading">"Linked chat accounts"</h2>
            <p class="helper">
                "A linked Slack or Discord account answers escalations from their buttons as you, in your teams' channels."
            </p>
            {linked}
            <FormError message=error />
            <Suspense>
                {move || Suspend::new(async move {
                    match offer.await {
                        Ok(Some(o)) if link.version().get() == 0 => {
                            let t = token().unwrap_or_default();
                            let app = platform(&o.kind);
                            view! {
                                <ActionForm action=link>
                                    {InStep(view! {
                                        <p>
                                            {format!(
                                                "Link the {app} account {} ({}, workspace {}) to your Flare account? Its clicks will answer as you.",
                                                o.external_name,
                                                o.external_id,
                                                o.workspace,
                                            )}
                                        </p>
                                        <input type="hidden" name="token" value=t.clone() />
                                        <button type="submit" class="primary" disabled=move || link.pending().get()>
                                            {format!("Link my {app} account")}
                                        </button>
                                    })}
                                </ActionForm>
                            }
                            .into_any_in_step()
                        }
                        Err(e) => view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any_in_step(),
                        _ => ().into_any_in_step(),
                    }
                })}
            </Suspense>
            <Suspense>
                {move || Suspend::new(async move {
                    match links.await {
                        Ok(list) if list.is_empty() => view! { <p class="empty-state">"No linked accounts."</p> }.into_any_in_step(),
                        Ok(list) => view! {
                            <ul aria-label="Linked accounts">
                                {list.into_iter().map(|l| view! { <LinkedAccount l unlink /> }).collect_view()}
                            </ul>
                        }
                        .into_any_in_step(),
                        Err(e) => view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any_in_step(),
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn LinkedAccount(l: ChatLink, unlink: ServerAction<UnlinkChatAccount>) -> impl IntoView {
    let label = format!("Unlink {} account {}", platform(&l.kind), l.external_id);
    view! {
        <li>
            {format!(
                "{} account {} in workspace {}, linked {}",
                platform(&l.kind),
                l.external_id,
                l.workspace,
                format_time(l.created_at_ms),
            )}
            <ActionForm action=unlink attr:class="inline-form">
                {InStep(view! {
                    <input type="hidden" name="kind" value=l.kind.clone() />
                    <input type="hidden" name="workspace" value=l.workspace.clone() />
                    <input type="hidden" name="external_id" value=l.external_id.clone() />
                    <button type="submit" aria-label=label.clone()>"Unlink"</button>
                })}
            </ActionForm>
        </li>
    }
}
