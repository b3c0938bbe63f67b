//! What snipbox may ask of the engine, from the server's own code: a
//! create body must be exactly the one `snipbox_spec::spec` builds for
//! the sandbox whose image it names, with this deployment's labels, and
//! the container's name the one its labels give, and its user one UID of
//! the deployment's run range (as UID and GID). Nothing is copied from
//! the spec, so the guard and the server cannot drift apart.
//!
//! The body is read strictly (a key twice is refused) and compared field
//! by field, names spelled exactly: the engine matches field names without
//! regard to case, so `hostconfig` or `privileged` would be read as
//! `HostConfig` or `Privileged` there. What is forwarded is the spec's body
//! encoded by the guard, never the client's bytes.

use serde_json::Value;
use snipbox_spec::sandbox::{Catalog, Sandbox};
use snipbox_spec::spec::{LABEL_RUN, LABEL_SERVER, Owner, container_body, create_body};
use snipbox_spec::uids::{self, UidRange};

use crate::refusal::{Refusal, Rule};
use crate::strict;

/// A create call the guard forwards.
#[derive(Debug)]
pub struct Approved {
    /// The canonical body, as the guard encodes it.
    pub body: Vec<u8>,
    /// The container's name (`snipbox-<sandbox>-<run>`).
    pub name: String,
    pub sandbox: String,
}

/// The sandboxes of this deployment and its name.
#[derive(Debug)]
pub struct Policy {
    catalog: Catalog,
    instance: String,
    run_uids: UidRange,
}

impl Policy {
    pub fn new(catalog: Catalog, instance: &str, run_uids: UidRange) -> Self {
        Policy {
            catalog,
            instance: instance.into(),
            run_uids,
        }
    }

    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// The sandbox whose image this is.
    fn sandbox(&self, image: &str) -> Option<&Sandbox> {
        self.catalog.iter().find(|s| s.image() == image)
    }

    /// Whether `image` may be inspected: only sandbox images may.
    pub fn check_image(&self, image: &str) -> Result<(), Refusal> {
        match self.sandbox(image) {
            Some(_) => Ok(()),
            None => Err(Refusal::new(
                Rule::ImageInspect,
                format!("{image} is not a sandbox image"),
            )),
        }
    }

    /// Judges a create call: its `name` parameter and its body.
    pub fn judge_create(&self, name: Option<&str>, body: &[u8]) -> Result<Approved, Refusal> {
        let refuse = |why: String| Refusal::new(Rule::CreateBody, why);
        let sent = strict::parse(body)
            .map_err(|e| refuse(format!("the body is not JSON with each key once: {e}")))?;
        let image = sent
            .get("Image")
            .and_then(Value::as_str)
            .ok_or_else(|| refuse("the body names no `Image` (spelled exactly so)".into()))?;
        let sandbox = self
            .sandbox(image)
            .ok_or_else(|| refuse(format!("image {image} is not a sandbox image")))?;
        let label = |key: &str| -> Result<&str, Refusal> {
            let value = sent
                .get("Labels")
                .and_then(|l| l.get(key))
                .and_then(Value::as_str);
            value.filter(|v| plain_token(v)).ok_or_else(|| {
                refuse(format!(
                    "label `{key}` must be a plain token (a-z, 0-9, at most 64)"
                ))
            })
        };
        let owner = Owner {
            instance: &self.instance,
            server: label(LABEL_SERVER)?,
            sandbox: &sandbox.name,
            run: label(LABEL_RUN)?,
        };
        let user = sent.get("User").and_then(Value::as_str).unwrap_or("");
        let uid = uids::parse_user(self.run_uids, user).ok_or_else(|| {
            refuse(format!(
                "`User` is {user:?}: it must be UID:GID, one number of the run range {} twice",
                self.run_uids
            ))
        })?;
        let canonical = container_body(&create_body(sandbox), &owner, uid);
        let expected = serde_json::to_value(&canonical).expect("a create body serialises");
        if let Some(difference) = differ("", &sent, &expected) {
            return Err(refuse(format!(
                "{difference} (sandbox {}, instance {})",
                sandbox.name, self.instance
            )));
        }
        let want = owner.name();
        if name != Some(want.as_str()) {
            return Err(Refusal::new(
                Rule::CreateName,
                format!("the container name must be {want:?}, not {name:?}"),
            ));
        }
        Ok(Approved {
            body: serde_json::to_vec(&canonical).expect("a create body serialises"),
            name: want,
            sandbox: sandbox.name.clone(),
        })
    }
}

/// A label value snipbox generates: lowercase letters and digits.
fn plain_token(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// The first place where `sent` is not `expected`, in words; `None` when
/// they are the same JSON.
fn differ(at: &str, sent: &Value, expected: &Value) -> Option<String> {
    let path = |key: &str| {
        if at.is_empty() {
            key.to_string()
        } else {
            format!("{at}.{key}")
        }
    };
    match (sent, expected) {
        (Value::Object(s), Value::Object(e)) => {
            if let Some(key) = s.keys().find(|k| !e.contains_key(*k)) {
                let alike = e.keys().find(|c| c.to_lowercase() == key.to_lowercase());
                return Some(match alike {
                    Some(c) => format!(
                        "`{}` is not spelled as `{}` (the engine reads field names regardless of case)",
                        path(key),
                        path(c)
                    ),
                    None => format!("`{}` is not part of snipbox's spec", path(key)),
                });
            }
            if let Some(key) = e.keys().find(|k| !s.contains_key(*k)) {
                return Some(format!("`{}` is missing", path(key)));
            }
            s.iter().find_map(|(k, v)| differ(&path(k), v, &e[k]))
        }
        (Value::Array(s), Value::Array(e)) if s.len() == e.len() => s
            .iter()
            .zip(e)
            .enumerate()
            .find_map(|(i, (s, e))| differ(&format!("{at}[{i}]"), s, e)),
        _ if sent == expected => None,
        _ => Some(format!(
            "`{at}` is {}, snipbox's spec says {}",
            short(sent),
            short(expected)
        )),
    }
}

/// A value in a message, cut short.
fn short(v: &Value) -> String {
    let text = v.to_string();
    match text.char_indices().nth(120) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text,
    }
}

#[cfg(test)]
mod tests;
