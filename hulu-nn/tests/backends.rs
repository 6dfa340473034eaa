//! Each backend behind one `VarBuilder`: the checkpoint converts bit-exactly and names the keys it
//! refuses, random values depend only on seed and key, the recorder costs nothing, and the
//! trainable map hands out shared leaf parameters that receive gradients.

use hulu_nn::{Backend, Error, RandomBackend, RecordingBackend, VarBuilder, VarMap};
use std::sync::Arc;
use tch::{Device, Kind, Tensor};

fn qwen3_dir() -> std::path::PathBuf {
    hulu_testkit::fixtures_root().join("models/tiny-qwen3")
}

fn values(t: &Tensor) -> Vec<f32> {
    Vec::<f32>::try_from(t.to_kind(Kind::Float).flatten(0, -1)).unwrap()
}

#[test]
fn the_checkpoint_backend_scopes_converts_and_names_refused_keys() {
    let vb = VarBuilder::from_dir(qwen3_dir(), Kind::BFloat16, Device::Cpu).unwrap();
    let attn = vb.pp("model").pp("layers").pp(0).pp("self_attn");
    let q = attn.get("q_proj.weight", &[64, 32]).unwrap();
    assert_eq!((q.size(), q.kind()), (vec![64, 32], Kind::BFloat16));
    assert!(!attn.contains("q_proj.bias"));
    assert_eq!(
        attn.with_kind(Kind::Half)
            .get("k_proj.weight", &[32, 32])
            .unwrap()
            .kind(),
        Kind::Half
    );
    match attn.get("q_proj.weight", &[80, 32]) {
        Err(Error::WeightShape {
            key,
            expected,
            actual,
        }) => {
            assert_eq!(key, "model.layers.0.self_attn.q_proj.weight");
            assert_eq!((expected, actual), (vec![80, 32], vec![64, 32]));
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(matches!(
        vb.get("model.layers.9.mlp.up_proj.weight", &[64, 32]),
        Err(Error::MissingWeight { key }) if key == "model.layers.9.mlp.up_proj.weight"
    ));
    // The record is shared by every scope: only the projector's four keys under it are unused.
    let projector = vb.pp("model.mm_projector");
    assert_eq!(projector.unused().len(), 4);
    assert!(matches!(
        projector.finish(),
        Err(Error::UnexpectedWeights { keys }) if keys.len() == 4
    ));
    for name in ["0.weight", "0.bias", "2.weight", "2.bias"] {
        let key = format!("model.mm_projector.readout.{name}");
        let ckpt = hulu_io::Checkpoint::open(qwen3_dir()).unwrap();
        let shape: Vec<i64> = ckpt
            .meta(&key)
            .unwrap()
            .shape
            .iter()
            .map(|&d| d as i64)
            .collect();
        let _ = projector.pp("readout").get(name, &shape).unwrap();
    }
    projector.finish().unwrap();
}

#[test]
fn random_values_depend_only_on_seed_and_key() {
    let (a, b) = (RandomBackend::new(3), RandomBackend::new(3));
    let key = "model.layers.0.mlp.up_proj.weight";
    let x = a.tensor(key, &[40, 24], Kind::Float, Device::Cpu).unwrap();
    // Another order, another backend instance, another thread: the same values.
    let y = std::thread::spawn(move || {
        let _ = b
            .tensor("other.weight", &[3], Kind::Float, Device::Cpu)
            .unwrap();
        values(&b.tensor(key, &[40, 24], Kind::Float, Device::Cpu).unwrap())
    })
    .join()
    .unwrap();
    assert_eq!(values(&x), y);
    let other_seed = RandomBackend::new(4)
        .tensor(key, &[40, 24], Kind::Float, Device::Cpu)
        .unwrap();
    assert_ne!(values(&x), values(&other_seed));
    let std = f64::try_from(x.std(true)).unwrap();
    assert!((0.015..0.025).contains(&std), "std {std}");
    let norm = values(
        &a.tensor("model.norm.weight", &[24], Kind::Float, Device::Cpu)
            .unwrap(),
    );
    assert!(norm.iter().all(|v| (0.9..=1.1).contains(v)), "{norm:?}");
    assert!(matches!(
        a.tensor(key, &[-1, 4], Kind::Float, Device::Cpu),
        Err(Error::InvalidShape { .. })
    ));
}

#[test]
fn the_recorder_lists_what_was_asked_without_allocating_it() {
    let recorder = Arc::new(RecordingBackend::new());
    let vb = VarBuilder::from_arc(recorder.clone(), Kind::Float, Device::Cpu);
    // A 4 GiB matrix: recorded, never materialised.
    let big = vb.pp("lm_head").get("weight", &[1 << 20, 1 << 10]).unwrap();
    assert_eq!(big.size(), [1 << 20, 1 << 10]);
    assert_eq!(big.stride(), [0, 0]);
    let _ = vb.pp("model.norm").get("weight", &[8]).unwrap();
    let layout = recorder.layout();
    assert_eq!(layout["lm_head.weight"], [1 << 20, 1 << 10]);
    assert_eq!(layout["model.norm.weight"], [8]);
    assert_eq!(layout.len(), 2);
}

#[test]
fn a_var_map_shares_parameters_and_trains_only_what_its_rule_selects() {
    let map = VarMap::with_rule(RandomBackend::new(1), |key| !key.starts_with("frozen."));
    let vb = VarBuilder::new(map.clone(), Kind::Float, Device::Cpu);
    let w = vb.get("layer.weight", &[3, 4]).unwrap();
    let tied = vb.get("layer.weight", &[3, 4]).unwrap();
    let frozen = vb.get("frozen.weight", &[4]).unwrap();
    assert!(w.requires_grad() && w.is_leaf());
    assert!(!frozen.requires_grad());
    // The registry holds both, the optimizer sees only the trainable one.
    assert_eq!(map.len(), 2);
    let trainable: Vec<String> = map.trainable().into_iter().map(|(k, _)| k).collect();
    assert_eq!(trainable, ["layer.weight"]);
    // A second request is the same parameter: gradients of both uses accumulate in one place.
    let x = Tensor::ones([2, 4], (Kind::Float, Device::Cpu));
    let loss = (x.matmul(&w.tr()) + x.matmul(&tied.tr()) + x.matmul(&frozen.unsqueeze(1)))
        .sum(Kind::Float);
    loss.backward();
    let grad = map.get("layer.weight").unwrap().grad();
    assert!(grad.defined());
    // d/dW of sum(x Wᵀ) twice: every entry is 2 · (number of rows of x) = 4.
    assert!(values(&grad).iter().all(|&g| (g - 4.0).abs() < 1e-6));
    assert!(!map.get("frozen.weight").unwrap().grad().defined());
    // Asking for a registered key with another shape is refused by name.
    assert!(matches!(
        vb.get("layer.weight", &[4, 3]),
        Err(Error::WeightShape { key, .. }) if key == "layer.weight"
    ));
}
