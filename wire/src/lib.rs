//! Types shared across a boundary, so that each exists once:
//!
//! - [`api`]: the JSON of the HTTP API (see `api.md`), used by the server,
//!   the widget and the tests;
//! - [`agent`]: the protocol between the server and the agent that runs
//!   inside every sandbox container;
//! - [`names`]: the rule for file names, on both sides.

pub mod agent;
pub mod api;
pub mod names;
