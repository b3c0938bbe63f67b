//! What a block asks for: its options, as read from its attributes, and
//! the small languages of those attributes (id lists, file references,
//! output modes). Plain data: reading them from the page is `dom`'s part,
//! putting a run together from them is `compose`'s.

/// How a snippet shows the program's standard output.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OutputMode {
    /// As text, always: program output never becomes markup.
    #[default]
    Text,
    /// As an HTML document in a sandboxed iframe (no scripts, own origin).
    Html,
    /// As an SVG image in a sandboxed iframe.
    Svg,
    /// A JSON array of objects as a table (codapi's `table` mode); any
    /// other output as text.
    Table,
}

impl OutputMode {
    /// The mode an `output-mode` attribute names; absent means text.
    pub fn parse(value: Option<&str>) -> Result<Self, String> {
        Ok(match value {
            None | Some("text") => Self::Text,
            Some("html") => Self::Html,
            Some("svg") => Self::Svg,
            Some("table") => Self::Table,
            Some(other) => {
                return Err(format!(
                    "output-mode \"{other}\" is not text, html, svg or table"
                ));
            }
        })
    }
}

/// What a block asks for, from its attributes.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// The block's id, by which other snippets name it.
    pub id: Option<String>,
    pub sandbox: String,
    pub version: String,
    pub command: String,
    pub code: String,
    pub stdin: Option<String>,
    pub editable: bool,
    /// Ids of snippets (or plain blocks) whose code runs first.
    pub depends_on: Vec<String>,
    /// Id of a block whose `##CODE##` is replaced by the code.
    pub template: Option<String>,
    /// Blocks sent as extra files: id, and the file name if not the id.
    pub files: Vec<(String, Option<String>)>,
    pub output: OutputMode,
    /// What is wrong with the block's attributes, shown instead of running.
    pub problem: Option<String>,
}

/// `"#a b, #c"` → `["a", "b", "c"]`: ids separated by spaces or commas, the
/// leading `#` optional.
pub fn ids(list: &str) -> Vec<String> {
    list.split([' ', ','])
        .map(|s| s.trim_start_matches('#'))
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// `files="#util #data:input.csv"` → `[("util", None), ("data",
/// Some("input.csv"))]`: the element to read and, after a colon, the file
/// name to send it under.
pub fn file_refs(list: &str) -> Vec<(String, Option<String>)> {
    ids(list)
        .into_iter()
        .map(|r| match r.split_once(':') {
            Some((id, name)) => (id.to_string(), Some(name.to_string())),
            None => (r, None),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_refs_take_an_optional_name() {
        assert_eq!(
            file_refs("#util, #data:input.csv"),
            [
                ("util".to_string(), None),
                ("data".to_string(), Some("input.csv".to_string()))
            ]
        );
    }

    #[test]
    fn output_modes_are_codapis_and_others_are_named() {
        assert_eq!(OutputMode::parse(None), Ok(OutputMode::Text));
        assert_eq!(OutputMode::parse(Some("table")), Ok(OutputMode::Table));
        assert_eq!(
            OutputMode::parse(Some("pdf")),
            Err("output-mode \"pdf\" is not text, html, svg or table".into())
        );
    }
}
