//! Test harness: every test starts Flare on port 0 with a fresh database of its own, SQLite by
//! default, PostgreSQL when FLARE_TEST_BACKEND=postgres (a new database per test, dropped after).

mod chat;
pub mod scripted;
pub use chat::*;

// Every server function's own argument type, for `send` and `call_fn`.
pub use flare::agents::{
    AgentRevisions, CreateAgent, DeleteAgent, ListAgents, LoadAgent, RenameAgent, RestoreRevision,
    SaveDescription,
};
pub use flare::audit::ListAudit;
pub use flare::auth::{ChangePassword, CreateFirstAdmin, Login, Logout, SignedInUser};
pub use flare::chat::{ListThreads, LoadThread, RetryRun, SendMessage};
pub use flare::escalations::{
    DismissEscalation, ListEscalations, OpenEscalationCount, RespondEscalation,
};
pub use flare::members::{
    AddMember, ChangeRole, CreateTeam, CreateUser, DeactivateUser, LoadDirectory, MyTeams,
    ReactivateUser, RemoveMember, TeamDetails,
};
pub use flare::tokens::{CreateToken, EmbedCounts, ListTokens, RevokeToken};

use flare::server::config::{Config, Secret};
use flare::server::db::Db;
use reqwest::StatusCode;
use serde_json::Value;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Mutex, Once};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

pub const OWNER_EMAIL: &str = "owner@example.com";
pub const OWNER_PASSWORD: &str = "correct horse battery";

pub fn backend_is_postgres() -> bool {
    std::env::var("FLARE_TEST_BACKEND").is_ok_and(|b| b == "postgres")
}

fn postgres_admin_url() -> String {
    std::env::var("FLARE_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// How long one test may run before the watchdog fails the run with its name
/// (FLARE_TEST_TIMEOUT_SECS overrides; the issue asks for a stuck test to fail within 2 minutes).
fn test_timeout() -> Duration {
    let secs = std::env::var("FLARE_TEST_TIMEOUT_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(110);
    Duration::from_secs(secs)
}

/// Tests being watched, by name, with when they started.
static WATCHED: Mutex<Option<HashMap<String, Instant>>> = Mutex::new(None);

/// Ends the watch when the test's thread ends (libtest runs each test on a thread of its own,
/// named after the test), whether the test passed or panicked, and drops the databases the
/// test made: a panicking test leaves no `flare_test_*` database or SQLite file behind.
struct Watch {
    name: String,
    databases: Vec<String>,
}

impl Drop for Watch {
    fn drop(&mut self) {
        if let Some(map) = WATCHED.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
            map.remove(&self.name);
        }
        let databases = std::mem::take(&mut self.databases);
        if databases.is_empty() {
            return;
        }
        // The test's own runtime is gone by now: one of our own, on a thread of its own.
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async {
                for url in databases {
                    let _ =
                        tokio::time::timeout(Duration::from_secs(20), drop_database(&url)).await;
                }
            });
        })
        .join();
    }
}

thread_local! {
    static WATCH: std::cell::RefCell<Option<Watch>> = const { std::cell::RefCell::new(None) };
}

/// Puts the calling test under the watchdog: a test still running after `test_timeout()` is
/// named on stderr and the whole test binary exits with a failure, instead of hanging CI.
/// Called by every way a test gets a database or a server, so every integration test is watched.
pub fn watch_this_test() {
    let name = std::thread::current()
        .name()
        .unwrap_or("unnamed test")
        .to_string();
    if WATCH.with(|w| w.borrow().is_some()) {
        return;
    }
    WATCHED
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get_or_insert_with(HashMap::new)
        .insert(name.clone(), Instant::now());
    WATCH.with(|w| {
        *w.borrow_mut() = Some(Watch {
            name,
            databases: Vec::new(),
        })
    });
    static START: Once = Once::new();
    START.call_once(|| {
        std::thread::spawn(|| {
            let limit = test_timeout();
            loop {
                std::thread::sleep(Duration::from_millis(500));
                let stuck: Vec<String> = WATCHED
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .as_ref()
                    .map(|m| {
                        m.iter()
                            .filter(|(_, t)| t.elapsed() > limit)
                            .map(|(n, _)| n.clone())
                            .collect()
                    })
                    .unwrap_or_default();
                if !stuck.is_empty() {
                    // Straight to the file descriptor: libtest captures `eprintln!` in the
                    // threads a test spawns, and the capture is lost when the process exits.
                    use std::io::Write;
                    let mut err = std::io::stderr().lock();
                    for name in &stuck {
                        let _ = writeln!(
                            err,
                            "\ntest {name} ... TIMED OUT: still running after {} s",
                            limit.as_secs()
                        );
                    }
                    let _ = writeln!(
                        err,
                        "test result: FAILED. 0 passed; {} failed (timed out)",
                        stuck.len()
                    );
                    let _ = err.flush();
                    std::process::exit(101);
                }
            }
        });
    });
}

/// A fresh, empty database URL for one test; dropped when the test ends, however it ends.
pub async fn fresh_database_url() -> String {
    watch_this_test();
    let url = new_database_url().await;
    WATCH.with(|w| {
        if let Some(w) = w.borrow_mut().as_mut() {
            w.databases.push(url.clone());
        }
    });
    url
}

async fn new_database_url() -> String {
    let tag = uuid::Uuid::new_v4().simple().to_string();
    if backend_is_postgres() {
        use sqlx::Connection;
        let admin = postgres_admin_url();
        let mut conn = sqlx::PgConnection::connect(&admin)
            .await
            .expect("FLARE_TEST_BACKEND=postgres but PostgreSQL is not reachable");
        let name = format!("flare_test_{tag}");
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .expect("create test database");
        let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
        format!("{base}/{name}")
    } else {
        let path = std::env::temp_dir().join(format!("flare-test-{tag}.db"));
        format!("sqlite://{}", path.display())
    }
}

/// Drops a PostgreSQL test database or removes a SQLite file.
pub async fn drop_database(url: &str) {
    if url.starts_with("postgres") {
        use sqlx::Connection;
        let name = url.rsplit('/').next().unwrap_or_default().to_string();
        if let Ok(mut conn) = sqlx::PgConnection::connect(&postgres_admin_url()).await {
            let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&mut conn)
                .await;
        }
    } else if let Some(path) = url.strip_prefix("sqlite://") {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{path}{suffix}"));
        }
    }
}

pub struct TestApp {
    pub base: String,
    pub db: Db,
    pub database_url: String,
    pub client: reqwest::Client,
    /// The server's event bus (for counting live subscribers); `None` for a separate process.
    pub events: Option<flare::server::events::EventBus>,
    /// The one-time setup code the server printed at start (only while it had no admin).
    pub setup_code: Option<String>,
    /// The server's shared state; `None` for a separate process.
    pub state: Option<flare::server::state::AppState>,
    stop: Option<oneshot::Sender<()>>,
}

pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
}

impl Reply {
    /// Sends the request and reads its answer: the status, and the body as JSON (or as text
    /// when it is not JSON).
    pub async fn read(request: reqwest::RequestBuilder) -> Self {
        let res = request.send().await.expect("request");
        let status = res.status();
        let text = res.text().await.expect("body");
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Reply { status, body }
    }

    /// The message a user sees for an `AppError` body (as the browser decodes it).
    pub fn message(&self) -> String {
        serde_json::from_value::<flare::error::AppError>(self.body.clone())
            .map(|e| e.to_string())
            .unwrap_or_else(|_| format!("not an AppError: {}", self.body))
    }
}

/// The audit list with no filter; set some with `ListAudit { action: …, ..all_audit() }`.
pub fn all_audit() -> ListAudit {
    ListAudit {
        actor: None,
        action: None,
        from: None,
        to: None,
        after: None,
    }
}

/// The Escalations page's list with its defaults; set some with `..all_escalations()`.
pub fn all_escalations() -> ListEscalations {
    ListEscalations {
        view: None,
        severity: None,
        agent: None,
        trigger: None,
        sort: None,
        after: None,
    }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// The pinned embedding model (installed by `scripts/test`), loaded once per test process.
pub async fn shared_meaning() -> std::sync::Arc<flare::server::runtime::semantic::Meaning> {
    static MEANING: tokio::sync::OnceCell<
        std::sync::Arc<flare::server::runtime::semantic::Meaning>,
    > = tokio::sync::OnceCell::const_new();
    MEANING
        .get_or_init(|| async {
            let config = Config::for_database("sqlite::memory:");
            flare::server::load_meaning(&config).await.expect("model")
        })
        .await
        .clone()
}

impl TestApp {
    /// Flare with an owner (OWNER_EMAIL) created from the environment settings.
    pub async fn with_owner() -> Self {
        Self::start(Self::owner_config().await).await
    }

    /// The configuration `with_owner` uses, for tests that change more of it.
    pub async fn owner_config() -> Config {
        let mut config = Config::for_database(fresh_database_url().await);
        config.admin_email = Some(OWNER_EMAIL.into());
        config.admin_password = Some(Secret::new(OWNER_PASSWORD));
        config
    }

    /// Flare with no user at all (first visit shows the first-admin page).
    pub async fn empty() -> Self {
        Self::start(Config::for_database(fresh_database_url().await)).await
    }

    pub async fn start(config: Config) -> Self {
        Self::start_with_tools(config, Default::default()).await
    }

    /// Flare with tool workers for its agents.
    pub async fn start_with_tools(
        config: Config,
        tools: flare::server::runtime::tools::Registry,
    ) -> Self {
        watch_this_test();
        let database_url = config.database_url.clone();
        // One model for the whole test process (loading it per app would cost each test a
        // moment); an app configured with its own model folder loads that one.
        let meaning = match &config.embedding_model {
            Some(_) => flare::server::load_meaning(&config).await.expect("model"),
            None => shared_meaning().await,
        };
        let state = flare::server::prepare_with_parts(config, tools, meaning)
            .await
            .expect("prepare");
        let db = state.db.clone();
        let events = Some(state.events.clone());
        let shared = Some(state.clone());
        let setup_code = state.setup_code.as_ref().map(|c| c.expose().to_string());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr: SocketAddr = listener.local_addr().expect("addr");
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(flare::server::serve(state, listener, async move {
            let _ = rx.await;
        }));
        Self {
            base: format!("http://{addr}"),
            db,
            database_url,
            client: client(),
            events,
            setup_code,
            state: shared,
            stop: Some(tx),
        }
    }

    /// A handle on a Flare started elsewhere (a real process); `stop` does not stop it.
    pub fn attach(base: String, db: Db, database_url: &str) -> Self {
        watch_this_test();
        Self {
            base,
            db,
            database_url: database_url.to_string(),
            client: client(),
            events: None,
            setup_code: None,
            state: None,
            stop: None,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Calls server function `F` over HTTP as the browser's client does, built from its own
    /// path and argument type and decoded into its own output type: renaming an argument or
    /// changing a type breaks the test's compilation, not the test at run time.
    pub async fn call_fn<F>(
        &self,
        client: &reqwest::Client,
        args: F,
    ) -> Result<F::Output, flare::error::AppError>
    where
        F: server_fn::ServerFn + serde::Serialize,
        F::Output: serde::de::DeserializeOwned,
    {
        let res = client
            .post(self.url(F::PATH))
            .form(&args)
            .send()
            .await
            .expect("request");
        let ok = res.status().is_success();
        let text = res.text().await.expect("body");
        if ok {
            Ok(serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{}: not its output type: {e}: {text}", F::PATH)))
        } else {
            Err(serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{}: not an AppError: {e}: {text}", F::PATH)))
        }
    }

    /// Calls a server function with its own argument type, at its own path, and returns the
    /// raw answer (status and JSON), for tests about refusals as much as results. A renamed or
    /// retyped argument breaks the build here, not a test at run time.
    pub async fn send<F>(&self, client: &reqwest::Client, args: F) -> Reply
    where
        F: server_fn::ServerFn + serde::Serialize,
    {
        Reply::read(client.post(self.url(F::PATH)).form(&args)).await
    }

    /// Calls a server function as a page of another site would, with `client`'s session
    /// cookie riding along: the origin check must refuse it before anything is read.
    pub async fn send_from_another_site<F>(&self, client: &reqwest::Client, args: F) -> Reply
    where
        F: server_fn::ServerFn + serde::Serialize,
    {
        Reply::read(
            client
                .post(self.url(F::PATH))
                .header("origin", "https://evil.example")
                .form(&args),
        )
        .await
    }

    /// Calls a server function by name with a raw form (for forged and malformed input).
    pub async fn call(
        &self,
        client: &reqwest::Client,
        endpoint: &str,
        form: &[(&str, &str)],
    ) -> Reply {
        Reply::read(
            client
                .post(self.url(&format!("/api/{endpoint}")))
                .form(form),
        )
        .await
    }

    /// The HTML of a page, as `client` sees it.
    pub async fn page(&self, client: &reqwest::Client, path: &str) -> String {
        client
            .get(self.url(path))
            .send()
            .await
            .expect("request")
            .text()
            .await
            .expect("body")
    }

    /// A sign-in with `client`, whatever its answer.
    pub async fn login_attempt(
        &self,
        client: &reqwest::Client,
        email: &str,
        password: &str,
    ) -> Reply {
        self.call(client, "login", &[("email", email), ("password", password)])
            .await
    }

    /// A new client signed in as `email`.
    pub async fn sign_in(&self, email: &str, password: &str) -> reqwest::Client {
        let c = client();
        let r = self.login_attempt(&c, email, password).await;
        assert_eq!(
            r.status,
            StatusCode::OK,
            "sign-in as {email} failed: {:?}",
            r.body
        );
        c
    }

    /// Signs the owner in through a proxy that says the client is `ip` (X-Forwarded-For).
    pub async fn sign_in_from(&self, ip: &str) -> reqwest::Client {
        let c = client();
        let res = c
            .post(self.url("/api/login"))
            .header("x-forwarded-for", ip)
            .form(&[("email", OWNER_EMAIL), ("password", OWNER_PASSWORD)])
            .send()
            .await
            .expect("request");
        assert_eq!(res.status(), StatusCode::OK, "sign-in from {ip}");
        c
    }

    pub async fn owner(&self) -> reqwest::Client {
        self.sign_in(OWNER_EMAIL, OWNER_PASSWORD).await
    }

    /// Creates a user through the admin server function; returns their id.
    pub async fn create_user(&self, admin: &reqwest::Client, email: &str, role: &str) -> String {
        let name = email.split('@').next().unwrap_or("user");
        let member = self
            .call_fn(
                admin,
                CreateUser {
                    name: name.into(),
                    email: email.into(),
                    password: "password-123".into(),
                    role: role.into(),
                },
            )
            .await
            .unwrap_or_else(|e| panic!("create_user {email}: {e}"));
        member.id
    }

    pub async fn create_team(&self, admin: &reqwest::Client, name: &str) -> String {
        let team = self
            .call_fn(admin, CreateTeam { name: name.into() })
            .await
            .unwrap_or_else(|e| panic!("create_team {name}: {e}"));
        team.id
    }

    pub async fn add_member(&self, admin: &reqwest::Client, team_id: &str, user_id: &str) {
        self.call_fn(
            admin,
            AddMember {
                team_id: team_id.into(),
                user_id: user_id.into(),
            },
        )
        .await
        .unwrap_or_else(|e| panic!("add_member: {e}"));
    }

    pub async fn count(&self, sql: &str) -> i64 {
        let (n,): (i64,) = sqlx::query_as(sql)
            .fetch_one(&self.db)
            .await
            .expect("count");
        n
    }

    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        self.db.close().await;
        drop_database(&self.database_url).await;
    }
}

/// The `Set-Cookie` line of a fresh sign-in as the owner.
pub async fn owner_session_cookie(app: &TestApp) -> String {
    let res = client()
        .post(app.url("/api/login"))
        .form(&[("email", OWNER_EMAIL), ("password", OWNER_PASSWORD)])
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), StatusCode::OK);
    res.headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap_or_default().to_string())
        .find(|v| v.starts_with("flare_session="))
        .expect("session cookie set")
}

/// A real `flare` process (the debug binary of this build, or another, such as the release
/// build) with an owner, and a handle on it.
pub struct Process {
    child: tokio::process::Child,
    pub app: TestApp,
}

/// What `probe` finds, once it finds something: asked every 50 ms for at most `secs` seconds,
/// after which the test fails saying what it waited for.
pub async fn eventually<T, F, Fut>(what: &str, secs: u64, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(found) = probe().await {
            return found;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "waited {secs} s for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The id of the open escalation of a run started by `trigger`, once there is one (15 s).
pub async fn open_escalation(app: &TestApp, trigger: &str) -> String {
    let sql = format!("SELECT id FROM escalations WHERE trigger = '{trigger}' AND status = 'open'");
    eventually(
        &format!("an open escalation of a {trigger} run"),
        15,
        || async {
            sqlx::query_scalar::<_, String>(&sql)
                .fetch_optional(&app.db)
                .await
                .unwrap()
        },
    )
    .await
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Process {
    /// Starts `bin` on `database_url` and waits until it answers.
    pub async fn launch(bin: &str, database_url: &str, extra: &[(&str, &str)]) -> Process {
        Self::start(bin, database_url, extra, false).await.0
    }

    /// The same, reading everything the process logs (stdout and stderr, at debug level):
    /// the returned task yields the logs once the process has ended.
    pub async fn launch_logged(
        bin: &str,
        database_url: &str,
        extra: &[(&str, &str)],
    ) -> (Process, tokio::task::JoinHandle<String>) {
        let (p, logs) = Self::start(bin, database_url, extra, true).await;
        (p, logs.expect("logs are read"))
    }

    async fn start(
        bin: &str,
        database_url: &str,
        extra: &[(&str, &str)],
        logged: bool,
    ) -> (Process, Option<tokio::task::JoinHandle<String>>) {
        let port = free_port();
        let mut cmd = Self::command(bin, &[]);
        cmd.env("DATABASE_URL", database_url)
            .env("LEPTOS_SITE_ADDR", format!("127.0.0.1:{port}"))
            .env("FLARE_ADMIN_EMAIL", OWNER_EMAIL)
            .env("FLARE_ADMIN_PASSWORD", OWNER_PASSWORD)
            .env("FLARE_RUN_LEASE_MS", "1000");
        if logged {
            cmd.env("RUST_LOG", "debug")
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped());
        }
        for (k, v) in extra {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("start flare");
        // Read the logs while it runs: a full pipe would stop the server mid-write.
        let logs = logged.then(|| {
            let (out, err) = (child.stdout.take(), child.stderr.take());
            tokio::spawn(async move {
                use tokio::io::AsyncReadExt;
                let (mut a, mut b) = (String::new(), String::new());
                let read_out = async {
                    if let Some(mut o) = out {
                        let _ = o.read_to_string(&mut a).await;
                    }
                };
                let read_err = async {
                    if let Some(mut e) = err {
                        let _ = e.read_to_string(&mut b).await;
                    }
                };
                tokio::join!(read_out, read_err);
                a + &b
            })
        });
        let base = format!("http://127.0.0.1:{port}");
        for _ in 0..200 {
            if reqwest::get(format!("{base}/healthz"))
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                let db = flare::server::db::connect(database_url).await.unwrap();
                let app = TestApp::attach(base, db, database_url);
                return (Process { child, app }, logs);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("flare did not start");
    }

    /// Starts `bin` with `extra` and expects it to stop at once, refusing to start: returns what
    /// it said on stderr.
    pub async fn refused_start(bin: &str, extra: &[(&str, &str)]) -> String {
        let out = tokio::time::timeout(
            Duration::from_secs(60),
            Self::command(bin, extra)
                .stderr(std::process::Stdio::piped())
                .output(),
        )
        .await
        .expect("it stops at once")
        .expect("it runs");
        assert!(!out.status.success(), "it started");
        String::from_utf8_lossy(&out.stderr).to_string()
    }

    /// `bin` with a clean environment but for `extra` (and warnings logged to stderr).
    pub fn command(bin: &str, extra: &[(&str, &str)]) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new(bin);
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::inherit())
            .kill_on_drop(true);
        for (k, v) in extra {
            cmd.env(k, v);
        }
        cmd
    }

    /// SIGKILL: no shutdown, no cleanup, exactly like a crash.
    pub async fn kill(mut self) {
        self.child.start_kill().unwrap();
        self.child.wait().await.unwrap();
        self.app.db.close().await;
    }
}

pub use tool_workers::RefundCheck;

/// Tool workers the provider tests share.
mod tool_workers {
    use flare::rules::Severity;
    use flare::server::runtime::Escalate;
    use flare::server::runtime::provider::ToolSpec;
    use flare::server::runtime::tools::{ToolOutcome, ToolWorker};
    use serde_json::Value;

    /// Leaves a card for a person when asked about a refund over $100; says "within policy"
    /// otherwise.
    pub struct RefundCheck;

    #[async_trait::async_trait]
    impl ToolWorker for RefundCheck {
        fn spec(&self) -> ToolSpec {
            ToolSpec {
                name: "check_refund".into(),
                description: "Checks a refund against policy.".into(),
                parameters: serde_json::json!({"type": "object", "properties": {"amount": {"type": "number"}}}),
            }
        }
        async fn call(&self, args: Value) -> ToolOutcome {
            match args["amount"].as_f64() {
                Some(a) if a > 100.0 => ToolOutcome::Escalate(Escalate {
                    reason: format!("A refund of ${a} is over the $100 policy limit."),
                    severity: Severity::Info,
                }),
                _ => ToolOutcome::Result("within policy".into()),
            }
        }
    }
}
