//! Live updates for a page: subscribes to the server's events (Server-Sent Events at
//! [`LIVE_PATH`]) while the calling component is mounted. The browser's EventSource reconnects
//! by itself after a network drop or a server restart; every reconnect (and a server-side
//! "resync" after falling behind) calls `on_event(None)`, so the page refetches what it shows
//! and misses nothing.

#[allow(unused_imports)]
use crate::live::{LIVE_PATH, LiveEvent};

/// `on_event(Some(event))` for each event of the user's teams, `on_event(None)` to catch up.
#[cfg(not(feature = "hydrate"))]
pub fn use_live(_on_event: impl Fn(Option<LiveEvent>) + 'static) {}

#[cfg(feature = "hydrate")]
pub fn use_live(on_event: impl Fn(Option<LiveEvent>) + 'static) {
    use leptos::prelude::*;
    use std::cell::Cell;
    use std::rc::Rc;
    use wasm_bindgen::JsCast;
    use wasm_bindgen::closure::Closure;

    let Ok(source) = web_sys::EventSource::new(LIVE_PATH) else {
        return;
    };
    let on_event = Rc::new(on_event);
    let f = on_event.clone();
    let on_message =
        Closure::<dyn Fn(web_sys::MessageEvent)>::new(move |e: web_sys::MessageEvent| {
            if let Some(ev) = e
                .data()
                .as_string()
                .and_then(|s| serde_json::from_str::<LiveEvent>(&s).ok())
            {
                f(Some(ev));
            }
        });
    let f = on_event.clone();
    let opened_before = Cell::new(false);
    let on_open = Closure::<dyn Fn()>::new(move || {
        // The first open is the page's own load; later ones are reconnects.
        if opened_before.replace(true) {
            f(None);
        }
    });
    let f = on_event;
    let on_resync = Closure::<dyn Fn()>::new(move || f(None));
    source.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    source.set_onopen(Some(on_open.as_ref().unchecked_ref()));
    let _ = source.add_event_listener_with_callback("resync", on_resync.as_ref().unchecked_ref());
    let handle = StoredValue::new_local((source, on_message, on_open, on_resync));
    on_cleanup(move || {
        handle.try_with_value(|(source, ..)| source.close());
        handle.dispose();
    });
}
