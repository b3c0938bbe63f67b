//! End-to-end tests against the real server and the real Docker engine.
//! One binary with topical modules keeps link times down.

mod abuse;
mod api;
mod endings;
mod exploits;
mod files;
mod hostile;
mod interactive;
mod kernel;
mod lifecycle;
mod packages;
mod pool;
mod sandboxes;
mod stream;
mod transport;
mod users;
