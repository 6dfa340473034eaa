//! Removing the reasoning blocks (`<think>…</think>`) that Qwen3-style models write before
//! their answer.

use crate::held::partial_marker_suffix;

/// The tag that opens a reasoning block.
pub const THINK_OPEN: &str = "<think>";
/// The tag that closes a reasoning block.
pub const THINK_CLOSE: &str = "</think>";

/// A streaming filter that drops `<think>…</think>` blocks, tags included.
///
/// A block still open when the stream ends is dropped whole (the model was cut off while
/// reasoning). Text after a block is kept as is, including the newlines models put after
/// `</think>`. A closing tag outside a block is ordinary text, unless the filter was made with
/// [`ThinkFilter::starting_inside`] (for prompts whose template already opened the block).
#[derive(Debug, Clone, Default)]
pub struct ThinkFilter {
    inside: bool,
    held: String,
}

impl ThinkFilter {
    /// A filter that starts outside any block.
    pub fn new() -> Self {
        Self::default()
    }

    /// A filter that starts inside a block: everything up to the first `</think>` is dropped.
    pub fn starting_inside() -> Self {
        ThinkFilter {
            inside: true,
            held: String::new(),
        }
    }

    /// Feeds the next piece of text and returns what is visible for sure.
    pub fn push(&mut self, piece: &str) -> String {
        self.held.push_str(piece);
        let mut out = String::new();
        loop {
            let tag = if self.inside { THINK_CLOSE } else { THINK_OPEN };
            if let Some(at) = self.held.find(tag) {
                if !self.inside {
                    out.push_str(&self.held[..at]);
                }
                self.held.drain(..at + tag.len());
                self.inside = !self.inside;
                continue;
            }
            // Keep only what could still become the tag.
            let keep = partial_marker_suffix(&self.held, [tag]);
            let rest = self.held.split_off(self.held.len() - keep);
            let done = std::mem::replace(&mut self.held, rest);
            if !self.inside {
                out.push_str(&done);
            }
            return out;
        }
    }

    /// The visible rest at the end of the stream (nothing when a block is still open).
    pub fn finish(&mut self) -> String {
        let held = std::mem::take(&mut self.held);
        if self.inside {
            String::new()
        } else {
            held
        }
    }
}

/// `text` without its `<think>…</think>` blocks (and without a trailing unclosed block).
pub fn strip_think(text: &str) -> String {
    let mut filter = ThinkFilter::new();
    let mut out = filter.push(text);
    out.push_str(&filter.finish());
    out
}
