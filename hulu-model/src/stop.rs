//! Stop strings: end generation when the decoded text contains one of them, and cut the text
//! there.

use crate::held::partial_marker_suffix;

/// What a [`StopFilter`] lets through for one piece of text.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StopOutput {
    /// Text that is final: it is not part of any stop string.
    pub text: String,
    /// A stop string was found; no more text will come.
    pub stopped: bool,
}

/// A streaming stop-string filter.
///
/// Pieces of text go in; text comes out as soon as it cannot be the start of a stop string.
/// When the text seen so far contains a stop string, everything from its earliest occurrence
/// on is dropped and the filter reports `stopped`. Empty stop strings are ignored.
#[derive(Debug, Clone, Default)]
pub struct StopFilter {
    stops: Vec<String>,
    held: String,
    stopped: bool,
}

impl StopFilter {
    /// A filter for these stop strings.
    pub fn new<S: Into<String>>(stops: impl IntoIterator<Item = S>) -> Self {
        StopFilter {
            stops: stops
                .into_iter()
                .map(Into::into)
                .filter(|s: &String| !s.is_empty())
                .collect(),
            held: String::new(),
            stopped: false,
        }
    }

    /// Whether a stop string has been seen.
    pub fn is_stopped(&self) -> bool {
        self.stopped
    }

    /// Feeds the next piece of decoded text.
    pub fn push(&mut self, piece: &str) -> StopOutput {
        if self.stopped {
            return StopOutput {
                text: String::new(),
                stopped: true,
            };
        }
        self.held.push_str(piece);
        if let Some(at) = find_stop(&self.held, &self.stops) {
            self.held.truncate(at);
            self.stopped = true;
            return StopOutput {
                text: std::mem::take(&mut self.held),
                stopped: true,
            };
        }
        let keep = partial_marker_suffix(&self.held, self.stops.iter().map(String::as_str));
        let rest = self.held.split_off(self.held.len() - keep);
        StopOutput {
            text: std::mem::replace(&mut self.held, rest),
            stopped: false,
        }
    }

    /// The text held back because it could have begun a stop string (the stream ended).
    pub fn finish(&mut self) -> String {
        std::mem::take(&mut self.held)
    }
}

/// Byte offset of the earliest occurrence of any stop string in `text`.
pub fn find_stop(text: &str, stops: &[String]) -> Option<usize> {
    stops
        .iter()
        .filter(|s| !s.is_empty())
        .filter_map(|s| text.find(s.as_str()))
        .min()
}

/// `text` up to its first stop string, and whether one was found.
pub fn truncate_at_stop<'a>(text: &'a str, stops: &[String]) -> (&'a str, bool) {
    match find_stop(text, stops) {
        Some(at) => (&text[..at], true),
        None => (text, false),
    }
}
