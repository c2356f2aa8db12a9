//! `/app/settings/members`: Settings → Members & Teams, for owners and admins.
//! Every form is a plain form first, so it works before (or without) hydration.

use crate::auth::Role;
use crate::components::data::data;
use crate::components::form_error::{FormError, error_text};
use crate::components::in_step::{InStep, IntoAnyInStep};
use crate::members::{
    AddMember, ChangeRole, CreateTeam, CreateUser, DeactivateUser, Directory, Member,
    ReactivateUser, RemoveMember, Team, load_directory,
};
use crate::validate::{MAX_NAME, MAX_TEAM_NAME, MIN_PASSWORD};
use leptos::prelude::*;
use leptos_meta::Title;

#[derive(Clone, Copy)]
struct Actions {
    add_member: ServerAction<AddMember>,
    remove_member: ServerAction<RemoveMember>,
    change_role: ServerAction<ChangeRole>,
    deactivate: ServerAction<DeactivateUser>,
    reactivate: ServerAction<ReactivateUser>,
}

#[component]
pub fn MembersPage() -> impl IntoView {
    let create_user = ServerAction::<CreateUser>::new();
    let create_team = ServerAction::<CreateTeam>::new();
    let actions = Actions {
        add_member: ServerAction::<AddMember>::new(),
        remove_member: ServerAction::<RemoveMember>::new(),
        change_role: ServerAction::<ChangeRole>::new(),
        deactivate: ServerAction::<DeactivateUser>::new(),
        reactivate: ServerAction::<ReactivateUser>::new(),
    };
    // Reloads after any change, whoever's form made it.
    let data = data(
        move || {
            (
                create_user.version().get(),
                create_team.version().get(),
                actions.add_member.version().get(),
                actions.remove_member.version().get(),
                actions.change_role.version().get(),
                actions.deactivate.version().get(),
                actions.reactivate.version().get(),
            )
        },
        |_| load_directory(),
    );
    let user_error = Signal::derive(move || create_user.value().with(error_text));
    let team_error = Signal::derive(move || create_team.value().with(error_text));
    let membership_error = Signal::derive(move || {
        actions
            .add_member
            .value()
            .with(error_text)
            .or_else(|| actions.remove_member.value().with(error_text))
    });
    let role_error = Signal::derive(move || {
        actions
            .change_role
            .value()
            .with(error_text)
            .or_else(|| actions.deactivate.value().with(error_text))
            .or_else(|| actions.reactivate.value().with(error_text))
    });
    view! {
        <Title text="Members & Teams · Flare" />
        <h1>"Members & Teams"</h1>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Err(e) => view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any_in_step(),
                    Ok(dir) => {
                        view! {
                            <section aria-labelledby="people-heading">
                                <h2 id="people-heading">"People"</h2>
                                <FormError message=role_error />
                                <PeopleTable users=dir.users.clone() actions />
                            </section>
                            <section aria-labelledby="teams-heading">
                                <h2 id="teams-heading">"Teams"</h2>
                                <FormError message=membership_error />
                                <TeamList dir actions />
                            </section>
                        }
                            .into_any_in_step()
                    }
                }
            })}
        </Suspense>
        <div class="two-columns">
            <section class="card" aria-labelledby="new-user-heading">
                <h2 id="new-user-heading">"Add a person"</h2>
                <ActionForm action=create_user>
                    {InStep(view! {
                        <label for="new-user-name">"Name"</label>
                        <input id="new-user-name" name="name" required maxlength=MAX_NAME />
                        <label for="new-user-email">"Email"</label>
                        <input id="new-user-email" name="email" type="email" required />
                        <label for="new-user-password">"Initial password"</label>
                        <input
                            id="new-user-password"
                            name="password"
                            type="password"
                            autocomplete="new-password"
                            required
                            minlength=MIN_PASSWORD
                        />
                        <label for="new-user-role">"Role"</label>
                        <select id="new-user-role" name="role">
                            <option value="member" selected>"Member"</option>
                            <option value="admin">"Admin"</option>
                            <option value="owner">"Owner"</option>
                        </select>
                        <FormError message=user_error />
                        <button type="submit" class="primary">"Create user"</button>
                    })}
                </ActionForm>
            </section>
            <section class="card" aria-labelledby="new-team-heading">
                <h2 id="new-team-heading">"Create a team"</h2>
                <ActionForm action=create_team>
                    {InStep(view! {
                        <label for="new-team-name">"Team name"</label>
                        <input id="new-team-name" name="name" required maxlength=MAX_TEAM_NAME />
                        <FormError message=team_error />
                        <button type="submit" class="primary">"Create team"</button>
                    })}
                </ActionForm>
            </section>
        </div>
    }
}

#[component]
fn PeopleTable(users: Vec<Member>, actions: Actions) -> impl IntoView {
    view! {
        <table class="data-table">
            <thead>
                <tr>
                    <th scope="col">"Name"</th>
                    <th scope="col">"Email"</th>
                    <th scope="col">"Role"</th>
                    <th scope="col">"Status"</th>
                </tr>
            </thead>
            <tbody>
                {users
                    .into_iter()
                    .map(|u| {
                        let label = format!("Role for {}", u.name);
                        let status_label = if u.active {
                            format!("Deactivate {}", u.name)
                        } else {
                            format!("Reactivate {}", u.name)
                        };
                        let uid = u.id.clone();
                        let status = if u.active {
                            view! {
                                <ActionForm action=actions.deactivate attr:class="inline-form">
                                    {InStep(view! {
                                        <input type="hidden" name="user_id" value=uid />
                                        "Active "
                                        <button type="submit" aria-label=status_label>"Deactivate"</button>
                                    })}
                                </ActionForm>
                            }
                                .into_any_in_step()
                        } else {
                            view! {
                                <ActionForm action=actions.reactivate attr:class="inline-form">
                                    {InStep(view! {
                                        <input type="hidden" name="user_id" value=uid />
                                        "Deactivated "
                                        <button type="submit" aria-label=status_label>"Reactivate"</button>
                                    })}
                                </ActionForm>
                            }
                                .into_any_in_step()
                        };
                        view! {
                            <tr>
                                <td>{u.name.clone()}</td>
                                <td>{u.email.clone()}</td>
                                <td>
                                    <ActionForm action=actions.change_role attr:class="inline-form">
                                        {InStep(view! {
                                            <input type="hidden" name="user_id" value=u.id.clone() />
                                            <select name="role" aria-label=label>
                                                {<Role as strum::VariantArray>::VARIANTS
                                                    .iter()
                                                    .map(|&r| {
                                                        view! {
                                                            <option value=r.as_str() selected=r == u.role>
                                                                {r.label()}
                                                            </option>
                                                        }
                                                    })
                                                    .collect_view()}
                                            </select>
                                            <button type="submit">"Change role"</button>
                                        })}
                                    </ActionForm>
                                </td>
                                <td>{status}</td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </table>
    }
}

#[component]
fn TeamList(dir: Directory, actions: Actions) -> impl IntoView {
    if dir.teams.is_empty() {
        return view! { <p class="helper">"No teams yet. Create one below."</p> }
            .into_any_in_step();
    }
    dir.teams
        .into_iter()
        .map(|team| view! { <TeamCard team=team.clone() users=dir.users.clone() actions /> })
        .collect_view()
        .into_any_in_step()
}

#[component]
fn TeamCard(team: Team, users: Vec<Member>, actions: Actions) -> impl IntoView {
    let outsiders: Vec<Member> = users
        .into_iter()
        .filter(|u| !team.members.iter().any(|m| m.id == u.id))
        .collect();
    let add_label = format!("Add to {}", team.name);
    let heading_id = format!("team-{}", team.id);
    let labelled_by = heading_id.clone();
    let Team {
        id: team_id,
        name: team_name,
        members,
    } = team;
    let member_items = members
        .into_iter()
        .map(|m| {
            let remove_label = format!("Remove {} from {}", m.name, team_name);
            let team_id = team_id.clone();
            view! {
                <li>
                    <span>{m.name} " · " {m.email}</span>
                    <ActionForm action=actions.remove_member attr:class="inline-form">
                        {InStep(view! {
                            <input type="hidden" name="team_id" value=team_id />
                            <input type="hidden" name="user_id" value=m.id />
                            <button type="submit" aria-label=remove_label>"Remove"</button>
                        })}
                    </ActionForm>
                </li>
            }
        })
        .collect_view();
    view! {
        <article class="card team" aria-labelledby=labelled_by>
            <h3 id=heading_id>{team_name}</h3>
            <ul class="member-list">{member_items}</ul>
            {(!outsiders.is_empty())
                .then(|| {
                    view! {
                        <ActionForm action=actions.add_member attr:class="inline-form">
                            {InStep(view! {
                                <input type="hidden" name="team_id" value=team_id.clone() />
                                <select name="user_id" aria-label=add_label.clone()>
                                    {outsiders
                                        .iter()
                                        .map(|u| view! { <option value=u.id.clone()>{u.name.clone()}</option> })
                                        .collect_view()}
                                </select>
                                <button type="submit">"Add member"</button>
                            })}
                        </ActionForm>
                    }
                })}
        </article>
    }
}
