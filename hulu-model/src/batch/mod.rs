//! Questions over many studies: the JSON schema of a study (its inputs and per-call options,
//! [`spec`]), and a resumable run over a JSON Lines manifest ([`run`]) that `hulu batch`,
//! the Python bindings and the Ray example share, so all three write the same answer lines.
//!
//! Errors are sorted into three classes ([`ErrorClass`]) that the answer lines and the Python
//! exceptions (`hulu.FileError`, `hulu.InputError`, `hulu.ModelError`) name.

pub mod run;
pub mod spec;

pub use run::{answer_line, answer_study, run_batch, BatchSummary, Outcome, Study, StudyAnswer};
pub use spec::{AxisSpec, CallOptions, InputKind, InputSpec, ReadOptions, WindowSpec};

use crate::error::Error;

/// Whose fault an error is, as a user acts on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// A visual file could not be read: missing, unreadable, corrupt, unsupported or over the
    /// allocation limits.
    File,
    /// The request is wrong: an unknown option or value, a prompt too long, image
    /// placeholders that do not match the visuals, a bad manifest line.
    Input,
    /// The checkpoint or the model failed: config, weights, tokenizer, template, tensors.
    Model,
}

impl ErrorClass {
    /// The Python exception's name: `FileError`, `InputError` or `ModelError`.
    pub fn name(self) -> &'static str {
        match self {
            ErrorClass::File => "FileError",
            ErrorClass::Input => "InputError",
            ErrorClass::Model => "ModelError",
        }
    }
}

/// The class of a `hulu-model` error.
pub fn error_class(err: &Error) -> ErrorClass {
    match err {
        Error::Media(hulu_io::Error::InvalidRequest(_)) => ErrorClass::Input,
        Error::Io { .. }
        | Error::ModelNotFound { .. }
        | Error::VisualInput { .. }
        | Error::Media(_)
        | Error::Config(hulu_io::Error::Io { .. } | hulu_io::Error::NotRegularFile { .. }) => {
            ErrorClass::File
        }
        Error::InvalidRequest { .. }
        | Error::Manifest { .. }
        | Error::ImageCountMismatch { .. }
        | Error::LiteralImageToken { .. }
        | Error::InvalidSampling(_)
        | Error::PromptTooLong { .. } => ErrorClass::Input,
        _ => ErrorClass::Model,
    }
}
