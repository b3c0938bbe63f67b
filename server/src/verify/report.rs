//! What `snipbox verify` says: a line per block (or a progress bar on a
//! terminal), each failure with its diff and where it is, a summary, and
//! a JUnit file for CI systems.

use std::path::Path;

use snipbox_wire::api::ExecResponse;

use super::site::{Check, PageFile};

/// How a block's check ended.
#[derive(Clone, Debug)]
pub(super) enum Outcome {
    Passed,
    /// It ran, and not as its page says: why, and a diff when the output
    /// differs.
    Failed {
        why: String,
        diff: Option<String>,
    },
    /// It could not be run.
    Error(String),
}

/// A check's outcome, from the answer of its run.
pub(super) fn judge(check: &Check, answer: &ExecResponse) -> Outcome {
    if let Some(kind) = &answer.error {
        return Outcome::Error(format!("{kind}: {}", answer.stderr.trim_end()));
    }
    let diff = check
        .expected
        .as_deref()
        .filter(|e| !snipbox_page::expect::matches(e, &answer.stdout))
        .map(|e| diff(e, &answer.stdout));
    let ended = if let Some(why) = &answer.reason_text {
        Some(why.clone())
    } else if answer.exit_code != Some(check.expect_exit) {
        Some(format!(
            "exit {} (the page expects {})",
            answer.exit_code.map_or("none".into(), |c| c.to_string()),
            check.expect_exit
        ))
    } else {
        None
    };
    match (ended, diff) {
        (None, None) => Outcome::Passed,
        (why, diff) => Outcome::Failed {
            why: why.unwrap_or_else(|| "the output is not the page's".into()),
            diff,
        },
    }
}

/// A unified diff of the page's output and the run's, as compared.
fn diff(expected: &str, actual: &str) -> String {
    let (expected, actual) = (
        snipbox_page::expect::normal(expected) + "\n",
        snipbox_page::expect::normal(actual) + "\n",
    );
    similar::TextDiff::from_lines(&expected, &actual)
        .unified_diff()
        .header("expected (the page)", "actual (the run)")
        .to_string()
}

/// Where a block is: its page, line, number and the heading above it.
pub(super) fn place(check: &Check, pages: &[PageFile]) -> String {
    let page = &pages[check.page].name;
    let mut at = match check.line {
        Some(line) => format!("{page}:{line}"),
        None => page.clone(),
    };
    at.push_str(&format!(" block {} ({})", check.number, check.sandbox));
    if let Some(h) = &check.heading {
        at.push_str(&format!(" under \"{h}\""));
    }
    at
}

/// The report of one block, as printed.
pub(super) fn line(check: &Check, outcome: &Outcome, pages: &[PageFile]) -> String {
    let at = place(check, pages);
    match outcome {
        Outcome::Passed => format!("PASS {at}"),
        Outcome::Failed { why, diff } => {
            let mut s = format!("FAIL {at}: {why}");
            if let Some(d) = diff {
                for l in d.lines() {
                    s.push_str("\n    ");
                    s.push_str(l);
                }
            }
            s
        }
        Outcome::Error(e) => format!("ERROR {at}: {e}"),
    }
}

/// The counts line.
pub(super) fn summary(results: &[(Check, Outcome)], pages: usize, seconds: f64) -> String {
    let count = |f: fn(&Outcome) -> bool| results.iter().filter(|(_, o)| f(o)).count();
    format!(
        "{} blocks on {pages} pages: {} passed, {} failed, {} errors ({seconds:.1} s)",
        results.len(),
        count(|o| matches!(o, Outcome::Passed)),
        count(|o| matches!(o, Outcome::Failed { .. })),
        count(|o| matches!(o, Outcome::Error(_))),
    )
}

/// Writes the JUnit XML file: a test suite per page, a test case per
/// block (its name: number, sandbox, line and heading; its time: the run
/// as verify waited for it; its property `duration_ms`: the program's
/// time in its container, as the server measured it).
pub(super) fn junit(
    path: &Path,
    results: &[(Check, Outcome, u64, Option<u64>)],
    pages: &[PageFile],
) -> anyhow::Result<()> {
    use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
    let mut report = Report::new("snipbox verify");
    for (i, page) in pages.iter().enumerate() {
        let mut suite = TestSuite::new(page.name.as_str());
        for (check, outcome, ms, duration) in results.iter().filter(|(c, ..)| c.page == i) {
            let status = match outcome {
                Outcome::Passed => TestCaseStatus::success(),
                Outcome::Failed { why, diff } => {
                    let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                    s.set_message(why.as_str());
                    if let Some(d) = diff {
                        s.set_description(d.as_str());
                    }
                    s
                }
                Outcome::Error(e) => {
                    let mut s = TestCaseStatus::non_success(NonSuccessKind::Error);
                    s.set_message(e.as_str());
                    s
                }
            };
            let mut case = TestCase::new(place(check, pages), status);
            case.set_classname(page.name.as_str());
            case.set_time(std::time::Duration::from_millis(*ms));
            if let Some(d) = duration {
                case.add_property(("duration_ms", d.to_string().as_str()));
            }
            suite.add_test_case(case);
        }
        if !suite.test_cases.is_empty() {
            report.add_test_suite(suite);
        }
    }
    let xml = report.to_string()?;
    std::fs::write(path, xml).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}
