//! Configuration from the environment (and `.env`), read once at start.

use std::net::SocketAddr;

/// A secret string: no `Serialize`, and `Debug` never prints it.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// Which provider answers for agents (one for the whole deployment).
#[derive(Clone, Debug)]
pub enum ProviderConfig {
    /// The embedded, offline rules provider (the default).
    Rules,
    /// An OpenAI-compatible Chat Completions endpoint.
    OpenAi {
        base_url: String,
        api_key: Secret,
        model: String,
    },
    /// Anthropic's Messages API.
    Anthropic {
        base_url: String,
        api_key: Secret,
        model: String,
    },
}

impl ProviderConfig {
    /// The model the environment names; none for the offline rules.
    pub fn model(&self) -> Option<&str> {
        match self {
            Self::Rules => None,
            Self::OpenAi { model, .. } | Self::Anthropic { model, .. } => Some(model),
        }
    }
}

/// Schedules fire at most once a minute; looking every second keeps a firing within a second
/// of its time for the cost of one indexed query.
const DEFAULT_SCHEDULER_TICK_MS: u64 = 1000;

#[derive(Clone, Debug)]
pub struct Config {
    pub database_url: String,
    pub site_addr: SocketAddr,
    pub site_root: String,
    pub admin_email: Option<String>,
    pub admin_password: Option<Secret>,
    pub demo: bool,
    pub demo_password: Secret,
    /// Mark the session cookie `Secure` (serve over HTTPS).
    pub secure_cookies: bool,
    /// Take the client address from `X-Forwarded-For` (behind a trusted reverse proxy).
    pub trust_proxy: bool,
    pub log_json: bool,
    /// How long a run's driver holds it without renewing (FLARE_RUN_LEASE_MS): after a crash,
    /// its runs are taken over this long after the driver's last renewal.
    pub run_lease_ms: u64,
    /// How often each instance looks for schedules that are due (FLARE_SCHEDULER_TICK_MS).
    pub scheduler_tick_ms: u64,
    /// Where `/metrics` is served (FLARE_METRICS_ADDR); none: no metrics.
    pub metrics_addr: Option<SocketAddr>,
    /// How long one provider call may take (FLARE_PROVIDER_TIMEOUT_MS).
    pub provider_timeout_ms: u64,
    pub provider: ProviderConfig,
    /// A critical escalation open longer than this is marked overdue on the Escalations page
    /// (FLARE_CRITICAL_OVERDUE_MINUTES).
    pub critical_overdue_minutes: u64,
    /// Open live streams one user may keep (FLARE_LIVE_STREAMS_PER_USER, default 16); past it,
    /// the oldest is closed. Browsers share one stream per tab group, so 16 is plenty.
    pub live_streams_per_user: usize,
    /// The sentence-embedding model's folder (FLARE_EMBEDDING_MODEL); `None` reads the pinned
    /// model the run and test scripts install into Flare's cache.
    pub embedding_model: Option<String>,
    /// The key that seals secrets stored in the database (FLARE_SECRET_KEY: 64 hex digits),
    /// checked at start; see `server::secret_box`.
    pub secret_key: Option<Secret>,
    /// The address people open Flare at (FLARE_PUBLIC_URL, e.g. https://flare.example.com):
    /// notifications link to cards under it. Default: http:// and the site address.
    pub public_url: String,
    /// How long a failed notification waits before its first retry (FLARE_OUTBOX_RETRY_MS);
    /// each further retry waits twice as long, up to an hour.
    pub outbox_retry_ms: u64,
    /// Slack's Web API (FLARE_SLACK_API_URL; the tests point it at a local server that speaks
    /// the same protocol).
    pub slack_api_url: String,
    /// Discord's HTTP API (FLARE_DISCORD_API_URL; the tests point it at a local server).
    pub discord_api_url: String,
    /// Discord's Gateway, where bots read messages (FLARE_DISCORD_GATEWAY_URL; the tests point
    /// it at a local WebSocket server that speaks the same protocol).
    pub discord_gateway_url: String,
    /// The SMTP relay and sender for email channels (FLARE_SMTP_URL and FLARE_MAIL_FROM);
    /// none: email channels cannot be added.
    pub mailer: Option<super::notifications::email::Mailer>,
    /// How often each agent's mailbox is checked for new mail (FLARE_MAIL_CHECK_MS).
    pub mail_check_ms: u64,
}

pub const DEFAULT_DATABASE_URL: &str = "sqlite://data/flare.db";
pub const DEFAULT_CRITICAL_OVERDUE_MINUTES: u64 = 30;
pub const DEFAULT_RUN_LEASE_MS: u64 = 30_000;
pub const DEFAULT_PROVIDER_TIMEOUT_MS: u64 = 120_000;
pub const DEFAULT_DEMO_PASSWORD: &str = "flare-demo-password";
pub const DEFAULT_OUTBOX_RETRY_MS: u64 = 5_000;
pub const DEFAULT_MAIL_CHECK_MS: u64 = 60_000;
pub const DEFAULT_SLACK_API_URL: &str = "https://slack.com/api";
pub const DEFAULT_DISCORD_API_URL: &str = "https://discord.com/api/v10";
pub const DEFAULT_DISCORD_GATEWAY_URL: &str = "wss://gateway.discord.gg/?v=10&encoding=json";

impl Config {
    /// Reads the process environment (after `.env`, which never overrides real variables).
    pub fn from_env(args: &[String]) -> Result<Self, String> {
        let _ = dotenvy::dotenv();
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        let flag = |k: &str| {
            var(k)
                .map(|v| matches!(v.trim(), "1" | "true" | "yes" | "on"))
                .unwrap_or(false)
        };
        let millis = |k: &str, default: u64| match var(k) {
            None => Ok(default),
            Some(v) => match v.trim().parse::<u64>() {
                Ok(n) if n >= 100 => Ok(n),
                _ => Err(format!(
                    "{k} must be a number of milliseconds (at least 100), got {v:?}"
                )),
            },
        };
        let site_addr = var("LEPTOS_SITE_ADDR")
            .unwrap_or_else(|| "127.0.0.1:3000".into())
            .parse::<SocketAddr>()
            .map_err(|e| format!("LEPTOS_SITE_ADDR is not an address like 127.0.0.1:3000: {e}"))?;
        let admin_email = var("FLARE_ADMIN_EMAIL");
        let admin_password = var("FLARE_ADMIN_PASSWORD").map(Secret::new);
        if admin_email.is_some() != admin_password.is_some() {
            return Err("set both FLARE_ADMIN_EMAIL and FLARE_ADMIN_PASSWORD, or neither".into());
        }
        let provider = match var("FLARE_PROVIDER").as_deref().map(str::trim) {
            None | Some("rules") => ProviderConfig::Rules,
            Some("openai") => ProviderConfig::OpenAi {
                base_url: var("FLARE_OPENAI_BASE_URL")
                    .unwrap_or_else(|| "https://api.openai.com/v1".into()),
                // Local servers (Ollama, LM Studio) take any key.
                api_key: Secret::new(var("FLARE_OPENAI_API_KEY").unwrap_or_default()),
                model: var("FLARE_OPENAI_MODEL")
                    .ok_or("FLARE_PROVIDER=openai needs FLARE_OPENAI_MODEL (e.g. gpt-4o-mini)")?,
            },
            Some("anthropic") => ProviderConfig::Anthropic {
                base_url: var("FLARE_ANTHROPIC_BASE_URL")
                    .unwrap_or_else(|| "https://api.anthropic.com".into()),
                api_key: Secret::new(
                    var("FLARE_ANTHROPIC_API_KEY")
                        .ok_or("FLARE_PROVIDER=anthropic needs FLARE_ANTHROPIC_API_KEY")?,
                ),
                model: var("FLARE_ANTHROPIC_MODEL").ok_or(
                    "FLARE_PROVIDER=anthropic needs FLARE_ANTHROPIC_MODEL (e.g. claude-sonnet-4-5)",
                )?,
            },
            Some(other) => {
                return Err(format!(
                    "FLARE_PROVIDER must be rules, openai or anthropic, got {other:?}"
                ));
            }
        };
        let secret_key = var("FLARE_SECRET_KEY").map(Secret::new);
        if let Some(key) = &secret_key {
            super::secret_box::SecretBox::from_hex(key)?;
        }
        let critical_overdue_minutes = match var("FLARE_CRITICAL_OVERDUE_MINUTES") {
            None => DEFAULT_CRITICAL_OVERDUE_MINUTES,
            Some(v) => v
                .trim()
                .parse::<u64>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| {
                    format!("FLARE_CRITICAL_OVERDUE_MINUTES must be a number of minutes, got {v:?}")
                })?,
        };
        let live_streams_per_user = match var("FLARE_LIVE_STREAMS_PER_USER") {
            None => super::streams::MAX_PER_USER,
            Some(v) => v
                .trim()
                .parse::<usize>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| {
                    format!("FLARE_LIVE_STREAMS_PER_USER must be a positive number, got {v:?}")
                })?,
        };
        let public_url = match var("FLARE_PUBLIC_URL") {
            None => format!("http://{site_addr}"),
            Some(v) => {
                let v = v.trim().trim_end_matches('/').to_string();
                if !(v.starts_with("http://") || v.starts_with("https://")) {
                    return Err(format!(
                        "FLARE_PUBLIC_URL must start with http:// or https://, got {v:?}"
                    ));
                }
                v
            }
        };
        let mailer = match (var("FLARE_SMTP_URL"), var("FLARE_MAIL_FROM")) {
            (None, None) => None,
            (Some(url), Some(from)) => Some(super::notifications::email::Mailer::new(
                Secret::new(url),
                &from,
            )?),
            _ => {
                return Err(
                    "set both FLARE_SMTP_URL and FLARE_MAIL_FROM to send email, or neither".into(),
                );
            }
        };
        Ok(Self {
            mailer,
            public_url,
            outbox_retry_ms: millis("FLARE_OUTBOX_RETRY_MS", DEFAULT_OUTBOX_RETRY_MS)?,
            mail_check_ms: millis("FLARE_MAIL_CHECK_MS", DEFAULT_MAIL_CHECK_MS)?.max(100),
            slack_api_url: var("FLARE_SLACK_API_URL")
                .unwrap_or_else(|| DEFAULT_SLACK_API_URL.into()),
            discord_gateway_url: var("FLARE_DISCORD_GATEWAY_URL")
                .unwrap_or_else(|| DEFAULT_DISCORD_GATEWAY_URL.into()),
            discord_api_url: var("FLARE_DISCORD_API_URL")
                .unwrap_or_else(|| DEFAULT_DISCORD_API_URL.into()),
            critical_overdue_minutes,
            live_streams_per_user,
            provider,
            database_url: var("DATABASE_URL").unwrap_or_else(|| DEFAULT_DATABASE_URL.into()),
            site_addr,
            site_root: var("LEPTOS_SITE_ROOT").unwrap_or_else(|| "target/site".into()),
            admin_email,
            admin_password,
            demo: flag("FLARE_DEMO") || args.iter().any(|a| a == "--demo"),
            demo_password: Secret::new(
                var("FLARE_DEMO_PASSWORD").unwrap_or_else(|| DEFAULT_DEMO_PASSWORD.into()),
            ),
            secure_cookies: flag("FLARE_SECURE_COOKIES"),
            trust_proxy: flag("FLARE_TRUST_PROXY"),
            log_json: var("FLARE_LOG_FORMAT").is_some_and(|v| v == "json"),
            run_lease_ms: millis("FLARE_RUN_LEASE_MS", DEFAULT_RUN_LEASE_MS)?,
            scheduler_tick_ms: millis("FLARE_SCHEDULER_TICK_MS", DEFAULT_SCHEDULER_TICK_MS)?,
            metrics_addr: match var("FLARE_METRICS_ADDR") {
                None => None,
                Some(v) => Some(v.parse().map_err(|_| {
                    format!("FLARE_METRICS_ADDR must be an address and port like 127.0.0.1:9100, got {v:?}")
                })?),
            },
            provider_timeout_ms: millis("FLARE_PROVIDER_TIMEOUT_MS", DEFAULT_PROVIDER_TIMEOUT_MS)?,
            embedding_model: var("FLARE_EMBEDDING_MODEL"),
            secret_key,
        })
    }

    /// A configuration for tests and tools: everything default but the database.
    pub fn for_database(database_url: impl Into<String>) -> Self {
        Self {
            database_url: database_url.into(),
            site_addr: "127.0.0.1:0".parse().expect("static address"),
            site_root: "target/site".into(),
            admin_email: None,
            admin_password: None,
            demo: false,
            demo_password: Secret::new(DEFAULT_DEMO_PASSWORD),
            secure_cookies: false,
            trust_proxy: false,
            log_json: false,
            run_lease_ms: DEFAULT_RUN_LEASE_MS,
            scheduler_tick_ms: DEFAULT_SCHEDULER_TICK_MS,
            metrics_addr: None,
            provider_timeout_ms: DEFAULT_PROVIDER_TIMEOUT_MS,
            provider: ProviderConfig::Rules,
            critical_overdue_minutes: DEFAULT_CRITICAL_OVERDUE_MINUTES,
            live_streams_per_user: super::streams::MAX_PER_USER,
            embedding_model: None,
            secret_key: None,
            public_url: "http://127.0.0.1:3000".into(),
            outbox_retry_ms: DEFAULT_OUTBOX_RETRY_MS,
            slack_api_url: DEFAULT_SLACK_API_URL.into(),
            discord_api_url: DEFAULT_DISCORD_API_URL.into(),
            discord_gateway_url: DEFAULT_DISCORD_GATEWAY_URL.into(),
            mailer: None,
            mail_check_ms: DEFAULT_MAIL_CHECK_MS,
        }
    }
}
