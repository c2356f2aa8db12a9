use leptos::prelude::*;

#[server]
pub async fn dismiss(id: String) -> Result<i64, ServerFnError> {
    Ok(id.len() as i64)
}

#[server]
pub async fn count() -> Result<i64, ServerFnError> {
    Ok(1)
}

#[island]
pub fn Counter(start: i64) -> impl IntoView {
    let n = RwSignal::new(start);
    let act = ServerAction::<Dismiss>::new();
    let c = Resource::new(move || n.get(), |_| count());
    view! {
        <button on:click=move |_| n.update(|v| *v += 1)>{move || n.get()}</button>
        <Suspense>{move || c.get().map(|r| format!("{r:?}"))}</Suspense>
        <ActionForm action=act>
            <input type="hidden" name="id" value="x" />
            <button type="submit">"Dismiss"</button>
        </ActionForm>
        <p>{move || format!("{:?}", act.value().get())}</p>
    }
}

#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    leptos::mount::hydrate_islands();
}
