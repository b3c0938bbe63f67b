//! Putting a run together: a snippet's `depends-on` chain, its template
//! and its extra files, read from the page's other snippets (their current
//! code) or plain blocks when Run is pressed.

use std::cell::RefCell;

use leptos::prelude::*;

use crate::dom::text_of;
use crate::json::Job;
use crate::options::Options;

/// A mounted snippet, as other snippets of the page see it.
#[derive(Clone)]
struct Entry {
    code: RwSignal<String>,
    depends_on: Vec<String>,
}

thread_local! {
    /// The page's snippets by id, for `depends-on` and `files`. (A page
    /// has a few dozen at most: a list costs less code than a map.)
    static SNIPPETS: RefCell<Vec<(String, Entry)>> = const { RefCell::new(Vec::new()) };
}

/// Makes a mounted snippet's code visible to the others under its id (a
/// later snippet of the same id replaces an earlier one).
pub fn register(id: &str, code: RwSignal<String>, depends_on: Vec<String>) {
    SNIPPETS.with_borrow_mut(|s| {
        s.retain(|(other, e)| other != id && !e.code.is_disposed());
        s.push((id.to_string(), Entry { code, depends_on }));
    });
}

/// The mounted snippet with this id (not one taken off the page since).
fn entry(id: &str) -> Option<Entry> {
    SNIPPETS.with_borrow(|s| {
        s.iter()
            .find(|(i, e)| i == id && !e.code.is_disposed())
            .map(|(_, e)| e.clone())
    })
}

/// The current code of the snippet or block with this id.
fn code_of(id: &str) -> Option<String> {
    entry(id)
        .map(|e| e.code.get_untracked())
        .or_else(|| text_of(&web_sys::window()?.document()?, id))
}

/// The request a snippet sends: its dependencies' code, then its own, put
/// into its template; the extra files it names.
pub fn job(options: &Options, code: String) -> Result<Job, String> {
    if let Some(problem) = &options.problem {
        return Err(problem.clone());
    }
    let deps_of = |id: &str| match entry(id) {
        Some(e) => Some(e.depends_on),
        None => code_of(id).map(|_| Vec::new()),
    };
    let order = run_order(options.id.as_deref(), &options.depends_on, deps_of)?;
    let mut parts: Vec<String> = order.iter().filter_map(|id| code_of(id)).collect();
    parts.push(code);
    let mut code = parts.join("\n");
    if let Some(id) = &options.template {
        let template =
            code_of(id).ok_or_else(|| format!("template: no block #{id} on this page"))?;
        code = apply_template(id, &template, &code)?;
    }
    let mut files = vec![(String::new(), code)];
    for (id, name) in &options.files {
        let text = code_of(id).ok_or_else(|| format!("files: no block #{id} on this page"))?;
        files.push((name.clone().unwrap_or_else(|| id.clone()), text));
    }
    Ok(Job {
        sandbox: options.sandbox.clone(),
        version: options.version.clone(),
        command: options.command.clone(),
        files,
        stdin: options.stdin.clone(),
    })
}

/// The ids to run before a snippet, dependencies first, each once:
/// `deps_of(id)` is `None` for an id the page does not have. A cycle is an
/// error naming it.
pub fn run_order(
    own: Option<&str>,
    depends_on: &[String],
    deps_of: impl Fn(&str) -> Option<Vec<String>>,
) -> Result<Vec<String>, String> {
    let mut path: Vec<String> = own.map(str::to_string).into_iter().collect();
    let mut order = Vec::new();
    for dep in depends_on {
        visit(dep, &mut path, &mut order, &deps_of)?;
    }
    Ok(order)
}

/// Depth first from `id`: its dependencies into `order`, then itself;
/// `path` is the chain that led here (a repeat in it is a cycle).
fn visit(
    id: &str,
    path: &mut Vec<String>,
    order: &mut Vec<String>,
    deps_of: &impl Fn(&str) -> Option<Vec<String>>,
) -> Result<(), String> {
    if order.iter().any(|o| o == id) {
        return Ok(());
    }
    if let Some(at) = path.iter().position(|p| p == id) {
        let cycle: Vec<String> = path[at..]
            .iter()
            .chain([&id.to_string()])
            .map(|p| format!("#{p}"))
            .collect();
        return Err(format!("depends-on has a cycle: {}", cycle.join(" → ")));
    }
    let deps = deps_of(id).ok_or_else(|| format!("depends-on: no block #{id} on this page"))?;
    path.push(id.to_string());
    for dep in &deps {
        visit(dep, path, order, deps_of)?;
    }
    path.pop();
    order.push(id.to_string());
    Ok(())
}

/// The template with its `##CODE##` replaced by the code.
pub fn apply_template(id: &str, template: &str, code: &str) -> Result<String, String> {
    if !template.contains("##CODE##") {
        return Err(format!("template #{id} has no ##CODE## to replace"));
    }
    Ok(template.replace("##CODE##", code))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::options::ids;

    fn graph(edges: &[(&str, &[&str])]) -> impl Fn(&str) -> Option<Vec<String>> {
        let map: HashMap<String, Vec<String>> = edges
            .iter()
            .map(|(k, v)| (k.to_string(), v.iter().map(|s| s.to_string()).collect()))
            .collect();
        move |id| map.get(id).cloned()
    }

    #[test]
    fn dependencies_come_first_and_once() {
        let g = graph(&[("a", &[]), ("b", &["a"]), ("c", &["a", "b"])]);
        let order = run_order(Some("d"), &ids("#c #b"), g).unwrap();
        assert_eq!(order, ["a", "b", "c"]);
    }

    #[test]
    fn a_cycle_is_named() {
        let g = graph(&[("a", &["b"]), ("b", &["a"])]);
        let err = run_order(Some("x"), &ids("a"), g).unwrap_err();
        assert_eq!(err, "depends-on has a cycle: #a → #b → #a");
    }

    #[test]
    fn depending_on_itself_is_a_cycle() {
        let g = graph(&[("a", &["me"]), ("me", &["a"])]);
        let err = run_order(Some("me"), &ids("a"), g).unwrap_err();
        assert_eq!(err, "depends-on has a cycle: #me → #a → #me");
    }

    #[test]
    fn a_missing_dependency_is_named() {
        let g = graph(&[("a", &["gone"])]);
        let err = run_order(None, &ids("a"), g).unwrap_err();
        assert_eq!(err, "depends-on: no block #gone on this page");
    }

    #[test]
    fn templates_need_their_marker() {
        assert_eq!(
            apply_template("t", "a\n##CODE##\nb", "x").unwrap(),
            "a\nx\nb"
        );
        assert!(apply_template("t", "no marker", "x").is_err());
    }
}
