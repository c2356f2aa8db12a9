//! Linking a Slack or Discord account to a Flare account: an unlinked click gets a private one-time link
//! (15 minutes); the person opens it signed in to Flare and confirms on their Account page.
//! Confirming is a POST, never the link's GET: link scanners open every link.

use crate::error::AppError;
use crate::notifications::{ChatLink, LinkOffer};
use crate::server::auth::viewer;
use crate::server::db::{audit, chat_links, now_ms};
use crate::server::state::app_state;
use crate::server::tokens::hash;

fn gone() -> AppError {
    AppError::NotFound(
        "This link has expired or was used already: click the button in Slack or Discord again for a new one."
            .into(),
    )
}

fn shown(o: chat_links::OfferRow) -> LinkOffer {
    LinkOffer {
        kind: o.kind,
        workspace: o.workspace,
        external_id: o.external_id,
        external_name: o.external_name,
    }
}

pub async fn offer(token: String) -> Result<LinkOffer, AppError> {
    viewer().await?;
    let state = app_state()?;
    chat_links::offer_by_hash(&state.db, &hash(token.trim()))
        .await?
        .filter(|o| o.expires_at > now_ms())
        .map(shown)
        .ok_or_else(gone)
}

pub async fn link(token: String) -> Result<LinkOffer, AppError> {
    let v = viewer().await?;
    let state = app_state()?;
    let token_hash = hash(token.trim());
    let offer = chat_links::offer_by_hash(&state.db, &token_hash)
        .await?
        .ok_or_else(gone)?;
    let mut tx = state.db.begin().await?;
    // Taken once: a double click, or a second person with the same link, finds it gone.
    if !chat_links::take_offer(&mut *tx, &token_hash).await? {
        return Err(gone());
    }
    chat_links::link(
        &mut tx,
        &offer.kind,
        &offer.workspace,
        &offer.external_id,
        &v.user.id,
    )
    .await?;
    audit::record(
        &mut *tx,
        v.actor(),
        "account.linked",
        &v.user.id,
        &format!(
            "{} account {} ({}) in workspace {}",
            super::answers::platform(&offer.kind),
            offer.external_name,
            offer.external_id,
            offer.workspace
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(shown(offer))
}

pub async fn list() -> Result<Vec<ChatLink>, AppError> {
    let v = viewer().await?;
    let state = app_state()?;
    Ok(chat_links::of_user(&state.db, &v.user.id)
        .await?
        .into_iter()
        .map(|l| ChatLink {
            kind: l.kind,
            workspace: l.workspace,
            external_id: l.external_id,
            created_at_ms: l.created_at,
        })
        .collect())
}

pub async fn unlink(kind: String, workspace: String, external_id: String) -> Result<(), AppError> {
    let v = viewer().await?;
    let state = app_state()?;
    let mut tx = state.db.begin().await?;
    // Only one's own links: anyone else's is not found.
    if !chat_links::unlink(&mut *tx, &v.user.id, &kind, &workspace, &external_id).await? {
        return Err(AppError::NotFound("No such linked account.".into()));
    }
    audit::record(
        &mut *tx,
        v.actor(),
        "account.unlinked",
        &v.user.id,
        &format!(
            "{} account {external_id} in workspace {workspace}",
            super::answers::platform(&kind)
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
