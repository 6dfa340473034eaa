//! LoRA adapters for training: created fresh (PEFT's default initialisation) or read from
//! PEFT's own layout (`adapter_config.json` + `adapter_model.safetensors`, keys
//! `base_model.model.<projection>.lora_A.weight` / `lora_B.weight`), attached to the decoder's
//! projections, saved back in that layout, and merged into the base weights for export.

use crate::policy::LoraSettings;
use crate::{Error, Result};
use hulu_llm::{CausalDecoder, LoraAdapter};
use std::path::Path;
use tch::{Device, Kind, Tensor};

/// The prefix PEFT puts before a model's own keys.
pub const PEFT_PREFIX: &str = "base_model.model.";
/// PEFT's adapter configuration file.
pub const CONFIG_FILE: &str = "adapter_config.json";
/// PEFT's adapter weights file.
pub const WEIGHTS_FILE: &str = "adapter_model.safetensors";

/// One projection's adapter matrices (leaf tensors that require grad).
#[derive(Debug)]
pub struct AdapterPair {
    /// The projection's checkpoint key prefix (`model.layers.0.self_attn.q_proj`).
    pub name: String,
    /// `lora_A.weight`, `[r, in]`.
    pub a: Tensor,
    /// `lora_B.weight`, `[out, r]`.
    pub b: Tensor,
}

/// The adapters of a LoRA stage.
#[derive(Debug)]
pub struct Adapters {
    /// Rank, alpha, targets.
    pub settings: LoraSettings,
    /// One pair per adapted projection, in the decoder's order.
    pub pairs: Vec<AdapterPair>,
}

/// The decoder projections `settings` targets.
///
/// # Errors
/// [`Error::LoraTargetMatchesNothing`] naming the first target no projection matches.
pub fn target_names(
    decoder: &mut dyn CausalDecoder,
    settings: &LoraSettings,
) -> Result<Vec<String>> {
    let names = decoder.linear_names();
    for target in &settings.targets {
        let one = LoraSettings {
            targets: vec![target.clone()],
            ..settings.clone()
        };
        if !names.iter().any(|n| one.matches(n)) {
            return Err(Error::LoraTargetMatchesNothing {
                target: target.clone(),
            });
        }
    }
    Ok(names.into_iter().filter(|n| settings.matches(n)).collect())
}

fn width_of(decoder: &dyn CausalDecoder, name: &str) -> Result<(i64, i64)> {
    // (in, out) of a projection, from the decoder config.
    let c = decoder.config();
    let (h, i) = (c.hidden_size as i64, c.intermediate_size as i64);
    let (q, kv) = (
        (c.num_attention_heads * c.head_dim) as i64,
        (c.num_key_value_heads * c.head_dim) as i64,
    );
    let last = name.rsplit('.').next().unwrap_or_default();
    Ok(match last {
        "q_proj" => (h, q),
        "k_proj" | "v_proj" => (h, kv),
        "o_proj" => (q, h),
        "gate_proj" | "up_proj" => (h, i),
        "down_proj" => (i, h),
        other => {
            return Err(Error::setting(
                "lora.targets",
                format!("no width known for projection {other:?}"),
            ))
        }
    })
}

impl Adapters {
    /// Fresh adapters on the projections `settings` targets, initialised as PEFT does by
    /// default: `A` Kaiming-uniform (`a = √5`, i.e. uniform in ±1/√in), `B` zeros, so the
    /// adapted model starts equal to the base one. `seed` fixes `A`.
    ///
    /// # Errors
    /// [`Error::LoraTargetMatchesNothing`]; libtorch's errors.
    pub fn fresh(
        decoder: &mut dyn CausalDecoder,
        settings: &LoraSettings,
        seed: u64,
        kind: Kind,
        device: Device,
    ) -> Result<Adapters> {
        let names = target_names(decoder, settings)?;
        let r = settings.r as i64;
        let pairs = names
            .into_iter()
            .map(|name| {
                let (input, output) = width_of(decoder, &name)?;
                let bound = 1.0 / (input as f64).sqrt();
                let values = hulu_nn::RandomBackend::new(seed)
                    .with_std(bound / 3f64.sqrt())
                    .values(&format!("{name}.lora_A.weight"), (r * input) as usize);
                let a = Tensor::f_from_slice(&values)?
                    .f_reshape([r, input])?
                    .f_to_kind(kind)?
                    .f_to_device(device)?;
                let b = Tensor::f_zeros([output, r], (kind, device))?;
                Ok(AdapterPair { name, a, b })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Adapters {
            settings: settings.clone(),
            pairs,
        })
    }

    /// Reads a PEFT adapter folder. The settings come from `adapter_config.json` (`r`,
    /// `lora_alpha`; the targets are the projections the weights name).
    ///
    /// # Errors
    /// [`Error::Adapter`] for a missing or unsupported configuration (DoRA, rsLoRA, per-module
    /// ranks) or weights that are not pairs of one rank; [`Error::Io`] for unreadable files.
    pub fn load_peft(dir: &Path, kind: Kind, device: Device) -> Result<Adapters> {
        let config_path = dir.join(CONFIG_FILE);
        let config: serde_json::Value = hulu_io::json::read_json(&config_path)?;
        let bad = |reason: String| Error::Adapter {
            path: config_path.clone(),
            reason,
        };
        if config["peft_type"].as_str().is_some_and(|t| t != "LORA") {
            return Err(bad(format!(
                "peft_type {} is not LORA",
                config["peft_type"]
            )));
        }
        for flag in ["use_dora", "use_rslora"] {
            if config[flag].as_bool() == Some(true) {
                return Err(bad(format!("{flag} is not supported")));
            }
        }
        for map in ["rank_pattern", "alpha_pattern"] {
            if config[map].as_object().is_some_and(|m| !m.is_empty()) {
                return Err(bad(format!("{map} is not supported")));
            }
        }
        let r = config["r"]
            .as_u64()
            .filter(|&r| r > 0)
            .ok_or_else(|| bad("r must be a positive integer".into()))? as usize;
        let alpha = config["lora_alpha"]
            .as_f64()
            .ok_or_else(|| bad("lora_alpha must be a number".into()))?;
        let weights_path = dir.join(WEIGHTS_FILE);
        let ckpt = hulu_io::Checkpoint::open_files(dir, std::slice::from_ref(&weights_path))?;
        let mut pairs = Vec::new();
        let keys: Vec<String> = ckpt.keys().map(str::to_string).collect();
        for key in &keys {
            let Some(name) = key
                .strip_prefix(PEFT_PREFIX)
                .and_then(|k| k.strip_suffix(".lora_A.weight"))
            else {
                continue;
            };
            let b_key = format!("{PEFT_PREFIX}{name}.lora_B.weight");
            let a = ckpt.tensor(key, None, kind, device)?;
            let b = ckpt
                .tensor(&b_key, None, kind, device)
                .map_err(|_| Error::Adapter {
                    path: weights_path.clone(),
                    reason: format!("{key} has no {b_key}"),
                })?;
            if a.size()[0] != r as i64 || b.size().get(1) != Some(&(r as i64)) {
                return Err(Error::Adapter {
                    path: weights_path.clone(),
                    reason: format!(
                        "{name}: A {:?}, B {:?} are not of rank {r}",
                        a.size(),
                        b.size()
                    ),
                });
            }
            pairs.push(AdapterPair {
                name: name.to_string(),
                a,
                b,
            });
        }
        if pairs.len() * 2 != keys.len() {
            return Err(Error::Adapter {
                path: weights_path,
                reason: format!(
                    "{} keys, {} A/B pairs under {PEFT_PREFIX}: keys PEFT does not write",
                    keys.len(),
                    pairs.len()
                ),
            });
        }
        let mut targets: Vec<String> = pairs
            .iter()
            .filter_map(|p| p.name.rsplit('.').next().map(str::to_string))
            .collect();
        targets.sort();
        targets.dedup();
        Ok(Adapters {
            settings: LoraSettings {
                r,
                alpha,
                targets,
                with_projector: false,
            },
            pairs,
        })
    }

    /// `alpha / r`.
    pub fn scale(&self) -> f64 {
        self.settings.alpha / self.settings.r as f64
    }

    /// Makes every matrix a leaf that requires grad (or not).
    pub fn set_trainable(&mut self, trainable: bool) {
        for p in &mut self.pairs {
            p.a = p.a.detach().set_requires_grad(trainable);
            p.b = p.b.detach().set_requires_grad(trainable);
        }
    }

    /// Attaches every adapter to its projection of `decoder`.
    ///
    /// # Errors
    /// [`Error::Decoder`] for a projection the decoder does not have or does not fit.
    pub fn attach(&self, decoder: &mut dyn CausalDecoder) -> Result<()> {
        for p in &self.pairs {
            let adapter = LoraAdapter::new(p.a.shallow_clone(), p.b.shallow_clone(), self.scale())?;
            decoder.set_adapter(&p.name, Some(adapter))?;
        }
        Ok(())
    }

    /// The matrices by their PEFT keys.
    pub fn named(&self) -> Vec<(String, Tensor)> {
        self.pairs
            .iter()
            .flat_map(|p| {
                [
                    (
                        format!("{PEFT_PREFIX}{}.lora_A.weight", p.name),
                        p.a.shallow_clone(),
                    ),
                    (
                        format!("{PEFT_PREFIX}{}.lora_B.weight", p.name),
                        p.b.shallow_clone(),
                    ),
                ]
            })
            .collect()
    }

    /// Writes `adapter_config.json` and `adapter_model.safetensors` (float32) into `dir`.
    ///
    /// # Errors
    /// [`Error::File`] when the folder or files cannot be written; libtorch's errors.
    pub fn save_peft(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|e| Error::file(dir, e))?;
        let mut targets = self.settings.targets.clone();
        targets.sort();
        let config = serde_json::json!({
            "peft_type": "LORA",
            "task_type": null,
            "base_model_name_or_path": null,
            "r": self.settings.r,
            "lora_alpha": self.settings.alpha,
            "lora_dropout": 0.0,
            "target_modules": targets,
            "bias": "none",
            "fan_in_fan_out": false,
            "use_rslora": false,
            "use_dora": false,
            "init_lora_weights": true,
            "inference_mode": true,
            "modules_to_save": null,
            "rank_pattern": {},
            "alpha_pattern": {},
        });
        let path = dir.join(CONFIG_FILE);
        let text = serde_json::to_string_pretty(&config).map_err(|e| Error::Json {
            path: path.clone(),
            source: e,
        })?;
        std::fs::write(&path, text).map_err(|e| Error::file(&path, e))?;
        let named: Vec<(String, Tensor)> = self
            .named()
            .into_iter()
            .map(|(k, t)| {
                Ok((
                    k,
                    t.f_detach()?
                        .f_to_kind(Kind::Float)?
                        .f_to_device(Device::Cpu)?
                        .f_contiguous()?,
                ))
            })
            .collect::<Result<_>>()?;
        Tensor::write_safetensors(&named, dir.join(WEIGHTS_FILE))?;
        Ok(())
    }

    /// `W + (alpha / r) · B A` for the projection `name`'s base weight `weight`.
    ///
    /// # Errors
    /// libtorch's errors (shapes that do not fit).
    pub fn merged(&self, name: &str, weight: &Tensor) -> Result<Option<Tensor>> {
        let Some(p) = self.pairs.iter().find(|p| p.name == name) else {
            return Ok(None);
        };
        let delta =
            p.b.f_detach()?
                .f_matmul(&p.a.f_detach()?)?
                .f_mul_scalar(self.scale())?;
        Ok(Some(
            weight.f_detach()?.f_add(&delta.f_to_kind(weight.kind())?)?,
        ))
    }
}
