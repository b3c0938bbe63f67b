//! Types shared across a boundary, so that each exists once:
//!
//! - [`api`]: the JSON of the HTTP API (see `api.md`), used by the server,
//!   the widget and the tests;
//! - [`agent`]: the protocol between the server and the agent that runs
//!   inside every sandbox container.

pub mod agent;
pub mod api;
