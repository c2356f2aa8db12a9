//! The "Open escalations" widget: the count, split by severity. Shown on the dashboard and,
//! through an embed token, in other sites' pages, where `public/embed-widget.js` keeps the
//! server-rendered markup live: it finds the count and the lines by these class names.

use crate::escalations::severity_icon;
use crate::rules::Severity;
use crate::tokens::SeverityCounts;
use leptos::prelude::*;

#[component]
pub fn OpenEscalationsWidget(counts: SeverityCounts) -> impl IntoView {
    let line = |s: Severity, n: i64| {
        let (icon, label) = severity_icon(s);
        view! {
            <li data-severity=s.as_str()>
                <span role="img" aria-label=label>
                    {icon}
                </span>
                <span class="widget-n">{format!(" {}: {n}", s.label())}</span>
            </li>
        }
    };
    view! {
        <section class="widget card" aria-labelledby="widget-heading">
            <h2 id="widget-heading">"Open escalations"</h2>
            <p class="widget-count" aria-label="Open escalations count">
                {counts.total}
            </p>
            <ul class="widget-split" aria-label="By severity">
                {line(Severity::Critical, counts.critical)}
                {line(Severity::Warning, counts.warning)}
                {line(Severity::Info, counts.info)}
            </ul>
            <p class="widget-overdue" data-overdue=counts.overdue.to_string()>
                {format!("Overdue: {}", counts.overdue)}
            </p>
        </section>
    }
}
