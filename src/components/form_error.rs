use crate::error::AppError;
use leptos::prelude::*;

/// The message of a failed action, for a `role="alert"` line under its form.
pub fn error_text<T>(result: &Option<Result<T, AppError>>) -> Option<String> {
    match result {
        Some(Err(e)) => Some(e.to_string()),
        _ => None,
    }
}

/// Shows an action's error, if its last run failed.
#[component]
pub fn FormError(#[prop(into)] message: Signal<Option<String>>) -> impl IntoView {
    move || {
        message
            .get()
            .map(|m| view! { <p class="form-error" role="alert">{m}</p> })
    }
}
