use crate::auth::CreateFirstAdmin;
use crate::components::form_error::{FormError, error_text};
use crate::components::in_step::InStep;
use crate::validate::{MAX_NAME, MIN_PASSWORD};
use leptos::prelude::*;
use leptos_meta::Title;

/// `/setup`: shown while Flare has no admin. Creating the first admin takes the one-time
/// setup code Flare printed to its log at start, so only whoever runs Flare can claim it.
#[component]
pub fn SetupPage() -> impl IntoView {
    let create = ServerAction::<CreateFirstAdmin>::new();
    let error = Signal::derive(move || create.value().with(error_text));
    view! {
        <Title text="Create the first admin · Flare" />
        <main class="auth-page">
            <section class="card auth-card">
                <h1>"Welcome to Flare"</h1>
                <p class="helper">
                    "Create the first admin account. You will own this Flare and can invite your team next."
                </p>
                <ActionForm action=create>
                    {InStep(view! {
                        <label for="setup_code">"Setup code"</label>
                        <input
                            id="setup_code"
                            name="setup_code"
                            type="text"
                            autocomplete="off"
                            spellcheck="false"
                            required
                            maxlength=64
                            aria-describedby="setup_code_help"
                        />
                        <p id="setup_code_help" class="helper">
                            "Flare printed a one-time setup code in its log when it started (the line that says \u{201c}setup code\u{201d})."
                        </p>
                        <label for="name">"Name"</label>
                        <input id="name" name="name" type="text" autocomplete="name" required maxlength=MAX_NAME />
                        <label for="email">"Email"</label>
                        <input id="email" name="email" type="email" autocomplete="username" required />
                        <label for="password">"Password"</label>
                        <input
                            id="password"
                            name="password"
                            type="password"
                            autocomplete="new-password"
                            required
                            minlength=MIN_PASSWORD
                        />
                        <FormError message=error />
                        <button type="submit" class="primary" disabled=move || create.pending().get()>
                            "Create admin account"
                        </button>
                    })}
                </ActionForm>
                <p class="helper">
                    "Already have an account? " <a href="/login">"Sign in"</a>
                </p>
            </section>
        </main>
    }
}
