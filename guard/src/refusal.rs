//! Why a request is not forwarded, and the JSON answer that says so. The
//! answer has Docker's own error shape (`message`), which clients such as
//! bollard show as it is, plus the rule's name.

use bytes::Bytes;
use hyper::StatusCode;

/// The rules a request can break, each named in the refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// The method and path are not a call snipbox makes.
    AllowList,
    /// The path is ambiguous: dot segments, empty segments, encoded
    /// slashes or percent signs, an old API version.
    Path,
    /// A query parameter is unknown, repeated or not of its kind.
    Query,
    /// The create body is not exactly the one snipbox's spec builds.
    CreateBody,
    /// The container name is not `snipbox-<sandbox>-<run>` of the body.
    CreateName,
    /// The body is larger than the guard reads.
    BodySize,
    /// A call that takes no body was sent one.
    NoBody,
    /// The container is not one of this deployment's.
    OwnContainers,
    /// The container does not exist (answered 404, as the engine would).
    NoSuchContainer,
    /// Image inspection of an image that is not a sandbox's.
    ImageInspect,
    /// Attach without the upgrade to a raw stream.
    AttachUpgrade,
    /// The engine did not answer.
    Engine,
}

impl Rule {
    pub fn name(self) -> &'static str {
        match self {
            Rule::AllowList => "allow-list",
            Rule::Path => "path",
            Rule::Query => "query",
            Rule::CreateBody => "create-body",
            Rule::CreateName => "create-name",
            Rule::BodySize => "body-size",
            Rule::NoBody => "no-body",
            Rule::OwnContainers => "own-containers",
            Rule::NoSuchContainer => "no-such-container",
            Rule::ImageInspect => "image-inspect",
            Rule::AttachUpgrade => "attach-upgrade",
            Rule::Engine => "engine",
        }
    }

    fn status(self) -> StatusCode {
        match self {
            Rule::BodySize => StatusCode::PAYLOAD_TOO_LARGE,
            Rule::Engine => StatusCode::BAD_GATEWAY,
            Rule::NoSuchContainer => StatusCode::NOT_FOUND,
            _ => StatusCode::FORBIDDEN,
        }
    }
}

/// A request the guard does not forward, and why.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message} (rule {})", rule.name())]
pub struct Refusal {
    pub rule: Rule,
    pub message: String,
}

impl Refusal {
    pub fn new(rule: Rule, message: impl Into<String>) -> Self {
        Refusal {
            rule,
            message: message.into(),
        }
    }

    pub fn status(&self) -> StatusCode {
        self.rule.status()
    }

    /// The JSON body answered for `call` (e.g. `POST /containers/create`).
    pub fn body(&self, call: &str) -> Bytes {
        let verb = if self.rule == Rule::Engine {
            "could not forward"
        } else {
            "refused"
        };
        serde_json::to_vec(&serde_json::json!({
            "message": format!("snipbox-guard {verb} {call}: {self}"),
            "rule": self.rule.name(),
        }))
        .expect("a JSON object serialises")
        .into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_is_docker_shaped_json_naming_the_rule() {
        let r = Refusal::new(
            Rule::CreateBody,
            "`HostConfig.Privileged` is not part of the spec",
        );
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        let v: serde_json::Value =
            serde_json::from_slice(&r.body("POST /containers/create")).unwrap();
        assert_eq!(v["rule"], "create-body");
        assert_eq!(
            v["message"],
            "snipbox-guard refused POST /containers/create: `HostConfig.Privileged` is not part of the spec (rule create-body)"
        );
        assert_eq!(
            Refusal::new(Rule::BodySize, "x").status(),
            StatusCode::PAYLOAD_TOO_LARGE
        );
    }
}
