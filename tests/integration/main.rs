//! Integration tests over real sockets against a real database (SQLite, or PostgreSQL with
//! FLARE_TEST_BACKEND=postgres). Run by the README's test command on both.
#![cfg(feature = "ssr")]

mod access;
mod admin_agent;
mod agents;
mod anthropic;
mod audit;
mod auth;
mod chat;
mod chat_answers;
mod chat_triggers;
mod common;
mod data_layer;
mod discord_gateway;
mod durability;
mod email;
mod escalations;
mod fake_anthropic;
mod fake_openai;
mod guardrail;
mod live;
mod load;
mod mail_trigger;
mod matrix;
mod members;
mod models;
mod notifications;
mod openai;
mod openapi;
mod pages;
mod scoping;
mod security;
mod tokens;
mod triggers;
