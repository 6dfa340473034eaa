//! Medical-aware visual token compression for Hulu-Med.
//!
//! Two operations, one implementation each:
//! - [`merge`]: the in-plane `m × m` bilinear merge of encoder outputs (every input, every frame).
//! - inter-plane pruning: a merged token of slice/frame `t` is dropped when its pixels barely
//!   differ from the same token of slice `t − 1`.

mod error;
pub mod merge;

pub use error::{Error, Result};
pub use merge::merge_tokens;
