//! Browser-only wiring: restore an unsaved copy after hydration, and flush what is unsaved
//! when the page is hidden or left (a beacon outlives the page).

use super::save::Editor;

#[cfg(not(feature = "hydrate"))]
pub fn install(_editor: Editor) {}

#[cfg(feature = "hydrate")]
pub fn install(editor: Editor) {
    use super::save::SaveState;
    use super::storage;
    use leptos::prelude::*;
    use wasm_bindgen::JsCast;
    use wasm_bindgen::closure::Closure;

    // After hydration: an unsaved copy from a closed tab or a failed save comes back.
    Effect::new(move |_| {
        let id = editor.agent_id.get_value();
        if let Some((base, text)) = storage::load(&id) {
            let server_text = editor.stored.get_untracked();
            if text != server_text {
                editor.text.set(text);
                if base == editor.base.get_untracked() {
                    editor.state.set(SaveState::Unsaved);
                    editor.schedule(0);
                } else {
                    // Typed on an older revision: the server will report the conflict.
                    editor.base.set(base);
                    editor.state.set(SaveState::Unsaved);
                    editor.schedule(0);
                }
            } else {
                storage::clear(&id);
            }
        }
    });

    // Leaving or hiding the page: send what is unsaved with a beacon, which outlives the
    // page. `try_` reads: after the editor is gone the listeners do nothing.
    let flush = move || {
        let (Some(text), Some(base), Some(state)) = (
            editor.text.try_get_untracked(),
            editor.base.try_get_untracked(),
            editor.state.try_get_untracked(),
        ) else {
            return;
        };
        if editor.dirty()
            && !matches!(state, SaveState::Conflict { .. })
            && let Some(id) = editor.agent_id.try_get_value()
        {
            send_beacon(&id, base, &text);
        }
    };
    let on_hide = Closure::<dyn Fn()>::new(move || {
        if leptos::prelude::document().visibility_state() == web_sys::VisibilityState::Hidden {
            flush();
        }
    });
    let on_pagehide = Closure::<dyn Fn()>::new(flush);
    let _ = leptos::prelude::document()
        .add_event_listener_with_callback("visibilitychange", on_hide.as_ref().unchecked_ref());
    let _ = leptos::prelude::window()
        .add_event_listener_with_callback("pagehide", on_pagehide.as_ref().unchecked_ref());
    // Removed when the editor goes, so opening one agent after another adds no listeners.
    let listeners = StoredValue::new_local(Some((on_hide, on_pagehide)));
    // Navigating away inside the app (no page unload): flush now.
    on_cleanup(move || {
        flush();
        if let Some(h) = editor.timer.try_get_value().flatten() {
            h.clear();
        }
        if let Some((on_hide, on_pagehide)) = listeners.try_update_value(Option::take).flatten() {
            let _ = leptos::prelude::document().remove_event_listener_with_callback(
                "visibilitychange",
                on_hide.as_ref().unchecked_ref(),
            );
            let _ = leptos::prelude::window().remove_event_listener_with_callback(
                "pagehide",
                on_pagehide.as_ref().unchecked_ref(),
            );
        }
    });
}

/// Posts the save as the server function's own form, to its own path: a request that
/// survives the page closing. Built from `SaveDescription`, so a renamed argument breaks
/// the build instead of silently losing the last words typed.
#[cfg(feature = "hydrate")]
fn send_beacon(agent_id: &str, base: i64, text: &str) {
    use crate::agents::SaveDescription;
    use server_fn::ServerFn;
    let args = SaveDescription {
        agent_id: agent_id.to_string(),
        base_revision: base,
        description: text.to_string(),
    };
    let Ok(body) = serde_qs::to_string(&args) else {
        return;
    };
    let parts = js_sys::Array::of1(&wasm_bindgen::JsValue::from_str(&body));
    let opts = web_sys::BlobPropertyBag::new();
    opts.set_type("application/x-www-form-urlencoded");
    if let Ok(blob) = web_sys::Blob::new_with_str_sequence_and_options(&parts, &opts) {
        let _ = leptos::prelude::window()
            .navigator()
            .send_beacon_with_opt_blob(SaveDescription::PATH, Some(&blob));
    }
}
