//! The CLI's header facts (`src/commands/inspect/facts.rs`), compiled in here as they are so
//! that `hulu.inspect` reports the very facts `hulu inspect --json` prints; the CLI is a
//! binary crate, so its module cannot be depended on.

#[allow(dead_code, missing_docs, clippy::all)]
#[path = "../../src/commands/inspect/facts.rs"]
mod facts;

pub use facts::{header_facts, kind_name};
