//! The error type of `hulu-train`.

use std::path::PathBuf;

/// Result alias for `hulu-train`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong setting up or running training. Bad settings are refused
/// with one of these before any model is loaded or any step taken.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A component name that is not `llm`, `projector` or `vision`.
    #[error("unknown component {name:?} (known: llm, projector, vision)")]
    UnknownComponent {
        /// The name given.
        name: String,
    },

    /// A learning rate that is not a positive finite number.
    #[error("learning rate of {component} must be positive and finite, got {lr}")]
    InvalidLearningRate {
        /// The component (`llm`, `projector`, `vision`).
        component: String,
        /// The value given.
        lr: f64,
    },

    /// An optimizer, schedule, LoRA or data setting outside its range.
    #[error("setting {field}: {reason}")]
    InvalidSetting {
        /// The setting, as named in a recipe.
        field: String,
        /// What is wrong with it.
        reason: String,
    },

    /// A LoRA target that names none of the decoder's projections.
    #[error("LoRA target {target:?} matches no decoder projection")]
    LoraTargetMatchesNothing {
        /// The target given.
        target: String,
    },

    /// The policy leaves nothing to train.
    #[error("policy {policy} trains no parameter")]
    NothingToTrain {
        /// The policy's name.
        policy: String,
    },

    /// A conversation cannot be a training example (no assistant turn, a message the template
    /// does not render as the label rule expects).
    #[error("example: {reason}")]
    Example {
        /// What is wrong.
        reason: String,
    },

    /// A PEFT adapter folder that does not describe adapters for this model.
    #[error("adapter {path}: {reason}")]
    Adapter {
        /// The adapter folder or file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },

    /// Reading or writing a file failed.
    #[error("file {path}")]
    File {
        /// The file.
        path: PathBuf,
        /// The failure.
        #[source]
        source: std::io::Error,
    },

    /// A JSON document that could not be parsed or written.
    #[error("JSON {path}")]
    Json {
        /// The file.
        path: PathBuf,
        /// The failure.
        #[source]
        source: serde_json::Error,
    },

    /// Drawing or writing the loss-curve PNG failed.
    #[error("loss plot {path}")]
    Plot {
        /// The PNG.
        path: PathBuf,
        /// The failure (plotters' or the PNG encoder's).
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    /// The model (template, tokenizer, stages) refused.
    #[error("model")]
    Model(#[from] hulu_model::Error),

    /// The decoder refused (an adapter that does not fit, a layer pass).
    #[error("decoder")]
    Decoder(#[from] hulu_llm::Error),

    /// The vision side refused (a layer pass under gradient checkpointing).
    #[error("vision")]
    Vision(#[from] hulu_vision::Error),

    /// Building parameters failed.
    #[error("weights")]
    Weights(#[from] hulu_nn::Error),

    /// Reading a checkpoint failed.
    #[error("reading")]
    Io(#[from] hulu_io::Error),

    /// libtorch refused an operation.
    #[error("libtorch")]
    Torch(#[from] tch::TchError),
}

impl Error {
    pub(crate) fn setting(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::InvalidSetting {
            field: field.into(),
            reason: reason.into(),
        }
    }

    pub(crate) fn example(reason: impl Into<String>) -> Self {
        Error::Example {
            reason: reason.into(),
        }
    }

    pub(crate) fn file(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::File {
            path: path.into(),
            source,
        }
    }
}
