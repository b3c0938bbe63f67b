//! The code editor: CodeMirror (bundled by `make widget` into
//! `widget/codemirror.js`, loaded by the playground page only) with the
//! sandbox's language, line numbers, Tab/Shift+Tab indenting and
//! Ctrl/Cmd+Enter running. Where the bundle is missing (a build without
//! esbuild), a plain textarea.

use leptos::html::Div;
use leptos::prelude::*;
use wasm_bindgen::prelude::*;

use crate::store::Store;

#[wasm_bindgen]
extern "C" {
    /// An editor made by `codemirror.js`.
    type CodeMirror;

    /// A new editor in `parent`, showing `doc` highlighted as `language` (a
    /// sandbox's `language`; one it does not know is plain text).
    /// `changed` gets the text after every edit, `run` is called by
    /// Ctrl/Cmd+Enter.
    #[wasm_bindgen(js_namespace = snipboxCodeMirror, js_name = create)]
    fn create(
        parent: &web_sys::HtmlElement,
        doc: &str,
        language: &str,
        changed: &Closure<dyn Fn(String)>,
        run: &Closure<dyn Fn()>,
    ) -> CodeMirror;

    /// Replaces the text (another file or sandbox on show).
    #[wasm_bindgen(method, js_name = setDoc)]
    fn set_doc(this: &CodeMirror, doc: &str);

    /// Highlights as `language` from now on.
    #[wasm_bindgen(method, js_name = setLanguage)]
    fn set_language(this: &CodeMirror, language: &str);
}

/// The editor of the file on show.
#[component]
pub fn Editor(store: Store) -> impl IntoView {
    let loaded = js_sys::Reflect::get(&window(), &"snipboxCodeMirror".into());
    if loaded.map_or(true, |l| l.is_undefined()) {
        return view! { <Plain store/> }.into_any();
    }
    let host = NodeRef::<Div>::new();
    let editor = StoredValue::new_local(None::<CodeMirror>);
    Effect::new(move || {
        let Some(parent) = host.get() else { return };
        if editor.with_value(Option::is_none) {
            let changed = Closure::<dyn Fn(String)>::new(move |code| store.set_code(code));
            let run = Closure::<dyn Fn()>::new(move || store.run());
            let cm = create(&parent, &store.code(), &store.language(), &changed, &run);
            // The editor calls these as long as the page lives.
            changed.forget();
            run.forget();
            editor.set_value(Some(cm));
        }
    });
    // Another file or sandbox on show: its text and language.
    Effect::new(move || {
        let (_, _) = (store.current.get(), store.active.get());
        let language = store.language();
        editor.with_value(|cm| {
            if let Some(cm) = cm {
                cm.set_doc(&store.code());
                cm.set_language(&language);
            }
        });
    });
    view! { <div class="pg-code" node_ref=host></div> }.into_any()
}

/// A textarea, for a build without the CodeMirror bundle.
#[component]
fn Plain(store: Store) -> impl IntoView {
    let code = move || {
        let (_, _) = (store.current.get(), store.active.get());
        store.spaces.track();
        store.code()
    };
    view! {
        <textarea
            class="pg-code pg-plain"
            aria-label="Code"
            spellcheck="false"
            autocapitalize="off"
            prop:value=code
            on:input=move |ev| store.set_code(event_target_value(&ev))
        ></textarea>
    }
}
