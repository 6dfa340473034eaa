//! The training fixtures (`<fixtures>/train/<model>/<case>.json` + `.safetensors`), enumerated
//! from the folder (a new case or model is picked up without code changes), and their settings
//! as hulu-train types.
#![allow(dead_code)]

use hulu_testkit::{fixtures_root, replay::case_turns, CaseSpec, TensorFile};
use hulu_train::{
    Component, Example, LoraSettings, Memory, OptimizerSettings, Policy, Precision, Schedule,
    TrainerOptions,
};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// One training case.
pub struct TrainCase {
    pub label: String,
    pub json: Value,
    pub tensors: PathBuf,
    pub model_dir: PathBuf,
    pub adapter_init: Option<PathBuf>,
}

impl TrainCase {
    pub fn tensors(&self) -> TensorFile {
        TensorFile::open(&self.tensors)
    }
}

/// Every case under `<fixtures root>/train`, sorted.
pub fn train_cases() -> Vec<TrainCase> {
    let root = fixtures_root();
    let mut out = Vec::new();
    let mut groups: Vec<PathBuf> = std::fs::read_dir(root.join("train"))
        .expect("fixtures have train/")
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    groups.sort();
    for group in groups {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&group)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().and_then(|e| e.to_str()) == Some("json"))
            .collect();
        files.sort();
        for path in files {
            let json: Value =
                serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            let model = json["model"].as_str().expect("case names its model");
            let adapter_init = json["adapter_init"].as_str().map(|d| group.join(d));
            out.push(TrainCase {
                label: format!(
                    "{}/{}",
                    group.file_name().unwrap().to_string_lossy(),
                    path.file_stem().unwrap().to_string_lossy()
                ),
                tensors: path.with_extension("safetensors"),
                model_dir: root.join(model),
                adapter_init,
                json,
            });
        }
    }
    assert!(
        !out.is_empty(),
        "no training cases under {}",
        root.display()
    );
    out
}

/// The case's samples as examples, their visuals read by hulu's own loaders.
pub fn examples(case: &TrainCase) -> Vec<Example> {
    let root = fixtures_root();
    case.json["samples"]
        .as_array()
        .expect("samples")
        .iter()
        .map(|sample| {
            let mut spec = sample.clone();
            spec["model"] = case.json["model"].clone();
            spec["use_token_compression"] = case.json["use_token_compression"].clone();
            let spec: CaseSpec = serde_json::from_value(spec).expect("sample in the case schema");
            let (turns, options) = case_turns(&spec, &root).expect("sample replays");
            Example { turns, options }
        })
        .collect()
}

/// The case's policy, optimizer and adapters as trainer options.
pub fn trainer_options(case: &TrainCase, memory: Memory) -> TrainerOptions {
    let j = &case.json;
    let policy = match j["stage"].as_str().unwrap() {
        "lora" => {
            let l = &j["lora"];
            Policy::Lora(LoraSettings {
                r: l["r"].as_u64().unwrap() as usize,
                alpha: l["alpha"].as_f64().unwrap(),
                targets: l["targets"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|t| t.as_str().unwrap().to_string())
                    .collect(),
                with_projector: false,
            })
        }
        other => Policy::named(other).unwrap(),
    };
    let o = &j["optimizer"];
    let lr = o["lr"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (Component::parse(k).unwrap(), v.as_f64().unwrap()))
        .collect();
    let betas = o["betas"].as_array().unwrap();
    TrainerOptions {
        policy,
        optimizer: OptimizerSettings {
            lr,
            weight_decay: o["weight_decay"].as_f64().unwrap(),
            betas: (betas[0].as_f64().unwrap(), betas[1].as_f64().unwrap()),
            eps: o["eps"].as_f64().unwrap(),
            max_grad_norm: o["max_grad_norm"].as_f64(),
            schedule: Schedule {
                warmup_steps: o["warmup_steps"].as_u64().unwrap(),
                total_steps: o["total_steps"].as_u64().unwrap(),
            },
        },
        memory,
        device: tch::Device::Cpu,
        adapter_init: case.adapter_init.clone(),
        seed: 0,
        precision: Precision::F32,
    }
}

/// Whether the case accumulates one micro-batch per sample.
pub fn accumulates(case: &TrainCase) -> bool {
    case.json["gradient_accumulation"].as_bool() == Some(true)
}

/// A tensor's values as f32, row-major.
pub fn values(t: &tch::Tensor) -> Vec<f32> {
    if !t.defined() {
        return Vec::new();
    }
    let t = t
        .detach()
        .to_kind(tch::Kind::Float)
        .to_device(tch::Device::Cpu)
        .contiguous()
        .view([-1]);
    Vec::<f32>::try_from(&t).unwrap()
}

/// Relative L2 distance `‖a − b‖ / ‖b‖`.
pub fn rel_l2(a: &[f32], b: &[f32]) -> f64 {
    hulu_testkit::Closeness::measure(a, b).rel_l2
}

pub fn strings(v: &Value) -> Vec<String> {
    let mut out: Vec<String> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect();
    out.sort();
    out
}

pub fn root() -> PathBuf {
    fixtures_root()
}

pub fn exists(p: &Path) -> bool {
    p.exists()
}
