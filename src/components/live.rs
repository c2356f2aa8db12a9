//! Live updates. The signed-in layout opens one Server-Sent Events stream per tab
//! ([`provide_live`]; browsers allow few connections per host, so never one per component) and
//! components subscribe to it with [`use_live`] while mounted. The browser's EventSource
//! reconnects by itself after a network drop or a server restart; every reconnect (and a
//! server-side "resync" after falling behind) calls subscribers with `None`, so they refetch
//! what they show and miss nothing.

#[allow(unused_imports)]
use crate::live::{LIVE_PATH, LiveEvent};
#[allow(unused_imports)]
use leptos::prelude::*;

#[cfg(feature = "hydrate")]
type Subscriber = std::rc::Rc<dyn Fn(Option<LiveEvent>)>;

/// The tab's one stream and its subscribers (browser only; empty on the server).
#[derive(Clone, Copy)]
pub struct LiveHub {
    #[cfg(feature = "hydrate")]
    subscribers: StoredValue<Vec<(u64, Subscriber)>, LocalStorage>,
    #[cfg(feature = "hydrate")]
    next_id: StoredValue<u64>,
}

/// Opens the tab's live stream for the components below.
pub fn provide_live() {
    provide_live_at(LIVE_PATH.to_string());
}

/// The same on another stream (the embedded widget's, with its token).
#[cfg(not(feature = "hydrate"))]
pub fn provide_live_at(_path: String) {
    provide_context(LiveHub {});
}

#[cfg(feature = "hydrate")]
pub fn provide_live_at(path: String) {
    use std::cell::Cell;
    use wasm_bindgen::JsCast;
    use wasm_bindgen::closure::Closure;

    let hub = LiveHub {
        subscribers: StoredValue::new_local(Vec::new()),
        next_id: StoredValue::new(0),
    };
    provide_context(hub);
    let Ok(source) = web_sys::EventSource::new(&path) else {
        return;
    };
    // Each callback gets a snapshot, so a subscriber may (un)subscribe while being called.
    let notify = move |event: Option<LiveEvent>| {
        let subs: Vec<Subscriber> = hub
            .subscribers
            .try_with_value(|s| s.iter().map(|(_, f)| f.clone()).collect())
            .unwrap_or_default();
        for f in subs {
            f(event.clone());
        }
    };
    let on_message =
        Closure::<dyn Fn(web_sys::MessageEvent)>::new(move |e: web_sys::MessageEvent| {
            if let Some(ev) = e
                .data()
                .as_string()
                .and_then(|s| serde_json::from_str::<LiveEvent>(&s).ok())
            {
                notify(Some(ev));
            }
        });
    let opened_before = Cell::new(false);
    let on_open = Closure::<dyn Fn()>::new(move || {
        // The first open is the page's own load; later ones are reconnects.
        if opened_before.replace(true) {
            notify(None);
        }
    });
    let on_resync = Closure::<dyn Fn()>::new(move || notify(None));
    source.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    source.set_onopen(Some(on_open.as_ref().unchecked_ref()));
    let _ = source.add_event_listener_with_callback("resync", on_resync.as_ref().unchecked_ref());
    let handle = StoredValue::new_local((source, on_message, on_open, on_resync));
    on_cleanup(move || {
        handle.try_with_value(|(source, ..)| source.close());
        handle.dispose();
    });
}

/// Calls `on_event(Some(event))` for each event of the user's teams, `on_event(None)` to catch
/// up, while the calling component is mounted.
#[cfg(not(feature = "hydrate"))]
pub fn use_live(_on_event: impl Fn(Option<LiveEvent>) + 'static) {}

#[cfg(feature = "hydrate")]
pub fn use_live(on_event: impl Fn(Option<LiveEvent>) + 'static) {
    let Some(hub) = use_context::<LiveHub>() else {
        return;
    };
    let id = hub.next_id.get_value();
    hub.next_id.set_value(id + 1);
    hub.subscribers
        .update_value(|s| s.push((id, std::rc::Rc::new(on_event))));
    on_cleanup(move || {
        hub.subscribers
            .try_update_value(|s| s.retain(|(i, _)| *i != id));
    });
}
