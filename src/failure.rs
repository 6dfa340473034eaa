//! What a failed command was about, and the exit status that says so.
//!
//! | status | meaning |
//! |---|---|
//! | 0 | success (also when stdout closed early, as `cat` does) |
//! | 1 | internal error: a bug, or a failure while running the model |
//! | 2 | usage: a flag or value the command does not accept (clap's own status for its errors) |
//! | 3 | input: a file to read is missing, unreadable or malformed |
//! | 4 | model or device: the checkpoint cannot be found or loaded, the device is unavailable, or it would not fit in memory |
//!
//! Errors are printed as one line (`error: outer: inner: root cause`), never with a backtrace:
//! `anyhow` captures one when `RUST_BACKTRACE=1` is set and its `Debug` form prints it, so the
//! CLI prints the alternate `Display` form instead.

use std::fmt;

/// What a failure was about; picks the exit status (see the module table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    /// A flag or value the command does not accept.
    Usage,
    /// A file to read is missing, unreadable or malformed.
    Input,
    /// The checkpoint, the device or the memory for it.
    Model,
    /// Anything else.
    Internal,
}

impl Category {
    /// The process exit status.
    pub fn exit_code(self) -> u8 {
        match self {
            Category::Internal => 1,
            Category::Usage => 2,
            Category::Input => 3,
            Category::Model => 4,
        }
    }
}

/// An error tagged with its [`Category`]; displays as the error it wraps, and its source is
/// that error's source, so the printed chain is unchanged by the tag.
#[derive(Debug)]
pub struct Categorized {
    category: Category,
    inner: anyhow::Error,
}

impl fmt::Display for Categorized {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.inner, f)
    }
}

impl std::error::Error for Categorized {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.inner.chain().nth(1)
    }
}

/// Tags the error of a `Result` with a [`Category`].
pub trait Categorize<T> {
    /// Tags the error with `category`.
    fn category(self, category: Category) -> anyhow::Result<T>;

    /// A usage error (exit status 2).
    fn usage(self) -> anyhow::Result<T>
    where
        Self: Sized,
    {
        self.category(Category::Usage)
    }

    /// An input error (exit status 3).
    fn input(self) -> anyhow::Result<T>
    where
        Self: Sized,
    {
        self.category(Category::Input)
    }

    /// A model or device error (exit status 4).
    fn model(self) -> anyhow::Result<T>
    where
        Self: Sized,
    {
        self.category(Category::Model)
    }
}

impl<T, E: Into<anyhow::Error>> Categorize<T> for Result<T, E> {
    fn category(self, category: Category) -> anyhow::Result<T> {
        self.map_err(|e| tag(e.into(), category))
    }
}

/// `err` tagged with `category`.
pub fn tag(err: anyhow::Error, category: Category) -> anyhow::Error {
    anyhow::Error::new(Categorized {
        category,
        inner: err,
    })
}

/// The category of `err`: the outermost tag in its chain, else [`Category::Internal`].
pub fn category_of(err: &anyhow::Error) -> Category {
    err.chain()
        .find_map(|e| e.downcast_ref::<Categorized>())
        .map_or(Category::Internal, |c| c.category)
}

/// The one line printed for `err`: every message of its chain, outermost first.
pub fn message(err: &anyhow::Error) -> String {
    format!("error: {err:#}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn a_tag_survives_outer_context_and_leaves_the_message_alone() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let err = Err::<(), _>(io)
            .context("reading a.nii")
            .input()
            .context("preparing the question")
            .unwrap_err();
        assert_eq!(category_of(&err), Category::Input);
        assert_eq!(
            message(&err),
            "error: preparing the question: reading a.nii: no such file"
        );
    }

    #[test]
    fn untagged_errors_are_internal_and_the_outer_tag_wins() {
        let err = anyhow::anyhow!("boom");
        assert_eq!(category_of(&err), Category::Internal);
        let err = Err::<(), _>(err).input().model().unwrap_err();
        assert_eq!(category_of(&err), Category::Model);
        assert_eq!(Category::Model.exit_code(), 4);
    }
}
