use leptos::prelude::*;
use leptos_meta::Title;

/// `/app/settings/agents`: a placeholder until agents and the Description editor land.
#[component]
pub fn AgentsPage() -> impl IntoView {
    view! {
        <Title text="Agents · Flare" />
        <h1>"Agents"</h1>
        <p class="placeholder-note">
            "Not built yet: creating agents and writing their Descriptions (where escalation rules live) comes next."
        </p>
    }
}
