//! Test support for the hulu workspace, free of libtorch so every crate can use it.
//!
//! - [`fixtures_root`]: the golden fixtures (`tests/fixtures`, or `$HULU_FIXTURES`).
//! - [`cases`]: every parity case under `cases/<model>/<case>.json`, enumerated from disk so
//!   that a new case or model directory is picked up without code changes.
//! - [`TensorFile`]: the tensors of a fixture `.safetensors` as plain Rust vectors.
//! - [`LargestAllocation`]: a global allocator recording the largest allocation.
//! - [`compare`]: relative-L2 / max-abs comparisons with explicit tolerances.

mod alloc;
pub mod compare;
mod fixtures;
mod tensors;

pub use alloc::LargestAllocation;
pub use compare::{assert_close, Closeness, Tolerance};
pub use fixtures::{cases, fixtures_root, io_files, models, Case};
pub use tensors::{FixtureTensor, TensorFile};
