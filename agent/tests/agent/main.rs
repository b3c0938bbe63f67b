//! The agent binary, driven as the server drives it: a boot argument, a job
//! on stdin, frames on stdout. Most tests run it as a plain process on this
//! host; what only PID 1 of a container can show runs in a container.

mod common;
mod container;
mod interactive;
mod latency;
mod outputs;
mod prepare;
mod prestart;
mod signals;
