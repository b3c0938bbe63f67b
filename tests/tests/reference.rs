//! Facts the docs hold that the code knows are made from the code: the
//! flags tables of docs/configuration.md and docs/deploy.md (every cell
//! from clap: the flag, its environment variable, its default and its help,
//! which is the doc comment of its field) and the lists of Engine API calls
//! in docs/deploy.md (`snipbox_spec::calls`). Each test fails when a page
//! differs from what the code makes; `SNIPBOX_BLESS=1` writes it instead.
//! No Docker needed (`make check` runs it).

use clap::CommandFactory;

/// The flags table of `command`, every cell from clap: the flag, its
/// environment variable, its default (clap's, else the help's
/// "(default: …)", else none) and its help.
fn render(command: &clap::Command) -> String {
    let mut out =
        String::from("| flag | environment | default | meaning |\n| --- | --- | --- | --- |\n");
    for arg in command.get_arguments() {
        let Some(long) = arg.get_long() else { continue };
        if long == "help" || long == "version" {
            continue;
        }
        let help = arg
            .get_long_help()
            .or(arg.get_help())
            .map(|h| h.to_string())
            .unwrap_or_default();
        let mut help = help.split_whitespace().collect::<Vec<_>>().join(" ");
        let mut described = None;
        if let Some(at) = help.find(" (default: ") {
            let end = help[at..]
                .find(')')
                .map(|e| at + e)
                .expect("a closing parenthesis");
            described = Some(help[at + 11..end].to_string());
            help.replace_range(at..=end, "");
        }
        if !help.ends_with('.') {
            help.push('.');
        }
        let defaults: Vec<String> = arg
            .get_default_values()
            .iter()
            .map(|d| d.to_string_lossy().into_owned())
            .collect();
        let default = if defaults.is_empty() {
            described.unwrap_or_else(|| "none".into())
        } else {
            format!("`{}`", defaults.join(","))
        };
        let env = arg
            .get_env()
            .map(|e| format!("`{}`", e.to_string_lossy()))
            .unwrap_or_default();
        out += &format!("| `--{long}` | {env} | {default} | {help} |\n");
    }
    out
}

/// The list of `calls`, one line each: the call and why it is made.
fn list(calls: &[snipbox_spec::calls::Call]) -> String {
    calls
        .iter()
        .map(|c| format!("- `{}`: {}\n", c.line(), c.why))
        .collect()
}

/// The block (a table, a list) after the line `<!-- NAME: … -->` in
/// `file` is `block`, or is made so under `SNIPBOX_BLESS=1`.
fn generated(file: &str, name: &str, block: &str) {
    let path = snipbox_tests::root().join(file);
    let page = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{file}: {e}"));
    let marker = format!("<!-- {name}: ");
    let at = page
        .find(&marker)
        .unwrap_or_else(|| panic!("{file} has no {marker:?} line"));
    let start = at + page[at..].find('\n').expect("a line") + 1;
    let len: usize = page[start..]
        .split_inclusive('\n')
        .take_while(|l| l.starts_with(['|', '-']))
        .map(str::len)
        .sum();
    let written = &page[start..start + len];
    if written == block {
        return;
    }
    if std::env::var_os("SNIPBOX_BLESS").is_some() {
        let new = format!("{}{block}{}", &page[..start], &page[start + len..]);
        std::fs::write(&path, new).expect("the page is written");
        return;
    }
    panic!(
        "{file}: {name} differs from the code; rewrite it with \
         SNIPBOX_BLESS=1 cargo test -p snipbox-tests --test reference\n--- the page ---\n\
         {written}--- the code's ---\n{block}"
    );
}

#[test]
fn the_servers_flags_make_its_table() {
    generated(
        "docs/configuration.md",
        "flags of snipbox",
        &render(&snipbox::config::Cli::command()),
    );
}

#[test]
fn the_image_builders_flags_make_its_table() {
    let mut cli = snipbox::config::Cli::command();
    let images = cli.find_subcommand_mut("images").expect("snipbox images");
    generated("docs/deploy.md", "flags of snipbox images", &render(images));
}

#[test]
fn the_docs_checkers_flags_make_its_table() {
    let mut cli = snipbox::config::Cli::command();
    let verify = cli.find_subcommand_mut("verify").expect("snipbox verify");
    generated("docs/verify.md", "flags of snipbox verify", &render(verify));
}

#[test]
fn the_guards_flags_make_its_table() {
    generated(
        "docs/configuration.md",
        "flags of snipbox-guard",
        &render(&snipbox_guard::config::Config::command()),
    );
}

#[test]
fn the_engine_api_calls_make_their_lists() {
    use snipbox_spec::calls;
    generated(
        "docs/deploy.md",
        "calls of the server",
        &list(&calls::SERVER),
    );
    generated(
        "docs/deploy.md",
        "calls of the image builder",
        &list(&calls::BUILDER),
    );
}
