//! The assembled model over the other weight backends: every component from seeded random
//! values, and every parameter trainable with gradients flowing through encoder, projector and
//! decoder in one backward pass on a fixture case.

use hulu_io::PatchGrid;
use hulu_llm::LogitsFor;
use hulu_model::HuluMedBuilder;
use hulu_nn::{CheckpointBackend, VarBuilder, VarMap};
use hulu_testkit::{cases, Case};
use tch::{Device, Kind, Tensor};

fn logits_of(model: &hulu_model::HuluMed, ids: &[i64]) -> Vec<f32> {
    let ids = Tensor::from_slice(ids).unsqueeze(0);
    let out = tch::no_grad(|| {
        let embeds = model.decoder().embed(&ids).unwrap();
        model.decoder().forward(&embeds, LogitsFor::Last).unwrap()
    });
    Vec::<f32>::try_from(out.logits.unwrap().flatten(0, -1)).unwrap()
}

#[test]
fn every_component_builds_from_seeded_random_weights() {
    for dir in hulu_testkit::models() {
        println!("{}", dir.display());
        let build = |seed| {
            HuluMedBuilder::new(&dir)
                .weights(VarBuilder::random(seed, Kind::Float, Device::Cpu))
                .build()
                .unwrap()
        };
        let (a, b, c) = (build(7), build(7), build(8));
        let from_checkpoint = HuluMedBuilder::new(&dir).build().unwrap();
        let ids = [151644i64, 872, 198, 9707];
        let (la, lb, lc) = (
            logits_of(&a, &ids),
            logits_of(&b, &ids),
            logits_of(&c, &ids),
        );
        assert_eq!(la, lb, "one seed, one model");
        assert_ne!(la, lc, "another seed, other weights");
        assert_ne!(la, logits_of(&from_checkpoint, &ids));
        // The vision side came from the random backend too, with the config's widths.
        assert_eq!(
            a.vision().hidden_size(),
            a.config().vision_encoder_config.hidden_size
        );
        assert_eq!(a.projector().output_width(), a.config().hidden_size());
    }
}

/// The first visual case of each model, without compression (every visual token reaches the
/// decoder, so every vision parameter has a path to the loss).
fn uncompressed_visual_cases() -> Vec<Case> {
    let mut out: Vec<Case> = Vec::new();
    for case in cases() {
        let compressed = case.json["use_token_compression"].as_bool() == Some(true);
        if case.has_visual() && !compressed && !out.iter().any(|c| c.model_dir == case.model_dir) {
            out.push(case);
        }
    }
    out
}

#[test]
fn every_trainable_parameter_receives_a_gradient() {
    let picked = uncompressed_visual_cases();
    assert!(
        !picked.is_empty(),
        "no uncompressed visual case in the fixtures"
    );
    for case in picked {
        println!("{}", case.label());
        let map = VarMap::new(CheckpointBackend::open(&case.model_dir).unwrap());
        let model = HuluMedBuilder::new(&case.model_dir)
            .weights(VarBuilder::new(map.clone(), Kind::Float, Device::Cpu))
            .build()
            .unwrap();
        let ckpt = hulu_io::Checkpoint::open(&case.model_dir).unwrap();
        assert_eq!(
            map.trainable().len(),
            ckpt.len(),
            "every checkpoint key is a parameter"
        );

        let t = case.tensors();
        let g = t.get("grid_sizes").i64();
        let grids: Vec<PatchGrid> = g
            .chunks_exact(3)
            .map(|c| PatchGrid {
                frames: c[0] as usize,
                rows: c[1] as usize,
                cols: c[2] as usize,
            })
            .collect();
        let merge_sizes: Vec<usize> = t
            .get("merge_sizes")
            .i64()
            .into_iter()
            .map(|m| m as usize)
            .collect();
        let pixels = t.get("pixel_values");
        let shape: Vec<i64> = pixels.shape.iter().map(|&d| d as i64).collect();
        let pixel_values = Tensor::from_slice(&pixels.f32()).reshape(shape);
        let ids = t.get("input_ids").i64();

        // Encoder → projector → splice → decoder → next-token loss, with autograd on.
        let features = model
            .vision()
            .encode(
                &pixel_values,
                &hulu_io::MergedGrid::zip(&grids, &merge_sizes).unwrap(),
            )
            .unwrap();
        let projected = model.projector().forward(&features).unwrap();
        let image_token = model.image_token_id();
        let positions: Vec<i64> = (0..ids.len() as i64)
            .filter(|&i| ids[i as usize] == image_token)
            .collect();
        assert_eq!(positions.len() as i64, projected.size()[0]);
        let ids_t = Tensor::from_slice(&ids);
        let embeds = model.decoder().embed(&ids_t).unwrap().index_copy(
            0,
            &Tensor::from_slice(&positions),
            &projected,
        );
        let logits = model
            .decoder()
            .forward(&embeds.unsqueeze(0), LogitsFor::All)
            .unwrap()
            .logits
            .unwrap()
            .squeeze_dim(0);
        let n = ids.len() as i64;
        let loss = logits
            .narrow(0, 0, n - 1)
            .cross_entropy_for_logits(&ids_t.narrow(0, 1, n - 1));
        loss.backward();

        let mut missing = Vec::new();
        for (key, param) in map.trainable() {
            let grad = param.grad();
            if !grad.defined() {
                missing.push(key);
                continue;
            }
            let finite = grad.isfinite().all().int64_value(&[]) == 1;
            assert!(finite, "{key}: non-finite gradient");
        }
        assert!(missing.is_empty(), "no gradient for {missing:?}");
    }
}
