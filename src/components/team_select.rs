//! A form's team choice: the viewer's teams, as `team_id`.

use leptos::prelude::*;

/// The viewer's teams to choose from (`name="team_id"`).
#[component]
pub fn TeamSelect(
    id: &'static str,
    teams: crate::components::data::Data<Result<Vec<crate::members::Team>, crate::error::AppError>>,
) -> impl IntoView {
    view! {
        <Suspense>
            {move || Suspend::new(async move {
                let teams = teams.await.unwrap_or_default();
                view! {
                    <select id=id name="team_id">
                        {teams
                            .into_iter()
                            .map(|t| view! { <option value=t.id>{t.name}</option> })
                            .collect_view()}
                    </select>
                }
            })}
        </Suspense>
    }
}
