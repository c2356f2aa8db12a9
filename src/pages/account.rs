//! `/app/settings/account`: the signed-in user's own account (a new password).

use crate::auth::ChangePassword;
use crate::components::form_error::{FormError, error_text};
use crate::components::in_step::InStep;
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
    }
}
