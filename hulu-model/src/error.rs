//! The error type of `hulu-model`.

use std::path::PathBuf;

/// Result alias for `hulu-model`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong turning a conversation into ids and ids back into text.
///
/// Variants name the file or the count that is wrong, so a user can tell which part of a
/// checkpoint directory or which part of a conversation to fix.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An operating-system error opening or reading a file.
    #[error("cannot read {path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// A JSON file of the checkpoint directory is malformed or lacks a field we need.
    #[error("{path}: invalid JSON file: {reason}")]
    InvalidJson {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },

    /// No checkpoint directory where the model was looked for: the directory given does not
    /// exist, or the Hub id is not in the local Hugging Face cache and downloading was not
    /// allowed ([`crate::hub`]).
    #[error("model {model} not found (looked in {}){}", .looked_in.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "), .hint.as_deref().map(|h| format!("; {h}")).unwrap_or_default())]
    ModelNotFound {
        /// The directory or Hub id asked for.
        model: String,
        /// Every path checked.
        looked_in: Vec<PathBuf>,
        /// How to get the model, for a Hub id: how to allow downloading it (the CLI's
        /// `--download`, [`crate::hub::HubOptions::download`] in the library), or that this
        /// build cannot download.
        hint: Option<String>,
    },

    /// A Hub id missing from the cache could not be downloaded: the Hub (or `HF_ENDPOINT`)
    /// answered with an error or could not be reached, the repository has no checkpoint
    /// files, writing the cache failed, or downloads are refused (`HF_HUB_OFFLINE`, or a build
    /// without the `download` feature).
    #[error("cannot download {repo}@{revision} from {endpoint}: {cause}")]
    DownloadFailed {
        /// `org/name`.
        repo: String,
        /// The branch, tag or commit asked for (`main` by default).
        revision: String,
        /// The Hub endpoint (`HF_ENDPOINT`, default `https://huggingface.co`).
        endpoint: String,
        /// What went wrong.
        cause: String,
    },

    /// A config or checkpoint file could not be read by `hulu-io`.
    #[error(transparent)]
    Config(#[from] hulu_io::Error),

    /// A visual input (image, DICOM, NIfTI, video) could not be read by `hulu-io`; the
    /// message names the file.
    #[error(transparent)]
    Media(hulu_io::Error),

    /// The directory has neither `tokenizer.json` nor `vocab.json` + `merges.txt`.
    #[error("{dir}: no tokenizer.json and no vocab.json + merges.txt")]
    NoTokenizer {
        /// The checkpoint directory.
        dir: PathBuf,
    },

    /// `merges.txt` has a line that is not two space-separated symbols.
    #[error("{path}:{line}: a merge must be two space-separated symbols")]
    BadMerge {
        /// The merges file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
    },

    /// An added token would not get the id its config gives it (ids must follow the vocabulary
    /// without gaps, as in every Qwen2 tokenizer).
    #[error(
        "added token {content:?} should have id {expected} but the tokenizer gave it {actual}"
    )]
    AddedTokenId {
        /// The token text.
        content: String,
        /// The id from `added_tokens_decoder` / `added_tokens.json`.
        expected: u32,
        /// The id it got.
        actual: u32,
    },

    /// The `tokenizers` library failed (loading, encoding or decoding).
    #[error("tokenizer: {0}")]
    Tokenizer(String),

    /// A token id outside the vocabulary.
    #[error("token id {id} is outside the vocabulary of {vocab_size} ids")]
    UnknownTokenId {
        /// The id.
        id: u32,
        /// Ids known to the tokenizer, added tokens included.
        vocab_size: usize,
    },

    /// `config.json`'s `image_token_index` is not a valid token id.
    #[error("image_token_index {0} is not a token id")]
    InvalidImageToken(i64),

    /// A token the caller needs (e.g. the image token) is not in the vocabulary.
    #[error("token {0:?} is not in the vocabulary")]
    UnknownToken(String),

    /// Neither `chat_template.json` nor `tokenizer_config.json` holds a chat template.
    #[error("{dir}: no chat template in chat_template.json or tokenizer_config.json")]
    NoChatTemplate {
        /// The checkpoint directory.
        dir: PathBuf,
    },

    /// The Jinja engine rejected the template or failed while rendering it.
    #[error("chat template: {0}")]
    Template(String),

    /// The prompt has a different number of image placeholders than there are visual frames.
    #[error(
        "the prompt has {placeholders} image tokens but {visual_frames} visual frames were given"
    )]
    ImageCountMismatch {
        /// Image-token occurrences in the prompt.
        placeholders: usize,
        /// Frames (one per placeholder) described by the visual inputs.
        visual_frames: usize,
    },

    /// Text of the conversation contains the image token's text (`<image>`), which only a
    /// visual item may put in the prompt.
    #[error(
        "turn {turn} contains the text {text:?}, which marks a visual input: attach the \
         picture as a visual item, or set PrepareOptions::literal_text to read it as text"
    )]
    LiteralImageToken {
        /// Index of the turn in the conversation.
        turn: usize,
        /// The image token's text.
        text: String,
    },

    /// Logits are empty, contain NaN, or are all `-inf`.
    #[error("invalid logits: {0}")]
    InvalidLogits(String),

    /// A sampling parameter is out of range (e.g. `top_p` outside `(0, 1]`).
    #[error("invalid sampling option: {0}")]
    InvalidSampling(String),

    /// A tensor could not be read (wrong device, dtype or rank).
    #[error("tensor: {0}")]
    Tensor(String),

    /// The vision side failed (preprocessing, encoder, projector).
    #[error(transparent)]
    Vision(#[from] hulu_vision::Error),

    /// The vision side cannot use one visual input read from a file (frames of different
    /// sizes, an empty frame, a size no resize rule fits): names the file.
    #[error("{}", .path.display())]
    VisualInput {
        /// The file or folder the input was read from.
        path: std::path::PathBuf,
        /// What the vision side said.
        #[source]
        source: hulu_vision::Error,
    },

    /// Token compression failed.
    #[error(transparent)]
    Compress(#[from] hulu_compress::Error),

    /// The decoder failed (including prompts longer than its cache).
    #[error(transparent)]
    Decoder(#[from] hulu_llm::Error),

    /// Components that do not fit together (widths, vocabulary).
    #[error("model assembly: {0}")]
    Assembly(String),

    /// The prompt has a different number of image tokens than there are visual features.
    #[error("{image_tokens} image tokens in the prompt but {features} visual feature rows")]
    VisualTokenMismatch {
        /// Image-token ids in the prompt.
        image_tokens: usize,
        /// Rows of visual features.
        features: usize,
    },

    /// A chat template exceeded what one rendering may spend ([`crate::template::limits`]).
    #[error("chat template: exceeded the limit of {limit} {what}")]
    TemplateBudget {
        /// `instructions` or `output bytes`.
        what: &'static str,
        /// The limit.
        limit: u64,
    },

    /// A chat template built to exhaust memory, refused before it is rendered (a variable
    /// assigned from two or more copies of itself, a macro that calls itself).
    #[error("chat template refused: {reason}")]
    TemplateRefused {
        /// What in the template grows without bound.
        reason: String,
    },

    /// Fetching a weight failed (the key is named).
    #[error(transparent)]
    Weights(#[from] hulu_nn::Error),

    /// A per-call option or a study's field has a value hulu cannot use (the field is named).
    #[error("{field}: {reason}")]
    InvalidRequest {
        /// The option or field, e.g. `window` or `inputs[0].type`.
        field: String,
        /// What is wrong and what is accepted.
        reason: String,
    },

    /// A line of a batch manifest (JSON Lines) is not a study.
    #[error("{path} line {line}: {reason}")]
    Manifest {
        /// The manifest.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },

    /// The prompt (plus the requested new tokens) does not fit the model's context.
    #[error("{tokens} tokens exceed the context of {max} positions")]
    PromptTooLong {
        /// Tokens needed.
        tokens: usize,
        /// `max_position_embeddings`.
        max: usize,
    },
}

impl Error {
    /// An [`Error::Io`] for `path`.
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// An [`Error::InvalidJson`] for `path`.
    pub(crate) fn json(path: impl Into<PathBuf>, reason: impl ToString) -> Self {
        Error::InvalidJson {
            path: path.into(),
            reason: reason.to_string(),
        }
    }
}

impl From<tokenizers::Error> for Error {
    fn from(e: tokenizers::Error) -> Self {
        Error::Tokenizer(e.to_string())
    }
}

impl From<minijinja::Error> for Error {
    fn from(e: minijinja::Error) -> Self {
        // `{:#}` includes the template line and the failing expression.
        Error::Template(format!("{e:#}"))
    }
}

impl From<tch::TchError> for Error {
    fn from(e: tch::TchError) -> Self {
        Error::Tensor(e.to_string())
    }
}
