//! Passwords, sessions and the one guard every server function and endpoint goes through.

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
        if self.user.role.can_manage() {
            Ok(())
        } else {
            Err(AppError::Forbidden(
                "Only owners and admins can manage members and teams.".into(),
            ))
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

pub async fn hash_password(password: String) -> Result<String, AppError> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
    })
    .await
    .map_err(AppError::internal)?
    .map_err(AppError::internal)
}

pub async fn verify_password(password: String, hash: String) -> Result<bool, AppError> {
    tokio::task::spawn_blocking(move || {
        let parsed = PasswordHash::new(&hash).map_err(AppError::internal)?;
        Ok(Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok())
    })
    .await
    .map_err(AppError::internal)?
}

/// Verified against for unknown emails, so a wrong email costs as long as a wrong password.
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(b"no such user", &salt)
        .map(|h| h.to_string())
        .unwrap_or_default()
});

/// The caller's network address, for the per-address sign-in limit.
async fn client_addr(trust_proxy: bool) -> String {
    if trust_proxy {
        let forwarded =
            leptos::prelude::use_context::<axum::http::request::Parts>().and_then(|p| {
                p.headers
                    .get("x-forwarded-for")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.split(',').next())
                    .map(|v| v.trim().to_string())
            });
        if let Some(addr) = forwarded.filter(|a| !a.is_empty()) {
            return addr;
        }
    }
    leptos_axum::extract::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .await
        .map(|ci| ci.0.ip().to_string())
        .unwrap_or_else(|_| "unknown".into())
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
        if let Some(wait) = login_failures::locked_for(&state.db, key, limit, now).await? {
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
        login_failures::record_failure(&state.db, &account_key, now).await?;
        login_failures::record_failure(&state.db, &addr_key, now).await?;
        tracing::info!(email = %email, "failed sign-in");
        return Err(AppError::WrongCredentials);
    };
    login_failures::clear(&state.db, &account_key).await?;
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
    session.flush().await.map_err(AppError::internal)?;
    leptos_axum::redirect("/login");
    Ok(())
}

/// Creates the account's first user as owner, a member of every existing team. Returns `None`
/// when someone already claimed the account (atomically: the `account` row has one slot).
pub async fn create_owner(
    db: &Db,
    name: &str,
    email: &str,
    password_hash: &str,
) -> Result<Option<users::UserRow>, AppError> {
    let mut tx = db.begin().await?;
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
) -> Result<(), AppError> {
    let state = app_state()?;
    let name = validate::person_name(&name)?;
    let email = validate::email(&email)?;
    validate::new_password(&password)?;
    let hash = hash_password(password).await?;
    let Some(user) = create_owner(&state.db, &name, &email, &hash).await? else {
        return Err(AppError::Conflict(
            "Flare already has an admin account. Sign in instead.".into(),
        ));
    };
    start_session(&session().await?, &user.id).await?;
    leptos_axum::redirect("/app/escalations");
    Ok(())
}
