//! The embeddable widget. It speaks the API through `snipbox_wire::api`.

pub use snipbox_wire::api::{ExecRequest, ExecResponse};
