use leptos::prelude::*;
use leptos_meta::Title;

/// `/app/escalations`. Agents cannot escalate yet in this build (the runtime comes next), so
/// there are truly none: the page says so honestly, in the tutorial's words.
#[component]
pub fn EscalationsPage() -> impl IntoView {
    view! {
        <Title text="Escalations · Flare" />
        <h1>"Escalations"</h1>
        <p class="helper">
            "When an agent asks for a person, open items show here. Open the thread to reply, or dismiss if it's handled elsewhere."
        </p>
        <section class="empty-state">
            <p class="empty-title">"No escalations yet. All agents are running smoothly."</p>
            <p>"Escalations appear here when an agent needs human help."</p>
        </section>
        <p class="placeholder-note">
            "Not built yet: agents start escalating once the agent runtime lands."
        </p>
    }
}
