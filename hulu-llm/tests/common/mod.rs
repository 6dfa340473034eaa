//! Helpers shared by the integration tests: the test device, fixture decoders and conversions.
#![allow(dead_code)]

use hulu_llm::{load_decoder_from_dir, CausalDecoder};
use hulu_testkit::FixtureTensor;
use std::path::Path;
use tch::{Device, Kind, Tensor};

/// The device tests run on: the CPU, or CUDA when `HULU_TEST_DEVICE=cuda` (the GPU check).
pub fn device() -> Device {
    match std::env::var("HULU_TEST_DEVICE").as_deref() {
        Ok("cuda") => Device::Cuda(0),
        _ => Device::Cpu,
    }
}

/// The decoder of a fixture model directory.
pub fn decoder(model_dir: &Path, kind: Kind) -> Box<dyn CausalDecoder> {
    load_decoder_from_dir(model_dir, kind, device())
        .unwrap_or_else(|e| panic!("{}: {e}", model_dir.display()))
}

/// End-of-sequence ids of a model: `config.json`'s and `generation_config.json`'s.
pub fn eos_ids(model_dir: &Path) -> Vec<i64> {
    let mut ids = eos_from(&model_dir.join("generation_config.json"));
    ids.extend(eos_from(&model_dir.join("config.json")));
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// The `eos_token_id` (one id or a list) of a JSON config file; none when the file is absent
/// (the plain decoders of `decoders/` have no `generation_config.json`).
fn eos_from(path: &Path) -> Vec<i64> {
    if !path.is_file() {
        return Vec::new();
    }
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("config")).expect("json");
    match &json["eos_token_id"] {
        serde_json::Value::Number(n) => vec![n.as_i64().expect("id")],
        serde_json::Value::Array(ids) => ids.iter().map(|n| n.as_i64().expect("id")).collect(),
        _ => Vec::new(),
    }
}

/// A fixture tensor as a float32 libtorch tensor of the same shape on the test device.
pub fn f32_tensor(t: &FixtureTensor) -> Tensor {
    let shape: Vec<i64> = t.shape.iter().map(|&d| d as i64).collect();
    Tensor::from_slice(&t.f32())
        .reshape(shape)
        .to_device(device())
}

/// A fixture tensor as an int64 libtorch tensor of the same shape on the test device.
pub fn i64_tensor(t: &FixtureTensor) -> Tensor {
    let shape: Vec<i64> = t.shape.iter().map(|&d| d as i64).collect();
    Tensor::from_slice(&t.i64())
        .reshape(shape)
        .to_device(device())
}

/// Every value of a tensor, as float32 on the host.
pub fn values(t: &Tensor) -> Vec<f32> {
    Vec::<f32>::try_from(
        &t.to_device(Device::Cpu)
            .to_kind(Kind::Float)
            .contiguous()
            .reshape([-1]),
    )
    .expect("float tensor")
}
