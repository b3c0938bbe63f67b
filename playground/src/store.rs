//! The workspace store: every signal the playground's components share,
//! and what may be done to them. Components get the store and call its
//! methods; none of them keeps state of its own that another one needs.

use std::collections::HashMap;

use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use snipbox_widget::json::Job;
use snipbox_widget::run::Runner;
use snipbox_wire::api::SandboxInfo;

/// One file of a workspace.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct File {
    pub name: String,
    pub code: String,
}

/// What the reader has for one sandbox: the entry file first, then extra
/// files, stdin, and how the output is shown.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Workspace {
    pub files: Vec<File>,
    #[serde(default)]
    pub stdin: String,
    /// The reader types the program's input while it runs, instead of
    /// `stdin` (the widget's `stdin="interactive"`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub interactive: bool,
    /// An `output-mode` of the widget; empty for text.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub output: String,
}

/// The playground's state.
#[derive(Clone, Copy)]
pub struct Store {
    /// What the server offers.
    pub sandboxes: RwSignal<Vec<SandboxInfo>>,
    /// The sandbox on show.
    pub current: RwSignal<String>,
    /// Every sandbox's workspace the reader has opened.
    pub spaces: RwSignal<HashMap<String, Workspace>>,
    /// The file on show in the editor (0 is the entry file).
    pub active: RwSignal<usize>,
    pub runner: Runner,
    /// The share link or embed code on show: a label and the text.
    pub shown: RwSignal<Option<(&'static str, String)>>,
}

/// localStorage: the last sandbox, and each sandbox's workspace.
const LAST: &str = "snipbox:playground";

fn storage() -> Option<web_sys::Storage> {
    window().local_storage().ok().flatten()
}

fn stored_key(sandbox: &str) -> String {
    format!("{LAST}:{sandbox}")
}

impl Default for Store {
    fn default() -> Self {
        Self {
            sandboxes: RwSignal::new(Vec::new()),
            current: RwSignal::new(String::new()),
            spaces: RwSignal::new(HashMap::new()),
            active: RwSignal::new(0),
            runner: Runner::default(),
            shown: RwSignal::new(None),
        }
    }
}

impl Store {
    /// The current sandbox's workspace (tracked).
    pub fn workspace(self) -> Workspace {
        self.spaces
            .with(|s| s.get(&self.current.get()).cloned())
            .unwrap_or_default()
    }

    /// Changes the current sandbox's workspace.
    pub fn edit(self, f: impl FnOnce(&mut Workspace)) {
        self.spaces.update(|s| {
            if let Some(w) = s.get_mut(&self.current.get_untracked()) {
                f(w);
            }
        })
    }

    /// Sets the code of the file on show.
    pub fn set_code(self, code: String) {
        let i = self.active.get_untracked();
        self.edit(|w| {
            if let Some(f) = w.files.get_mut(i) {
                f.code = code;
            }
        });
    }

    /// The names of the current workspace's files (tracked).
    pub fn names(self) -> Vec<String> {
        self.spaces.with(|s| {
            s.get(&self.current.get())
                .map(|w| w.files.iter().map(|f| f.name.clone()).collect())
                .unwrap_or_default()
        })
    }

    /// The code of the file on show (untracked: the editor owns it while
    /// the reader types).
    pub fn code(self) -> String {
        let i = self.active.get_untracked();
        self.spaces
            .with_untracked(|s| {
                let w = s.get(&self.current.get_untracked())?;
                w.files.get(i).map(|f| f.code.clone())
            })
            .unwrap_or_default()
    }

    /// The editor's language for the current sandbox (tracked).
    pub fn language(self) -> String {
        let name = self.current.get();
        self.sandboxes.with(|all| {
            all.iter()
                .find(|s| s.name == name)
                .map(|s| s.language.clone())
                .unwrap_or_default()
        })
    }

    /// Shows sandbox `name`: its workspace as the reader left it (in
    /// memory or stored), else its example.
    pub fn switch_to(self, name: String) {
        if !self.spaces.with_untracked(|s| s.contains_key(&name)) {
            let stored = storage()
                .and_then(|s| s.get_item(&stored_key(&name)).ok().flatten())
                .and_then(|json| serde_json::from_str::<Workspace>(&json).ok())
                .filter(|w| !w.files.is_empty());
            if let Some(w) = stored.or_else(|| self.example(&name)) {
                self.spaces.update(|s| {
                    s.insert(name.clone(), w);
                });
            }
        }
        self.active.set(0);
        if let Some(s) = storage() {
            let _ = s.set_item(LAST, &name);
        }
        self.current.set(name);
    }

    /// A fresh workspace for sandbox `name`: its example.
    fn example(self, name: &str) -> Option<Workspace> {
        self.sandboxes.with_untracked(|all| {
            let s = all.iter().find(|s| s.name == name)?;
            Some(Workspace {
                files: vec![File {
                    name: s.entry.clone(),
                    code: s.example.clone(),
                }],
                ..Workspace::default()
            })
        })
    }

    /// The sandbox the last visit ended on.
    pub fn last(self) -> Option<String> {
        storage().and_then(|s| s.get_item(LAST).ok().flatten())
    }

    /// Keeps every change for the next visit.
    pub fn keep(self) {
        Effect::new(move |_| {
            let name = self.current.get();
            let json = self
                .spaces
                .with(|s| s.get(&name).and_then(|w| serde_json::to_string(w).ok()));
            if let (Some(store), Some(json)) = (storage(), json) {
                let _ = store.set_item(&stored_key(&name), &json);
            }
        });
    }

    /// Runs the current workspace on the server that serves the page.
    pub fn run(self) {
        let w = self.workspace();
        let files = w.files.into_iter().enumerate();
        let job = Job {
            sandbox: self.current.get_untracked(),
            files: files
                .map(|(i, f)| (if i == 0 { String::new() } else { f.name }, f.code))
                .collect(),
            stdin: (!w.interactive && !w.stdin.is_empty()).then_some(w.stdin),
            interactive: w.interactive,
            ..Job::default()
        };
        let origin = window().location().origin().unwrap_or_default();
        self.runner.run(&origin, Ok(job));
    }
}
