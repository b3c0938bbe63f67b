// The playground's editor: CodeMirror 6, bundled and minified by esbuild
// (scripts/widget.sh) into static/widget/codemirror.js, which only the
// playground page loads. It sets `window.snipboxCodeMirror.create`, which
// the playground's wasm calls (playground/src/editor.rs).
//
// Each language's mode is a chunk of its own, loaded when a sandbox of
// that language is first shown.
//
// Highlighting is by class (`tok-keyword`, `tok-string`, …; colours in
// playground.css), so it follows the page's light and dark themes.
import { Compartment, EditorState, Prec } from "@codemirror/state";
import {
  EditorView, drawSelection, highlightActiveLine, highlightActiveLineGutter, keymap, lineNumbers,
} from "@codemirror/view";
import { defaultKeymap, history, historyKeymap, indentWithTab } from "@codemirror/commands";
import { StreamLanguage, bracketMatching, indentOnInput, indentUnit, syntaxHighlighting } from "@codemirror/language";
import { classHighlighter } from "@lezer/highlight";

const legacy = (load, name) => () => load().then((m) => StreamLanguage.define(m[name]));
const clike = () => import("@codemirror/legacy-modes/mode/clike");
const mllike = () => import("@codemirror/legacy-modes/mode/mllike");
const scheme = () => import("@codemirror/legacy-modes/mode/scheme");
const shell = () => import("@codemirror/legacy-modes/mode/shell");
const cpp = () => import("@codemirror/lang-cpp").then((m) => m.cpp());
const sql = (dialect) => () => import("@codemirror/lang-sql").then((m) => m.sql({ dialect: m[dialect] }));

// A sandbox's `language` (sandbox.toml) to its mode, loaded on demand.
const modes = {
  python: () => import("@codemirror/lang-python").then((m) => m.python()),
  javascript: () => import("@codemirror/lang-javascript").then((m) => m.javascript()),
  typescript: () => import("@codemirror/lang-javascript").then((m) => m.javascript({ typescript: true })),
  go: () => import("@codemirror/lang-go").then((m) => m.go()),
  rust: () => import("@codemirror/lang-rust").then((m) => m.rust()),
  c: cpp,
  cpp: cpp,
  java: () => import("@codemirror/lang-java").then((m) => m.java()),
  php: () => import("@codemirror/lang-php").then((m) => m.php({ plain: true })),
  sql: sql("StandardSQL"),
  sqlite: sql("SQLite"),
  postgresql: sql("PostgreSQL"),
  mysql: sql("MySQL"),
  bash: legacy(shell, "shell"),
  shell: legacy(shell, "shell"),
  sh: legacy(shell, "shell"),
  csharp: legacy(clike, "csharp"),
  dart: legacy(clike, "dart"),
  kotlin: legacy(clike, "kotlin"),
  scala: legacy(clike, "scala"),
  clojure: legacy(() => import("@codemirror/legacy-modes/mode/clojure"), "clojure"),
  commonlisp: legacy(() => import("@codemirror/legacy-modes/mode/commonlisp"), "commonLisp"),
  crystal: legacy(() => import("@codemirror/legacy-modes/mode/crystal"), "crystal"),
  d: legacy(() => import("@codemirror/legacy-modes/mode/d"), "d"),
  erlang: legacy(() => import("@codemirror/legacy-modes/mode/erlang"), "erlang"),
  fortran: legacy(() => import("@codemirror/legacy-modes/mode/fortran"), "fortran"),
  groovy: legacy(() => import("@codemirror/legacy-modes/mode/groovy"), "groovy"),
  haskell: legacy(() => import("@codemirror/legacy-modes/mode/haskell"), "haskell"),
  julia: legacy(() => import("@codemirror/legacy-modes/mode/julia"), "julia"),
  lua: legacy(() => import("@codemirror/legacy-modes/mode/lua"), "lua"),
  ocaml: legacy(mllike, "oCaml"),
  fsharp: legacy(mllike, "fSharp"),
  pascal: legacy(() => import("@codemirror/legacy-modes/mode/pascal"), "pascal"),
  perl: legacy(() => import("@codemirror/legacy-modes/mode/perl"), "perl"),
  powershell: legacy(() => import("@codemirror/legacy-modes/mode/powershell"), "powerShell"),
  r: legacy(() => import("@codemirror/legacy-modes/mode/r"), "r"),
  ruby: legacy(() => import("@codemirror/legacy-modes/mode/ruby"), "ruby"),
  scheme: legacy(scheme, "scheme"),
  racket: legacy(scheme, "scheme"),
  guile: legacy(scheme, "scheme"),
  swift: legacy(() => import("@codemirror/legacy-modes/mode/swift"), "swift"),
  tcl: legacy(() => import("@codemirror/legacy-modes/mode/tcl"), "tcl"),
};

function create(parent, doc, language, changed, run) {
  const lang = new Compartment();
  const extensions = [
    // Ctrl/Cmd+Enter runs, ahead of the default keymap's binding.
    Prec.highest(keymap.of([{ key: "Mod-Enter", run: () => (run(), true) }])),
    lineNumbers(),
    highlightActiveLineGutter(),
    history(),
    drawSelection(),
    indentOnInput(),
    indentUnit.of("    "),
    bracketMatching(),
    highlightActiveLine(),
    syntaxHighlighting(classHighlighter),
    // Tab and Shift+Tab indent; Escape, then Tab, moves the focus on.
    keymap.of([...defaultKeymap, ...historyKeymap, indentWithTab]),
    EditorView.contentAttributes.of({ "aria-label": "Code" }),
    EditorView.updateListener.of((u) => u.docChanged && changed(u.state.doc.toString())),
  ];
  let current = { language: "", mode: [] };
  const state = (text) => EditorState.create({ doc: text, extensions: [extensions, lang.of(current.mode)] });
  const view = new EditorView({ parent, state: state(doc) });
  // Plain text until the language's mode has loaded; the host element
  // says which mode is on in data-language ("text" for none).
  const setLanguage = async (language) => {
    const wanted = { language, mode: [] };
    current = wanted;
    parent.dataset.language = "text";
    view.dispatch({ effects: lang.reconfigure([]) });
    if (!Object.hasOwn(modes, language)) return;
    const mode = await modes[language]();
    if (current !== wanted) return; // another sandbox was picked meanwhile
    wanted.mode = mode;
    view.dispatch({ effects: lang.reconfigure(mode) });
    parent.dataset.language = language;
  };
  setLanguage(language);
  return {
    // Another file on show: a state of its own, so Undo stays in its file.
    setDoc(text) {
      if (text !== view.state.doc.toString()) view.setState(state(text));
    },
    setLanguage(language) {
      if (language !== current.language) setLanguage(language);
    },
  };
}

window.snipboxCodeMirror = { create };
