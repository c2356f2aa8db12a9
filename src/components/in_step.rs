//! `InStep`: a view that hydrates in one synchronous step, even when the app hydrates
//! asynchronously.
//!
//! Why: pages are lazily loaded routes, so the app hydrates asynchronously (the router waits
//! for the open page's piece). Leptos then compiles a second, asynchronous hydration path for
//! every element of every page, next to the synchronous one, although only the route boundary
//! ever waits: inside a page, resources already hold the server's data when it hydrates. Each
//! page wrapped in `InStep` hydrates through the synchronous path alone, which keeps the
//! asynchronous copy out of the wasm bundle (the bundle bench shows the figures).
//!
//! Hydration, rendering and updates are delegated unchanged; only `hydrate_async` keeps the
//! trait's default, which is the synchronous `hydrate`.

use leptos::prelude::{AnyView, IntoAny};
use leptos::tachys::html::attribute::{Attribute, any_attribute::AnyAttribute};
use leptos::tachys::hydration::Cursor;
use leptos::tachys::ssr::StreamBuilder;
use leptos::tachys::view::add_attr::AddAnyAttr;
use leptos::tachys::view::{Position, PositionState, Render, RenderHtml};

/// Wraps a view so that it hydrates synchronously (see the module's note).
pub struct InStep<T>(pub T);

impl<T: Render> Render for InStep<T> {
    type State = T::State;

    fn build(self) -> Self::State {
        self.0.build()
    }

    fn rebuild(self, state: &mut Self::State) {
        self.0.rebuild(state)
    }
}

impl<T: AddAnyAttr> AddAnyAttr for InStep<T> {
    type Output<SomeNewAttr: Attribute> = InStep<T::Output<SomeNewAttr>>;

    fn add_any_attr<NewAttr: Attribute>(self, attr: NewAttr) -> Self::Output<NewAttr>
    where
        Self::Output<NewAttr>: RenderHtml,
    {
        InStep(self.0.add_any_attr(attr))
    }
}

impl<T: RenderHtml> RenderHtml for InStep<T> {
    type AsyncOutput = InStep<T::AsyncOutput>;
    type Owned = InStep<T::Owned>;

    const MIN_LENGTH: usize = T::MIN_LENGTH;
    const EXISTS: bool = T::EXISTS;

    fn dry_resolve(&mut self) {
        self.0.dry_resolve();
    }

    async fn resolve(self) -> Self::AsyncOutput {
        InStep(self.0.resolve().await)
    }

    fn html_len(&self) -> usize {
        self.0.html_len()
    }

    fn to_html_with_buf(
        self,
        buf: &mut String,
        position: &mut Position,
        escape: bool,
        mark_branches: bool,
        extra_attrs: Vec<AnyAttribute>,
    ) {
        self.0
            .to_html_with_buf(buf, position, escape, mark_branches, extra_attrs);
    }

    fn to_html_async_with_buf<const OUT_OF_ORDER: bool>(
        self,
        buf: &mut StreamBuilder,
        position: &mut Position,
        escape: bool,
        mark_branches: bool,
        extra_attrs: Vec<AnyAttribute>,
    ) where
        Self: Sized,
    {
        self.0.to_html_async_with_buf::<OUT_OF_ORDER>(
            buf,
            position,
            escape,
            mark_branches,
            extra_attrs,
        );
    }

    fn hydrate<const FROM_SERVER: bool>(
        self,
        cursor: &Cursor,
        position: &PositionState,
    ) -> Self::State {
        self.0.hydrate::<FROM_SERVER>(cursor, position)
    }

    fn into_owned(self) -> Self::Owned {
        InStep(self.0.into_owned())
    }
}

/// `.into_any()` for views inside a page: the erased view keeps Leptos' table of render
/// functions, but its asynchronous hydration is the synchronous one (see the module's note).
pub trait IntoAnyInStep: RenderHtml + Sized + 'static {
    fn into_any_in_step(self) -> AnyView {
        InStep(self).into_any()
    }
}

impl<T: RenderHtml + 'static> IntoAnyInStep for T {}
