use leptos::prelude::*;
use leptos_meta::Title;

/// `/app/chat`: a placeholder until the chat and agent runtime land.
#[component]
pub fn ChatPage() -> impl IntoView {
    view! {
        <Title text="Chat · Flare" />
        <h1>"Chat"</h1>
        <p class="placeholder-note">
            "Not built yet: live chat with your agents arrives with the agent runtime."
        </p>
    }
}
