//! The rule every file name crossing a boundary follows: the files of a
//! request, and the files a run returns.

use unicode_general_category::{GeneralCategory, get_general_category};

/// Checks that `name` is a plain relative path: no absolute path, no `..`
/// or `.` segment, no empty segment, no NUL, backslash, control or format
/// character, of sane length. The API's file names and the files a run
/// returns both follow it.
pub fn check_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("empty");
    }
    if name.len() > 255 {
        return Err("longer than 255 bytes");
    }
    if name.contains('\0') {
        return Err("contains NUL");
    }
    if name.contains('\\') {
        return Err("contains a backslash");
    }
    if name.chars().any(char::is_control) {
        return Err("contains a control character");
    }
    // Format characters (bidi overrides, zero-width spaces) can make a name
    // look like another one wherever it is shown.
    if name
        .chars()
        .any(|c| get_general_category(c) == GeneralCategory::Format)
    {
        return Err("contains an invisible format character (such as a bidi override)");
    }
    if name.starts_with('/') {
        return Err("absolute path");
    }
    let segments: Vec<&str> = name.split('/').collect();
    if segments.len() > 8 {
        return Err("nested more than 8 levels");
    }
    for seg in segments {
        match seg {
            "" => return Err("empty path segment"),
            "." | ".." => return Err("`.` or `..` segment"),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invisible_and_control_characters_are_refused() {
        for name in [
            "a\u{202e}gnp.exe",
            "a\u{200b}b",
            "\u{feff}x",
            "a\u{2066}b",
            "a\tb",
            "a\u{7f}b",
        ] {
            assert!(check_name(name).is_err(), "{name:?} was accepted");
        }
        for name in ["ünïcode.txt", "日本語.py", "emoji-😀.txt", "a b.txt"] {
            assert_eq!(check_name(name), Ok(()), "{name:?} was refused");
        }
    }

    #[test]
    fn file_names_that_deceive_or_escape_are_refused() {
        for good in ["a.png", "out/b c.svg", "données/été.csv"] {
            assert_eq!(check_name(good), Ok(()), "{good}");
        }
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../../x",
            "a//b",
            "./a",
            "a\\b",
            "a\nb",
            "a\u{7f}b",
            "gnp\u{202E}.exe",
            "zero\u{200B}width",
            "bom\u{FEFF}",
            "tag\u{E0041}",
            "a/b/c/d/e/f/g/h/i",
        ] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        assert!(check_name(&"x".repeat(256)).is_err());
    }
}
