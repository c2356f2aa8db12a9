use super::config::Config;
use super::db::Db;
use crate::error::AppError;
use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// The one shared state: reached by axum handlers as `State`, by server functions as context.
#[derive(Clone)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub db: Db,
    pub config: Arc<Config>,
    /// Whether any user exists. Users are never deleted, so once true it stays true and the
    /// page gate stops asking the database.
    pub has_users: Arc<AtomicBool>,
    pub events: super::events::EventBus,
    pub runtime: Arc<super::runtime::Runtime>,
    /// Set when the server starts shutting down, so long-lived streams end and let it.
    pub closing: Arc<tokio::sync::watch::Sender<bool>>,
}

impl AppState {
    pub async fn has_users(&self) -> Result<bool, sqlx::Error> {
        if self.has_users.load(Ordering::Relaxed) {
            return Ok(true);
        }
        let exists = super::db::users::any_exist(&self.db).await?;
        if exists {
            self.has_users.store(true, Ordering::Relaxed);
        }
        Ok(exists)
    }
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

/// The state inside a server function (provided by `leptos_routes_with_context`).
pub fn app_state() -> Result<AppState, AppError> {
    leptos::prelude::use_context::<AppState>()
        .ok_or_else(|| AppError::internal("AppState missing from server function context"))
}
