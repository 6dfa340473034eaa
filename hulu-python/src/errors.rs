//! The Python exceptions: `HuluError` and one subclass per [`ErrorClass`] (`FileError`,
//! `InputError`, `ModelError`). The message is the error with its sources (each Rust
//! `Display` names only its own level), so a Python user sees the whole chain at once.

use hulu_model::batch::run::message_chain;
use hulu_model::batch::{error_class, ErrorClass};
use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;

create_exception!(
    hulu,
    HuluError,
    PyException,
    "Base class of every error hulu raises."
);
create_exception!(
    hulu,
    FileError,
    HuluError,
    "A visual file or the checkpoint could not be read: missing, unreadable, corrupt, \
     unsupported, or over the allocation limits."
);
create_exception!(
    hulu,
    InputError,
    HuluError,
    "The request is wrong: an unknown option or value, a content part hulu cannot use, a \
     prompt longer than the model's context."
);
create_exception!(
    hulu,
    ModelError,
    HuluError,
    "The checkpoint or the model failed: config, weights, tokenizer, template, tensors."
);

/// Adds the exception classes to the module.
///
/// # Errors
/// When the module refuses an attribute.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("HuluError", py.get_type::<HuluError>())?;
    m.add("FileError", py.get_type::<FileError>())?;
    m.add("InputError", py.get_type::<InputError>())?;
    m.add("ModelError", py.get_type::<ModelError>())?;
    Ok(())
}

/// The Python exception for a `hulu-model` error.
pub fn to_py(err: &hulu_model::Error) -> PyErr {
    let message = message_chain(err);
    match error_class(err) {
        ErrorClass::File => FileError::new_err(message),
        ErrorClass::Input => InputError::new_err(message),
        ErrorClass::Model => ModelError::new_err(message),
    }
}

/// An [`InputError`] about `field`.
pub fn input(field: &str, reason: impl std::fmt::Display) -> PyErr {
    InputError::new_err(format!("{field}: {reason}"))
}
