pub mod agent;
pub mod agents;
pub mod chat;
pub mod escalations;
pub mod login;
pub mod members;
pub mod not_found;
pub mod setup;
