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
    use wasm_bindgen::JsCast;
    let hub = LiveHub {
        subscribers: StoredValue::new_local(Vec::new()),
        next_id: StoredValue::new(0),
    };
    provide_context(hub);
    let connection = StoredValue::new_local(None::<Connection>);
    connect(hub, connection, path, false);
    // A stream can outlive a network drop while the refetches it triggered failed: when the
    // browser is back online, subscribers refetch once more.
    let on_online = wasm_bindgen::closure::Closure::<dyn Fn()>::new(move || notify(hub, None));
    let _ = window().add_event_listener_with_callback("online", on_online.as_ref().unchecked_ref());
    let on_online = StoredValue::new_local(on_online);
    on_cleanup(move || {
        on_online.try_with_value(|f| {
            let _ =
                window().remove_event_listener_with_callback("online", f.as_ref().unchecked_ref());
        });
        on_online.dispose();
        connection.try_update_value(|c| {
            if let Some(c) = c.take() {
                c.source.close();
            }
        });
        connection.dispose();
    });
}

/// Calls every subscriber. Each gets a snapshot, so a subscriber may (un)subscribe while
/// being called.
#[cfg(feature = "hydrate")]
fn notify(hub: LiveHub, event: Option<LiveEvent>) {
    let subs: Vec<Subscriber> = hub
        .subscribers
        .try_with_value(|s| s.iter().map(|(_, f)| f.clone()).collect())
        .unwrap_or_default();
    for f in subs {
        f(event.clone());
    }
}

/// One EventSource and the callbacks it calls (dropped together).
#[cfg(feature = "hydrate")]
struct Connection {
    source: web_sys::EventSource,
    _callbacks: [wasm_bindgen::closure::Closure<dyn Fn(web_sys::Event)>; 4],
}

/// How long to wait before opening a new stream after the browser gave one up: doubles per
/// failed attempt, up to 30 s.
#[cfg(feature = "hydrate")]
const RETRY_MS: (u64, u64) = (1_000, 30_000);

/// Opens the stream. The browser's EventSource retries by itself after a dropped connection,
/// but gives up for good on an HTTP error (a proxy's 502 while the server restarts, say): then
/// a new one is opened after a pause, so a page never silently stops being live.
#[cfg(feature = "hydrate")]
fn connect(
    hub: LiveHub,
    connection: StoredValue<Option<Connection>, LocalStorage>,
    path: String,
    reconnect: bool,
) {
    use std::cell::Cell;
    use std::rc::Rc;
    use wasm_bindgen::JsCast;
    use wasm_bindgen::closure::Closure;

    let Ok(source) = web_sys::EventSource::new(&path) else {
        return;
    };
    let notify = move |event| notify(hub, event);
    let on_message = Closure::<dyn Fn(web_sys::Event)>::new({
        let source = source.clone();
        move |e: web_sys::Event| {
            if let Some(ev) = e
                .dyn_ref::<web_sys::MessageEvent>()
                .and_then(|m| m.data().as_string())
                .and_then(|s| serde_json::from_str::<LiveEvent>(&s).ok())
            {
                // An embedded widget's token was revoked: nothing more will come, ever.
                if matches!(ev.change, crate::live::Change::TokenRevoked { .. }) {
                    source.close();
                }
                notify(Some(ev));
            }
        }
    });
    // The first open of the page's first stream is the page's own load; every other open is
    // a reconnect, after which subscribers refetch what they may have missed.
    let opened_before = Rc::new(Cell::new(reconnect));
    let delay = Rc::new(Cell::new(RETRY_MS.0));
    let on_open = Closure::<dyn Fn(web_sys::Event)>::new({
        let delay = delay.clone();
        move |_| {
            delay.set(RETRY_MS.0);
            if opened_before.replace(true) {
                notify(None);
            }
        }
    });
    let on_resync = Closure::<dyn Fn(web_sys::Event)>::new(move |_| notify(None));
    let on_error = Closure::<dyn Fn(web_sys::Event)>::new({
        let source = source.clone();
        move |_| {
            if source.ready_state() != web_sys::EventSource::CLOSED {
                return; // the browser is retrying by itself
            }
            let wait = delay.get();
            delay.set((wait * 2).min(RETRY_MS.1));
            let path = path.clone();
            // Later, not here: replacing the connection drops the callback now running.
            set_timeout(
                move || {
                    if connection.try_with_value(|c| c.is_some()) == Some(true) {
                        connect(hub, connection, path, true);
                    }
                },
                std::time::Duration::from_millis(wait),
            );
        }
    });
    source.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    source.set_onopen(Some(on_open.as_ref().unchecked_ref()));
    source.set_onerror(Some(on_error.as_ref().unchecked_ref()));
    let _ = source.add_event_listener_with_callback("resync", on_resync.as_ref().unchecked_ref());
    connection.update_value(|c| {
        if let Some(old) = c.replace(Connection {
            source,
            _callbacks: [on_message, on_open, on_resync, on_error],
        }) {
            old.source.close();
        }
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
