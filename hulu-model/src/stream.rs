//! Streaming detokenisation: text pieces as ids arrive, never splitting a UTF-8 character,
//! with optional stop strings and reasoning-block removal.

use crate::error::Result;
use crate::stop::StopFilter;
use crate::think::ThinkFilter;
use crate::tokenizer::Tokenizer;

/// The replacement character the decoder writes for bytes that are not (yet) valid UTF-8.
const REPLACEMENT: char = '\u{FFFD}';

/// Turns ids into text pieces one id at a time.
///
/// A byte-level token may carry only part of a character (a CJK character or an emoji spans
/// several tokens). The decoder holds back the ids whose text still ends in an incomplete
/// sequence and emits it once the character is complete, so the pieces concatenate to exactly
/// `tokenizer.decode(all_ids, skip_special)`.
#[derive(Debug, Clone)]
pub struct IncrementalDecoder {
    tokenizer: Tokenizer,
    skip_special: bool,
    /// Ids since the last point where the text ended on a complete character.
    pending: Vec<u32>,
    /// Bytes of `decode(pending)` already emitted.
    emitted: usize,
}

impl IncrementalDecoder {
    /// A decoder; `skip_special` leaves out special added tokens as `decode` does.
    pub fn new(tokenizer: Tokenizer, skip_special: bool) -> Self {
        IncrementalDecoder {
            tokenizer,
            skip_special,
            pending: Vec::new(),
            emitted: 0,
        }
    }

    /// Adds one id and returns the text that is now complete (possibly empty).
    ///
    /// # Errors
    ///
    /// [`Error::UnknownTokenId`](crate::Error::UnknownTokenId) for an id outside the
    /// vocabulary; [`Error::Tokenizer`](crate::Error::Tokenizer) when decoding fails.
    pub fn push(&mut self, id: u32) -> Result<String> {
        self.pending.push(id);
        let text = self.tokenizer.decode(&self.pending, self.skip_special)?;
        // Text before a trailing run of U+FFFD can no longer change: it ends on a complete
        // character, and more bytes only affect what follows it.
        let stable = text.trim_end_matches(REPLACEMENT).len();
        if stable < self.emitted || !text.is_char_boundary(self.emitted) {
            return Ok(String::new());
        }
        let piece = text[self.emitted..stable].to_string();
        if stable == text.len() {
            // A clean boundary: decoding can restart from here.
            self.pending.clear();
            self.emitted = 0;
        } else {
            self.emitted = stable;
        }
        Ok(piece)
    }

    /// Adds several ids and returns the text they complete.
    ///
    /// # Errors
    ///
    /// As [`IncrementalDecoder::push`].
    pub fn push_all(&mut self, ids: &[u32]) -> Result<String> {
        let mut out = String::new();
        for &id in ids {
            out.push_str(&self.push(id)?);
        }
        Ok(out)
    }

    /// The text still held back (incomplete characters become U+FFFD), at the end of the
    /// stream. The decoder is then empty and can be reused.
    ///
    /// # Errors
    ///
    /// [`Error::Tokenizer`](crate::Error::Tokenizer) when decoding fails.
    pub fn finish(&mut self) -> Result<String> {
        let text = self.tokenizer.decode(&self.pending, self.skip_special)?;
        let piece = text.get(self.emitted..).unwrap_or_default().to_string();
        self.pending.clear();
        self.emitted = 0;
        Ok(piece)
    }
}

/// Options of a [`TextStream`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TextStreamOptions {
    /// Leave out special tokens (`<|im_end|>`, ...), as `decode(_, true)`.
    pub skip_special: bool,
    /// Stop when the decoded text contains one of these; the text is cut before it.
    pub stop_strings: Vec<String>,
    /// Remove `<think>…</think>` blocks from the visible text.
    pub strip_think: bool,
}

/// One step of a [`TextStream`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StreamStep {
    /// Visible text completed by this id (possibly empty).
    pub text: String,
    /// A stop string was found: generation should end.
    pub stopped: bool,
}

/// Ids in, visible text pieces out: incremental decoding, then stop strings (matched on the
/// decoded text, reasoning included, as `transformers` does), then reasoning removal.
#[derive(Debug, Clone)]
pub struct TextStream {
    decoder: IncrementalDecoder,
    stop: StopFilter,
    think: Option<ThinkFilter>,
}

impl TextStream {
    /// A stream over `tokenizer` with `options`.
    pub fn new(tokenizer: Tokenizer, options: TextStreamOptions) -> Self {
        TextStream {
            decoder: IncrementalDecoder::new(tokenizer, options.skip_special),
            stop: StopFilter::new(options.stop_strings),
            think: options.strip_think.then(ThinkFilter::new),
        }
    }

    /// Whether a stop string has been seen.
    pub fn is_stopped(&self) -> bool {
        self.stop.is_stopped()
    }

    /// Adds one generated id.
    ///
    /// # Errors
    ///
    /// As [`IncrementalDecoder::push`].
    pub fn push(&mut self, id: u32) -> Result<StreamStep> {
        if self.stop.is_stopped() {
            return Ok(StreamStep {
                text: String::new(),
                stopped: true,
            });
        }
        let piece = self.decoder.push(id)?;
        let out = self.stop.push(&piece);
        let mut text = self.visible(&out.text);
        if out.stopped {
            // Nothing follows a stop: flush what the reasoning filter still holds.
            text.push_str(&self.finish_think());
        }
        Ok(StreamStep {
            text,
            stopped: out.stopped,
        })
    }

    /// The visible text still held back, at the end of the stream.
    ///
    /// # Errors
    ///
    /// [`Error::Tokenizer`](crate::Error::Tokenizer) when decoding fails.
    pub fn finish(&mut self) -> Result<String> {
        if self.stop.is_stopped() {
            return Ok(String::new());
        }
        let piece = self.decoder.finish()?;
        let out = self.stop.push(&piece);
        let mut text = self.visible(&out.text);
        if !out.stopped {
            let rest = self.stop.finish();
            text.push_str(&self.visible(&rest));
        }
        text.push_str(&self.finish_think());
        Ok(text)
    }

    fn visible(&mut self, text: &str) -> String {
        match &mut self.think {
            Some(filter) => filter.push(text),
            None => text.to_string(),
        }
    }

    fn finish_think(&mut self) -> String {
        self.think
            .as_mut()
            .map(ThinkFilter::finish)
            .unwrap_or_default()
    }
}
