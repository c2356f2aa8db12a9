//! The signed-in layout: left menu, the user, "Sign out", and the page.

use super::live::{provide_live, use_live};
use crate::auth::{CurrentUser, Logout, signed_in_user};
use crate::components::data::{Data, data};
use crate::components::in_step::{InStep, IntoAnyInStep};
use crate::escalations::open_escalation_count;
use crate::live::Change;
use leptos::prelude::*;
use leptos_router::components::{A, Outlet, Redirect};

/// The signed-in user, for pages inside the shell.
pub type UserResource = Data<Result<Option<CurrentUser>, crate::error::AppError>>;

/// Whether the signed-in person is an owner or admin, from the shell's user (pages show
/// managers' controls by it; the server checks again on every call).
pub fn use_manager() -> Data<bool> {
    let user = use_context::<UserResource>();
    data(
        || (),
        move |_| async move {
            match user {
                Some(u) => matches!(u.await, Ok(Some(ref u)) if u.role.can_manage()),
                None => false,
            }
        },
    )
}

#[component]
pub fn AppShell() -> impl IntoView {
    let user: UserResource = data(|| (), |_| signed_in_user());
    provide_context(user);
    provide_live();
    let logout = ServerAction::<Logout>::new();
    // The menu's count of open escalations, kept current by live events.
    let open = data(|| (), |_| open_escalation_count());
    use_live(move |event| {
        if event.is_none_or(|e| matches!(e.change, Change::Escalation { .. })) {
            open.refetch();
        }
    });
    view! {
        <div class="layout">
            // The menu needs no asynchronous hydration; only the page in the outlet waits.
            {InStep(view! {
                <nav class="sidebar" aria-label="Main">
                    <a class="brand" href="/app/escalations">
                        "Flare"
                    </a>
                    <ul class="menu">
                        <li>
                            <A href="/app/escalations">
                                "Escalations"
                                <Transition>
                                    {move || Suspend::new(async move {
                                        match open.await {
                                            Ok(n) if n > 0 => {
                                                Some(
                                                    view! {
                                                        <span class="badge" title=format!("{n} open")>
                                                            {format!(" {n} open")}
                                                        </span>
                                                    },
                                                )
                                            }
                                            _ => None,
                                        }
                                    })}
                                </Transition>
                            </A>
                        </li>
                        <li>
                            <A href="/app/chat">"Chat"</A>
                        </li>
                        <li>
                            <A href="/app/dashboard">"Dashboard"</A>
                        </li>
                        <li class="menu-group">
                            <span class="menu-heading">"Settings"</span>
                            <ul>
                                <li>
                                    <A href="/app/settings/agents">"Agents"</A>
                                </li>
                                <Suspense>
                                    {move || Suspend::new(async move {
                                        let manager = matches!(
                                            user.await,
                                            Ok(Some(ref u)) if u.role.can_manage()
                                        );
                                        manager
                                            .then(|| {
                                                view! {
                                                    <li>
                                                        <A href="/app/settings/members">"Members & Teams"</A>
                                                    </li>
                                                    <li>
                                                        <A href="/app/settings/tokens">"Tokens"</A>
                                                    </li>
                                                    <li>
                                                        <A href="/app/settings/models">"Models"</A>
                                                    </li>
                                                    <li>
                                                        <A href="/app/settings/notifications">"Notifications"</A>
                                                    </li>
                                                    <li>
                                                        <A href="/app/audit">"Audit"</A>
                                                    </li>
                                                }
                                            })
                                    })}
                                </Suspense>
                            </ul>
                        </li>
                    </ul>
                    <div class="who">
                        <Suspense>
                            {move || Suspend::new(async move {
                                match user.await {
                                    Ok(Some(u)) => {
                                        view! {
                                            <p class="who-name" title=u.email.clone()>
                                                {u.name.clone()}
                                            </p>
                                            <p class="who-role">{u.role.label()}</p>
                                        }
                                            .into_any_in_step()
                                    }
                                    Ok(None) => view! { <Redirect path="/login" /> }.into_any_in_step(),
                                    Err(e) => {
                                        view! { <p class="form-error" role="alert">{e.to_string()}</p> }
                                            .into_any_in_step()
                                    }
                                }
                            })}
                        </Suspense>
                        <A href="/app/settings/account">"Account"</A>
                        <ActionForm action=logout>
                            {InStep(view! {
                                <button
                                    type="submit"
                                    class="link-button"
                                    on:click=|_| super::description_editor::forget_unsaved_drafts()
                                >
                                    "Sign out"
                                </button>
                            })}
                        </ActionForm>
                    </div>
                </nav>
            })}
            <main class="content">
                <Outlet />
            </main>
        </div>
    }
}
