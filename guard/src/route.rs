//! The allow-list: which calls pass, after the path is normalised. A path
//! is split into segments, each percent-decoded once; a segment that is
//! empty (`//`, a trailing slash), a dot segment (`.`, `..`, `%2e%2e`), or
//! that decodes to a slash, a backslash, a percent sign or a control
//! character is ambiguous and refused, never resolved. What is forwarded
//! is the guard's own path for the call, not the client's.

use hyper::Method;
use percent_encoding::percent_decode_str;

use crate::refusal::{Refusal, Rule};

/// The oldest Engine API version the guard forwards (Docker 20.10). Older
/// versions change how the engine reads a create body.
pub const MIN_API_MINOR: u32 = 41;

/// A call snipbox makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    /// `GET` or `HEAD /_ping`.
    Ping,
    Version,
    Create,
    List,
    /// Inspection of a sandbox image, by its `snipbox/NAME:latest` name.
    InspectImage(String),
    Attach(String),
    Start(String),
    /// Inspection of one of this deployment's containers (the server reads
    /// whether the kernel's OOM killer ended one it lost).
    Inspect(String),
    Delete(String),
}

impl Call {
    /// The container a call acts on.
    pub fn container(&self) -> Option<&str> {
        match self {
            Call::Attach(id) | Call::Start(id) | Call::Inspect(id) | Call::Delete(id) => Some(id),
            _ => None,
        }
    }

    /// The engine's path for the call, without an API version prefix.
    pub fn path(&self) -> String {
        match self {
            Call::Ping => "/_ping".into(),
            Call::Version => "/version".into(),
            Call::Create => "/containers/create".into(),
            Call::List => "/containers/json".into(),
            Call::InspectImage(image) => format!("/images/{image}/json"),
            Call::Attach(id) => format!("/containers/{id}/attach"),
            Call::Start(id) => format!("/containers/{id}/start"),
            Call::Inspect(id) => format!("/containers/{id}/json"),
            Call::Delete(id) => format!("/containers/{id}"),
        }
    }
}

/// A call and the API version the client asked for, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub call: Call,
    pub minor: Option<u32>,
}

impl Target {
    /// The path forwarded to the engine.
    pub fn path(&self) -> String {
        match self.minor {
            Some(minor) => format!("/v1.{minor}{}", self.call.path()),
            None => self.call.path(),
        }
    }
}

/// The call `method` on `path` (as sent, still percent-encoded) is, or why
/// it is refused.
pub fn route(method: &Method, path: &str) -> Result<Target, Refusal> {
    let mut segments = segments(path)?;
    let minor = match segments.first().map(|s| version(s)) {
        Some(Some(v)) => {
            segments.remove(0);
            Some(v?)
        }
        _ => None,
    };
    let s: Vec<&str> = segments.iter().map(String::as_str).collect();
    let call = match (method.as_str(), s.as_slice()) {
        ("GET" | "HEAD", ["_ping"]) => Call::Ping,
        ("GET", ["version"]) => Call::Version,
        ("POST", ["containers", "create"]) => Call::Create,
        ("GET", ["containers", "json"]) => Call::List,
        ("GET", ["containers", id, "json"]) => Call::Inspect(container_id(id)?),
        ("GET", ["images", name @ .., "json"]) if !name.is_empty() => {
            Call::InspectImage(name.join("/"))
        }
        ("POST", ["containers", id, "attach"]) => Call::Attach(container_id(id)?),
        ("POST", ["containers", id, "start"]) => Call::Start(container_id(id)?),
        ("DELETE", ["containers", id]) => Call::Delete(container_id(id)?),
        _ => {
            return Err(Refusal::new(
                Rule::AllowList,
                "not a call snipbox makes (allowed: _ping, version, containers create/json/attach/start/delete, inspection of this deployment's containers and of sandbox images)",
            ));
        }
    };
    Ok(Target { call, minor })
}

/// The path's segments, each decoded once; anything ambiguous refused.
fn segments(path: &str) -> Result<Vec<String>, Refusal> {
    let ambiguous = |why: &str| Err(Refusal::new(Rule::Path, format!("ambiguous path: {why}")));
    let Some(rest) = path.strip_prefix('/') else {
        return ambiguous("it does not start with /");
    };
    let mut out = Vec::new();
    if rest.is_empty() {
        return Ok(out);
    }
    for raw in rest.split('/') {
        if raw.is_empty() {
            return ambiguous("an empty segment (// or a trailing /)");
        }
        let Ok(seg) = percent_decode_str(raw).decode_utf8() else {
            return ambiguous("a segment is not UTF-8 once decoded");
        };
        if seg == "." || seg == ".." {
            return ambiguous("a dot segment (. or .., plain or percent-encoded)");
        }
        if seg.contains(['/', '\\', '%']) || seg.chars().any(char::is_control) {
            return ambiguous("a segment decodes to /, \\, % or a control character");
        }
        out.push(seg.into_owned());
    }
    Ok(out)
}

/// `Some` when the segment is an API version prefix (`v1.41`): its minor
/// version, or why it is refused. Only `v1.N` spelled plainly passes (no
/// leading zeros: one spelling, one reading).
fn version(segment: &str) -> Option<Result<u32, Refusal>> {
    let (major, minor) = segment.strip_prefix('v')?.split_once('.')?;
    let number = |s: &str| {
        let digits = !s.is_empty() && s.len() <= 3 && s.bytes().all(|b| b.is_ascii_digit());
        digits.then(|| s.parse::<u32>().ok()).flatten()
    };
    number(major)?;
    let n = number(minor)?;
    if major == "1" && n.to_string() == minor && n >= MIN_API_MINOR {
        return Some(Ok(n));
    }
    Some(Err(Refusal::new(
        Rule::Path,
        format!(
            "API version {segment}: the guard forwards v1.{MIN_API_MINOR} and later, spelled plainly"
        ),
    )))
}

/// A container as the guard accepts it: its full 64-character ID, the
/// form create answers with. Names and ID prefixes are resolved by the
/// engine and could name another container between check and use.
fn container_id(id: &str) -> Result<String, Refusal> {
    if id.len() == 64 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        Ok(id.to_string())
    } else {
        Err(Refusal::new(
            Rule::OwnContainers,
            format!("{id:?} is not a full container ID (names and ID prefixes are not accepted)"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn call(method: Method, path: &str) -> Result<Call, Rule> {
        route(&method, path).map(|t| t.call).map_err(|r| r.rule)
    }

    #[test]
    fn the_calls_snipbox_makes_pass_with_or_without_a_version() {
        assert_eq!(call(Method::GET, "/_ping"), Ok(Call::Ping));
        assert_eq!(call(Method::HEAD, "/v1.41/_ping"), Ok(Call::Ping));
        assert_eq!(call(Method::GET, "/version"), Ok(Call::Version));
        assert_eq!(
            call(Method::POST, "/v1.41/containers/create"),
            Ok(Call::Create)
        );
        assert_eq!(call(Method::GET, "/v1.47/containers/json"), Ok(Call::List));
        assert_eq!(
            call(Method::GET, "/images/snipbox/python:latest/json"),
            Ok(Call::InspectImage("snipbox/python:latest".into()))
        );
        for (verb, c) in [
            ("attach", Call::Attach(ID.into())),
            ("start", Call::Start(ID.into())),
        ] {
            assert_eq!(
                call(Method::POST, &format!("/containers/{ID}/{verb}")),
                Ok(c)
            );
        }
        assert_eq!(
            call(Method::DELETE, &format!("/v1.41/containers/{ID}")),
            Ok(Call::Delete(ID.into()))
        );
    }

    /// The allow-list is the server's list of calls, one for one: each of
    /// [`snipbox_spec::calls::SERVER`] routes, to a call whose path is the
    /// listed one, and no call the guard knows is missing from the list.
    #[test]
    fn the_allow_list_is_the_servers_list_of_calls() {
        let mut seen = Vec::new();
        for listed in snipbox_spec::calls::SERVER {
            let part = if listed.path.contains("{name}") {
                "snipbox/python:latest"
            } else {
                ID
            };
            let line = listed.with(part);
            let (method, path) = line.split_once(' ').unwrap();
            let routed = call(method.parse().unwrap(), path)
                .unwrap_or_else(|r| panic!("{line} is refused: {r:?}"));
            assert_eq!(routed.path(), path, "{line}");
            seen.push(std::mem::discriminant(&routed));
        }
        // A new kind of call stops the build here until it is listed below.
        let _every_kind = |c: &Call| match c {
            Call::Ping
            | Call::Version
            | Call::Create
            | Call::List
            | Call::InspectImage(_)
            | Call::Attach(_)
            | Call::Start(_)
            | Call::Inspect(_)
            | Call::Delete(_) => (),
        };
        let every = [
            Call::Ping,
            Call::Version,
            Call::Create,
            Call::List,
            Call::InspectImage(String::new()),
            Call::Attach(String::new()),
            Call::Start(String::new()),
            Call::Inspect(String::new()),
            Call::Delete(String::new()),
        ];
        for c in every {
            assert!(
                seen.contains(&std::mem::discriminant(&c)),
                "{c:?} is not listed"
            );
        }
    }

    #[test]
    fn the_forwarded_path_is_the_guards_own() {
        let t = route(&Method::POST, "/v1.41/containers/cre%61te").unwrap();
        assert_eq!(t.path(), "/v1.41/containers/create");
        let t = route(&Method::GET, "/_ping").unwrap();
        assert_eq!(t.path(), "/_ping");
    }

    #[test]
    fn a_container_of_this_deployment_may_be_inspected() {
        // Whose it is, the guard checks as for every call on a container.
        assert_eq!(
            call(Method::GET, &format!("/v1.41/containers/{ID}/json")),
            Ok(Call::Inspect(ID.into()))
        );
    }

    #[test]
    fn everything_else_is_refused_by_the_allow_list() {
        for (m, p) in [
            (Method::GET, "/images/json"),
            (Method::POST, "/images/create"),
            (Method::POST, "/build"),
            (Method::GET, "/info"),
            (Method::POST, "/volumes/create"),
            (Method::POST, "/networks/create"),
            (Method::POST, "/swarm/init"),
            (Method::GET, "/plugins"),
            (Method::POST, "/containers/prune"),
            (Method::PUT, "/containers/create"),
            (Method::POST, &format!("/containers/{ID}/json")),
            (Method::GET, &format!("/containers/{ID}/logs")),
            (Method::GET, &format!("/containers/{ID}/archive")),
            (Method::PUT, &format!("/containers/{ID}/archive")),
            (Method::POST, &format!("/containers/{ID}/exec")),
            // The server never waits: it hears a run's end from its agent.
            (Method::POST, &format!("/containers/{ID}/wait")),
            (Method::POST, "/exec/x/start"),
            (Method::GET, "/"),
        ] {
            assert_eq!(call(m.clone(), p), Err(Rule::AllowList), "{m} {p}");
        }
    }

    #[test]
    fn ambiguous_paths_are_refused_not_resolved() {
        for p in [
            "/v1.41/containers/../images/json",
            "/v1.41/containers/%2e%2e/images/json",
            "/v1.41/containers/%2E%2e/images/json",
            "/containers/./create",
            "//containers/create",
            "/containers//create",
            "/containers/create/",
            "/images/snipbox%2fpython:latest/json",
            "/containers/%25/start",
            "/containers/a%00b/start",
            "/containers/%ff/start",
            "containers/create",
            "",
        ] {
            assert_eq!(call(Method::POST, p), Err(Rule::Path), "{p}");
        }
    }

    #[test]
    fn old_or_odd_api_versions_are_refused() {
        for p in [
            "/v1.40/_ping",
            "/v1.24/containers/create",
            "/v2.0/_ping",
            "/v1.041/_ping",
        ] {
            assert_eq!(call(Method::GET, p), Err(Rule::Path), "{p}");
        }
    }

    #[test]
    fn containers_are_named_by_full_id_only() {
        for id in ["abc", &ID[..12], "snipbox-python-abc", &ID.to_uppercase()] {
            assert_eq!(
                call(Method::POST, &format!("/containers/{id}/start")),
                Err(Rule::OwnContainers),
                "{id}"
            );
        }
    }
}
