//! Passwords, sessions and the one guard every server function and endpoint goes through.

use super::config::Secret;
use super::db::audit::{self, Actor};
use super::db::{self, Db, login_failures, teams, users};
use super::state::app_state;
use crate::auth::{CurrentUser, Role};
use crate::error::AppError;
use crate::validate;
use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use rand_core::OsRng;
use std::sync::LazyLock;
use tower_sessions::Session;

/// The session key holding the signed-in user's id.
pub const USER_KEY: &str = "user_id";

/// The signed-in user and the teams whose data they may see. Loaded fresh on every request,
/// so a role change or a removal from a team takes effect at once.
#[derive(Clone, Debug)]
pub struct Viewer {
    pub user: CurrentUser,
    pub team_ids: Vec<String>,
}

impl Viewer {
    pub fn require_manager(&self) -> Result<(), AppError> {
        self.require_manager_to("manage members and teams")
    }

    /// Owners and admins only, saying what the others may not do ("manage model connections").
    pub fn require_manager_to(&self, what: &str) -> Result<(), AppError> {
        if self.user.role.can_manage() {
            Ok(())
        } else {
            Err(AppError::Forbidden(format!(
                "Only owners and admins can {what}."
            )))
        }
    }

    /// Team-scoped data of a team the viewer is not in does not exist, as far as they know.
    pub fn require_team(&self, team_id: &str) -> Result<(), AppError> {
        if self.team_ids.iter().any(|t| t == team_id) {
            Ok(())
        } else {
            Err(AppError::NotFound("No such team.".into()))
        }
    }

    pub fn actor(&self) -> Actor<'_> {
        Actor::User {
            id: &self.user.id,
            email: &self.user.email,
        }
    }
}

/// Resolves the session to a viewer; `None` when signed out or the user no longer exists.
pub async fn resolve(db: &Db, session: &Session) -> Result<Option<Viewer>, AppError> {
    let id: Option<String> = session.get(USER_KEY).await.map_err(AppError::internal)?;
    let Some(id) = id else {
        return Ok(None);
    };
    let Some(u) = teams::user_with_teams(db, &id).await? else {
        session.flush().await.map_err(AppError::internal)?;
        return Ok(None);
    };
    Ok(Some(Viewer {
        user: u.to_current(),
        team_ids: u.team_ids,
    }))
}

async fn session() -> Result<Session, AppError> {
    leptos_axum::extract::<Session>()
        .await
        .map_err(AppError::internal)
}

pub async fn viewer_if_signed_in() -> Result<Option<Viewer>, AppError> {
    // A page view: the gate resolved the viewer at the start of this same request, and every
    // server function the page renders with reuses it instead of asking the database again.
    let resolved = leptos::prelude::use_context::<axum::http::request::Parts>()
        .and_then(|p| p.extensions.get::<Viewer>().cloned());
    if let Some(v) = resolved {
        return Ok(Some(v));
    }
    let state = app_state()?;
    resolve(&state.db, &session().await?).await
}

/// The guard: the signed-in viewer, or 401.
pub async fn viewer() -> Result<Viewer, AppError> {
    viewer_if_signed_in().await?.ok_or(AppError::Unauthorized)
}

/// Argon2 takes about 19 MB and tens of milliseconds per hash: at most this many run at once
/// (2 per core), so a flood of sign-ins queues instead of taking gigabytes of memory.
static HASHING: LazyLock<tokio::sync::Semaphore> =
    LazyLock::new(|| tokio::sync::Semaphore::new(hashing_limit()));

fn hashing_limit() -> usize {
    2 * std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// How long a request waits for a hashing slot before it is told to try again.
const HASHING_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// Hashes running now, and the most that ever ran at once (for the test that floods sign-in).
static HASHING_NOW: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
static HASHING_PEAK: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// The most password hashes that ever ran at once in this process, and the limit.
pub fn hashing_peak() -> (usize, usize) {
    (
        HASHING_PEAK.load(std::sync::atomic::Ordering::Relaxed),
        hashing_limit(),
    )
}

async fn with_hashing_slot<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, AppError> {
    use std::sync::atomic::Ordering;
    let _permit = tokio::time::timeout(HASHING_WAIT, HASHING.acquire())
        .await
        .map_err(|_| {
            AppError::TooManyAttempts(
                "Flare is busy checking other sign-ins. Try again in a moment.".into(),
            )
        })?
        .map_err(AppError::internal)?;
    tokio::task::spawn_blocking(move || {
        let now = HASHING_NOW.fetch_add(1, Ordering::SeqCst) + 1;
        HASHING_PEAK.fetch_max(now, Ordering::SeqCst);
        let out = work();
        HASHING_NOW.fetch_sub(1, Ordering::SeqCst);
        out
    })
    .await
    .map_err(AppError::internal)
}

pub async fn hash_password(password: String) -> Result<String, AppError> {
    with_hashing_slot(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
    })
    .await?
    .map_err(AppError::internal)
}

pub async fn verify_password(password: String, hash: String) -> Result<bool, AppError> {
    with_hashing_slot(move || {
        let parsed = PasswordHash::new(&hash).map_err(AppError::internal)?;
        Ok(Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok())
    })
    .await?
}

/// Verified against for unknown emails, so a wrong email costs as long as a wrong password.
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(b"no such user", &salt)
        .map(|h| h.to_string())
        .unwrap_or_default()
});

/// The caller's network address, for the per-address sign-in limit. Behind a trusted proxy
/// (`FLARE_TRUST_PROXY=1`) it is the right-most `X-Forwarded-For` entry: the one the proxy
/// itself added. Entries to its left come from the client and can be anything.
async fn client_addr(trust_proxy: bool) -> String {
    if trust_proxy
        && let Some(ip) = leptos::prelude::use_context::<axum::http::request::Parts>()
            .and_then(|p| forwarded_client(&p.headers))
    {
        return ip.to_string();
    }
    leptos_axum::extract::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .await
        .map(|ci| ci.0.ip().to_string())
        .unwrap_or_else(|_| "unknown".into())
}

/// The right-most `X-Forwarded-For` address (of the last such header), parsed as an IP.
pub fn forwarded_client(headers: &axum::http::HeaderMap) -> Option<std::net::IpAddr> {
    headers
        .get_all("x-forwarded-for")
        .iter()
        .next_back()?
        .to_str()
        .ok()?
        .rsplit(',')
        .next()?
        .trim()
        .parse()
        .ok()
}

fn minutes(ms: i64) -> String {
    let m = (ms + 59_999) / 60_000;
    if m <= 1 {
        "1 minute".into()
    } else {
        format!("{m} minutes")
    }
}

pub async fn login(email: String, password: String, next: Option<String>) -> Result<(), AppError> {
    let state = app_state()?;
    let session = session().await?;
    if email.trim().is_empty() || password.is_empty() {
        return Err(AppError::invalid("Enter your email and password."));
    }
    if email.len() > validate::MAX_EMAIL * 4 || password.len() > validate::MAX_PASSWORD * 4 {
        return Err(AppError::WrongCredentials);
    }
    let email = email.trim().to_lowercase();
    let now = db::now_ms();
    let account_key = format!("account:{email}");
    let addr_key = format!("addr:{}", client_addr(state.config.trust_proxy).await);
    for (key, limit) in [
        (&account_key, login_failures::MAX_PER_ACCOUNT),
        (&addr_key, login_failures::MAX_PER_ADDRESS),
    ] {
        if let Some(wait) = login_failures::reserve(&state.db, key, limit, now).await? {
            return Err(AppError::TooManyAttempts(format!(
                "Too many failed sign-in attempts. Try again in {}.",
                minutes(wait)
            )));
        }
    }
    let user = users::by_email(&state.db, &email).await?;
    let hash = user
        .as_ref()
        .map(|u| u.password_hash.clone())
        .unwrap_or_else(|| DUMMY_HASH.clone());
    let verified = verify_password(password, hash).await?;
    let Some(user) = user.filter(|_| verified) else {
        // The reserved attempts stay counted: they were failures.
        tracing::info!(email = %email, "failed sign-in");
        return Err(AppError::WrongCredentials);
    };
    login_failures::clear(&state.db, &account_key).await?;
    login_failures::release(&state.db, &addr_key).await?;
    // Said only to someone who knows the password: it tells them whom to ask.
    if !user.active() {
        return Err(AppError::Forbidden(
            "This account has been deactivated. Ask an owner or admin to reactivate it.".into(),
        ));
    }
    start_session(&session, &user.id).await?;
    audit::record(
        &state.db,
        Actor::User {
            id: &user.id,
            email: &user.email,
        },
        "user.signed_in",
        &user.email,
        "",
    )
    .await?;
    leptos_axum::redirect(&validate::local_path(next.as_deref()));
    Ok(())
}

async fn start_session(session: &Session, user_id: &str) -> Result<(), AppError> {
    // A new id at sign-in, so a session id planted before sign-in is worthless.
    session.cycle_id().await.map_err(AppError::internal)?;
    session
        .insert(USER_KEY, user_id)
        .await
        .map_err(AppError::internal)
}

pub async fn logout() -> Result<(), AppError> {
    let session = session().await?;
    let user_id: Option<String> = session.get(USER_KEY).await.map_err(AppError::internal)?;
    session.flush().await.map_err(AppError::internal)?;
    // This session's live streams (in every tab, on every instance) end now.
    if let Some(user_id) = user_id {
        let state = app_state()?;
        super::members::publish_access_changed(&state, &user_id).await;
    }
    leptos_axum::redirect("/login");
    Ok(())
}

/// Changes the signed-in user's password (the current one is asked again) and signs out
/// their other sessions; this one continues under a new session id.
pub async fn change_password(current: String, new: String) -> Result<(), AppError> {
    let v = viewer().await?;
    let state = app_state()?;
    validate::new_password(&new)?;
    // The current password is guessed against the same per-account limit as sign-in.
    let account_key = format!("account:{}", v.user.email);
    let now = db::now_ms();
    if let Some(wait) = login_failures::reserve(
        &state.db,
        &account_key,
        login_failures::MAX_PER_ACCOUNT,
        now,
    )
    .await?
    {
        return Err(AppError::TooManyAttempts(format!(
            "Too many wrong passwords. Try again in {}.",
            minutes(wait)
        )));
    }
    let user = users::by_id(&state.db, &v.user.id)
        .await?
        .ok_or(AppError::Unauthorized)?;
    if current.len() > validate::MAX_PASSWORD * 4
        || !verify_password(current, user.password_hash.clone()).await?
    {
        return Err(AppError::Forbidden(
            "Your current password is not right; nothing was changed.".into(),
        ));
    }
    login_failures::clear(&state.db, &account_key).await?;
    let hash = hash_password(new).await?;
    let mut tx = state.db.begin().await?;
    users::set_password_hash(&mut *tx, &user.id, &hash).await?;
    audit::record(
        &mut *tx,
        v.actor(),
        "user.password_changed",
        &user.email,
        "",
    )
    .await?;
    tx.commit().await?;
    let session = session().await?;
    session.cycle_id().await.map_err(AppError::internal)?;
    // Stored now (not when the response is written), so it is the one session kept.
    session.save().await.map_err(AppError::internal)?;
    let keep = session.id();
    super::sessions::SqlSessionStore::new(state.db.clone())
        .end_all_of(&user.id, keep.as_ref())
        .await?;
    super::members::publish_access_changed(&state, &user.id).await;
    Ok(())
}

/// Whether the account has its owner (the first admin); the `account` row is written in the
/// same transaction that creates the owner.
pub async fn account_claimed(db: &Db) -> Result<bool, sqlx::Error> {
    let row: Option<(i64,)> = sqlx::query_as("SELECT id FROM account LIMIT 1")
        .fetch_optional(db)
        .await?;
    Ok(row.is_some())
}

/// Unambiguous letters and digits (no 0/O, 1/I): the code is read from a log and typed.
const SETUP_ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";

/// A new one-time setup code (`XXXX-XXXX-XXXX`, 60 random bits), stored hashed.
pub async fn issue_setup_code(db: &Db) -> Result<Secret, sqlx::Error> {
    use rand_core::RngCore;
    let mut bytes = [0u8; 12];
    OsRng.fill_bytes(&mut bytes);
    let chars: Vec<char> = bytes
        .iter()
        .map(|b| SETUP_ALPHABET[(*b as usize) % SETUP_ALPHABET.len()] as char)
        .collect();
    let code = chars
        .chunks(4)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-");
    sqlx::query("INSERT INTO setup_codes (code_hash, created_at) VALUES ($1, $2)")
        .bind(setup_code_hash(&code))
        .bind(db::now_ms())
        .execute(db)
        .await?;
    Ok(Secret::new(code))
}

/// The stored form of a typed code: case, spaces and dashes do not matter.
fn setup_code_hash(typed: &str) -> String {
    let normal: String = typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    super::tokens::hash(&normal)
}

async fn setup_code_valid(db: &Db, hash: &str) -> Result<bool, sqlx::Error> {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT code_hash FROM setup_codes WHERE code_hash = $1")
            .bind(hash)
            .fetch_optional(db)
            .await?;
    Ok(row.is_some())
}

/// Creates the account's first user as owner, a member of every existing team. Returns `None`
/// when someone already claimed the account (atomically: the `account` row has one slot) or,
/// with a setup code's hash, when that code is no longer valid. Every setup code is spent.
pub async fn create_owner(
    db: &Db,
    name: &str,
    email: &str,
    password_hash: &str,
    setup_code_hash: Option<&str>,
) -> Result<Option<users::UserRow>, AppError> {
    let mut tx = db.begin().await?;
    if let Some(hash) = setup_code_hash {
        let spent = sqlx::query("DELETE FROM setup_codes WHERE code_hash = $1")
            .bind(hash)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if spent != 1 {
            return Ok(None);
        }
    }
    let claimed = sqlx::query(
        "INSERT INTO account (id, created_at) VALUES (1, $1) ON CONFLICT (id) DO NOTHING",
    )
    .bind(db::now_ms())
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if !claimed {
        return Ok(None);
    }
    let user = users::insert(&mut *tx, email, name, Role::Owner, password_hash).await?;
    let team_ids: Vec<(String,)> = sqlx::query_as("SELECT id FROM teams")
        .fetch_all(&mut *tx)
        .await?;
    for (team_id,) in team_ids {
        teams::add_member(&mut *tx, &team_id, &user.id).await?;
    }
    sqlx::query("DELETE FROM setup_codes")
        .execute(&mut *tx)
        .await?;
    audit::record(
        &mut *tx,
        Actor::System,
        "account.owner_created",
        &user.email,
        "",
    )
    .await?;
    tx.commit().await?;
    Ok(Some(user))
}

pub async fn create_first_admin(
    name: String,
    email: String,
    password: String,
    setup_code: String,
) -> Result<(), AppError> {
    let state = app_state()?;
    // Refused before any hashing: a flood of setup attempts costs one query each.
    if state.has_admin().await? {
        return Err(already_claimed());
    }
    let name = validate::person_name(&name)?;
    let email = validate::email(&email)?;
    validate::new_password(&password)?;
    let code_hash = setup_code_hash(&setup_code);
    if setup_code.len() > 64 || !setup_code_valid(&state.db, &code_hash).await? {
        // Someone finished setting up a moment ago: that, not the code, is the news.
        if account_claimed(&state.db).await? {
            return Err(already_claimed());
        }
        tracing::warn!("setup refused: wrong setup code");
        return Err(AppError::Forbidden(
            "That setup code is not right. Use the one-time code Flare printed in its log when it started."
                .into(),
        ));
    }
    let hash = hash_password(password).await?;
    let Some(user) = create_owner(&state.db, &name, &email, &hash, Some(&code_hash)).await? else {
        return Err(already_claimed());
    };
    start_session(&session().await?, &user.id).await?;
    leptos_axum::redirect("/app/escalations");
    Ok(())
}

fn already_claimed() -> AppError {
    AppError::Conflict("Flare already has an admin account. Sign in instead.".into())
}
