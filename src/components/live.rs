//! Live updates. The signed-in layout joins the browser's one Server-Sent Events stream
//! ([`provide_live`]) and components subscribe to it with [`use_live`] while mounted. Browsers
//! allow 6 HTTP/1.1 connections per host, so a stream per tab would hang the seventh tab: the
//! tabs elect one leader (a Web Lock, released when its tab closes or leaves the app), which
//! holds the stream and relays every event to the others over a BroadcastChannel. The browser's EventSource
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
    let shared = StoredValue::new_local(None::<share::Shared>);
    // The embedded widget (another site's frame, its own token) keeps a stream of its own.
    if path == LIVE_PATH {
        share::join(hub, connection, shared, path);
    } else {
        connect(hub, connection, None, path, false);
    }
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
        // Gives up the leadership (another tab takes the stream) or the wait for it.
        shared.try_update_value(|s| {
            if let Some(s) = s.take() {
                s.leave();
            }
        });
        shared.dispose();
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

/// When the server rendered this page (its `flare-rendered-at` meta), if it says.
#[cfg(feature = "hydrate")]
fn rendered_at() -> Option<i64> {
    document()
        .query_selector("meta[name=flare-rendered-at]")
        .ok()
        .flatten()?
        .get_attribute("content")?
        .parse()
        .ok()
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
    relay: Option<web_sys::BroadcastChannel>,
    path: String,
    reconnect: bool,
) {
    use std::cell::Cell;
    use std::rc::Rc;
    use wasm_bindgen::JsCast;
    use wasm_bindgen::closure::Closure;

    // A page's first stream asks to catch up on anything since the page was rendered (an
    // event between the render and this moment would otherwise be missed).
    let url = match (reconnect, rendered_at()) {
        (false, Some(at)) if path == LIVE_PATH => format!("{path}?since={at}"),
        _ => path.clone(),
    };
    let Ok(source) = web_sys::EventSource::new(&url) else {
        return;
    };
    // What this tab hears, the other tabs hear too (as the raw event, or "resync").
    let relayed = relay.clone();
    let notify = move |event: Option<LiveEvent>, raw: &str| {
        if let Some(r) = &relayed {
            let _ = r.post_message(&raw.into());
        }
        notify(hub, event)
    };
    let on_message = Closure::<dyn Fn(web_sys::Event)>::new({
        let source = source.clone();
        let notify = notify.clone();
        move |e: web_sys::Event| {
            let Some(raw) = e
                .dyn_ref::<web_sys::MessageEvent>()
                .and_then(|m| m.data().as_string())
            else {
                return;
            };
            if let Ok(ev) = serde_json::from_str::<LiveEvent>(&raw) {
                // An embedded widget's token was revoked: nothing more will come, ever.
                if matches!(ev.change, crate::live::Change::TokenRevoked { .. }) {
                    source.close();
                }
                notify(Some(ev), &raw);
            }
        }
    });
    // The first open of the page's first stream is the page's own load; every other open is
    // a reconnect, after which subscribers refetch what they may have missed.
    let opened_before = Rc::new(Cell::new(reconnect));
    let delay = Rc::new(Cell::new(RETRY_MS.0));
    let on_open = Closure::<dyn Fn(web_sys::Event)>::new({
        let delay = delay.clone();
        let notify = notify.clone();
        move |_| {
            delay.set(RETRY_MS.0);
            if opened_before.replace(true) {
                notify(None, share::RESYNC);
            }
        }
    });
    let on_resync = Closure::<dyn Fn(web_sys::Event)>::new(move |_| notify(None, share::RESYNC));
    let on_error = Closure::<dyn Fn(web_sys::Event)>::new({
        let source = source.clone();
        move |_| {
            if source.ready_state() != web_sys::EventSource::CLOSED {
                return; // the browser is retrying by itself
            }
            let wait = delay.get();
            delay.set((wait * 2).min(RETRY_MS.1));
            let path = path.clone();
            let relay = relay.clone();
            // Later, not here: replacing the connection drops the callback now running.
            set_timeout(
                move || {
                    if connection.try_with_value(|c| c.is_some()) == Some(true) {
                        connect(hub, connection, relay, path, true);
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

/// One stream for all the browser's tabs: the leader's, relayed to the rest.
#[cfg(feature = "hydrate")]
mod share {
    use super::{Connection, LiveHub, connect, notify};
    use crate::live::LiveEvent;
    use leptos::prelude::*;
    use wasm_bindgen::closure::Closure;
    use wasm_bindgen::{JsCast, JsValue};

    const CHANNEL: &str = "flare-live";
    const LOCK: &str = "flare-live-leader";
    /// Relayed instead of an event: "catch up" (a reconnect, or the server's resync).
    pub const RESYNC: &str = "resync";

    /// This tab's part in the sharing; `leave` gives it up.
    pub struct Shared {
        channel: web_sys::BroadcastChannel,
        _on_message: Closure<dyn Fn(web_sys::MessageEvent)>,
        _on_granted: Closure<dyn FnMut(JsValue) -> js_sys::Promise>,
        /// Resolving it releases the lock (held while this tab leads).
        release: std::rc::Rc<std::cell::RefCell<Option<js_sys::Function>>>,
        /// Aborts the wait for the lock (while this tab follows).
        abort: Option<web_sys::AbortController>,
    }

    impl Shared {
        pub fn leave(self) {
            if let Some(a) = &self.abort {
                a.abort();
            }
            if let Some(release) = self.release.borrow_mut().take() {
                let _ = release.call0(&JsValue::NULL);
            }
            self.channel.close();
        }
    }

    pub fn join(
        hub: LiveHub,
        connection: StoredValue<Option<Connection>, LocalStorage>,
        shared: StoredValue<Option<Shared>, LocalStorage>,
        path: String,
    ) {
        let locks = window()
            .navigator()
            .dyn_into::<JsValue>()
            .ok()
            .and_then(|n| js_sys::Reflect::get(&n, &"locks".into()).ok())
            .filter(|l| !l.is_undefined());
        let (Some(locks), Ok(channel)) = (locks, web_sys::BroadcastChannel::new(CHANNEL)) else {
            // No Web Locks or BroadcastChannel: a stream of this tab's own.
            connect(hub, connection, None, path, false);
            return;
        };
        // Followers hear the leader's events.
        let on_message =
            Closure::<dyn Fn(web_sys::MessageEvent)>::new(move |m: web_sys::MessageEvent| {
                let Some(raw) = m.data().as_string() else {
                    return;
                };
                if raw == RESYNC {
                    notify(hub, None);
                } else if let Ok(ev) = serde_json::from_str::<LiveEvent>(&raw) {
                    notify(hub, Some(ev));
                }
            });
        channel.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        let release = std::rc::Rc::new(std::cell::RefCell::new(None::<js_sys::Function>));
        let joined_at = js_sys::Date::now();
        // Granted when no other tab leads (at once, or when the leader's tab goes away).
        let on_granted = Closure::<dyn FnMut(JsValue) -> js_sys::Promise>::new({
            let release = release.clone();
            let channel = channel.clone();
            let path = path.clone();
            move |_lock: JsValue| {
                let mut resolve_later = None;
                let held = js_sys::Promise::new(&mut |resolve, _| resolve_later = Some(resolve));
                // This tab left meanwhile: give the lock straight back.
                if connection.try_with_value(|_| ()).is_none() {
                    return js_sys::Promise::resolve(&JsValue::NULL);
                }
                *release.borrow_mut() = resolve_later;
                // Granted at once: no tab was leading, and this page's data is fresh. Granted
                // later: the leader's tab went away, and every tab (this one too) may have
                // missed events between the two streams, so all catch up once it opens (the
                // stream's first open then counts as a reconnect, relayed to every tab).
                let took_over = js_sys::Date::now() - joined_at > 500.0;
                connect(
                    hub,
                    connection,
                    Some(channel.clone()),
                    path.clone(),
                    took_over,
                );
                held
            }
        });
        let abort = web_sys::AbortController::new().ok();
        let options = js_sys::Object::new();
        if let Some(a) = &abort {
            let _ = js_sys::Reflect::set(&options, &"signal".into(), &a.signal());
        }
        let request = js_sys::Reflect::get(&locks, &"request".into())
            .ok()
            .and_then(|f| f.dyn_into::<js_sys::Function>().ok());
        let asked = request.and_then(|f| {
            f.call3(
                &locks,
                &LOCK.into(),
                &options,
                on_granted.as_ref().unchecked_ref(),
            )
            .ok()
        });
        match asked.and_then(|p| p.dyn_into::<js_sys::Promise>().ok()) {
            Some(p) => {
                // Leaving while waiting rejects the request: expected, not an error.
                let ignore = Closure::<dyn FnMut(JsValue)>::new(|_| {});
                let _ = p.catch(&ignore);
                ignore.forget();
            }
            None => {
                connect(hub, connection, None, path, false);
                return;
            }
        }
        shared.set_value(Some(Shared {
            channel,
            _on_message: on_message,
            _on_granted: on_granted,
            release,
            abort,
        }));
    }
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

/// A refetch that a burst of events (one change announces several at once: the message, then
/// the run's state) triggers once: the first call schedules it a moment later, and the calls
/// until then join it. Nothing happens if the page has gone meanwhile.
pub fn coalesced(refetch: impl Fn() + 'static) -> impl Fn() + Clone + 'static {
    // Thread-safe storage: pages are also built on the server, where a local (`SendWrapper`)
    // value dropped by another thread than its own panics.
    let pending = StoredValue::new(false);
    let refetch = std::rc::Rc::new(refetch);
    move || {
        if pending.try_get_value() != Some(false) {
            return;
        }
        pending.set_value(true);
        let refetch = refetch.clone();
        set_timeout(
            move || {
                if pending.try_set_value(false).is_none() {
                    refetch();
                }
            },
            std::time::Duration::from_millis(40),
        );
    }
}
