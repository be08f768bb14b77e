//! Integration tests: each boots a real latchkey on 127.0.0.1:0 with its own
//! SQLite file and key directory, and drives it over HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod authorize_errors;
mod cli;
mod discovery;
mod flow;
mod keys;
mod login;
mod pages;
mod support;
mod tidy;
mod token_errors;
