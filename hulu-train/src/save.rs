//! Saving what training made: a full checkpoint in the Hugging Face layout hulu (and the
//! reference) loads, a PEFT adapter folder, and the trainer state a run resumes from.
//!
//! A checkpoint folder holds every weight under its checkpoint key (LoRA adapters merged in
//! when asked), in the dtype chosen (bf16 as published, or float32), split into shards with a
//! `model.safetensors.index.json` past a size limit, beside the source folder's config,
//! tokenizer, template and processor files, copied unchanged.

use crate::trainer::Trainer;
use crate::{Error, Result};
use hulu_nn::Backend;
use std::collections::BTreeMap;
use std::path::Path;
use tch::{Device, Kind, Tensor};

/// How a checkpoint is written.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SaveOptions {
    /// Element type of the saved weights (bf16 as the published checkpoints, or float32).
    pub kind: Kind,
    /// Most bytes in one shard before another is started (a tensor is never split).
    pub shard_bytes: usize,
    /// Merge LoRA adapters into the base weights (otherwise the base weights are saved as
    /// they are and the adapters go to their own folder).
    pub merge_adapters: bool,
}

impl Default for SaveOptions {
    fn default() -> Self {
        SaveOptions {
            kind: Kind::BFloat16,
            shard_bytes: 5 << 30,
            merge_adapters: true,
        }
    }
}

/// Files of a checkpoint folder that are not weights (copied as they are).
fn is_weights(name: &str) -> bool {
    name.ends_with(".safetensors") || name == "model.safetensors.index.json"
}

/// Copies the non-weight files of `from` (config, tokenizer, template, processor) to `to`.
fn copy_side_files(from: &Path, to: &Path) -> Result<()> {
    let entries = std::fs::read_dir(from).map_err(|e| Error::file(from, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::file(from, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        if path.is_file() && !is_weights(&name) {
            std::fs::copy(&path, to.join(&name)).map_err(|e| Error::file(&path, e))?;
        }
    }
    Ok(())
}

fn write_json(path: &Path, value: &serde_json::Value) -> Result<()> {
    let text = serde_json::to_string_pretty(value).map_err(|e| Error::Json {
        path: path.into(),
        source: e,
    })?;
    std::fs::write(path, text).map_err(|e| Error::file(path, e))
}

/// Writes `tensors` (key, value) as `model.safetensors`, or as shards of at most
/// `shard_bytes` with an index.
fn write_weights(dir: &Path, tensors: Vec<(String, Tensor)>, shard_bytes: usize) -> Result<()> {
    let mut shards: Vec<Vec<(String, Tensor)>> = vec![Vec::new()];
    let mut size = 0usize;
    let mut total = 0usize;
    for (key, t) in tensors {
        let bytes = t.numel() * t.kind().elt_size_in_bytes();
        if size > 0 && size + bytes > shard_bytes {
            shards.push(Vec::new());
            size = 0;
        }
        size += bytes;
        total += bytes;
        shards.last_mut().expect("one shard").push((key, t));
    }
    if shards.len() == 1 {
        let path = dir.join("model.safetensors");
        Tensor::write_safetensors(&shards[0], &path)?;
        return Ok(());
    }
    let n = shards.len();
    let mut map = serde_json::Map::new();
    for (i, shard) in shards.iter().enumerate() {
        let name = format!("model-{:05}-of-{n:05}.safetensors", i + 1);
        for (key, _) in shard {
            map.insert(key.clone(), name.clone().into());
        }
        Tensor::write_safetensors(shard, dir.join(&name))?;
    }
    write_json(
        &dir.join("model.safetensors.index.json"),
        &serde_json::json!({"metadata": {"total_size": total}, "weight_map": map}),
    )
}

impl Trainer {
    /// Saves the model in the Hugging Face layout into `dir` (created), with the source
    /// folder's config, tokenizer and template files. In a dtype wider than the compute
    /// dtype (float32 under bf16 compute), trained weights are written from their float32
    /// masters and frozen ones from the source checkpoint.
    ///
    /// # Errors
    /// [`Error::File`] when the folder or a file cannot be written; libtorch's errors.
    pub fn save_checkpoint(&self, dir: &Path, options: &SaveOptions) -> Result<()> {
        let _span = tracing::info_span!("save_checkpoint", dir = %dir.display()).entered();
        std::fs::create_dir_all(dir).map_err(|e| Error::file(dir, e))?;
        copy_side_files(self.dir(), dir)?;
        // Saved wider than the model computes (float32 under bf16 compute): trained weights
        // from their float32 masters, frozen ones from the source checkpoint, never the
        // narrow compute copies widened.
        let compute = self.options().precision.compute_kind();
        let wider = options.kind.elt_size_in_bytes() > compute.elt_size_in_bytes();
        let masters: BTreeMap<&str, &Tensor> = self
            .params()
            .iter()
            .filter_map(|p| Some((p.key.as_str(), p.master.as_ref()?)))
            .collect();
        let source = if wider {
            Some(hulu_nn::CheckpointBackend::open(self.dir())?)
        } else {
            None
        };
        let mut tensors = Vec::new();
        for (key, t) in self.vars().all() {
            let t = match (masters.get(key.as_str()), &source) {
                (Some(master), _) => master.shallow_clone(),
                (None, Some(ckpt)) if ckpt.contains(&key) => {
                    ckpt.tensor(&key, &t.size(), options.kind, Device::Cpu)?
                }
                _ => t,
            };
            let name = key.strip_suffix(".weight").unwrap_or(&key);
            let merged = match (self.adapters(), options.merge_adapters) {
                (Some(a), true) => a.merged(name, &t)?,
                _ => None,
            };
            let t = merged.unwrap_or(t);
            let t = t
                .f_detach()?
                .f_to_kind(options.kind)?
                .f_to_device(Device::Cpu)?
                .f_contiguous()?;
            tensors.push((key, t));
        }
        write_weights(dir, tensors, options.shard_bytes)?;
        if let (Some(a), false) = (self.adapters(), options.merge_adapters) {
            a.save_peft(dir)?;
        }
        Ok(())
    }

    /// Saves the LoRA adapters in PEFT's layout into `dir`.
    ///
    /// # Errors
    /// [`Error::InvalidSetting`] when the policy has no adapters; those of
    /// [`crate::Adapters::save_peft`].
    pub fn save_adapter(&self, dir: &Path) -> Result<()> {
        let adapters = self
            .adapters()
            .ok_or_else(|| Error::setting("policy", "only a lora policy has adapters to save"))?;
        adapters.save_peft(dir)
    }

    /// Saves what a resumed run needs beside the weights: every trainable parameter (its
    /// float32 master under bf16 compute), Adam's
    /// moments, the step, and `extra` (the run's data position and RNG state), into `dir`
    /// (`trainer_state.safetensors`, `trainer_state.json`).
    ///
    /// # Errors
    /// [`Error::File`], [`Error::Json`]; libtorch's errors.
    pub fn save_state(&self, dir: &Path, extra: &serde_json::Value) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|e| Error::file(dir, e))?;
        let mut tensors = Vec::new();
        for p in self.params() {
            let cpu = |t: &Tensor| -> Result<Tensor> {
                Ok(t.f_detach()?.f_to_device(Device::Cpu)?.f_contiguous()?)
            };
            let value = p.master.as_ref().unwrap_or(&p.tensor);
            tensors.push((format!("param.{}", p.key), cpu(value)?));
            if let (Some(m), Some(v)) = (&p.exp_avg, &p.exp_avg_sq) {
                tensors.push((format!("exp_avg.{}", p.key), cpu(m)?));
                tensors.push((format!("exp_avg_sq.{}", p.key), cpu(v)?));
            }
        }
        Tensor::write_safetensors(&tensors, dir.join(STATE_WEIGHTS))?;
        write_json(
            &dir.join(STATE_JSON),
            &serde_json::json!({"step": self.optimizer().step_count(), "run": extra}),
        )
    }

    /// Restores what [`Trainer::save_state`] saved into this trainer (built with the same
    /// model and options) and returns the run's `extra`.
    ///
    /// # Errors
    /// [`Error::Io`] for unreadable files; [`Error::InvalidSetting`] when the state does not
    /// hold a trainable parameter of this trainer.
    pub fn load_state(&mut self, dir: &Path) -> Result<serde_json::Value> {
        let json: serde_json::Value = hulu_io::json::read_json(&dir.join(STATE_JSON))?;
        let step = json["step"]
            .as_u64()
            .ok_or_else(|| Error::setting("resume", "trainer_state.json has no step"))?;
        let path = dir.join(STATE_WEIGHTS);
        let ckpt = hulu_io::Checkpoint::open_files(dir, std::slice::from_ref(&path))?;
        let stored: BTreeMap<&str, ()> = ckpt.keys().map(|k| (k, ())).collect();
        let opt = self.optimizer_mut();
        tch::no_grad(|| -> Result<()> {
            for p in opt.params_mut() {
                let key = format!("param.{}", p.key);
                if !stored.contains_key(key.as_str()) {
                    return Err(Error::setting(
                        "resume",
                        format!("{} holds no {}", path.display(), p.key),
                    ));
                }
                let kind = p.master.as_ref().unwrap_or(&p.tensor).kind();
                let device = p.tensor.device();
                let value = ckpt.tensor(&key, Some(&p.tensor.size()), kind, device)?;
                p.tensor.shallow_clone().f_copy_(&value)?;
                if let Some(master) = &p.master {
                    master.shallow_clone().f_copy_(&value)?;
                }
                let m = format!("exp_avg.{}", p.key);
                if stored.contains_key(m.as_str()) {
                    p.exp_avg = Some(ckpt.tensor(&m, None, kind, device)?);
                    p.exp_avg_sq =
                        Some(ckpt.tensor(&format!("exp_avg_sq.{}", p.key), None, kind, device)?);
                }
            }
            Ok(())
        })?;
        opt.set_step_count(step);
        Ok(json["run"].clone())
    }
}

/// Trainable parameters and Adam's moments of a saved run.
pub const STATE_WEIGHTS: &str = "trainer_state.safetensors";
/// Step and run position of a saved run.
pub const STATE_JSON: &str = "trainer_state.json";
