use super::config::Config;
use super::db::Db;
use crate::error::AppError;
use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// The one shared state: reached by axum handlers as `State` (or any field of it, through
/// `FromRef`), by server functions as context.
#[derive(Clone, FromRef)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub db: Db,
    /// Whose turn it is to write the run lifecycle's transactions (SQLite only).
    pub writes: super::db::WriteTurn,
    /// Starts waiting to be written together (SQLite only; see `triggers::intake`).
    pub intake: Arc<super::triggers::Intake>,
    /// Each webhook's refusals this minute, so a flood is counted rather than audited row by row.
    pub refusals: Arc<super::triggers::webhook::Refusals>,
    pub config: Arc<Config>,
    /// This instance's notification worker (see `notifications`).
    pub notifier: Arc<super::notifications::Notifier>,
    /// Whether the account has its first admin (the owner). Once true it stays true, and the
    /// page gate stops asking the database.
    pub has_admin: Arc<AtomicBool>,
    /// The one-time setup code this instance printed at start, while no admin existed (tests
    /// read it here; people read it in the log).
    pub setup_code: Option<super::config::Secret>,
    pub events: super::events::EventBus,
    pub runtime: Arc<super::runtime::Runtime>,
    /// Open live streams per user and embed token, for their caps.
    pub streams: super::streams::StreamCaps,
    /// Set when the server starts shutting down, so long-lived streams end and let it.
    pub closing: Arc<tokio::sync::watch::Sender<bool>>,
}

impl AppState {
    pub async fn has_admin(&self) -> Result<bool, sqlx::Error> {
        if self.has_admin.load(Ordering::Relaxed) {
            return Ok(true);
        }
        let exists = super::auth::account_claimed(&self.db).await?;
        if exists {
            self.has_admin.store(true, Ordering::Relaxed);
        }
        Ok(exists)
    }
}

/// The state inside a server function (provided by `leptos_routes_with_context`).
pub fn app_state() -> Result<AppState, AppError> {
    leptos::prelude::use_context::<AppState>()
        .ok_or_else(|| AppError::internal("AppState missing from server function context"))
}
