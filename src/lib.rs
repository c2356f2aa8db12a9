//! Flare: a self-hosted workspace where AI agents escalate to humans.
//! One crate, rendered on the server (`ssr`) and hydrated in the browser (`hydrate`).
// Leptos view types nest deeply; the release wasm build needs more than the default 128.
#![recursion_limit = "256"]

pub mod admin_agent;
pub mod agents;
pub mod app;
pub mod audit;
pub mod auth;
pub mod chat;
pub mod components;
pub mod error;
pub mod escalations;
pub mod live;
pub mod members;
pub mod models;
pub mod names;
pub mod notifications;
pub mod pages;
pub mod rules;
pub mod tokens;
pub mod triggers;
pub mod validate;

#[cfg(feature = "ssr")]
pub mod server;

#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    // Pages are split into lazily loaded pieces (see `app::routes`): hydration waits for the
    // open page's piece, so it is asynchronous.
    _ = any_spawner::Executor::init_wasm_bindgen();
    leptos::task::spawn_local(async {
        let Some(body) = leptos::prelude::document().body() else {
            return;
        };
        leptos::mount::hydrate_from_async(body.clone(), app::App)
            .await
            .forget();
        // Event handlers exist from here on; browser tests wait for this mark before clicking.
        let _ = body.set_attribute("data-hydrated", "true");
    });
}
