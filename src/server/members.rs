//! Server side of Settings → Members & Teams.

use super::auth::viewer;
use super::db::audit;
use super::db::{is_unique_violation, teams, users};
use super::state::app_state;
use crate::auth::Role;
use crate::error::AppError;
use crate::members::{Directory, Member, Team};
use crate::validate;

pub async fn directory() -> Result<Directory, AppError> {
    let v = viewer().await?;
    v.require_manager()?;
    let state = app_state()?;
    let users = users::all(&state.db).await?;
    let teams = teams::with_members(&state.db, teams::all(&state.db).await?).await?;
    Ok(Directory {
        users: users.iter().map(|u| u.to_member()).collect(),
        teams,
    })
}

pub async fn my_teams() -> Result<Vec<Team>, AppError> {
    let v = viewer().await?;
    let state = app_state()?;
    let mine = teams::all(&state.db)
        .await?
        .into_iter()
        .filter(|t| v.team_ids.contains(&t.id))
        .collect();
    Ok(teams::with_members(&state.db, mine).await?)
}

pub async fn team(team_id: String) -> Result<Team, AppError> {
    let v = viewer().await?;
    v.require_team(&team_id)?;
    let state = app_state()?;
    let row = teams::by_id(&state.db, &team_id)
        .await?
        .ok_or_else(|| AppError::NotFound("No such team.".into()))?;
    teams::with_members(&state.db, vec![row])
        .await?
        .pop()
        .ok_or(AppError::Internal)
}

pub async fn create_user(
    name: String,
    email: String,
    password: String,
    role: String,
) -> Result<Member, AppError> {
    let v = viewer().await?;
    v.require_manager()?;
    let name = validate::person_name(&name)?;
    let email = validate::email(&email)?;
    validate::new_password(&password)?;
    let role = Role::parse(&role)?;
    if role == Role::Owner && v.user.role != Role::Owner {
        return Err(AppError::Forbidden(
            "Only an owner can make someone an owner.".into(),
        ));
    }
    let state = app_state()?;
    let hash = super::auth::hash_password(password).await?;
    let mut tx = state.db.begin().await?;
    let user = match users::insert(&mut *tx, &email, &name, role, &hash).await {
        Ok(u) => u,
        Err(e) if is_unique_violation(&e) => {
            return Err(AppError::Conflict(format!(
                "A user with the email {email} already exists."
            )));
        }
        Err(e) => return Err(e.into()),
    };
    audit::record(&mut *tx, v.actor(), "user.created", &email, role.as_str()).await?;
    tx.commit().await?;
    Ok(user.to_member())
}

pub async fn create_team(name: String) -> Result<Team, AppError> {
    let v = viewer().await?;
    v.require_manager()?;
    let name = validate::team_name(&name)?;
    let state = app_state()?;
    let mut tx = state.db.begin().await?;
    let team = match teams::insert(&mut *tx, &name).await {
        Ok(t) => t,
        Err(e) if is_unique_violation(&e) => {
            return Err(AppError::Conflict(format!(
                "A team named \u{201c}{name}\u{201d} already exists."
            )));
        }
        Err(e) => return Err(e.into()),
    };
    audit::record(&mut *tx, v.actor(), "team.created", &name, "").await?;
    tx.commit().await?;
    Ok(Team {
        id: team.id,
        name: team.name,
        members: vec![],
    })
}

/// Loads the team and user a membership change names, or says which one does not exist.
async fn team_and_user(
    db: &super::db::Db,
    team_id: &str,
    user_id: &str,
) -> Result<(teams::TeamRow, users::UserRow), AppError> {
    let team = teams::by_id(db, team_id)
        .await?
        .ok_or_else(|| AppError::NotFound("No such team.".into()))?;
    let user = users::by_id(db, user_id)
        .await?
        .ok_or_else(|| AppError::NotFound("No such user.".into()))?;
    Ok((team, user))
}

/// Admins change the membership only of teams they belong to; owners, of every team.
fn require_team_manager(v: &super::auth::Viewer, team_id: &str) -> Result<(), AppError> {
    v.require_manager()?;
    if v.user.role != Role::Owner && !v.team_ids.iter().any(|t| t == team_id) {
        return Err(AppError::Forbidden(
            "Admins manage the members of their own teams only; ask an owner.".into(),
        ));
    }
    Ok(())
}

pub async fn add_member(team_id: String, user_id: String) -> Result<(), AppError> {
    let v = viewer().await?;
    require_team_manager(&v, &team_id)?;
    let state = app_state()?;
    let (team, user) = team_and_user(&state.db, &team_id, &user_id).await?;
    let mut tx = state.db.begin().await?;
    if !teams::add_member(&mut *tx, &team.id, &user.id).await? {
        return Err(AppError::Conflict(format!(
            "{} is already a member of {}.",
            user.name, team.name
        )));
    }
    audit::record(
        &mut *tx,
        v.actor(),
        "team.member_added",
        &team.name,
        &user.email,
    )
    .await?;
    tx.commit().await?;
    // Their open pages start receiving the team's events.
    publish_access_changed(&state, &user.id).await;
    Ok(())
}

pub async fn remove_member(team_id: String, user_id: String) -> Result<(), AppError> {
    let v = viewer().await?;
    require_team_manager(&v, &team_id)?;
    let state = app_state()?;
    let (team, user) = team_and_user(&state.db, &team_id, &user_id).await?;
    let mut tx = state.db.begin().await?;
    if !teams::remove_member(&mut *tx, &team.id, &user.id).await? {
        return Err(AppError::NotFound(format!(
            "{} is not a member of {}.",
            user.name, team.name
        )));
    }
    audit::record(
        &mut *tx,
        v.actor(),
        "team.member_removed",
        &team.name,
        &user.email,
    )
    .await?;
    tx.commit().await?;
    // Their open pages stop receiving the team's events at once.
    publish_access_changed(&state, &user.id).await;
    Ok(())
}

pub async fn change_role(user_id: String, role: String) -> Result<(), AppError> {
    let v = viewer().await?;
    v.require_manager()?;
    let role = Role::parse(&role)?;
    let state = app_state()?;
    let user = users::by_id(&state.db, &user_id)
        .await?
        .ok_or_else(|| AppError::NotFound("No such user.".into()))?;
    let current = user.role;
    if current == role {
        return Ok(());
    }
    if (current == Role::Owner || role == Role::Owner) && v.user.role != Role::Owner {
        return Err(AppError::Forbidden(
            "Only an owner can change an owner's role or make someone an owner.".into(),
        ));
    }
    let mut tx = state.db.begin().await?;
    users::lock_owners(&mut tx).await?;
    users::set_role(&mut *tx, &user.id, role).await?;
    // Checked after the change, inside the transaction (owners locked): the last owner who
    // can sign in stays an owner.
    if users::count_active_owners(&mut *tx).await? == 0 {
        tx.rollback().await?;
        return Err(AppError::Conflict(
            "Flare needs at least one owner. Make someone else an owner first.".into(),
        ));
    }
    audit::record(
        &mut *tx,
        v.actor(),
        "user.role_changed",
        &user.email,
        &format!("{} -> {}", current.as_str(), role.as_str()),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

pub async fn publish_access_changed(state: &super::state::AppState, user_id: &str) {
    state
        .events
        .publish(&state.db, crate::live::LiveEvent::access_changed(user_id))
        .await;
}

/// Deactivates (`active: false`) or reactivates a user. Deactivating ends all their sessions
/// and, through the bus, their live streams on every instance.
pub async fn set_active(user_id: String, active: bool) -> Result<(), AppError> {
    let v = viewer().await?;
    v.require_manager()?;
    let state = app_state()?;
    let user = users::by_id(&state.db, &user_id)
        .await?
        .ok_or_else(|| AppError::NotFound("No such user.".into()))?;
    if user.id == v.user.id {
        return Err(AppError::Forbidden(
            "You cannot deactivate or reactivate yourself.".into(),
        ));
    }
    if user.role == Role::Owner && v.user.role != Role::Owner {
        return Err(AppError::Forbidden(
            "Only an owner can deactivate or reactivate an owner.".into(),
        ));
    }
    let mut tx = state.db.begin().await?;
    users::lock_owners(&mut tx).await?;
    let at = (!active).then(super::db::now_ms);
    if !users::set_deactivated(&mut *tx, &user.id, at).await? {
        // Already so: a double click, or another admin was first. Nothing to do.
        return Ok(());
    }
    if users::count_active_owners(&mut *tx).await? == 0 {
        tx.rollback().await?;
        return Err(AppError::Conflict(
            "Flare needs at least one owner who can sign in.".into(),
        ));
    }
    let action = if active {
        "user.reactivated"
    } else {
        "user.deactivated"
    };
    audit::record(&mut *tx, v.actor(), action, &user.email, "").await?;
    tx.commit().await?;
    if !active {
        let ended = super::sessions::SqlSessionStore::new(state.db.clone())
            .end_all_of(&user.id, None)
            .await?;
        tracing::info!(user = %user.id, sessions = ended, "user deactivated");
    }
    publish_access_changed(&state, &user.id).await;
    Ok(())
}
