//! docs/configuration.md against the flags themselves: every flag of the
//! server and of the guard has its row there, with its environment
//! variable and its default, and every row names a flag that exists. No
//! Docker needed (`make check` runs it).

use std::collections::BTreeMap;

use clap::CommandFactory;

/// A row of a flags table: environment variable and default, as written.
#[derive(Debug, PartialEq)]
struct Row {
    env: String,
    default: String,
}

/// The flags table that follows the first line containing `after`, by flag.
fn documented(after: &str) -> BTreeMap<String, Row> {
    let page = std::fs::read_to_string(snipbox_tests::root().join("docs/configuration.md"))
        .expect("docs/configuration.md");
    let start = page.find(after).unwrap_or_else(|| panic!("no {after:?}"));
    let rows = page[start..]
        .lines()
        .skip_while(|l| !l.starts_with("| flag | environment"))
        .skip(2)
        .take_while(|l| l.starts_with('|'));
    let mut table = BTreeMap::new();
    for line in rows {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let flag = cells[1].trim_matches('`');
        if flag.is_empty() {
            continue; // An environment variable without a flag (RUST_LOG).
        }
        let row = Row {
            env: cells[2].trim_matches('`').to_string(),
            default: cells[3].to_string(),
        };
        assert!(
            table.insert(flag.to_string(), row).is_none(),
            "{flag} twice"
        );
    }
    assert!(!table.is_empty(), "no flags table after {after:?}");
    table
}

/// The flags `command` takes, as the page should show them.
fn flags(command: clap::Command) -> BTreeMap<String, Row> {
    command
        .get_arguments()
        .filter_map(|arg| {
            let long = arg.get_long()?;
            if long == "help" || long == "version" {
                return None;
            }
            let env = arg.get_env().map(|e| e.to_string_lossy().into_owned());
            let defaults: Vec<String> = arg
                .get_default_values()
                .iter()
                .map(|d| d.to_string_lossy().into_owned())
                .collect();
            let default = match defaults.as_slice() {
                [] => String::new(),
                values => format!("`{}`", values.join(",")),
            };
            Some((
                format!("--{long}"),
                Row {
                    env: env.unwrap_or_default(),
                    default,
                },
            ))
        })
        .collect()
}

/// Each flag's row, and no row of a flag that does not exist. A flag
/// without a default of clap's is described in words (`none`, `2 × CPU
/// cores`), never as a literal value.
fn agree(page: BTreeMap<String, Row>, flags: BTreeMap<String, Row>) {
    let page_flags: Vec<&String> = page.keys().collect();
    let real_flags: Vec<&String> = flags.keys().collect();
    assert_eq!(
        page_flags, real_flags,
        "the page's flags, then the real ones"
    );
    for (flag, real) in &flags {
        let row = &page[flag];
        assert_eq!(row.env, real.env, "{flag}: environment variable");
        if real.default.is_empty() {
            let literal = row.default.starts_with('`') && row.default.ends_with('`');
            assert!(
                !literal,
                "{flag} has no default, the page says {}",
                row.default
            );
        } else {
            assert_eq!(row.default, real.default, "{flag}: default");
        }
    }
}

#[test]
fn every_server_flag_is_on_the_configuration_page_as_it_is() {
    agree(
        documented("## The server"),
        flags(snipbox::config::Cli::command()),
    );
}

#[test]
fn every_guard_flag_is_on_the_configuration_page_as_it_is() {
    agree(
        documented("`snipbox-guard` (docker-compose.proxy.yml runs it"),
        flags(snipbox_guard::config::Config::command()),
    );
}
