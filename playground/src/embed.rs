//! "Embed": the HTML that puts the playground's code on any page as a
//! widget snippet: the script tag, the snippet, and a hidden block per extra
//! file.

use crate::store::Workspace;

/// The embed code for `workspace` in `sandbox`, the widget loaded from
/// `origin`.
pub fn html(origin: &str, sandbox: &str, workspace: &Workspace) -> String {
    let mut attrs = format!(" sandbox=\"{}\"", escape(sandbox));
    let extra = &workspace.files[1.min(workspace.files.len())..];
    let mut blocks = String::new();
    if !extra.is_empty() {
        let refs: Vec<String> = extra
            .iter()
            .enumerate()
            .map(|(i, f)| format!("#snipbox-file-{}:{}", i + 1, f.name))
            .collect();
        attrs += &format!(" files=\"{}\"", escape(&refs.join(" ")));
        for (i, f) in extra.iter().enumerate() {
            blocks += &format!(
                "\n<pre id=\"snipbox-file-{}\" hidden>{}</pre>",
                i + 1,
                escape(&pre_text(&f.code))
            );
        }
    }
    if !matches!(workspace.output.as_str(), "" | "text") {
        attrs += &format!(" output-mode=\"{}\"", escape(&workspace.output));
    }
    if workspace.interactive {
        attrs += " stdin=\"interactive\"";
    } else if !workspace.stdin.is_empty() {
        attrs += &format!(" stdin=\"{}\"", escape(&workspace.stdin));
    }
    let code = workspace
        .files
        .first()
        .map(|f| f.code.as_str())
        .unwrap_or_default();
    format!(
        "<script type=\"module\" src=\"{origin}/widget/snipbox.js\"></script>\n<snip-box{attrs}>{}</snip-box>{blocks}",
        escape(code)
    )
}

/// Text safe inside an element or a double-quoted attribute.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A `<pre>` drops one newline right after its start tag: keep a leading
/// one by doubling it.
fn pre_text(text: &str) -> String {
    if text.starts_with('\n') {
        format!("\n{text}")
    } else {
        text.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::File;

    fn file(name: &str, code: &str) -> File {
        File {
            name: name.into(),
            code: code.into(),
        }
    }

    #[test]
    fn code_is_escaped_and_files_become_hidden_blocks() {
        let w = Workspace {
            files: vec![
                file("main.py", "print('<b>' & \"x\")"),
                file("util.py", "\nX = 1"),
            ],
            stdin: "a \"quoted\" line".into(),
            output: "table".into(),
            ..Workspace::default()
        };
        assert_eq!(
            html("http://h", "python", &w),
            "<script type=\"module\" src=\"http://h/widget/snipbox.js\"></script>\n\
             <snip-box sandbox=\"python\" files=\"#snipbox-file-1:util.py\" output-mode=\"table\" stdin=\"a &quot;quoted&quot; line\">\
             print('&lt;b&gt;' &amp; &quot;x&quot;)</snip-box>\n\
             <pre id=\"snipbox-file-1\" hidden>\n\nX = 1</pre>"
        );
    }

    #[test]
    fn an_interactive_workspace_embeds_as_interactive() {
        let w = Workspace {
            files: vec![file("main.py", "input()")],
            stdin: "left over".into(),
            interactive: true,
            ..Workspace::default()
        };
        assert!(
            html("http://h", "python", &w)
                .contains("<snip-box sandbox=\"python\" stdin=\"interactive\">"),
            "{}",
            html("http://h", "python", &w)
        );
    }
}
