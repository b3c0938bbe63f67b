//! Every Engine API call snipbox makes, in one list: the server's, which
//! snipbox-guard's allow-list matches one for one (its tests hold it to
//! this list), and the image builder's, which needs the engine itself.
//! The server's messages about a refused call and docs/deploy.md (made
//! from these lists by the reference test) name them from here.

/// One Engine API call: its method, its path (`{…}` for a part that
/// varies) and why snipbox makes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Call {
    pub method: &'static str,
    pub path: &'static str,
    pub why: &'static str,
}

impl Call {
    /// `METHOD /path`, as a person reads it.
    pub fn line(&self) -> String {
        format!("{} {}", self.method, self.path)
    }

    /// The call with its varying part (the one `{…}` of its path) filled.
    pub fn with(&self, part: &str) -> String {
        match (self.path.find('{'), self.path.find('}')) {
            (Some(open), Some(close)) => format!(
                "{} {}{part}{}",
                self.method,
                &self.path[..open],
                &self.path[close + 1..]
            ),
            _ => self.line(),
        }
    }
}

pub const PING: Call = Call {
    method: "GET",
    path: "/_ping",
    why: "whether the engine answers (`HEAD` too)",
};
pub const VERSION: Call = Call {
    method: "GET",
    path: "/version",
    why: "the API version to speak",
};
pub const CREATE: Call = Call {
    method: "POST",
    path: "/containers/create",
    why: "a sandbox's container, with the hardening spec's body",
};
pub const ATTACH: Call = Call {
    method: "POST",
    path: "/containers/{id}/attach",
    why: "the agent's stdin and stdout, the job's channel",
};
pub const START: Call = Call {
    method: "POST",
    path: "/containers/{id}/start",
    why: "starting it",
};
pub const INSPECT: Call = Call {
    method: "GET",
    path: "/containers/{id}/json",
    why: "whether a container lost mid-run was OOM-killed (its own containers only)",
};
pub const DELETE: Call = Call {
    method: "DELETE",
    path: "/containers/{id}",
    why: "removing it after its one run",
};
pub const LIST: Call = Call {
    method: "GET",
    path: "/containers/json",
    why: "its own containers, to remove those an earlier process left",
};
pub const INSPECT_IMAGE: Call = Call {
    method: "GET",
    path: "/images/{name}/json",
    why: "whether a sandbox's image is there (the self-check; the builder: sandbox and base images)",
};
pub const PULL: Call = Call {
    method: "POST",
    path: "/images/create",
    why: "pulling a missing base image",
};
pub const BUILD: Call = Call {
    method: "POST",
    path: "/build",
    why: "building a sandbox image",
};
pub const REMOVE_IMAGE: Call = Call {
    method: "DELETE",
    path: "/images/{id}",
    why: "the image a build replaced, when no container uses it",
};

/// What the server calls, and all snipbox-guard forwards.
pub const SERVER: [Call; 9] = [
    PING,
    VERSION,
    CREATE,
    ATTACH,
    START,
    INSPECT,
    DELETE,
    LIST,
    INSPECT_IMAGE,
];

/// What `snipbox images` calls, with the engine's socket itself.
pub const BUILDER: [Call; 6] = [PING, VERSION, INSPECT_IMAGE, PULL, BUILD, REMOVE_IMAGE];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_reads_as_its_method_and_path_and_fills_its_varying_part() {
        assert_eq!(PING.line(), "GET /_ping");
        assert_eq!(START.with("abc"), "POST /containers/abc/start");
        assert_eq!(
            INSPECT_IMAGE.with("snipbox/python:latest"),
            "GET /images/snipbox/python:latest/json"
        );
        assert_eq!(VERSION.with("x"), "GET /version");
    }
}
