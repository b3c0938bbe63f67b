//! The Docker engine, through bollard only, in four rooms: [`spec`], the
//! hardening spec (a pure function from a sandbox to a create body), with
//! [`seccomp`], the syscall profile it carries, and [`uids`], the user each
//! container runs as (these three from the `snipbox-spec` crate, which the
//! guard shares); [`client`], the connection and what the engine's errors mean; and
//! [`container`], one container's life (create, attach, start, one job,
//! removal). Nothing here knows about HTTP.
//!
//! The Engine API calls made, the list a proxy or guard must allow, are
//! [`snipbox_spec::calls::SERVER`].

pub mod client;
pub mod container;

pub use snipbox_spec::{seccomp, spec, uids};

pub use client::{Engine, EngineError, permission_message};
pub use container::{Chunk, Container, ContainerSpec, Job, Outcome};
