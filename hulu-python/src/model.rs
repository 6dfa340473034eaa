//! `hulu._hulu.Model`: a loaded [`HuluMed`] behind a mutex (the decoder is `Send` but not
//! `Sync`, and one model serves one call at a time), shared with streaming threads.

use crate::errors::{input, to_py};
use crate::parts::{load_turns_py, pending_turns, PendingTurn};
use crate::stream::TextStream;
use hulu_model::batch::run::finish_name;
use hulu_model::batch::{answer_line, run_batch, CallOptions};
use hulu_model::{Device, Generation, HuluMed, Kind};
use pyo3::prelude::*;
use serde_json::json;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

/// A loaded model.
#[pyclass(module = "hulu._hulu", frozen)]
pub struct Model {
    pub(crate) inner: Arc<Mutex<HuluMed>>,
    device: String,
    dtype: String,
}

/// Locks the model; a poisoned lock (a panic in an earlier call) still holds a usable model,
/// since every call starts from the weights alone.
pub(crate) fn lock(model: &Mutex<HuluMed>) -> MutexGuard<'_, HuluMed> {
    model.lock().unwrap_or_else(|p| p.into_inner())
}

/// Whether libtorch sees a CUDA device.
#[pyfunction]
pub fn cuda_is_available() -> bool {
    tch::Cuda::is_available()
}

fn device(name: &str) -> PyResult<Device> {
    Ok(match name {
        "auto" => Device::cuda_if_available(),
        "cpu" => Device::Cpu,
        "cuda" => Device::Cuda(0),
        other => match other.strip_prefix("cuda:").map(str::parse) {
            Some(Ok(n)) => Device::Cuda(n),
            _ => {
                return Err(input(
                    "device",
                    format!("{other:?} (auto, cpu, cuda, cuda:N)"),
                ))
            }
        },
    })
}

fn kind(name: &str, device: Device) -> PyResult<Kind> {
    Ok(match name {
        // bf16 is what the published checkpoints are trained in; CPUs run float32 faster.
        "auto" if device.is_cuda() => Kind::BFloat16,
        "auto" | "float32" | "f32" => Kind::Float,
        "bfloat16" | "bf16" => Kind::BFloat16,
        "float16" | "f16" => Kind::Half,
        other => {
            return Err(input(
                "dtype",
                format!("{other:?} (auto, float32, bfloat16, float16)"),
            ))
        }
    })
}

fn options(json: &str) -> PyResult<CallOptions> {
    CallOptions::from_json(json).map_err(|e| to_py(&e))
}

/// A generation as the JSON the package's `Answer` is built from.
pub(crate) fn answer_json(g: &Generation) -> String {
    json!({
        "text": g.text,
        "finish_reason": finish_name(g.finish),
        "ids": g.ids,
        "tokens": {
            "text": g.counts.text,
            "visual_before": g.counts.visual_before,
            "visual_after": g.counts.visual_after,
        },
        "timings": {
            "prepare": g.timings.prepare.as_secs_f64(),
            "prefill": g.timings.prefill.as_secs_f64(),
            "decode": g.timings.decode.as_secs_f64(),
        },
    })
    .to_string()
}

#[pymethods]
impl Model {
    /// Loads a checkpoint directory (Hugging Face layout) on `device` in `dtype`.
    #[staticmethod]
    fn load(py: Python<'_>, path: PathBuf, device: &str, dtype: &str) -> PyResult<Model> {
        let dev = self::device(device)?;
        let k = kind(dtype, dev)?;
        let model = py
            .detach(|| HuluMed::from_pretrained(&path, dev, k))
            .map_err(|e| to_py(&e))?;
        Ok(Model {
            inner: Arc::new(Mutex::new(model)),
            device: format!("{dev:?}"),
            dtype: format!("{k:?}"),
        })
    }

    /// The device, as libtorch names it.
    #[getter]
    fn device(&self) -> &str {
        &self.device
    }

    /// The dtype, as libtorch names it.
    #[getter]
    fn dtype(&self) -> &str {
        &self.dtype
    }

    /// The checkpoint directory.
    #[getter]
    fn path(&self) -> PathBuf {
        lock(&self.inner).dir().to_path_buf()
    }

    /// Answers one conversation; returns the answer as JSON.
    fn generate(
        &self,
        py: Python<'_>,
        turns: &Bound<'_, PyAny>,
        options_json: &str,
    ) -> PyResult<String> {
        let pending = pending_turns(turns)?;
        let options = options(options_json)?;
        let model = self.inner.clone();
        py.detach(move || {
            let turns = load_turns_py(&pending, &options.read_options())?;
            let model = lock(&model);
            model
                .generate(
                    &turns,
                    &options.prepare_options(),
                    &options.generate_options(),
                )
                .map(|g| answer_json(&g))
                .map_err(|e| to_py(&e))
        })
    }

    /// Answers several conversations as one batch; returns each answer as JSON.
    fn generate_batch(
        &self,
        py: Python<'_>,
        conversations: Vec<Bound<'_, PyAny>>,
        options_json: &str,
    ) -> PyResult<Vec<String>> {
        let pending = conversations
            .iter()
            .map(pending_turns)
            .collect::<PyResult<Vec<Vec<PendingTurn>>>>()?;
        let options = options(options_json)?;
        let model = self.inner.clone();
        py.detach(move || {
            let read = options.read_options();
            let conversations = pending
                .iter()
                .map(|p| load_turns_py(p, &read))
                .collect::<PyResult<Vec<_>>>()?;
            let model = lock(&model);
            model
                .generate_batch(
                    &conversations,
                    &options.prepare_options(),
                    &options.generate_options(),
                )
                .map(|gs| gs.iter().map(answer_json).collect())
                .map_err(|e| to_py(&e))
        })
    }

    /// Starts answering on a worker thread; the returned iterator yields text pieces.
    fn stream(&self, turns: &Bound<'_, PyAny>, options_json: &str) -> PyResult<TextStream> {
        let pending = pending_turns(turns)?;
        let options = options(options_json)?;
        Ok(TextStream::start(self.inner.clone(), pending, options))
    }

    /// Answers one manifest line (the `hulu batch` schema); returns the answer line.
    fn answer_study(&self, py: Python<'_>, line: &str, options_json: &str) -> PyResult<String> {
        let defaults = options(options_json)?;
        let model = self.inner.clone();
        let line = line.to_string();
        Ok(py.detach(move || answer_line(&lock(&model), &line, 1, &defaults).to_line()))
    }

    /// `hulu batch` over a manifest; returns (answered, failed, skipped).
    fn run_batch(
        &self,
        py: Python<'_>,
        manifest: PathBuf,
        out: PathBuf,
        options_json: &str,
    ) -> PyResult<(usize, usize, usize)> {
        let defaults = options(options_json)?;
        let model = self.inner.clone();
        py.detach(move || {
            run_batch(&lock(&model), &manifest, &out, &defaults, |_| {})
                .map(|s| (s.answered, s.failed, s.skipped))
                .map_err(|e| to_py(&e))
        })
    }
}
