//! What the server and `snipbox-guard` share, so that the guard judges a
//! create body with the very code that builds it and links no HTTP server:
//! [`sandbox`], the sandbox definitions, with [`packages`], what a
//! sandbox that extends another adds to its image; [`spec`], the hardening spec (a
//! pure function from a sandbox to a create body), with [`seccomp`], the
//! syscall profile it carries, and [`uids`], the user each container runs
//! as; [`calls`], the Engine API calls snipbox makes.

pub mod calls;
pub mod packages;
pub mod sandbox;
pub mod seccomp;
pub mod spec;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod uids;
