//! The "What Flare understood" panel: the compiled Description in words (the words come from
//! the pure renderer in `rules::understood`), what the model judges, and rule warnings.

use crate::rules::understood::Understood as Said;
use leptos::either::Either;
use leptos::prelude::*;

#[component]
pub(super) fn Understood(said: Said, reads_meaning: bool) -> impl IntoView {
    let rule_items = said.rules;
    let how = if reads_meaning {
        "Flare matches the words of these rules in any of their forms, and their meaning: \u{201c}I want my money back\u{201d} is about refunds."
    } else {
        "Flare matches the words of these rules in any of their forms, not their meaning: no embedding model is loaded on this server (see its log)."
    };
    view! {
        {if rule_items.is_empty() {
            Either::Left(view! { <p class="helper">"No rule Flare can enforce yet."</p> })
        } else {
            Either::Right(view! {
                <p>"Flare will escalate when:"</p>
                <ul class="rules">{rule_items.into_iter().map(|r| view! { <li>{r}</li> }).collect_view()}</ul>
                <p class="helper matching">{how}</p>
            })
        }}
        {(!said.model_judged.is_empty())
            .then(|| {
                view! {
                    <p>"Left to the model to judge:"</p>
                    <ul class="rules judged">
                        {said.model_judged.into_iter().map(|s| view! { <li>{s}</li> }).collect_view()}
                    </ul>
                }
            })}
        {(!said.lints.is_empty())
            .then(|| {
                view! {
                    <ul class="lints" aria-label="Rule warnings">
                        {said
                            .lints
                            .into_iter()
                            .map(|l| {
                                view! {
                                    <li>
                                        {(!l.sentence.is_empty()).then(|| view! { <q>{l.sentence}</q> " " })}
                                        {l.why}
                                        " "
                                        <em>{format!("Try: {}", l.suggestion)}</em>
                                    </li>
                                }
                            })
                            .collect_view()}
                    </ul>
                }
            })}
    }
}
