//! Greedy generation over a bare decoder through the one generation loop: the reference's
//! greedy continuation on every fixture case, batches of different lengths equal to one by
//! one, and rows stopping independently. (Moved with the loop from `hulu-llm`.)

use hulu_llm::{load_decoder_from_dir, CausalDecoder};
use hulu_model::{greedy, GreedyOptions};
use hulu_testkit::{cases, models, FixtureTensor};
use std::collections::BTreeMap;
use std::path::Path;
use tch::{Device, Kind, Tensor};

/// The device tests run on: the CPU, or CUDA when `HULU_TEST_DEVICE=cuda` (the GPU check).
fn device() -> Device {
    match std::env::var("HULU_TEST_DEVICE").as_deref() {
        Ok("cuda") => Device::Cuda(0),
        _ => Device::Cpu,
    }
}

fn decoder(model_dir: &Path) -> Box<dyn CausalDecoder> {
    load_decoder_from_dir(model_dir, Kind::Float, device())
        .unwrap_or_else(|e| panic!("{}: {e}", model_dir.display()))
}

/// End-of-sequence ids of a model: `config.json`'s and `generation_config.json`'s.
fn eos_ids(model_dir: &Path) -> Vec<i64> {
    let mut ids = hulu_model::GenerationConfig::from_file(model_dir.join("generation_config.json"))
        .expect("generation config")
        .eos_ids();
    let config = hulu_model::HuluConfig::from_file(model_dir.join("config.json")).expect("config");
    if let Some(eos) = config.eos_token_id {
        ids.extend(eos.to_vec());
    }
    ids.sort_unstable();
    ids.dedup();
    ids
}

fn tensor(t: &FixtureTensor, values: Tensor) -> Tensor {
    let shape: Vec<i64> = t.shape.iter().map(|&d| d as i64).collect();
    values.reshape(shape).to_device(device())
}

/// Three prompts of different lengths and contents cut from a model's text-only case.
fn prompts(model_dir: &Path) -> Vec<Tensor> {
    let case = cases()
        .into_iter()
        .find(|c| c.model_dir == model_dir && !c.has_visual())
        .expect("a text-only case for every model");
    let t = case.tensors().get("lm_input_ids");
    let ids = tensor(&t, Tensor::from_slice(&t.i64()));
    let len = ids.size()[0];
    vec![
        ids.narrow(0, 0, len),
        ids.narrow(0, 10, 31),
        ids.narrow(0, 40, 9),
    ]
}

#[test]
fn every_case_continues_as_the_reference() {
    let mut decoders: BTreeMap<std::path::PathBuf, Box<dyn CausalDecoder>> = BTreeMap::new();
    for case in cases() {
        println!("{}", case.label());
        let dec = decoders
            .entry(case.model_dir.clone())
            .or_insert_with(|| decoder(&case.model_dir));
        let t = case.tensors();
        // Visual cases start from the reference's spliced embeddings, text-only ones from ids.
        let embeds = if case.has_visual() {
            let e = t.get("inputs_embeds");
            tensor(&e, Tensor::from_slice(&e.f32()))
        } else {
            let ids = t.get("lm_input_ids");
            dec.embed(&tensor(&ids, Tensor::from_slice(&ids.i64())))
                .expect("embed")
        };
        let expected = t.get("greedy_ids").i64();
        let options = GreedyOptions {
            max_new_tokens: expected.len(),
            stop_ids: vec![],
            suppress_ids: eos_ids(&case.model_dir),
        };
        let generated = greedy(dec.as_ref(), &[embeds], &options).expect("greedy");
        println!("  greedy_ids: {:?}", generated[0]);
        assert_eq!(generated[0], expected, "{}: greedy ids", case.label());
    }
}

#[test]
fn batched_greedy_equals_one_by_one() {
    for model in models() {
        println!("{}", model.display());
        let dec = decoder(&model);
        let embeds: Vec<Tensor> = prompts(&model)
            .iter()
            .map(|p| dec.embed(p).unwrap())
            .collect();
        let options = GreedyOptions {
            max_new_tokens: 6,
            stop_ids: vec![],
            suppress_ids: eos_ids(&model),
        };
        let together = greedy(dec.as_ref(), &embeds, &options).unwrap();
        for (row, e) in embeds.iter().enumerate() {
            let alone = greedy(dec.as_ref(), std::slice::from_ref(e), &options).unwrap();
            println!("  row {row}: {:?}", together[row]);
            assert_eq!(together[row], alone[0], "row {row}");
            assert_eq!(together[row].len(), 6);
        }
    }
}

#[test]
fn a_row_stops_at_its_stop_id_while_others_go_on() {
    let model = &models()[0];
    let dec = decoder(model);
    let embeds: Vec<Tensor> = prompts(model)
        .iter()
        .map(|p| dec.embed(p).unwrap())
        .collect();
    let free = GreedyOptions {
        max_new_tokens: 5,
        ..GreedyOptions::default()
    };
    let unconstrained = greedy(dec.as_ref(), &embeds, &free).unwrap();
    // Make the second token of row 0 a stop id (when it does not also occur first elsewhere).
    let stop = unconstrained[0][1];
    let stopping = GreedyOptions {
        stop_ids: vec![stop],
        ..free
    };
    let out = greedy(dec.as_ref(), &embeds, &stopping).unwrap();
    for (row, ids) in unconstrained.iter().enumerate() {
        let cut = ids
            .iter()
            .position(|&t| t == stop)
            .map_or(ids.len(), |i| i + 1);
        assert_eq!(out[row], ids[..cut], "row {row}");
    }
    assert!(out[0].len() <= 2);
}
