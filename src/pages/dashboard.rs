//! `/app/dashboard`: the "Open escalations" widget for the user's teams, live.

use crate::components::data::data;
use crate::components::in_step::IntoAnyInStep;
use crate::components::live::use_live;
use crate::components::widget::OpenEscalationsWidget;
use crate::live::Change;
use crate::tokens::open_counts;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn DashboardPage() -> impl IntoView {
    let counts = data(|| (), |_| open_counts());
    use_live(move |event| {
        if event.is_none_or(|e| matches!(e.change, Change::Escalation { .. })) {
            counts.refetch();
        }
    });
    view! {
        <Title text="Dashboard · Flare" />
        <h1>"Dashboard"</h1>
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match counts.await {
                    Ok(c) => view! { <OpenEscalationsWidget counts=c /> }.into_any_in_step(),
                    Err(e) => view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any_in_step(),
                }
            })}
        </Transition>
        <p class="helper">
            "To show this widget on another site, create an embed token in "
            <a href="/app/settings/tokens">"Settings → Tokens"</a> "."
        </p>
    }
}

/// `/embed/widget?token=…`: the widget alone, for another site's `<iframe>`. No session: the
/// embed token (one team, read-only) is the credential. Live through `/embed/live`.
#[component]
pub fn EmbedWidgetPage() -> impl IntoView {
    use crate::components::live::provide_live_at;
    use crate::tokens::embed_counts;
    use leptos_router::hooks::use_query_map;
    let query = use_query_map();
    let token = query.with_untracked(|q| q.get("token").unwrap_or_default());
    let encoded = crate::components::url::encode_component(&token);
    provide_live_at(format!("/embed/live?token={encoded}"));
    let counts = data(|| (), move |_| embed_counts(token.clone()));
    use_live(move |_| counts.refetch());
    view! {
        <Title text="Open escalations · Flare" />
        <main class="embed">
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match counts.await {
                        Ok(c) => view! { <OpenEscalationsWidget counts=c /> }.into_any_in_step(),
                        Err(e) => view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any_in_step(),
                    }
                })}
            </Transition>
        </main>
    }
}
