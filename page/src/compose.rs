//! Putting a run together: a snippet's `depends-on` chain, its template
//! and its extra files, read from the page's other blocks.

use crate::options::Options;

/// What a run asks for: the fields of `POST /v1/exec`'s request, with the
/// files as a list (name, contents; the entry file is named "").
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Job {
    pub sandbox: String,
    pub version: String,
    pub command: String,
    pub files: Vec<(String, String)>,
    pub stdin: Option<String>,
    /// The reader types the program's input while it runs.
    pub interactive: bool,
}

/// What a run reads of another block of the page, by its id.
pub trait Blocks {
    /// The current code of the block with this id, if the page has one.
    fn code(&self, id: &str) -> Option<String>;
    /// The ids the block with this id depends on (none for a block that
    /// does not run); `None` if the page has no such block.
    fn depends_on(&self, id: &str) -> Option<Vec<String>>;
}

/// The request a snippet sends: its dependencies' code, then its own
/// (`code`), put into its template; the extra files it names.
pub fn job(options: &Options, code: String, page: &impl Blocks) -> Result<Job, String> {
    if let Some(problem) = &options.problem {
        return Err(problem.clone());
    }
    let order = run_order(options.id.as_deref(), &options.depends_on, |id| {
        page.depends_on(id)
    })?;
    let mut parts: Vec<String> = order.iter().filter_map(|id| page.code(id)).collect();
    parts.push(code);
    let mut code = parts.join("\n");
    if let Some(id) = &options.template {
        let template = page
            .code(id)
            .ok_or_else(|| format!("template: no block #{id} on this page"))?;
        code = apply_template(id, &template, &code)?;
    }
    let mut files = vec![(String::new(), code)];
    for (id, name) in &options.files {
        let text = page
            .code(id)
            .ok_or_else(|| format!("files: no block #{id} on this page"))?;
        files.push((name.clone().unwrap_or_else(|| id.clone()), text));
    }
    Ok(Job {
        sandbox: options.sandbox.clone(),
        version: options.version.clone(),
        command: options.command.clone(),
        files,
        stdin: options.stdin.clone(),
        interactive: options.interactive,
    })
}

/// A page's blocks as written, with the options of those that run: what
/// `snipbox verify` runs (no reader has edited them).
pub struct Written<'a, P: crate::Page> {
    pub page: &'a P,
    /// The runnable blocks' options (a later block of the same id wins, as
    /// in the widget).
    pub runnable: &'a [Options],
}

impl<P: crate::Page> Written<'_, P> {
    fn runnable(&self, id: &str) -> Option<&Options> {
        self.runnable
            .iter()
            .rev()
            .find(|o| o.id.as_deref() == Some(id))
    }
}

impl<P: crate::Page> Blocks for Written<'_, P> {
    fn code(&self, id: &str) -> Option<String> {
        match self.runnable(id) {
            Some(o) => Some(o.code.clone()),
            None => self.page.by_id(id).map(|e| crate::find::text(&e)),
        }
    }

    fn depends_on(&self, id: &str) -> Option<Vec<String>> {
        match self.runnable(id) {
            Some(o) => Some(o.depends_on.clone()),
            None => self.page.by_id(id).map(|_| Vec::new()),
        }
    }
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
