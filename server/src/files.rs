//! The files of a request: names checked, `data:` URLs decoded, sizes held
//! to the configured limits.

use std::collections::BTreeMap;

pub use snipbox_wire::names::check_name;

/// Why a request's files were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilesError {
    #[error("invalid file name {name:?}: {why}")]
    BadName { name: String, why: &'static str },
    #[error("file {name:?} is not a valid data URL: {why}")]
    BadDataUrl { name: String, why: String },
    #[error("the files name {0} twice (once as \"\")")]
    Duplicate(String),
    #[error("the files name {file:?} both as a file and as a folder of {inside:?}")]
    FileAndFolder { file: String, inside: String },
    #[error("empty code: the entry file {0} is missing or empty")]
    EmptyCode(String),
    #[error("too many files: {count}, at most {max}")]
    TooMany { count: usize, max: usize },
    #[error("file {name:?} is {len} bytes, at most {max}")]
    TooLarge {
        name: String,
        len: usize,
        max: usize,
    },
}

/// Limits on the files of one request.
#[derive(Debug, Clone, Copy)]
pub struct FileLimits {
    pub max_files: usize,
    pub max_file_bytes: usize,
}

/// Turns the request's file map into `(name, bytes)` pairs, the entry file
/// first, under `entry` for the `""` key.
pub fn prepare(
    files: &BTreeMap<String, String>,
    entry: &str,
    limits: FileLimits,
) -> Result<Vec<(String, Vec<u8>)>, FilesError> {
    if files.len() > limits.max_files {
        return Err(FilesError::TooMany {
            count: files.len(),
            max: limits.max_files,
        });
    }
    if files.contains_key("") && files.contains_key(entry) {
        return Err(FilesError::Duplicate(entry.into()));
    }
    let mut out = Vec::with_capacity(files.len());
    for (name, value) in files {
        let name = if name.is_empty() { entry } else { name };
        check_name(name).map_err(|why| FilesError::BadName {
            name: name.into(),
            why,
        })?;
        let bytes = decode(name, value)?;
        if bytes.len() > limits.max_file_bytes {
            return Err(FilesError::TooLarge {
                name: name.into(),
                len: bytes.len(),
                max: limits.max_file_bytes,
            });
        }
        out.push((name.to_owned(), bytes));
    }
    no_file_is_a_folder(&out)?;
    let at = out.iter().position(|(n, _)| n == entry);
    match at {
        Some(i) if !out[i].1.iter().all(u8::is_ascii_whitespace) => {
            out.swap(0, i);
            Ok(out)
        }
        _ => Err(FilesError::EmptyCode(entry.into())),
    }
}

/// Refuses names that cannot all exist: `d` beside `d/e.txt`.
fn no_file_is_a_folder(files: &[(String, Vec<u8>)]) -> Result<(), FilesError> {
    let names: std::collections::BTreeSet<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    for name in &names {
        let mut folder = name.rsplit_once('/');
        while let Some((parent, _)) = folder {
            if names.contains(parent) {
                return Err(FilesError::FileAndFolder {
                    file: parent.into(),
                    inside: (*name).into(),
                });
            }
            folder = parent.rsplit_once('/');
        }
    }
    Ok(())
}

/// A value starting with `data:` is an RFC 2397 data URL; anything else is
/// the file's text.
fn decode(name: &str, value: &str) -> Result<Vec<u8>, FilesError> {
    if !value.starts_with("data:") {
        return Ok(value.as_bytes().to_vec());
    }
    let bad = |why: String| FilesError::BadDataUrl {
        name: name.into(),
        why,
    };
    let url = data_url::DataUrl::process(value).map_err(|e| bad(format!("{e:?}")))?;
    let (body, _) = url.decode_to_vec().map_err(|e| bad(format!("{e:?}")))?;
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: FileLimits = FileLimits {
        max_files: 4,
        max_file_bytes: 16,
    };

    fn files(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn path_traversal_names_are_rejected() {
        for name in [
            "/etc/passwd",
            "../x",
            "a/../../x",
            "a//b",
            "./a",
            "a/.",
            "a\0b",
            "a\\b",
            "a\nb",
            "a/",
        ] {
            assert!(check_name(name).is_err(), "{name:?} was accepted");
        }
        for name in [
            "main.py",
            "data/input.csv",
            "a-b_c.d",
            "ünïcode.txt",
            "..a",
            "a..",
        ] {
            assert_eq!(check_name(name), Ok(()), "{name:?} was refused");
        }
    }

    #[test]
    fn the_entry_comes_first_under_its_name() {
        let got = prepare(
            &files(&[("a.txt", "x"), ("", "print(1)")]),
            "main.py",
            LIMITS,
        )
        .unwrap();
        assert_eq!(got[0], ("main.py".into(), b"print(1)".to_vec()));
        assert_eq!(got[1], ("a.txt".into(), b"x".to_vec()));
    }

    #[test]
    fn data_urls_are_decoded() {
        let got = prepare(
            &files(&[
                ("", "x"),
                ("b.bin", "data:application/octet-stream;base64,AP8="),
                ("t", "data:,a%20b"),
            ]),
            "m",
            LIMITS,
        )
        .unwrap();
        assert_eq!(got[1].1, vec![0x00, 0xff]);
        assert_eq!(got[2].1, b"a b".to_vec());
        let err =
            prepare(&files(&[("", "x"), ("b", "data:;base64,%%%")]), "m", LIMITS).unwrap_err();
        assert!(matches!(err, FilesError::BadDataUrl { .. }), "{err:?}");
    }

    #[test]
    fn empty_code_and_duplicates_are_refused() {
        assert!(matches!(
            prepare(&files(&[("", " \n")]), "m", LIMITS),
            Err(FilesError::EmptyCode(_))
        ));
        assert!(matches!(
            prepare(&files(&[("x", "1")]), "m", LIMITS),
            Err(FilesError::EmptyCode(_))
        ));
        assert!(matches!(
            prepare(&files(&[("", "1"), ("m", "2")]), "m", LIMITS),
            Err(FilesError::Duplicate(_))
        ));
    }

    #[test]
    fn a_name_used_as_file_and_folder_is_refused_with_both_names() {
        let limits = FileLimits {
            max_files: 8,
            max_file_bytes: 64,
        };
        for (pairs, file, inside) in [
            (
                &[("", "x"), ("d", "1"), ("d/e.txt", "2")][..],
                "d",
                "d/e.txt",
            ),
            (
                &[("", "x"), ("main.py/x.txt", "2")][..],
                "main.py",
                "main.py/x.txt",
            ),
            (
                &[("", "x"), ("a/b", "1"), ("a/b/c/d", "2")][..],
                "a/b",
                "a/b/c/d",
            ),
        ] {
            assert_eq!(
                prepare(&files(pairs), "main.py", limits),
                Err(FilesError::FileAndFolder {
                    file: file.into(),
                    inside: inside.into()
                })
            );
        }
        assert!(
            prepare(
                &files(&[("", "x"), ("d/a", "1"), ("d/b", "2"), ("dd", "3")]),
                "main.py",
                limits
            )
            .is_ok()
        );
    }

    #[test]
    fn counts_and_sizes_are_limited() {
        let many = files(&[("", "1"), ("a", ""), ("b", ""), ("c", ""), ("d", "")]);
        assert!(matches!(
            prepare(&many, "m", LIMITS),
            Err(FilesError::TooMany { .. })
        ));
        let big = files(&[("", "12345678901234567")]);
        assert!(matches!(
            prepare(&big, "m", LIMITS),
            Err(FilesError::TooLarge { .. })
        ));
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn segment() -> impl Strategy<Value = String> {
            prop_oneof![
                Just("..".to_string()),
                Just(".".to_string()),
                Just(String::new()),
                "[a-z._-]{1,4}"
            ]
        }

        proptest! {
            #[test]
            fn an_accepted_name_stays_inside_the_work_dir(name in "\\PC{0,40}") {
                if check_name(&name).is_ok() {
                    let path = std::path::Path::new(&name);
                    prop_assert!(path.is_relative());
                    prop_assert!(path.components().all(|c| matches!(c, std::path::Component::Normal(_))));
                    prop_assert!(!name.contains('\0'));
                }
            }

            #[test]
            fn a_path_is_accepted_exactly_when_every_segment_is_plain(parts in prop::collection::vec(segment(), 1..10)) {
                let name = parts.join("/");
                let plain = parts.len() <= 8 && parts.iter().all(|p| !p.is_empty() && p != "." && p != "..");
                prop_assert_eq!(check_name(&name).is_ok(), plain, "{:?}", name);
            }

            #[test]
            fn any_file_map_is_answered_without_panicking(
                files in prop::collection::btree_map("\\PC{0,12}", "(data:[a-z/;,=+]{0,20})?\\PC{0,30}", 0..8)
            ) {
                // Refusals are fine; an answer must hold to the rules.
                if let Ok(out) = prepare(&files, "main.py", LIMITS) {
                    prop_assert_eq!(&out[0].0, "main.py");
                    prop_assert!(out.iter().all(|(n, b)| check_name(n).is_ok() && b.len() <= LIMITS.max_file_bytes));
                }
            }
        }
    }
}
