//! Open live streams (`/api/live`, `/embed/live`): how many each holder may keep open, and the
//! Server-Sent Events stream itself, which follows its holder's access while it is open.

use super::events::Published;
use super::state::AppState;
use axum::response::{IntoResponse, Response};
use futures::future::BoxFuture;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::watch;

/// Open streams per signed-in user by default (FLARE_LIVE_STREAMS_PER_USER): past this, the
/// oldest closes. A browser shares one stream between its tabs.
pub const MAX_PER_USER: usize = 16;
/// Open streams per embed token (every screen showing the widget).
pub const MAX_PER_EMBED_TOKEN: usize = 100;
/// A stream checks its holder's access at least this often, even with no event asking it to
/// (a session that expired quietly, an event lost while the bus reconnected).
const RECHECK_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// One holder's open streams, oldest first: each one's id and the switch that closes it.
type OpenStreams = VecDeque<(u64, watch::Sender<bool>)>;

/// The open streams of each holder ("user:…", "embed:…").
#[derive(Clone, Default)]
pub struct StreamCaps {
    open: Arc<Mutex<HashMap<String, OpenStreams>>>,
    next: Arc<AtomicU64>,
}

/// One open stream's place under its holder's cap; leaving it (dropping) frees the place.
pub struct Slot {
    caps: StreamCaps,
    holder: String,
    id: u64,
    /// Becomes true when a newer stream of the same holder pushed this one out.
    pub evicted: watch::Receiver<bool>,
}

impl StreamCaps {
    pub fn open(&self, holder: String, cap: usize) -> Slot {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = watch::channel(false);
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let mine = open.entry(holder.clone()).or_default();
        while mine.len() >= cap {
            if let Some((_, oldest)) = mine.pop_front() {
                oldest.send_replace(true);
            }
        }
        mine.push_back((id, tx));
        Slot {
            caps: self.clone(),
            holder,
            id,
            evicted: rx,
        }
    }

    /// Open streams of every holder on this instance.
    pub fn total(&self) -> usize {
        self.open
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .map(VecDeque::len)
            .sum()
    }

    /// Open streams of one holder on this instance.
    pub fn count(&self, holder: &str) -> usize {
        self.open
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(holder)
            .map_or(0, VecDeque::len)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.caps.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(mine) = open.get_mut(&self.holder) {
            mine.retain(|(id, _)| *id != self.id);
            if mine.is_empty() {
                open.remove(&self.holder);
            }
        }
    }
}

/// What a stream does with one event.
pub enum Keep {
    Send(String),
    Skip,
    End,
    /// Send this, then end the stream.
    Last(String),
    /// The holder's access may have changed: check it again before anything else.
    Recheck,
}

/// Checks the holder's access again: false ends the stream.
pub type Recheck = Box<dyn FnMut() -> BoxFuture<'static, bool> + Send>;

struct Open<K> {
    rx: tokio::sync::broadcast::Receiver<Arc<Published>>,
    closing: watch::Receiver<bool>,
    slot: Slot,
    keep: K,
    recheck: Recheck,
    every: tokio::time::Interval,
    ended: bool,
    /// Tell the page to catch up first (it missed events before this stream opened).
    resync_first: bool,
}

/// A Server-Sent Events stream of the bus through `keep`. It ends when the server shuts down,
/// when a newer stream of the same holder takes its place, or when `recheck` says the holder
/// may no longer see it.
///
/// `missed` is asked once the stream listens: true when the page may have missed an event
/// before (between its render and now); its first event is then "resync".
pub fn event_stream(
    state: &AppState,
    slot: Slot,
    keep: impl Fn(&Published) -> Keep + Send + 'static,
    recheck: Recheck,
    missed: impl FnOnce() -> bool,
) -> Response {
    use axum::response::sse::{Event, KeepAlive, Sse};
    use tokio::sync::broadcast::error::RecvError;
    // The stream was checked as it opened: the first periodic check is one period later.
    let mut every =
        tokio::time::interval_at(tokio::time::Instant::now() + RECHECK_EVERY, RECHECK_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let rx = state.events.subscribe();
    // Asked after subscribing: an event is either seen here or delivered on the stream.
    let resync_first = missed();
    let open = Open {
        rx,
        closing: state.closing.subscribe(),
        slot,
        keep,
        recheck,
        every,
        ended: false,
        resync_first,
    };
    let stream = futures::stream::unfold(open, |mut s| async move {
        if s.ended {
            return None;
        }
        if std::mem::take(&mut s.resync_first) {
            let event = Event::default().event("resync").data("{}");
            return Some((Ok::<_, std::convert::Infallible>(event), s));
        }
        loop {
            // Each arm only says what happened; the work is done once `select!` has let go
            // of the other futures (a `watch` guard must not be held across an await).
            enum Woke<T> {
                Bus(T),
                Over,
                Tick,
            }
            let woke = tokio::select! {
                r = s.rx.recv() => Woke::Bus(r),
                _ = s.closing.wait_for(|c| *c) => Woke::Over,
                _ = s.slot.evicted.wait_for(|e| *e) => Woke::Over,
                _ = s.every.tick() => Woke::Tick,
            };
            let next = match woke {
                Woke::Bus(r) => r,
                Woke::Over => return None,
                Woke::Tick => {
                    if !(s.recheck)().await {
                        return None;
                    }
                    continue;
                }
            };
            let event = match next {
                Ok(ev) => match (s.keep)(&ev) {
                    Keep::Send(data) => Event::default().data(data),
                    Keep::Skip => continue,
                    Keep::End => return None,
                    Keep::Last(data) => {
                        s.ended = true;
                        Event::default().data(data)
                    }
                    Keep::Recheck => {
                        if !(s.recheck)().await {
                            return None;
                        }
                        continue;
                    }
                },
                // Fell behind: the page refetches everything it shows.
                Err(RecvError::Lagged(_)) => Event::default().event("resync").data("{}"),
                Err(RecvError::Closed) => return None,
            };
            return Some((Ok::<_, std::convert::Infallible>(event), s));
        }
    });
    Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response()
}
