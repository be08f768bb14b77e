//! Integration tests: each boots a real latchkey on 127.0.0.1:0 with its own
//! SQLite file and key directory, and drives it over HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod authorize_errors;
mod bad_input;
mod cli;
mod client_credentials;
mod connections;
mod crash;
mod discovery;
mod flow;
mod introspection;
mod keys;
mod login;
mod logout;
mod logs;
mod ops;
mod pages;
mod prompts;
mod refresh;
mod support;
mod throttling;
mod tidy;
mod token_errors;
