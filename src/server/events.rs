//! The one server-side event bus. Every instance delivers events to its own subscribers (the
//! open pages it serves) through a broadcast channel. On PostgreSQL, events travel through
//! LISTEN/NOTIFY instead, so a change made on one Flare instance reaches pages served by all.

use crate::live::LiveEvent;
use sqlx::postgres::PgListener;
use std::sync::Arc;
use tokio::sync::broadcast;

const CHANNEL: &str = "flare_events";
/// How many events a slow subscriber may fall behind before it is told to catch up.
const BUFFER: usize = 1024;

/// An event as subscribers receive it: shared, and encoded once for all of them rather than
/// once per open page.
pub struct Published {
    pub event: LiveEvent,
    pub json: String,
}

impl Published {
    fn new(event: LiveEvent) -> Option<Arc<Self>> {
        match serde_json::to_string(&event) {
            Ok(json) => Some(Arc::new(Self { event, json })),
            Err(e) => {
                tracing::error!(error = %e, "cannot encode event");
                None
            }
        }
    }
}

#[derive(Clone)]
pub struct EventBus {
    local: broadcast::Sender<Arc<Published>>,
    via_postgres: bool,
    /// When each team last had an event here, and when this bus started: a page rendered
    /// before a stream opens learns whether it missed anything in between.
    last: Arc<std::sync::Mutex<std::collections::HashMap<String, i64>>>,
    started_ms: i64,
}

/// How far apart two instances' clocks (or a render and its page's first read) may be.
const CLOCK_SLACK_MS: i64 = 2_000;

fn now_ms() -> i64 {
    super::db::now_ms()
}

/// Delivers to this instance's subscribers, noting the team's latest event.
fn deliver(
    local: &broadcast::Sender<Arc<Published>>,
    last: &std::sync::Mutex<std::collections::HashMap<String, i64>>,
    published: Arc<Published>,
) {
    last.lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(published.event.team_id.clone(), now_ms());
    let _ = local.send(published);
}

impl EventBus {
    /// An in-process bus (SQLite: one instance owns the database file).
    pub fn local() -> Self {
        let (local, _) = broadcast::channel(BUFFER);
        Self {
            local,
            via_postgres: false,
            last: Default::default(),
            started_ms: now_ms(),
        }
    }

    /// A bus shared by every instance on one PostgreSQL database.
    pub async fn postgres(url: &str) -> anyhow::Result<Self> {
        use anyhow::Context;
        let mut listener = PgListener::connect(url)
            .await
            .context("cannot LISTEN on PostgreSQL")?;
        listener
            .listen(CHANNEL)
            .await
            .context("cannot LISTEN on PostgreSQL")?;
        let bus = Self {
            via_postgres: true,
            ..Self::local()
        };
        let local = bus.local.clone();
        let last = bus.last.clone();
        tokio::spawn(async move {
            loop {
                // `recv` reconnects by itself after a dropped connection.
                match listener.recv().await {
                    Ok(n) => match serde_json::from_str::<LiveEvent>(n.payload()) {
                        Ok(event) => {
                            let json = n.payload().to_string();
                            deliver(&local, &last, Arc::new(Published { event, json }));
                        }
                        Err(e) => tracing::warn!(error = %e, "unreadable event on {CHANNEL}"),
                    },
                    Err(e) => {
                        tracing::warn!(error = %e, "event listener: retrying");
                        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                    }
                }
            }
        });
        Ok(bus)
    }

    /// Publishes after the change is committed. A lost event costs a page a refetch, never
    /// data: pages reload what they show when they reconnect.
    pub async fn publish(&self, db: &super::db::Db, event: LiveEvent) {
        let Some(published) = Published::new(event) else {
            return;
        };
        if !self.via_postgres {
            deliver(&self.local, &self.last, published);
            return;
        }
        if let Err(e) = sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CHANNEL)
            .bind(&published.json)
            .execute(db)
            .await
        {
            tracing::warn!(error = %e, "cannot publish event");
        }
    }

    /// Commits `tx`, then publishes `events` in order: a page never hears of a change that
    /// is not yet visible to its refetch, and a change rolled back is never announced.
    pub async fn commit_then_publish(
        &self,
        db: &super::db::Db,
        tx: super::db::Tx,
        events: impl IntoIterator<Item = LiveEvent>,
    ) -> Result<(), sqlx::Error> {
        tx.commit().await?;
        for ev in events {
            self.publish(db, ev).await;
        }
        Ok(())
    }

    /// Whether any of `teams` may have had an event since `since_ms` (another instance's
    /// clock): true when one did, or when this bus is too young to know.
    pub fn changed_since(&self, teams: &[String], since_ms: i64) -> bool {
        let since = since_ms - CLOCK_SLACK_MS;
        if since < self.started_ms {
            return true;
        }
        let last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        teams
            .iter()
            .any(|t| last.get(t).is_some_and(|&at| at >= since))
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Published>> {
        self.local.subscribe()
    }

    /// Open subscriptions on this instance (live pages, widgets).
    pub fn subscribers(&self) -> usize {
        self.local.receiver_count()
    }
}
