use crate::components::shell::AppShell;
use crate::pages::not_found::NotFound;
use leptos::prelude::*;
use leptos_meta::{MetaTags, Title, provide_meta_context};
use leptos_router::components::{ParentRoute, Redirect, Route, Router, Routes};
use leptos_router::{Lazy, SsrMode, path};
use routes::*;

pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    set_page_policy();
    // The embed widget is server-rendered HTML kept live by a few lines of JS: another site's
    // page should not download the app's wasm to show four numbers.
    let hydrate = !is_embed_page();
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
                // When this page's data was read: its live stream catches up from here.
                <meta name="flare-rendered-at" content=rendered_at() />
                <link rel="stylesheet" href=stylesheet_href() />
                {hydrate.then(|| view! { <HydrationScripts options /> })}
                {(!hydrate).then(|| view! { <script src="/embed-widget.js" defer></script> })}
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// The stylesheet, named by content when the build hashed it (the shell renders on the server
/// only, so the browser never needs to know the name).
fn stylesheet_href() -> String {
    #[cfg(feature = "ssr")]
    return crate::server::assets::stylesheet_href();
    #[cfg(not(feature = "ssr"))]
    "/pkg/flare.css".into()
}

/// Now, on the server's clock (ms); the shell renders on the server only.
fn rendered_at() -> String {
    #[cfg(feature = "ssr")]
    return crate::server::db::now_ms().to_string();
    #[cfg(not(feature = "ssr"))]
    String::new()
}

/// Whether this response is the embeddable widget page (`/embed/widget`).
fn is_embed_page() -> bool {
    #[cfg(feature = "ssr")]
    return use_context::<axum::http::request::Parts>()
        .is_some_and(|p| p.uri.path() == "/embed/widget");
    #[cfg(not(feature = "ssr"))]
    false
}

/// Sends this page's Content-Security-Policy, naming the nonce Leptos puts on its inline
/// scripts for this response.
#[cfg(feature = "ssr")]
fn set_page_policy() {
    let (Some(res), Some(nonce)) = (
        use_context::<leptos_axum::ResponseOptions>(),
        leptos::nonce::use_nonce(),
    ) else {
        return;
    };
    let policy = crate::server::http::page_policy(&nonce, is_embed_page());
    if let Ok(value) = axum::http::HeaderValue::from_str(&policy) {
        res.insert_header(axum::http::header::CONTENT_SECURITY_POLICY, value);
    }
}

/// The embed widget page is server-rendered HTML that `/embed-widget.js` keeps live: browsers
/// never hydrate it, so the browser bundle carries no code for it (it used to be a split piece
/// of its own, which also fragmented the pieces the other pages share).
#[cfg(feature = "ssr")]
fn embed_widget() -> impl IntoView {
    crate::pages::dashboard::EmbedWidgetPage()
}

#[cfg(not(feature = "ssr"))]
fn embed_widget() -> impl IntoView {}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Title text="Flare" />
        <Router>
            <Routes fallback=NotFound>
                <Route path=path!("/") view=|| view! { <Redirect path="/app/escalations" /> } />
                <Route path=path!("/login") view={Lazy::<Login>::new()} />
                <Route path=path!("/setup") view={Lazy::<Setup>::new()} />
                <Route path=path!("/embed/widget") view=embed_widget ssr=SsrMode::Async />
                // Async: a page is rendered once its data has loaded and sent whole, so it reads
                // fine with JavaScript off (out-of-order streaming needs JS to fill in suspended
                // parts). Measured on the Escalations page: 1.5x the throughput of in-order
                // streaming, which sent many small chunks.
                <ParentRoute path=path!("/app") view=AppShell ssr=SsrMode::Async>
                    <Route path=path!("") view=|| view! { <Redirect path="/app/escalations" /> } />
                    <Route path=path!("escalations") view={Lazy::<Escalations>::new()} ssr=SsrMode::Async />
                    <Route path=path!("chat") view={Lazy::<Chat>::new()} ssr=SsrMode::Async />
                    <Route path=path!("admin-agent") view={Lazy::<AdminAgent>::new()} ssr=SsrMode::Async />
                    <Route path=path!("chat/:id") view={Lazy::<Thread>::new()} ssr=SsrMode::Async />
                    <Route path=path!("settings/agents") view={Lazy::<Agents>::new()} ssr=SsrMode::Async />
                    <Route path=path!("settings/agents/:id") view={Lazy::<Agent>::new()} ssr=SsrMode::Async />
                    <Route path=path!("settings/agents/:id/triggers") view={Lazy::<Triggers>::new()} ssr=SsrMode::Async />
                    <Route path=path!("settings/members") view={Lazy::<Members>::new()} ssr=SsrMode::Async />
                    <Route path=path!("audit") view={Lazy::<Audit>::new()} ssr=SsrMode::Async />
                    <Route path=path!("dashboard") view={Lazy::<Dashboard>::new()} ssr=SsrMode::Async />
                    <Route path=path!("settings/tokens") view={Lazy::<Tokens>::new()} ssr=SsrMode::Async />
                    <Route path=path!("settings/models") view={Lazy::<Models>::new()} ssr=SsrMode::Async />
                    <Route path=path!("settings/notifications") view={Lazy::<Notifications>::new()} ssr=SsrMode::Async />
                    <Route path=path!("settings/account") view={Lazy::<Account>::new()} ssr=SsrMode::Async />
                </ParentRoute>
            </Routes>
        </Router>
    }
}

/// Every page is its own lazily loaded piece of the browser bundle (`#[lazy_route]`, split by
/// `cargo leptos build --split`): a browser downloads the shared core and the page it opens,
/// and the rest only when it navigates there. The pages load their data themselves, so each
/// route's `data` is empty and its `view` is the whole page.
mod routes {
    use crate::components::in_step::InStep;
    use leptos::prelude::*;
    use leptos_router::{LazyRoute, lazy_route};

    /// Declares one lazy route per page: `Name => path::to::Page`. Each page hydrates in one
    /// step once its piece has loaded (see `components::in_step`).
    macro_rules! lazy_pages {
        ($($name:ident => $page:path),* $(,)?) => {$(
            pub struct $name;
            #[lazy_route]
            impl LazyRoute for $name {
                fn data() -> Self {
                    Self
                }
                fn view(_this: Self) -> AnyView {
                    InStep($page()).into_any()
                }
            }
        )*};
    }

    lazy_pages! {
        Login => crate::pages::login::LoginPage,
        Setup => crate::pages::setup::SetupPage,
        Escalations => crate::pages::escalations::EscalationsPage,
        Chat => crate::pages::chat::ChatPage,
        AdminAgent => crate::pages::admin_agent::AdminAgentPage,
        Thread => crate::pages::thread::ThreadPage,
        Agents => crate::pages::agents::AgentsPage,
        Agent => crate::pages::agent::AgentPage,
        Members => crate::pages::members::MembersPage,
        Audit => crate::pages::audit::AuditPage,
        Dashboard => crate::pages::dashboard::DashboardPage,
        Tokens => crate::pages::tokens::TokensPage,
        Triggers => crate::pages::triggers::TriggersPage,
        Models => crate::pages::models::ModelsPage,
        Notifications => crate::pages::notifications::NotificationsPage,
        Account => crate::pages::account::AccountPage,
    }
}
