//! Page data: resources filled by server functions, sent from the server with the page.
//!
//! Why not `Resource::new`: its codec reads the page's copy of the data from a `&str`, while
//! server functions read their answers from bytes. serde_json instantiates every type's decoder
//! once per reader, so each page carried two decoders for each type it loads. Reading both
//! from bytes makes it one. Measured on the agent page: see the README's bundle figures.

use leptos::prelude::*;
use leptos::server::codee::{Decoder, Encoder};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// JSON, decoded from bytes as server functions decode their answers.
pub struct Json;

impl<T: Serialize> Encoder<T> for Json {
    type Error = serde_json::Error;
    type Encoded = String;

    fn encode(val: &T) -> Result<String, Self::Error> {
        serde_json::to_string(val)
    }
}

impl<T: DeserializeOwned> Decoder<T> for Json {
    type Error = serde_json::Error;
    type Encoded = str;

    fn decode(val: &str) -> Result<T, Self::Error> {
        serde_json::from_slice(val.as_bytes())
    }
}

/// Data a page loads: like `Resource`, with the codec above.
pub type Data<T> = Resource<T, Json>;

/// Loads `fetcher(source())` on the server with the page and again whenever `source` changes
/// (as `Resource::new`).
#[track_caller]
pub fn data<T, S, Fut>(
    source: impl Fn() -> S + Send + Sync + 'static,
    fetcher: impl Fn(S) -> Fut + Send + Sync + 'static,
) -> Data<T>
where
    T: Serialize + DeserializeOwned + Send + Sync + 'static,
    S: Send + Sync + Clone + PartialEq + 'static,
    Fut: std::future::Future<Output = T> + Send + 'static,
{
    Resource::new_with_options(source, fetcher, false)
}
