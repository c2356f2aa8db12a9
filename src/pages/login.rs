use crate::auth::Login;
use crate::components::form_error::{FormError, error_text};
use crate::components::in_step::InStep;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

/// `/login`: works with and without JavaScript (a plain form post when the page is not hydrated).
#[component]
pub fn LoginPage() -> impl IntoView {
    let login = ServerAction::<Login>::new();
    let query = use_query_map();
    let next = move || query.read().get("next").unwrap_or_default();
    let error = Signal::derive(move || login.value().with(error_text));
    view! {
        <Title text="Sign in · Flare" />
        <main class="auth-page">
            <section class="card auth-card">
                <h1>"Sign in to Flare"</h1>
                <ActionForm action=login>
                    {InStep(view! {
                        <input type="hidden" name="next" value=next />
                        <label for="email">"Email"</label>
                        <input id="email" name="email" type="email" autocomplete="username" required />
                        <label for="password">"Password"</label>
                        <input
                            id="password"
                            name="password"
                            type="password"
                            autocomplete="current-password"
                            required
                        />
                        <FormError message=error />
                        <button type="submit" class="primary" disabled=move || login.pending().get()>
                            "Sign in"
                        </button>
                    })}
                </ActionForm>
            </section>
        </main>
    }
}
