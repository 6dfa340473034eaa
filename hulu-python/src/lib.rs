//! Python bindings of hulu: the native module `hulu._hulu` under the `hulu` package
//! (`python/hulu/`), which gives it its Python idiom (content-part dicts, numpy arrays and PIL
//! images, the `Answer` dataclass, type stubs).
//!
//! The boundary is kept narrow and plain: conversations arrive as tuples of text, JSON input
//! specs (read by the same schema as `hulu batch` manifests, [`hulu_model::batch::spec`]) and
//! raw RGB frames; options arrive as JSON; answers leave as JSON. Model work runs with the GIL
//! released, and every error becomes a subclass of `hulu.HuluError` ([`errors`]).

pub mod errors;
mod facts_bridge;
pub mod inspect;
pub mod model;
pub mod parts;
pub mod stream;

use pyo3::prelude::*;

/// The native module `hulu._hulu`.
#[pymodule]
#[pyo3(name = "_hulu")]
fn hulu_native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    errors::register(m)?;
    m.add_class::<model::Model>()?;
    m.add_class::<stream::TextStream>()?;
    m.add_function(wrap_pyfunction!(inspect::inspect_json, m)?)?;
    m.add_function(wrap_pyfunction!(model::cuda_is_available, m)?)?;
    Ok(())
}
