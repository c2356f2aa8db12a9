//! The frame both local model servers share (`fake_openai`, `fake_anthropic`): a queue of
//! scripted answers, one taken per request, and a record of every request (body, headers,
//! when it arrived). Each fake supplies only its wire format.

use axum::Router;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::post;
use serde_json::Value;
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// One request as the fake received it.
#[derive(Clone, Debug)]
pub struct Received {
    pub body: Value,
    pub headers: HeaderMap,
    pub at: Instant,
}

/// How a fake answers one scripted step.
pub type Answer<S> = fn(S) -> Pin<Box<dyn Future<Output = Response> + Send>>;

pub struct Scripted<S> {
    script: Arc<Mutex<VecDeque<S>>>,
    received: Arc<Mutex<Vec<Received>>>,
}

impl<S> Clone for Scripted<S> {
    fn clone(&self) -> Self {
        Self {
            script: self.script.clone(),
            received: self.received.clone(),
        }
    }
}

impl<S: Send + 'static> Scripted<S> {
    /// Serves `path` on a free local port; returns the fake and its base address.
    /// When the script runs out, `otherwise` answers.
    pub async fn serve(
        script: Vec<S>,
        path: &str,
        answer: Answer<S>,
        otherwise: fn() -> S,
    ) -> (Self, String) {
        let fake = Self {
            script: Arc::new(Mutex::new(script.into())),
            received: Default::default(),
        };
        let handler = move |State(fake): State<Self>, headers: HeaderMap, body: String| async move {
            let body = serde_json::from_str(&body).unwrap_or(Value::String(body));
            fake.received.lock().unwrap().push(Received {
                body,
                headers,
                at: Instant::now(),
            });
            let next = fake.script.lock().unwrap().pop_front();
            answer(next.unwrap_or_else(otherwise)).await
        };
        let app = Router::new()
            .route(path, post(handler))
            .with_state(fake.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        (fake, format!("http://{addr}"))
    }

    pub fn push(&self, step: S) {
        self.script.lock().unwrap().push_back(step);
    }

    /// Every request so far, in order.
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// The requests' bodies, in order.
    pub fn requests(&self) -> Vec<Value> {
        self.received().into_iter().map(|r| r.body).collect()
    }
}
