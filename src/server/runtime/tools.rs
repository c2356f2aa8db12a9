//! Tool workers: agent tools implemented outside the model, in Rust. A worker either returns a
//! result for the model, or raises a *direct tool-call escalation* itself: a card is left for a
//! person, the run does not pause, and the agent's turn ends.
//!
//! To add one, implement [`ToolWorker`] and pass it in the registry given to
//! `server::prepare_with_tools` (see the README, "Tool workers").

use super::Escalate;
use super::provider::ToolSpec;
use std::sync::Arc;

pub enum ToolOutcome {
    /// Text the model reads as the tool's result.
    Result(String),
    /// Leave a card for a person; the agent's turn ends without waiting for the answer.
    Escalate(Escalate),
}

#[async_trait::async_trait]
pub trait ToolWorker: Send + Sync {
    fn spec(&self) -> ToolSpec;
    /// Called with the model's arguments, already checked to be JSON.
    async fn call(&self, arguments: serde_json::Value) -> ToolOutcome;
}

#[derive(Clone, Default)]
pub struct Registry {
    workers: Vec<Arc<dyn ToolWorker>>,
}

impl Registry {
    pub fn with(mut self, worker: impl ToolWorker + 'static) -> Self {
        self.workers.push(Arc::new(worker));
        self
    }

    pub fn specs(&self) -> Vec<ToolSpec> {
        self.workers.iter().map(|w| w.spec()).collect()
    }

    /// Runs the named tool. An unknown name or arguments that are not JSON are the model's
    /// mistake: it gets an error result it can correct, and the run goes on.
    pub async fn call(&self, name: &str, arguments: &str) -> ToolOutcome {
        let Some(worker) = self.workers.iter().find(|w| w.spec().name == name) else {
            return ToolOutcome::Result(format!("Error: there is no tool named {name:?}."));
        };
        match serde_json::from_str(arguments) {
            Ok(args) => worker.call(args).await,
            Err(e) => ToolOutcome::Result(format!(
                "Error: the arguments to {name} are not valid JSON ({e}). Call it again."
            )),
        }
    }
}
