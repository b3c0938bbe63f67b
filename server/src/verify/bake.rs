//! Writing outputs into the built pages (`--bake`), and finding where a
//! page's blocks start (for a report's line numbers), with a streaming
//! HTML rewriter: every byte of a page outside the baked outputs stays as
//! the generator wrote it, and baking twice gives the same bytes.

use std::cell::{Cell, RefCell};

use lol_html::html_content::ContentType;
use lol_html::{RewriteStrSettings, element, rewrite_str};

/// The blocks a baked output may follow, in the reader's terms (the same
/// elements as `site::slots`: `pre` and `snip-box`, a baked output's own
/// `pre`s left out).
pub(super) const SLOTS: &str = "pre,snip-box";
const REWRITER_SLOTS: &str = "pre:not(.snipbox-baked-stdout):not(.snipbox-baked-stderr), snip-box";

/// Where each block of the page starts (a byte offset), in document order;
/// `None` if the page cannot be read so.
pub(super) fn block_offsets(html: &str) -> Option<Vec<usize>> {
    let offsets = RefCell::new(Vec::new());
    rewrite_str(
        html,
        RewriteStrSettings::new().append_element_content_handler(element!(REWRITER_SLOTS, |el| {
            offsets
                .borrow_mut()
                .push(el.source_location().bytes().start);
            Ok(())
        })),
    )
    .ok()?;
    Some(offsets.into_inner())
}

/// The page with the outputs baked in: `outputs` are (block's place among
/// the page's blocks, the output's markup); outputs baked before are
/// replaced.
pub(super) fn bake(html: &str, outputs: &[(usize, String)]) -> anyhow::Result<String> {
    let at = Cell::new(0usize);
    let baked = rewrite_str(
        html,
        RewriteStrSettings::new()
            .append_element_content_handler(element!(
                format!(".{}", snipbox_page::bake::CLASS),
                |el| {
                    el.remove();
                    Ok(())
                }
            ))
            .append_element_content_handler(element!(REWRITER_SLOTS, |el| {
                let slot = at.get();
                at.set(slot + 1);
                if let Some((_, markup)) = outputs.iter().find(|(s, _)| *s == slot) {
                    el.after(markup, ContentType::Html);
                }
                Ok(())
            })),
    )?;
    Ok(baked)
}
