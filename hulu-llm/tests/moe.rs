//! The Qwen3-MoE family against the `decoders/` fixtures (every model and case found under
//! `<fixtures>/decoders/*/cases/`, `HULU_FIXTURES` honoured): `final_hidden` and `logits_last`
//! of a full forward in float32, the greedy continuation (EOS suppressed, as the fixtures were
//! made) decoded with the KV cache, prefill + decode equal to one full forward, and a padded
//! batch equal to each prompt alone. Also: which configs select the family, and which it refuses.

mod common;

use common::{decoder, eos_ids, i64_tensor, values};
use hulu_llm::families::{decoder_config, family_for};
use hulu_llm::{CausalDecoder, DecoderFamily, Error, LogitsFor};
use hulu_testkit::{assert_close, fixtures_root, TensorFile, Tolerance};
use std::path::PathBuf;
use tch::{Kind, Tensor};

/// Batch, cache and full-forward results must agree to float32 rounding.
const SAME: Tolerance = Tolerance {
    rel_l2: 1e-5,
    max_abs: 1e-4,
};

/// One `decoders/<model>/cases/<case>` fixture.
struct DecoderCase {
    label: String,
    model_dir: PathBuf,
    tensors: TensorFile,
}

/// Every case of every decoder model under `<fixtures>/decoders`, sorted.
fn decoder_cases() -> Vec<DecoderCase> {
    let root = fixtures_root().join("decoders");
    let mut models: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("{}: {e}", root.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("config.json").is_file())
        .collect();
    models.sort();
    let mut out = Vec::new();
    for model_dir in models {
        let mut files: Vec<PathBuf> = std::fs::read_dir(model_dir.join("cases"))
            .expect("a cases folder beside each decoder")
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "safetensors"))
            .collect();
        files.sort();
        for path in files {
            out.push(DecoderCase {
                label: format!(
                    "{}/{}",
                    model_dir.file_name().unwrap().to_string_lossy(),
                    path.file_stem().unwrap().to_string_lossy()
                ),
                model_dir: model_dir.clone(),
                tensors: TensorFile::open(&path),
            });
        }
    }
    assert!(!out.is_empty(), "no decoder cases under {}", root.display());
    out
}

/// Greedy ids after `ids` with the KV cache, `suppress` never chosen.
fn greedy(dec: &dyn CausalDecoder, ids: &Tensor, steps: usize, suppress: &[i64]) -> Vec<i64> {
    let len = ids.size()[0] as usize;
    let mut cache = dec.new_cache(1, len + steps).unwrap();
    let mut logits = dec
        .prefill(
            &dec.embed(&ids.unsqueeze(0)).unwrap(),
            &mut cache,
            LogitsFor::Last,
        )
        .unwrap()
        .logits
        .unwrap();
    let mut out = Vec::new();
    for step in 0..steps {
        let masked = logits.copy();
        for &id in suppress {
            let _ = masked.narrow(-1, id, 1).fill_(f64::NEG_INFINITY);
        }
        let next = masked.argmax(-1, false);
        out.push(next.int64_value(&[0]));
        if step + 1 < steps {
            logits = dec.decode_step(&next, &mut cache).unwrap();
        }
    }
    out
}

#[test]
fn every_decoder_case_matches_the_reference() {
    for case in decoder_cases() {
        println!("{}", case.label);
        let dec = decoder(&case.model_dir, Kind::Float);
        let t = &case.tensors;
        let ids = i64_tensor(&t.get("input_ids"));
        let out = dec
            .forward(&dec.embed(&ids.unsqueeze(0)).unwrap(), LogitsFor::Last)
            .unwrap();
        assert_close(
            "final_hidden",
            &values(&out.hidden),
            &t.get("final_hidden").f32(),
            Tolerance::F32,
        );
        assert_close(
            "logits_last",
            &values(&out.logits.unwrap()),
            &t.get("logits_last").f32(),
            Tolerance::F32,
        );
        let expected = t.get("greedy_ids").i64();
        let got = greedy(
            dec.as_ref(),
            &ids,
            expected.len(),
            &eos_ids(&case.model_dir),
        );
        println!("  greedy_ids: {got:?}");
        assert_eq!(got, expected, "{}: greedy ids", case.label);
    }
}

#[test]
fn prefill_and_decode_equal_one_full_forward() {
    for case in decoder_cases() {
        println!("{}", case.label);
        let dec = decoder(&case.model_dir, Kind::Float);
        // The prompt and its reference continuation, as one sequence.
        let prompt = i64_tensor(&case.tensors.get("input_ids"));
        let more = i64_tensor(&case.tensors.get("greedy_ids"));
        let all = Tensor::cat(&[&prompt, &more], 0);
        let (n, total) = (prompt.size()[0], all.size()[0]);
        let full = dec
            .forward(&dec.embed(&all.unsqueeze(0)).unwrap(), LogitsFor::All)
            .unwrap()
            .logits
            .unwrap();
        let mut cache = dec.new_cache(1, total as usize).unwrap();
        let mut steps = vec![dec
            .prefill(
                &dec.embed(&prompt.unsqueeze(0)).unwrap(),
                &mut cache,
                LogitsFor::Last,
            )
            .unwrap()
            .logits
            .unwrap()];
        for pos in n..total {
            steps.push(dec.decode_step(&all.narrow(0, pos, 1), &mut cache).unwrap());
        }
        // Logits after position n-1 .. total-1.
        let stepped = Tensor::stack(&steps, 1);
        assert_close(
            "cached steps vs full forward",
            &values(&stepped),
            &values(&full.narrow(1, n - 1, total - n + 1)),
            SAME,
        );
    }
}

#[test]
fn padded_batch_equals_one_by_one() {
    let cases = decoder_cases();
    let dec = decoder(&cases[0].model_dir, Kind::Float);
    let hidden = dec.config().hidden_size as i64;
    // Prompts of different lengths from the first model's cases.
    let prompts: Vec<Tensor> = cases
        .iter()
        .filter(|c| c.model_dir == cases[0].model_dir)
        .flat_map(|c| {
            let ids = i64_tensor(&c.tensors.get("input_ids"));
            let n = ids.size()[0];
            [ids.shallow_clone(), ids.narrow(0, n / 3, n / 2)]
        })
        .collect();
    let lengths: Vec<usize> = prompts.iter().map(|p| p.size()[0] as usize).collect();
    let width = *lengths.iter().max().unwrap();
    let batch = Tensor::zeros(
        [prompts.len() as i64, width as i64, hidden],
        (Kind::Float, common::device()),
    );
    for (row, p) in prompts.iter().enumerate() {
        let n = p.size()[0];
        batch
            .get(row as i64)
            .narrow(0, width as i64 - n, n)
            .copy_(&dec.embed(p).unwrap());
    }
    let feed = [198i64, 785, 13, 11];
    let mut cache = dec.new_cache(prompts.len(), width + feed.len()).unwrap();
    let first = dec
        .prefill_padded(&batch, &lengths, &mut cache, LogitsFor::Last)
        .unwrap()
        .logits
        .unwrap();
    let mut together = vec![first];
    for &id in &feed {
        let ids = Tensor::from_slice(&vec![id; prompts.len()]).to_device(common::device());
        together.push(dec.decode_step(&ids, &mut cache).unwrap());
    }
    for (row, p) in prompts.iter().enumerate() {
        let mut alone_cache = dec.new_cache(1, p.size()[0] as usize + feed.len()).unwrap();
        let mut alone = vec![dec
            .prefill(
                &dec.embed(&p.unsqueeze(0)).unwrap(),
                &mut alone_cache,
                LogitsFor::Last,
            )
            .unwrap()
            .logits
            .unwrap()];
        for &id in &feed {
            let ids = Tensor::from_slice(&[id]).to_device(common::device());
            alone.push(dec.decode_step(&ids, &mut alone_cache).unwrap());
        }
        for (step, (t, a)) in together.iter().zip(&alone).enumerate() {
            assert_close(
                &format!("row {row} step {step}"),
                &values(&t.get(row as i64)),
                &values(&a.get(0)),
                SAME,
            );
        }
    }
}

fn moe_config() -> serde_json::Value {
    let path = decoder_cases()[0].model_dir.join("config.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn the_family_is_chosen_by_name_or_by_its_fields() {
    let mut config = moe_config();
    config["architectures"] = serde_json::json!(["Qwen3MoeForCausalLM"]);
    assert_eq!(family_for(&config).unwrap().family, DecoderFamily::Qwen3Moe);
    // A Hulu-Med checkpoint under another name: the MoE fields decide.
    config["architectures"] = serde_json::json!(["HulumedQwen3SomethingForCausalLM"]);
    config["model_type"] = serde_json::json!("hulumed_qwen3");
    assert_eq!(family_for(&config).unwrap().family, DecoderFamily::Qwen3Moe);
    let parsed = decoder_config(&config).unwrap();
    let moe = parsed.moe.expect("MoE fields");
    assert_eq!((moe.num_experts, moe.num_experts_per_tok), (8, 2));
    // Without the fields, the same name is the dense Qwen3.
    let dense = config.as_object_mut().unwrap();
    dense.remove("num_experts");
    dense.remove("moe_intermediate_size");
    assert_eq!(family_for(&config).unwrap().family, DecoderFamily::Qwen3);
}

#[test]
fn expert_counts_are_checked_before_building() {
    for (field, value, named) in [
        ("num_experts_per_tok", 9, "num_experts_per_tok"),
        ("num_experts_per_tok", 0, "num_experts_per_tok"),
        ("num_experts", 1u64 << 40, "num_experts"),
        ("num_experts", 0, "num_experts"),
        ("moe_intermediate_size", 0, "moe_intermediate_size"),
        ("decoder_sparse_step", 0, "decoder_sparse_step"),
    ] {
        let mut config = moe_config();
        config[field] = serde_json::json!(value);
        let err = decoder_config(&config).unwrap_err();
        println!("{field} = {value}: {err}");
        assert!(matches!(err, Error::InvalidConfig { .. }), "{field}");
        assert!(err.to_string().contains(named), "{err}");
    }
    let mut config = moe_config();
    config["mlp_only_layers"] = serde_json::json!([5]);
    let err = decoder_config(&config).unwrap_err();
    assert!(err.to_string().contains("mlp_only_layers"), "{err}");
    config["num_experts_per_tok"] = serde_json::json!("two");
    let err = decoder_config(&config).unwrap_err();
    assert!(err.to_string().contains("num_experts_per_tok"), "{err}");
}

#[test]
fn dense_layers_follow_mlp_only_layers() {
    // Layer 1 dense: its MLP must be the dense `intermediate_size` one, so the fixture's
    // expert weights for that layer are left over (and refused), and a dense weight is missing.
    let case = &decoder_cases()[0];
    let mut json = moe_config();
    json["mlp_only_layers"] = serde_json::json!([1]);
    let config = decoder_config(&json).unwrap();
    assert!(config.moe.as_ref().unwrap().is_sparse(0));
    assert!(!config.moe.as_ref().unwrap().is_sparse(1));
    let vb = hulu_nn::VarBuilder::from_dir(&case.model_dir, Kind::Float, tch::Device::Cpu).unwrap();
    let Err(err) = hulu_llm::load_decoder(&config, &vb) else {
        panic!("a dense layer 1 cannot load from expert weights");
    };
    println!("{err}");
    assert!(err.to_string().contains("model.layers.1.mlp"), "{err}");
    let mut json = moe_config();
    json["decoder_sparse_step"] = serde_json::json!(2);
    let config = decoder_config(&json).unwrap();
    let moe = config.moe.unwrap();
    assert!(!moe.is_sparse(0) && moe.is_sparse(1));
}
