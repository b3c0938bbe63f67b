//! The JSON of `POST /v1/exec`, through the browser's own `JSON`: the
//! widget carries no JSON library of its own (every byte of it would be
//! downloaded by every reader).

use js_sys::{JSON, Object, Reflect};
use snipbox_wire::api::ExecResponse;
use wasm_bindgen::JsValue;

pub use snipbox_page::compose::Job;

/// An answer: the fields a reader is shown (`reason_text` among them, not
/// `reason` or `signal`), with its files apart.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Answer {
    pub exec: ExecResponse,
    /// The files the run produced for the reader (`exec.files` stays
    /// empty): the answer's own JSON (`[{name, type, size, data,
    /// omitted}]`), read where they are drawn, which costs the wasm less
    /// than making Rust values of them.
    pub files: JsValue,
}

/// An output baked into the page, as an answer to show.
pub fn baked_answer(baked: &snipbox_page::bake::Baked) -> Answer {
    let files = js_sys::Array::new();
    for f in &baked.files {
        let file = Object::new();
        set(&file, "name", &f.name.as_str().into());
        set(&file, "type", &f.media_type.as_str().into());
        set(&file, "size", &((f.data.len() / 4 * 3) as f64).into());
        set(&file, "data", &f.data.as_str().into());
        files.push(&file);
    }
    Answer {
        exec: ExecResponse {
            ok: baked.exit == Some(0),
            stdout: baked.stdout.clone(),
            stderr: baked.stderr.clone(),
            exit_code: baked.exit,
            ..ExecResponse::default()
        },
        files: files.into(),
    }
}

/// The request's body. Of two files of the same name, the later wins.
pub fn request_body(req: &Job) -> String {
    let files = Object::new();
    for (name, text) in &req.files {
        set(&files, name, &text.into());
    }
    let body = Object::new();
    set(&body, "sandbox", &req.sandbox.as_str().into());
    set(&body, "version", &req.version.as_str().into());
    set(&body, "command", &req.command.as_str().into());
    set(&body, "files", &files);
    if let Some(stdin) = &req.stdin {
        set(&body, "stdin", &stdin.into());
    }
    JSON::stringify(&body).map(String::from).unwrap_or_default()
}

/// The answer, if `body` is one: the fields the API always sends must be
/// there with their types (anything else, such as a proxy's error page, is
/// not an answer).
pub fn parse_response(body: &str) -> Option<Answer> {
    let value = JSON::parse(body).ok().filter(JsValue::is_object)?;
    let text = |key| get(&value, key)?.as_string();
    let flag = |key| get(&value, key)?.as_bool();
    let number = |key| get(&value, key)?.as_f64();
    let exec = ExecResponse {
        id: text("id").unwrap_or_default(),
        ok: flag("ok")?,
        duration: number("duration")? as u64,
        stdout: text("stdout")?,
        stderr: text("stderr")?,
        exit_code: number("exit_code").map(|code| code as i32),
        timed_out: flag("timed_out").unwrap_or(false),
        truncated: flag("truncated").unwrap_or(false),
        error: text("error"),
        reason: text("reason"),
        reason_text: text("reason_text"),
        signal: text("signal"),
        files_omitted: number("files_omitted").unwrap_or(0.0) as u64,
        ..ExecResponse::default()
    };
    Some(Answer {
        exec,
        files: get(&value, "files").unwrap_or_default(),
    })
}

/// The `text` of a streamed `stdout` or `stderr` event's data.
pub fn chunk_text(data: &str) -> Option<String> {
    get(&JSON::parse(data).ok()?, "text")?.as_string()
}

/// A field of a JSON object (`None` for a non-object).
pub fn get(value: &JsValue, key: &str) -> Option<JsValue> {
    Reflect::get(value, &key.into()).ok()
}

fn set(object: &Object, key: &str, value: &JsValue) {
    // Setting a plain data property on a fresh plain object cannot fail.
    let _ = Reflect::set(object, &key.into(), value);
}
