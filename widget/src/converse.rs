//! An interactive run (`stdin="interactive"`): the request over a
//! WebSocket (`GET /v1/ws`), the output as it comes, and the reader's
//! lines to the program's stdin while it runs. A server without `/v1/ws`
//! (codapi, or one behind a proxy that does not pass WebSockets) refuses
//! the handshake: the run is then sent as a plain one.

use js_sys::{JSON, Object, Reflect};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::Closure;
use web_sys::{MessageEvent, WebSocket};

use crate::json::{chunk_text, get, parse_response};

/// A socket and the handlers it calls, dropped together.
pub struct Conversation {
    socket: WebSocket,
    _handlers: [Closure<dyn FnMut(web_sys::Event)>; 3],
}

/// What the socket tells the run.
pub enum Heard {
    /// The run started: the program may be asked for input.
    Started,
    Stdout(String),
    Stderr(String),
    /// The program no longer reads its stdin.
    InputClosed,
    /// An input the server did not take (over the byte cap), in words.
    Refused(String),
    /// The answer, as `POST /v1/exec` gives it (or a refusal).
    End(String),
    /// The socket closed before the end; whether it had opened at all
    /// (a server without `/v1/ws` never opens it).
    Closed {
        opened: bool,
    },
}

/// `ws://` or `wss://` for a server's `http(s)://` address (relative to
/// the page when it names no scheme).
pub fn socket_url(server: &str) -> Option<String> {
    let base = server.trim_end_matches('/');
    let absolute = if base.starts_with("http://") || base.starts_with("https://") {
        base.to_string()
    } else {
        let origin = web_sys::window()?.location().origin().ok()?;
        format!("{origin}{base}")
    };
    let url = match absolute.strip_prefix("https://") {
        Some(rest) => format!("wss://{rest}"),
        None => format!("ws://{}", absolute.strip_prefix("http://")?),
    };
    Some(format!("{url}/v1/ws"))
}

impl Conversation {
    /// Opens the socket to `url`, sends `request` (the JSON of the run) once
    /// it is open, and calls `heard` for everything that comes.
    pub fn open(url: &str, request: String, heard: impl Fn(Heard) + 'static) -> Option<Self> {
        let socket = WebSocket::new(url).ok()?;
        let heard = std::rc::Rc::new(heard);
        let opened = std::rc::Rc::new(std::cell::Cell::new(false));
        let ended = std::rc::Rc::new(std::cell::Cell::new(false));
        let on_open = {
            let (socket, opened) = (socket.clone(), opened.clone());
            Closure::<dyn FnMut(web_sys::Event)>::new(move |_| {
                opened.set(true);
                let _ = socket.send_with_str(&request);
            })
        };
        let on_message = {
            let (heard, ended) = (heard.clone(), ended.clone());
            Closure::<dyn FnMut(web_sys::Event)>::new(move |e: web_sys::Event| {
                let Some(text) = e
                    .dyn_ref::<MessageEvent>()
                    .and_then(|m| m.data().as_string())
                else {
                    return;
                };
                if let Some(h) = read(&text) {
                    ended.set(ended.get() || matches!(h, Heard::End(_)));
                    heard(h);
                }
            })
        };
        let on_close = Closure::<dyn FnMut(web_sys::Event)>::new(move |_| {
            if !ended.get() {
                heard(Heard::Closed {
                    opened: opened.get(),
                });
            }
        });
        socket.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        socket.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        socket.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        Some(Conversation {
            socket,
            _handlers: [on_open, on_message, on_close],
        })
    }

    /// Sends a line (with its newline) to the program's stdin.
    pub fn line(&self, text: &str) {
        self.send("stdin", &format!("{text}\n").into());
    }

    /// Ends the program's stdin.
    pub fn eof(&self) {
        self.send("eof", &true.into());
    }

    /// Stops the run: the server ends it and removes its container.
    pub fn stop(&self) {
        self.send("stop", &true.into());
        let _ = self.socket.close();
    }

    fn send(&self, key: &str, value: &wasm_bindgen::JsValue) {
        let message = Object::new();
        let _ = Reflect::set(&message, &key.into(), value);
        if let Ok(json) = JSON::stringify(&message) {
            let _ = self.socket.send_with_str(&String::from(json));
        }
    }
}

impl Drop for Conversation {
    fn drop(&mut self) {
        self.socket.set_onopen(None);
        self.socket.set_onmessage(None);
        self.socket.set_onclose(None);
        let _ = self.socket.close();
    }
}

/// A server message (`{"event": …, "data": …}`) as what it tells.
fn read(text: &str) -> Option<Heard> {
    let message = JSON::parse(text).ok()?;
    let event = get(&message, "event")?.as_string()?;
    let data = get(&message, "data").unwrap_or_default();
    let data = String::from(JSON::stringify(&data).ok()?);
    Some(match event.as_str() {
        "start" => Heard::Started,
        "stdout" => Heard::Stdout(chunk_text(&data)?),
        "stderr" => Heard::Stderr(chunk_text(&data)?),
        "input_closed" => Heard::InputClosed,
        "error" => Heard::Refused(parse_response(&data)?.exec.stderr),
        "end" => Heard::End(data),
        _ => return None,
    })
}
