//! Everything that runs only on the server: configuration, database, auth, HTTP.

pub mod admin_agent;
pub mod agents;
pub mod assets;
pub mod audit;
pub mod auth;
pub mod chat;
pub mod config;
pub mod cursor;
pub mod db;
pub mod demo;
pub mod embedding;
pub mod escalations;
pub mod events;
pub mod http;
pub mod markdown;
pub mod members;
pub mod metrics;
pub mod models;
pub mod notifications;
pub mod runtime;
pub mod secret_box;
pub mod sessions;
pub mod state;
pub mod streams;
pub mod tls;
pub mod tokens;
pub mod triggers;

use config::Config;
use leptos::config::{LeptosOptions, get_configuration};
use state::AppState;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tower_sessions::session_store::ExpiredDeletion;

/// Opens the database, applies migrations, creates the owner from the environment and seeds
/// demo data when asked.
pub async fn prepare(config: Config) -> anyhow::Result<AppState> {
    prepare_with_tools(config, runtime::tools::Registry::default()).await
}

/// `prepare`, with tool workers for the agents (see `runtime::tools`).
pub async fn prepare_with_tools(
    config: Config,
    tools: runtime::tools::Registry,
) -> anyhow::Result<AppState> {
    let meaning = load_meaning(&config).await?;
    prepare_with_parts(config, tools, meaning).await
}

/// Loads the embedding model `config` names (or the pinned one), off the async threads:
/// reading 90 MB takes a moment. Without a model the guardrail matches words only.
pub async fn load_meaning(config: &Config) -> anyhow::Result<Arc<runtime::semantic::Meaning>> {
    use anyhow::Context;
    let dir = embedding::model_dir(config.embedding_model.as_deref());
    let meaning = tokio::task::spawn_blocking(move || runtime::semantic::Meaning::load(&dir))
        .await
        .context("the embedding model's loader stopped")?;
    Ok(Arc::new(meaning))
}

/// `prepare_with_tools` with a model already loaded (tests share one across their apps).
pub async fn prepare_with_parts(
    config: Config,
    tools: runtime::tools::Registry,
    meaning: Arc<runtime::semantic::Meaning>,
) -> anyhow::Result<AppState> {
    use anyhow::Context;
    let db = db::connect(&config.database_url).await?;
    if let (Some(email), Some(password)) = (&config.admin_email, &config.admin_password)
        && !auth::account_claimed(&db)
            .await
            .context("cannot read the account")?
    {
        create_owner_from_env(&db, email, password.expose()).await?;
    }
    // No admin yet: the setup page needs a code that only someone who reads the log has, so
    // nobody who merely reaches the port can claim this Flare.
    let setup_code = if auth::account_claimed(&db)
        .await
        .context("cannot read the account")?
    {
        None
    } else {
        let code = auth::issue_setup_code(&db)
            .await
            .context("cannot store the setup code")?;
        tracing::warn!(
            "Flare has no admin yet. Open http://{}/setup and enter this one-time setup code: {}",
            config.site_addr,
            code.expose()
        );
        Some(code)
    };
    if config.demo
        && demo::seed(&db, &config)
            .await
            .context("cannot seed the demo data")?
    {
        tracing::info!("seeded demo data");
    }
    let leptos_options = leptos_options(&config)?;
    let events = match db::Backend::of(&config.database_url)? {
        db::Backend::Postgres => events::EventBus::postgres(&config.database_url).await?,
        db::Backend::Sqlite => events::EventBus::local(),
    };
    let secrets = secret_box::load(&config)?.map(Arc::new);
    let connections = runtime::connections::Connections::new(&config.provider, secrets)?;
    let runtime = runtime::Runtime {
        meaning,
        connections,
        tools,
        lease: std::time::Duration::from_millis(config.run_lease_ms),
        leases: Default::default(),
        provider_timeout: std::time::Duration::from_millis(config.provider_timeout_ms),
    };
    Ok(AppState {
        leptos_options,
        writes: db::WriteTurn::for_backend(db::Backend::of(&config.database_url)?),
        intake: Default::default(),
        refusals: Default::default(),
        notifier: Arc::new(notifications::Notifier::new()?),
        db,
        config: Arc::new(config),
        has_admin: Default::default(),
        setup_code,
        events,
        runtime: Arc::new(runtime),
        streams: Default::default(),
        closing: Arc::new(tokio::sync::watch::channel(false).0),
    })
}

async fn create_owner_from_env(db: &db::Db, email: &str, password: &str) -> anyhow::Result<()> {
    use anyhow::Context;
    let email = crate::validate::email(email).context("FLARE_ADMIN_EMAIL")?;
    crate::validate::new_password(password).context("FLARE_ADMIN_PASSWORD")?;
    let name = email.split('@').next().unwrap_or("Owner").to_string();
    let hash = auth::hash_password(password.to_string())
        .await
        .context("cannot hash FLARE_ADMIN_PASSWORD")?;
    if auth::create_owner(db, &name, &email, &hash, None)
        .await
        .context("cannot create the owner")?
        .is_some()
    {
        tracing::info!(%email, "created the owner from FLARE_ADMIN_EMAIL");
    }
    Ok(())
}

/// Serves until `shutdown` resolves, then finishes in-flight requests.
pub async fn serve(
    state: AppState,
    listener: TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let store = sessions::SqlSessionStore::new(state.db.clone());
    let db = state.db.clone();
    let sweeper = tokio::spawn(async move {
        let mut every = tokio::time::interval(tokio::time::Duration::from_secs(3600));
        loop {
            every.tick().await;
            if let Err(e) = store.delete_expired().await {
                tracing::warn!(error = %e, "could not delete expired sessions");
            }
            if let Err(e) = db::login_failures::sweep(&db, db::now_ms()).await {
                tracing::warn!(error = %e, "could not delete old sign-in failure counts");
            }
            if let Err(e) = db::triggers::purge_expired_keys(&db).await {
                tracing::warn!(error = %e, "could not delete expired idempotency keys");
            }
        }
    });
    let runs = tokio::spawn(runtime::sweep_abandoned(state.clone()));
    let leases = tokio::spawn(runtime::renew_leases(state.clone()));
    let schedules = tokio::spawn(triggers::schedule::run_scheduler(state.clone()));
    let notices = tokio::spawn(notifications::run_worker(state.clone()));
    let replies = tokio::spawn(triggers::chat::run_replier(state.clone()));
    let mailboxes = tokio::spawn(triggers::mail::run_checker(state.clone()));
    let gateways = tokio::spawn(triggers::gateway::run_gateways(state.clone()));
    let refusals = {
        let state = state.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(std::time::Duration::from_secs(60));
            loop {
                every.tick().await;
                triggers::webhook::audit_counted(&state, std::time::Instant::now()).await;
            }
        })
    };
    let flushing = state.clone();
    // /metrics on its own address, when asked for.
    let exporter = match state.config.metrics_addr {
        Some(addr) => {
            let listener = TcpListener::bind(addr).await?;
            tracing::info!("metrics at http://{addr}/metrics");
            Some(tokio::spawn(metrics::serve(state.clone(), listener)))
        }
        None => None,
    };
    let closing = state.closing.clone();
    let app = http::router(state);
    let result = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        shutdown.await;
        // Live streams never end on their own; tell them to, or shutdown would wait forever.
        closing.send_replace(true);
    })
    .await;
    sweeper.abort();
    runs.abort();
    leases.abort();
    schedules.abort();
    // Deliveries under way are cut off: their rows are due again once their claim runs out.
    notices.abort();
    replies.abort();
    // A check under way is cut off: its mailbox is checked again once its claim runs out.
    mailboxes.abort();
    // Its connections end with the process.
    gateways.abort();
    refusals.abort();
    // The refusals counted in the last minutes: every minute is over at shutdown.
    let later = std::time::Instant::now() + std::time::Duration::from_secs(3600);
    triggers::webhook::audit_counted(&flushing, later).await;
    if let Some(exporter) = exporter {
        exporter.abort();
    }
    result
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}

pub fn init_tracing(json: bool) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,tower_http=info,sqlx=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

/// Leptos' own settings, read the way cargo-leptos passes them (`LEPTOS_*` variables), with
/// what Flare decides itself laid on top: its address and site folder (already checked in
/// `Config`), and hashed file names exactly when the build wrote the hash file (a binary run
/// without cargo-leptos has no `LEPTOS_HASH_FILES` in its environment).
fn leptos_options(config: &Config) -> anyhow::Result<LeptosOptions> {
    use anyhow::Context;
    let mut options = get_configuration(None)
        .context("cannot read Leptos' settings (the LEPTOS_* variables)")?
        .leptos_options;
    options.output_name = "flare".into();
    options.site_root = config.site_root.as_str().into();
    options.site_addr = config.site_addr;
    options.hash_files = assets::hash_file().is_some();
    Ok(options)
}
