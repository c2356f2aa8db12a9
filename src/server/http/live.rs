//! The live streams: `/api/live` for signed-in pages and `/embed/live` for embedded widgets.

use crate::error::AppError;
use crate::live::{Change, LiveEvent};
use crate::server::auth;
use crate::server::state::AppState;
use crate::server::streams::Keep;
use crate::tokens::TokenKind;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use tower_sessions::Session;

/// `GET /api/live`: Server-Sent Events for the signed-in user's teams, and nothing else. The
/// stream follows access while it is open: when the user's access changes (sign-out, a team
/// left or joined, deactivation, a new password elsewhere) it checks again, and ends when this
/// session may no longer see anything.
#[derive(serde::Deserialize)]
pub struct LiveQuery {
    /// When the page was rendered (the server's clock, ms): events after it are caught up.
    since: Option<i64>,
}

pub async fn live(
    State(state): State<AppState>,
    session: Session,
    Query(q): Query<LiveQuery>,
) -> Response {
    let viewer = match auth::resolve(&state.db, &session).await {
        Ok(Some(v)) => v,
        Ok(None) => return AppError::Unauthorized.into_response(),
        Err(e) => return e.into_response(),
    };
    let Some(session_id) = session.id() else {
        return AppError::Unauthorized.into_response();
    };
    let user_id = viewer.user.id.clone();
    let missed = {
        let (events, teams) = (state.events.clone(), viewer.team_ids.clone());
        move || {
            q.since
                .is_some_and(|since| events.changed_since(&teams, since))
        }
    };
    let teams = Arc::new(std::sync::RwLock::new(viewer.team_ids));
    let slot = state.streams.open(
        format!("user:{user_id}"),
        state.config.live_streams_per_user,
    );
    let recheck: crate::server::streams::Recheck = Box::new({
        let db = state.db.clone();
        let user_id = user_id.clone();
        let teams = teams.clone();
        move || {
            let db = db.clone();
            let user_id = user_id.clone();
            let teams = teams.clone();
            Box::pin(async move {
                let store = crate::server::sessions::SqlSessionStore::new(db.clone());
                let signed_in = store.is_signed_in(&session_id, &user_id).await;
                // A database hiccup keeps the stream: only a known loss of access ends it.
                if matches!(signed_in, Ok(false)) {
                    return false;
                }
                match crate::server::db::teams::user_with_teams(&db, &user_id).await {
                    Ok(Some(u)) => {
                        *teams.write().unwrap_or_else(|e| e.into_inner()) = u.team_ids;
                        true
                    }
                    Ok(None) => false,
                    Err(_) => true,
                }
            })
        }
    });
    crate::server::streams::event_stream(
        &state,
        slot,
        move |p| match &p.event.change {
            Change::AccessChanged { user_id: who } if *who == user_id => Keep::Recheck,
            Change::AccessChanged { .. } | Change::TokenRevoked { .. } => Keep::Skip,
            _ if teams
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .contains(&p.event.team_id) =>
            {
                Keep::Send(p.json.clone())
            }
            _ => Keep::Skip,
        },
        recheck,
        missed,
    )
}

#[derive(serde::Deserialize)]
pub struct TokenQuery {
    #[serde(default)]
    token: String,
}

/// `GET /embed/live?token=…`: the embedded widget's stream: "escalations changed" for the
/// token's team, nothing else; it ends when the token is revoked.
pub async fn embed_live(State(state): State<AppState>, Query(q): Query<TokenQuery>) -> Response {
    let row = match crate::server::tokens::authenticate(&state.db, TokenKind::Embed, &q.token).await
    {
        Ok(Some(r)) => r,
        Ok(None) => return crate::server::tokens::invalid_embed().into_response(),
        Err(e) => return AppError::from(e).into_response(),
    };
    let slot = state.streams.open(
        format!("embed:{}", row.id),
        crate::server::streams::MAX_PER_EMBED_TOKEN,
    );
    // A revoked token says so on the bus (TokenRevoked, below); the periodic check catches
    // a revocation whose event was lost.
    let recheck: crate::server::streams::Recheck = Box::new({
        let db = state.db.clone();
        let token = q.token.clone();
        move || {
            let db = db.clone();
            let token = token.clone();
            Box::pin(async move {
                !matches!(
                    crate::server::tokens::authenticate(&db, TokenKind::Embed, &token).await,
                    Ok(None)
                )
            })
        }
    });
    crate::server::streams::event_stream(
        &state,
        slot,
        move |p| {
            let ev = &p.event;
            if ev.team_id != row.team_id {
                return Keep::Skip;
            }
            match &ev.change {
                // Said before the stream ends, so the widget shows why instead of a stale count
                // and stops reconnecting.
                Change::TokenRevoked { token_id } if *token_id == row.id => {
                    widget_event(Change::TokenRevoked {
                        token_id: String::new(),
                    })
                    .map_or(Keep::End, Keep::Last)
                }
                // "Escalations changed", with no ids or text: the widget only recounts.
                Change::Escalation { status, .. } => widget_event(Change::Escalation {
                    escalation_id: String::new(),
                    status: *status,
                })
                .map_or(Keep::Skip, Keep::Send),
                _ => Keep::Skip,
            }
        },
        recheck,
        // The widget's page is rendered with its counts and connects at once.
        || false,
    )
}

/// An event for an embedded widget: the change alone, without the team or thread it concerns.
fn widget_event(change: Change) -> Option<String> {
    serde_json::to_string(&LiveEvent {
        team_id: String::new(),
        thread_id: String::new(),
        change,
    })
    .ok()
}
