//! Server-Sent Events as `POST /v1/exec` streams them: text in (decoded
//! by the browser), events (name, data) out. The part of the format a server sends: `event:` and
//! `data:` lines, a blank line ending each event; comments and other
//! fields are skipped.

/// The events of one stream, as its text arrives.
#[derive(Debug, Default)]
pub struct Events {
    /// A line not ended yet (a chunk may end mid-line).
    line: String,
    event: String,
    data: String,
}

impl Events {
    /// Takes the next text; calls `each(name, data)` for every event it
    /// completes (`message` when the event has no name).
    pub fn push(&mut self, text: &str, mut each: impl FnMut(&str, &str)) {
        for c in text.chars() {
            if c != '\n' {
                self.line.push(c);
                continue;
            }
            let line = std::mem::take(&mut self.line);
            let line = line.strip_suffix("\r").unwrap_or(&line);
            if line.is_empty() {
                let event = std::mem::take(&mut self.event);
                let data = std::mem::take(&mut self.data);
                if !data.is_empty() {
                    each(if event.is_empty() { "message" } else { &event }, &data);
                }
            } else if let Some((field, value)) = line.split_once(":") {
                let value = value.strip_prefix(" ").unwrap_or(value);
                if field == "event" {
                    self.event = value.into();
                } else if field == "data" {
                    if !self.data.is_empty() {
                        self.data.push('\n');
                    }
                    self.data += value;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(chunks: &[&str]) -> Vec<(String, String)> {
        let mut parser = Events::default();
        let mut out = Vec::new();
        for chunk in chunks {
            parser.push(chunk, |e, d| out.push((e.to_string(), d.to_string())));
        }
        out
    }

    #[test]
    fn events_split_anywhere_come_out_whole() {
        let stream = "event: start\ndata: {\"id\":\"x\"}\n\n: keep-alive\n\nevent: stdout\r\ndata: {\"text\":\"é\\n\"}\r\n\r\ndata: a\ndata: b\n\n";
        let want = vec![
            ("start".to_string(), "{\"id\":\"x\"}".to_string()),
            ("stdout".to_string(), "{\"text\":\"é\\n\"}".to_string()),
            ("message".to_string(), "a\nb".to_string()),
        ];
        assert_eq!(events(&[stream]), want);
        // A character at a time: lines cut in the middle.
        let chars: Vec<String> = stream.chars().map(String::from).collect();
        let chars: Vec<&str> = chars.iter().map(String::as_str).collect();
        assert_eq!(events(&chars), want);
    }

    #[test]
    fn an_unfinished_event_is_not_sent() {
        assert_eq!(events(&["event: end\ndata: {}\n"]), vec![]);
    }
}
