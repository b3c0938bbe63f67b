//! Query strings: parsed strictly (no key twice, no `;`, only the keys a
//! call takes, values of their kind) and forwarded as the guard's own
//! encoding. Container lists always carry this deployment's label filter.

use std::collections::BTreeMap;

use snipbox_spec::spec::{LABEL, LABEL_INSTANCE};

use crate::refusal::{Refusal, Rule};
use crate::route::Call;
use crate::strict;

/// The client's query parameters, each key once.
#[derive(Debug, Default)]
pub struct Params(BTreeMap<String, String>);

impl Params {
    pub fn parse(raw: Option<&str>) -> Result<Params, Refusal> {
        let raw = raw.unwrap_or("");
        if raw.contains(';') {
            return Err(refuse(
                "`;` in the query (read as a separator by some parsers)",
            ));
        }
        let mut map = BTreeMap::new();
        for (k, v) in form_urlencoded::parse(raw.as_bytes()) {
            if map.insert(k.to_string(), v.to_string()).is_some() {
                return Err(refuse(&format!("parameter `{k}` appears twice")));
            }
        }
        Ok(Params(map))
    }

    /// Takes a parameter out; what is left at the end is refused.
    pub fn take(&mut self, key: &str) -> Option<String> {
        self.0.remove(key)
    }

    fn take_bool(&mut self, key: &str) -> Result<Option<bool>, Refusal> {
        match self.take(key).as_deref() {
            None => Ok(None),
            Some("1" | "true") => Ok(Some(true)),
            Some("0" | "false") => Ok(Some(false)),
            Some(v) => Err(refuse(&format!("`{key}={v}`: expected true or false"))),
        }
    }

    fn done(self) -> Result<(), Refusal> {
        match self.0.keys().next() {
            None => Ok(()),
            Some(k) => Err(refuse(&format!("parameter `{k}` is not one snipbox sends"))),
        }
    }
}

fn refuse(why: &str) -> Refusal {
    Refusal::new(Rule::Query, why)
}

/// The query forwarded for `call` (without `?`). Create's `name` must have
/// been taken out before: it is judged with the body.
pub fn forwarded(call: &Call, mut p: Params, instance: &str) -> Result<String, Refusal> {
    let mut out = form_urlencoded::Serializer::new(String::new());
    match call {
        Call::Create => {
            if p.take("platform").is_some_and(|v| !v.is_empty()) {
                return Err(refuse(
                    "`platform`: sandboxes run on the engine's own platform",
                ));
            }
        }
        Call::Attach(_) => bools(
            &mut p,
            &mut out,
            &["logs", "stream", "stdin", "stdout", "stderr"],
        )?,
        Call::Delete(_) => {
            if p.take_bool("link")? == Some(true) {
                return Err(refuse("`link=true`: snipbox removes containers, not links"));
            }
            bools(&mut p, &mut out, &["force", "v"])?;
        }
        Call::List => {
            bools(&mut p, &mut out, &["all", "size"])?;
            if let Some(limit) = p.take("limit") {
                let n: u32 = limit
                    .parse()
                    .map_err(|_| refuse("`limit` is not a count"))?;
                out.append_pair("limit", &n.to_string());
            }
            out.append_pair("filters", &list_filters(p.take("filters"), instance)?);
        }
        Call::Inspect(_) => bools(&mut p, &mut out, &["size"])?,
        Call::Ping | Call::Version | Call::InspectImage(_) | Call::Start(_) => {}
    }
    p.done()?;
    Ok(out.finish())
}

/// Moves the boolean parameters `keys` from `p` to `out`, spelled plainly.
fn bools(
    p: &mut Params,
    out: &mut form_urlencoded::Serializer<'_, String>,
    keys: &[&str],
) -> Result<(), Refusal> {
    for key in keys {
        if let Some(b) = p.take_bool(key)? {
            out.append_pair(key, if b { "true" } else { "false" });
        }
    }
    Ok(())
}

/// The client's filters (labels and states only) plus this deployment's
/// labels: the engine joins label filters with AND, so the list holds
/// nothing but this deployment's containers.
fn list_filters(raw: Option<String>, instance: &str) -> Result<String, Refusal> {
    let mut filters: BTreeMap<String, Vec<String>> = match raw.as_deref() {
        None | Some("") => BTreeMap::new(),
        Some(text) => strict::parse(text.as_bytes())
            .and_then(serde_json::from_value)
            .map_err(|e| {
                refuse(&format!(
                    "`filters`: expected {{\"key\": [\"value\", …]}}: {e}"
                ))
            })?,
    };
    const STATES: [&str; 7] = [
        "created",
        "restarting",
        "running",
        "removing",
        "paused",
        "exited",
        "dead",
    ];
    for (key, values) in &filters {
        let ok = match key.as_str() {
            "label" => true,
            "status" => values.iter().all(|v| STATES.contains(&v.as_str())),
            _ => false,
        };
        if !ok {
            return Err(refuse(&format!(
                "filter `{key}` {values:?} is not one snipbox uses"
            )));
        }
    }
    let labels = filters.entry("label".into()).or_default();
    labels.push(format!("{LABEL}=1"));
    labels.push(format!("{LABEL_INSTANCE}={instance}"));
    Ok(serde_json::to_string(&filters).expect("filters serialise"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn fwd(call: Call, raw: &str) -> Result<String, Rule> {
        let p = Params::parse(Some(raw)).map_err(|r| r.rule)?;
        forwarded(&call, p, "docs").map_err(|r| r.rule)
    }

    fn decoded(query: &str) -> Vec<(String, String)> {
        form_urlencoded::parse(query.as_bytes())
            .map(|(k, v)| (k.into(), v.into()))
            .collect()
    }

    #[test]
    fn bollards_queries_pass_re_encoded() {
        assert_eq!(
            fwd(
                Call::Attach(ID.into()),
                "logs=false&stream=true&stdin=true&stdout=true&stderr=true"
            ),
            Ok("logs=false&stream=true&stdin=true&stdout=true&stderr=true".into())
        );
        assert_eq!(fwd(Call::Create, "platform="), Ok("".into()));
        assert_eq!(
            fwd(Call::Delete(ID.into()), "v=false&force=true&link=false"),
            Ok("force=true&v=false".into())
        );
        assert_eq!(fwd(Call::Start(ID.into()), ""), Ok("".into()));
    }

    #[test]
    fn a_list_is_always_narrowed_to_this_deployment() {
        let q = fwd(Call::List, "all=true").unwrap();
        let filters = &decoded(&q)[1];
        assert_eq!(filters.0, "filters");
        assert_eq!(
            filters.1,
            r#"{"label":["snipbox=1","snipbox.instance=docs"]}"#
        );
        let asked = r#"{"label":["snipbox.server=abc"],"status":["created","exited"]}"#;
        let q = fwd(Call::List, &format!("all=1&filters={asked}")).unwrap();
        let filters: serde_json::Value = serde_json::from_str(&decoded(&q)[1].1).unwrap();
        assert_eq!(
            filters["label"],
            serde_json::json!(["snipbox.server=abc", "snipbox=1", "snipbox.instance=docs"])
        );
        assert_eq!(filters["status"], serde_json::json!(["created", "exited"]));
    }

    #[test]
    fn list_filters_other_than_labels_and_states_are_refused() {
        for f in [
            r#"{"name":["x"]}"#,
            r#"{"status":["anything"]}"#,
            r#"{"label":{"snipbox=1":true}}"#,
            r#"{"label":["a"],"label":["b"]}"#,
            "not json",
        ] {
            assert_eq!(
                fwd(Call::List, &format!("filters={f}")),
                Err(Rule::Query),
                "{f}"
            );
        }
    }

    #[test]
    fn unknown_repeated_or_odd_parameters_are_refused() {
        for (call, q) in [
            (Call::Create, "platform=linux/arm64"),
            (Call::Create, "other=1"),
            (Call::Start(ID.into()), "detachKeys=ctrl-x"),
            (Call::Attach(ID.into()), "detachKeys=ctrl-x"),
            (Call::Attach(ID.into()), "stdin=true&stdin=false"),
            (Call::Attach(ID.into()), "stdin=yes"),
            (Call::Attach(ID.into()), "stdin=true;logs=true"),
            (Call::Delete(ID.into()), "link=true"),
            (Call::List, "limit=-1"),
        ] {
            assert_eq!(fwd(call.clone(), q), Err(Rule::Query), "{call:?} {q}");
        }
    }
}
