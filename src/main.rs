// mimalloc instead of glibc's malloc: under page load, malloc and free were a fifth of the
// server's CPU (see the README's Performance section for the profile).
#[cfg(feature = "ssr")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[cfg(feature = "ssr")]
fn main() -> std::process::ExitCode {
    // SAFETY: first thing in main, before the runtime starts any thread.
    unsafe { flare::server::embedding::one_core_per_message() };
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime.block_on(run()),
        Err(e) => {
            eprintln!("flare: cannot start the async runtime: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

#[cfg(feature = "ssr")]
async fn run() -> std::process::ExitCode {
    use flare::server;
    let args: Vec<String> = std::env::args().collect();
    let config = match server::config::Config::from_env(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("flare: configuration error: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    server::init_tracing(config.log_json);
    let addr = config.site_addr;
    let state = match server::prepare(config).await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!("cannot start: {e:#}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(l) => l,
        Err(e) => {
            tracing::error!("cannot listen on {addr}: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    tracing::info!("Flare is listening on http://{addr}");
    if let Err(e) = server::serve(state, listener, server::shutdown_signal()).await {
        tracing::error!("server error: {e}");
        return std::process::ExitCode::FAILURE;
    }
    std::process::ExitCode::SUCCESS
}

#[cfg(not(feature = "ssr"))]
pub fn main() {
    // The browser side starts from `lib.rs`'s `hydrate()`; this binary needs the `ssr` feature.
}
