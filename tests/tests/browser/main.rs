//! The front end in a real browser (headless Chromium through
//! chromedriver), against the real server and sandboxes. One binary with
//! topical modules: the widget on another origin's page, the server's demo
//! page, and the playground. Pages come from `snipbox_tests::browser::Fixture`.

mod access;
mod book;
mod demo;
mod generators;
mod languages;
mod playground;
mod runbar;
mod widget;
