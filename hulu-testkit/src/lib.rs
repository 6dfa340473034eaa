//! Test support for the hulu workspace. Free of libtorch unless the `replay` feature (fixture
//! cases replayed through hulu-model) is on, so every crate can use it.
//!
//! - [`fixtures_root`]: the golden fixtures (`tests/fixtures`, or `$HULU_FIXTURES`).
//! - [`cases`]: every parity case under `cases/<model>/<case>.json`, enumerated from disk so
//!   that a new case or model directory is picked up without code changes.
//! - [`TensorFile`]: the tensors of a fixture `.safetensors` as plain Rust vectors.
//! - [`LargestAllocation`]: a global allocator recording the largest allocation.
//! - [`compare`]: relative-L2 / max-abs comparisons with explicit tolerances.
//! - [`CaseSpec`]: the fixture case schema, every optional field included.
//! - `replay` (feature): a case's conversation read through hulu's own loaders.
//! - [`fuzz_cases`]: how many cases a hostile-input test runs (`$HULU_FUZZ_CASES` for more).

mod alloc;
mod case_spec;
pub mod compare;
mod fixtures;
#[cfg(feature = "replay")]
pub mod replay;
mod scratch;
mod tensors;

pub use alloc::LargestAllocation;
pub use case_spec::{CaseContent, CaseMessage, CasePart, CaseSource, CaseSpec, CaseWindow};

/// The number of cases a randomised hostile-input test runs: `default`, or
/// `$HULU_FUZZ_CASES` when set, for a longer hunt than CI can afford.
pub fn fuzz_cases(default: u32) -> u32 {
    std::env::var("HULU_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
pub use compare::{assert_close, Closeness, Tolerance};
pub use fixtures::{cases, cases_under, fixtures_root, io_files, models, Case};
pub use scratch::ScratchModel;
pub use tensors::{FixtureTensor, TensorFile};
