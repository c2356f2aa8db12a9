use crate::components::shell::AppShell;
use crate::pages::{
    account::AccountPage,
    agent::AgentPage,
    agents::AgentsPage,
    audit::AuditPage,
    chat::ChatPage,
    dashboard::{DashboardPage, EmbedWidgetPage},
    escalations::EscalationsPage,
    login::LoginPage,
    members::MembersPage,
    not_found::NotFound,
    setup::SetupPage,
    thread::ThreadPage,
    tokens::TokensPage,
};
use leptos::prelude::*;
use leptos_meta::{MetaTags, Title, provide_meta_context};
use leptos_router::components::{ParentRoute, Redirect, Route, Router, Routes};
use leptos_router::{SsrMode, path};

pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    set_page_policy();
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
                <link rel="stylesheet" href=stylesheet_href() />
                <HydrationScripts options />
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
    let embeddable = use_context::<axum::http::request::Parts>()
        .is_some_and(|p| p.uri.path() == "/embed/widget");
    let policy = crate::server::http::page_policy(&nonce, embeddable);
    if let Ok(value) = axum::http::HeaderValue::from_str(&policy) {
        res.insert_header(axum::http::header::CONTENT_SECURITY_POLICY, value);
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Title text="Flare" />
        <Router>
            <Routes fallback=NotFound>
                <Route path=path!("/") view=|| view! { <Redirect path="/app/escalations" /> } />
                <Route path=path!("/login") view=LoginPage />
                <Route path=path!("/setup") view=SetupPage />
                <Route path=path!("/embed/widget") view=EmbedWidgetPage ssr=SsrMode::Async />
                // Async: a page is rendered once its data has loaded and sent whole, so it reads
                // fine with JavaScript off (out-of-order streaming needs JS to fill in suspended
                // parts). Measured on the Escalations page: 1.5x the throughput of in-order
                // streaming, which sent many small chunks.
                <ParentRoute path=path!("/app") view=AppShell ssr=SsrMode::Async>
                    <Route path=path!("") view=|| view! { <Redirect path="/app/escalations" /> } />
                    <Route path=path!("escalations") view=EscalationsPage ssr=SsrMode::Async />
                    <Route path=path!("chat") view=ChatPage ssr=SsrMode::Async />
                    <Route path=path!("chat/:id") view=ThreadPage ssr=SsrMode::Async />
                    <Route path=path!("settings/agents") view=AgentsPage ssr=SsrMode::Async />
                    <Route path=path!("settings/agents/:id") view=AgentPage ssr=SsrMode::Async />
                    <Route path=path!("settings/members") view=MembersPage ssr=SsrMode::Async />
                    <Route path=path!("audit") view=AuditPage ssr=SsrMode::Async />
                    <Route path=path!("dashboard") view=DashboardPage ssr=SsrMode::Async />
                    <Route path=path!("settings/tokens") view=TokensPage ssr=SsrMode::Async />
                    <Route path=path!("settings/account") view=AccountPage ssr=SsrMode::Async />
                </ParentRoute>
            </Routes>
        </Router>
    }
}
