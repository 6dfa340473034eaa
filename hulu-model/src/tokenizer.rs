//! The text tokenizer: Qwen2-style byte-level BPE with the checkpoint's added tokens.

mod qwen2;

use std::path::Path;
use std::str::FromStr;
use std::sync::{Arc, OnceLock};

pub use qwen2::QWEN2_SPLIT_PATTERN;

use crate::error::{Error, Result};

/// A checkpoint's tokenizer.
///
/// Loaded from `tokenizer.json` when the directory has one, otherwise assembled from
/// `vocab.json` + `merges.txt` + `added_tokens.json` + `tokenizer_config.json` exactly as
/// `Qwen2TokenizerFast` converts them. Special tokens written in the text (`<|im_start|>`,
/// `<image>`, ...) are recognised as single ids; no BOS or EOS is added.
///
/// Cloning is cheap (the vocabulary is shared).
#[derive(Debug, Clone)]
pub struct Tokenizer {
    inner: Arc<tokenizers::Tokenizer>,
    /// The same tokenizer with every added token special and special tokens not split, built
    /// on first use of [`Tokenizer::encode_literal`].
    literal: Arc<OnceLock<tokenizers::Tokenizer>>,
}

impl Tokenizer {
    /// Loads the tokenizer of the checkpoint directory `dir`.
    ///
    /// # Errors
    ///
    /// [`Error::NoTokenizer`] when the directory has neither form; otherwise as
    /// [`Tokenizer::from_tokenizer_json`] or [`Tokenizer::from_vocab_files`].
    pub fn from_dir(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref();
        let _span = tracing::info_span!("load_tokenizer", dir = %dir.display()).entered();
        let json = dir.join("tokenizer.json");
        if json.is_file() {
            return Self::from_tokenizer_json(&json);
        }
        if dir.join("vocab.json").is_file() && dir.join("merges.txt").is_file() {
            return Self::from_vocab_files(dir);
        }
        Err(Error::NoTokenizer {
            dir: dir.to_path_buf(),
        })
    }

    /// Loads a `tokenizer.json` file (the `tokenizers` serialisation).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidJson`] when the file cannot be read or parsed.
    pub fn from_tokenizer_json(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let inner = tokenizers::Tokenizer::from_file(path).map_err(|e| Error::json(path, e))?;
        Ok(Self::from_inner(inner))
    }

    /// Assembles the Qwen2 tokenizer from the slow files in `dir` (see the type docs).
    ///
    /// # Errors
    ///
    /// [`Error::Io`] or [`Error::InvalidJson`] for an unreadable file, [`Error::BadMerge`] for
    /// a malformed merge, [`Error::AddedTokenId`] for an added token whose id does not follow
    /// the vocabulary.
    pub fn from_vocab_files(dir: impl AsRef<Path>) -> Result<Self> {
        Ok(Self::from_inner(qwen2::build(dir.as_ref())?))
    }

    /// Wraps an already built `tokenizers` tokenizer.
    pub fn from_inner(inner: tokenizers::Tokenizer) -> Self {
        Tokenizer {
            inner: Arc::new(inner),
            literal: Arc::new(OnceLock::new()),
        }
    }

    /// The underlying `tokenizers` tokenizer.
    pub fn inner(&self) -> &tokenizers::Tokenizer {
        &self.inner
    }

    /// The ids of `text`, special tokens in it included, without any BOS/EOS.
    ///
    /// # Errors
    ///
    /// [`Error::Tokenizer`] when the `tokenizers` library fails.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        let _span = tracing::info_span!("tokenize", bytes = text.len()).entered();
        // `add_special_tokens` only drives the post-processor, which for these tokenizers adds
        // nothing; it is on so that a tokenizer.json with a template behaves like HF.
        let encoding = self.inner.encode(text, true)?;
        Ok(encoding.get_ids().to_vec())
    }

    /// The ids of `text` read as plain text: `<|im_end|>`, `<image>` or `<think>` written in it
    /// become the ids of those characters, never the control tokens (the `tokenizers` notion
    /// of not splitting special tokens, extended to every added token). For text from someone
    /// other than the operator, e.g. a server's client.
    ///
    /// # Errors
    ///
    /// [`Error::Tokenizer`] when the `tokenizers` library fails.
    pub fn encode_literal(&self, text: &str) -> Result<Vec<u32>> {
        let _span = tracing::info_span!("tokenize_literal", bytes = text.len()).entered();
        let literal = match self.literal.get() {
            Some(t) => t,
            None => {
                let built = self.build_literal()?;
                self.literal.get_or_init(|| built)
            }
        };
        Ok(literal.encode(text, true)?.get_ids().to_vec())
    }

    /// `tokenizers` splits special tokens out only while `encode_special_tokens` is off and
    /// always splits non-special added tokens, so the copy marks every added token special
    /// (same ids) and turns splitting off.
    fn build_literal(&self) -> Result<tokenizers::Tokenizer> {
        let mut json: serde_json::Value = serde_json::from_str(&self.inner.to_string(false)?)
            .map_err(|e| Error::Tokenizer(e.to_string()))?;
        if let Some(added) = json
            .get_mut("added_tokens")
            .and_then(serde_json::Value::as_array_mut)
        {
            for token in added {
                token["special"] = serde_json::Value::Bool(true);
            }
        }
        let mut literal = tokenizers::Tokenizer::from_str(&json.to_string())?;
        literal.set_encode_special_tokens(true);
        Ok(literal)
    }

    /// The text of `ids`; with `skip_special` the special added tokens are left out.
    ///
    /// Byte sequences that are not valid UTF-8 become U+FFFD. An id outside the vocabulary is
    /// an [`Error::UnknownTokenId`] (the `tokenizers` library would silently drop it).
    ///
    /// # Errors
    ///
    /// [`Error::UnknownTokenId`] as above; [`Error::Tokenizer`] when decoding fails.
    pub fn decode(&self, ids: &[u32], skip_special: bool) -> Result<String> {
        self.check_ids(ids)?;
        Ok(self.inner.decode(ids, skip_special)?)
    }

    /// The id of a token's text (a vocabulary symbol or an added token).
    pub fn token_to_id(&self, token: &str) -> Option<u32> {
        self.inner.token_to_id(token)
    }

    /// The text of the vocabulary symbol or added token `id`.
    pub fn id_to_token(&self, id: u32) -> Option<String> {
        self.inner.id_to_token(id)
    }

    /// Number of ids, added tokens included (smaller than a model's padded embedding table).
    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }

    /// Whether `id` is a special added token (one that `decode(_, true)` leaves out).
    pub fn is_special(&self, id: u32) -> bool {
        self.inner
            .get_added_vocabulary()
            .simple_id_to_token(id)
            .is_some_and(|t| self.inner.get_added_vocabulary().is_special_token(&t))
    }

    /// Errors on the first id that has no token.
    fn check_ids(&self, ids: &[u32]) -> Result<()> {
        match ids.iter().find(|&&id| self.inner.id_to_token(id).is_none()) {
            Some(&id) => Err(Error::UnknownTokenId {
                id,
                vocab_size: self.vocab_size(),
            }),
            None => Ok(()),
        }
    }
}
