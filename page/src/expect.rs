//! Comparing a run's output with the output the page expects.

/// An output as compared: line endings as `\n`, each line's trailing
/// spaces and the trailing empty lines dropped (a page's block loses them,
/// a program's last line usually ends with one).
pub fn normal(output: &str) -> String {
    let lines: Vec<&str> = output
        .split('\n')
        .map(|l| l.trim_end_matches(['\r', ' ', '\t']))
        .collect();
    let kept = lines
        .iter()
        .rposition(|l| !l.is_empty())
        .map_or(0, |i| i + 1);
    lines[..kept].join("\n")
}

/// Whether a run printed what the page says it prints.
pub fn matches(expected: &str, actual: &str) -> bool {
    normal(expected) == normal(actual)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailing_space_and_newlines_do_not_count() {
        assert!(matches("0\n1\n4", "0\n1\n4\n"));
        assert!(matches("a  \r\nb", "a\nb\n\n"));
        assert!(!matches("0\n1\n4", "0\n1\n5\n"));
        assert!(!matches(" a", "a"));
        assert!(matches("", "\n\n"));
    }
}
