//! Putting a run together from the page as the reader sees it: the
//! mounted snippets' current code (a reader may have edited it), else the
//! blocks' text. The rules themselves are `snipbox_page::compose`'s.

use std::cell::RefCell;

use leptos::prelude::*;
use snipbox_page::compose::{self, Blocks, Job};

use crate::dom::text_of;
use crate::options::Options;

/// A mounted snippet, as other snippets of the page see it.
#[derive(Clone)]
struct Entry {
    code: RwSignal<String>,
    depends_on: Vec<String>,
}

thread_local! {
    /// The page's snippets by id, for `depends-on` and `files`. (A page
    /// has a few dozen at most: a list costs less code than a map.)
    static SNIPPETS: RefCell<Vec<(String, Entry)>> = const { RefCell::new(Vec::new()) };
}

/// Makes a mounted snippet's code visible to the others under its id (a
/// later snippet of the same id replaces an earlier one).
pub fn register(id: &str, code: RwSignal<String>, depends_on: Vec<String>) {
    SNIPPETS.with_borrow_mut(|s| {
        s.retain(|(other, e)| other != id && !e.code.is_disposed());
        s.push((id.to_string(), Entry { code, depends_on }));
    });
}

/// The mounted snippet with this id (not one taken off the page since).
fn entry(id: &str) -> Option<Entry> {
    SNIPPETS.with_borrow(|s| {
        s.iter()
            .find(|(i, e)| i == id && !e.code.is_disposed())
            .map(|(_, e)| e.clone())
    })
}

/// The page as the reader has it now.
struct Live;

impl Blocks for Live {
    fn code(&self, id: &str) -> Option<String> {
        entry(id)
            .map(|e| e.code.get_untracked())
            .or_else(|| text_of(id))
    }

    fn depends_on(&self, id: &str) -> Option<Vec<String>> {
        match entry(id) {
            Some(e) => Some(e.depends_on),
            None => text_of(id).map(|_| Vec::new()),
        }
    }
}

/// The request a snippet sends with `code` as its own code.
pub fn job(options: &Options, code: String) -> Result<Job, String> {
    compose::job(options, code, &Live)
}
