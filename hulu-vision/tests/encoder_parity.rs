//! The encoder and projector against the reference's `vision_features` and `mm_features`,
//! starting from the reference's `pixel_values`, for every fixture case with visual input.

use hulu_io::{MergedGrid, PatchGrid};
use hulu_nn::VarBuilder;
use hulu_testkit::{assert_close, cases, Tolerance};
use hulu_vision::{EncoderOptions, Projector, SiglipNavitEncoder, VisionEncoder};
use tch::{Device, Kind, Tensor};

/// The two parts of a checkpoint's `config.json` the vision side needs.
#[derive(serde::Deserialize)]
struct ModelConfig {
    vision_encoder_config: hulu_vision::VisionEncoderConfig,
    hidden_size: usize,
}

impl ModelConfig {
    fn read(dir: &std::path::Path) -> Self {
        hulu_io::json::read_json(&dir.join("config.json")).unwrap()
    }
}

/// The reference's `pixel_values` and its grids with their merge sizes.
fn reference_inputs(t: &hulu_testkit::TensorFile) -> (Tensor, Vec<MergedGrid>) {
    let pv = t.get("pixel_values");
    let pixels = Tensor::from_slice(&pv.f32()).view([pv.shape[0] as i64, pv.shape[1] as i64]);
    let grids: Vec<PatchGrid> = t
        .get("grid_sizes")
        .i64()
        .chunks(3)
        .map(|g| PatchGrid {
            frames: g[0] as usize,
            rows: g[1] as usize,
            cols: g[2] as usize,
        })
        .collect();
    let merges: Vec<usize> = t
        .get("merge_sizes")
        .i64()
        .iter()
        .map(|&m| m as usize)
        .collect();
    (pixels, MergedGrid::zip(&grids, &merges).unwrap())
}

fn to_vec(t: &Tensor) -> Vec<f32> {
    Vec::<f32>::try_from(t.flatten(0, -1)).unwrap()
}

#[test]
fn vision_and_mm_features_match_the_reference() {
    let mut checked = 0;
    for case in cases().into_iter().filter(|c| c.has_visual()) {
        println!("{}", case.label());
        let config = ModelConfig::read(&case.model_dir);
        let root = VarBuilder::from_dir(&case.model_dir, Kind::Float, Device::Cpu).unwrap();
        let vision_w = root.pp("model").pp("vision_encoder");
        let vcfg = &config.vision_encoder_config;
        let encoder = SiglipNavitEncoder::load(vcfg, &vision_w).unwrap();
        assert!(
            vision_w.unused().is_empty(),
            "unused: {:?}",
            vision_w.unused()
        );
        let projector_w = root.pp("model").pp("mm_projector");
        let projector =
            Projector::load(&projector_w, encoder.hidden_size(), config.hidden_size).unwrap();
        assert!(projector_w.unused().is_empty());

        let t = case.tensors();
        let (pixels, grids) = reference_inputs(&t);

        let features = encoder.encode(&pixels, &grids).unwrap();
        let expected = t.get("vision_features");
        assert_eq!(
            features.size(),
            expected.shape.iter().map(|&d| d as i64).collect::<Vec<_>>()
        );
        assert_close(
            "vision_features",
            &to_vec(&features),
            &expected.f32(),
            Tolerance::F32,
        );

        // The projector from the reference's features, and from ours.
        let mm = t.get("mm_features").f32();
        let ref_features = Tensor::from_slice(&expected.f32())
            .view([expected.shape[0] as i64, expected.shape[1] as i64]);
        let projected = projector.forward(&ref_features).unwrap();
        assert_close("mm_features", &to_vec(&projected), &mm, Tolerance::F32);
        let end_to_end = projector.forward(&features).unwrap();
        assert_close(
            "mm_features (own features)",
            &to_vec(&end_to_end),
            &mm,
            Tolerance::F32,
        );
        checked += 1;
    }
    assert!(checked > 0, "no visual cases found");
}

#[test]
fn frame_chunking_does_not_change_features() {
    // One frame per chunk against everything at once, on the largest multi-frame case.
    let case = cases()
        .into_iter()
        .filter(|c| c.has_visual())
        .max_by_key(|c| c.tensors().get("grid_sizes").i64()[0])
        .unwrap();
    println!("{}", case.label());
    let config = ModelConfig::read(&case.model_dir);
    let w = VarBuilder::from_dir(&case.model_dir, Kind::Float, Device::Cpu)
        .unwrap()
        .pp("model")
        .pp("vision_encoder");
    let t = case.tensors();
    let g = t.get("grid_sizes").i64();
    assert!(g[0] > 1, "needs a multi-frame case");
    let grid = PatchGrid {
        frames: g[0] as usize,
        rows: g[1] as usize,
        cols: g[2] as usize,
    };
    let merge = t.get("merge_sizes").i64()[0] as usize;
    let pv = t.get("pixel_values");
    let pixels = Tensor::from_slice(&pv.f32()).view([pv.shape[0] as i64, pv.shape[1] as i64]);
    let encode = |max_chunk_patches| {
        let opts = EncoderOptions { max_chunk_patches };
        let enc =
            SiglipNavitEncoder::load_with_options(&config.vision_encoder_config, &w, opts).unwrap();
        to_vec(
            &enc.encode(&pixels, &[MergedGrid::new(grid, merge).unwrap()])
                .unwrap(),
        )
    };
    let whole = encode(usize::MAX);
    let per_frame = encode(1);
    assert_close(
        "one frame per chunk",
        &per_frame,
        &whole,
        Tolerance {
            rel_l2: 1e-6,
            max_abs: 1e-5,
        },
    );
    assert_close(
        "reference",
        &per_frame,
        &t.get("vision_features").f32(),
        Tolerance::F32,
    );
}

#[test]
fn mismatched_inputs_are_typed_errors() {
    let model = hulu_testkit::models().into_iter().next().unwrap();
    println!("{}", model.display());
    let config = ModelConfig::read(&model);
    let root = VarBuilder::from_dir(&model, Kind::Float, Device::Cpu)
        .unwrap()
        .pp("model");
    let vcfg = &config.vision_encoder_config;
    let encoder = SiglipNavitEncoder::load(vcfg, &root.pp("vision_encoder")).unwrap();
    let grid = PatchGrid {
        frames: 2,
        rows: 4,
        cols: 6,
    };
    let pixels = Tensor::zeros([48, 588], (Kind::Float, Device::Cpu));
    // Rows that do not match the grid, a grid with no patches (a merge that does not divide
    // the grid cannot be expressed: `MergedGrid` refuses it).
    let merged = MergedGrid::new(grid, 2).unwrap();
    let short = pixels.narrow(0, 0, 47);
    assert!(matches!(
        encoder.encode(&short, &[merged]),
        Err(hulu_vision::Error::Shape(_))
    ));
    let empty = MergedGrid::new(PatchGrid { frames: 0, ..grid }, 2).unwrap();
    assert!(matches!(
        encoder.encode(&pixels.narrow(0, 0, 0), &[empty]),
        Err(hulu_vision::Error::Shape(_))
    ));
    assert!(MergedGrid::new(PatchGrid { cols: 3, ..grid }, 2).is_err());
    assert_eq!(
        encoder.encode(&pixels, &[merged]).unwrap().size(),
        [12, vcfg.hidden_size as i64]
    );

    let projector = Projector::load(
        &root.pp("mm_projector"),
        vcfg.hidden_size,
        config.hidden_size,
    )
    .unwrap();
    let wrong = Tensor::zeros([3, vcfg.hidden_size as i64 + 1], (Kind::Float, Device::Cpu));
    assert!(matches!(
        projector.forward(&wrong),
        Err(hulu_vision::Error::Shape(_))
    ));

    // A config that disagrees with the checkpoint names the key.
    let mut wide = vcfg.clone();
    wide.hidden_size = 128;
    let err = SiglipNavitEncoder::load(&wide, &root.pp("vision_encoder")).unwrap_err();
    assert!(err.to_string().contains("patch_embedding"), "{err}");
}

#[test]
fn the_layer_pass_composes_to_encode() {
    // Every visual case, whole and one frame per chunk: the pass a trainer checkpoints layer
    // by layer must be the encoding itself, to the bit (the same operations in the same order).
    let mut checked = 0;
    for case in cases().into_iter().filter(|c| c.has_visual()) {
        println!("{}", case.label());
        let config = ModelConfig::read(&case.model_dir);
        let w = VarBuilder::from_dir(&case.model_dir, Kind::Float, Device::Cpu)
            .unwrap()
            .pp("model")
            .pp("vision_encoder");
        let t = case.tensors();
        let (pixels, grids) = reference_inputs(&t);
        for max_chunk_patches in [usize::MAX, 1] {
            let opts = EncoderOptions { max_chunk_patches };
            let enc =
                SiglipNavitEncoder::load_with_options(&config.vision_encoder_config, &w, opts)
                    .unwrap();
            let pass = enc.layer_pass(&pixels, &grids).unwrap();
            assert_eq!(
                pass.layers(),
                config.vision_encoder_config.num_hidden_layers
            );
            let mut x: Vec<Tensor> = pass.input().iter().map(Tensor::shallow_clone).collect();
            for i in 0..pass.layers() {
                x = pass.layer(i, &x).unwrap();
            }
            let composed = pass.finish(&x).unwrap();
            let direct = enc.encode(&pixels, &grids).unwrap();
            assert!(
                composed.equal(&direct),
                "max_chunk_patches {max_chunk_patches}: the pass differs from encode"
            );
            // A state of the wrong shape or a layer past the last is an error, not a panic.
            assert!(matches!(
                pass.layer(0, &x[..x.len() - 1]),
                Err(hulu_vision::Error::Shape(_))
            ));
            assert!(matches!(
                pass.layer(pass.layers(), &x),
                Err(hulu_vision::Error::Shape(_))
            ));
        }
        checked += 1;
    }
    assert!(checked > 0, "no visual cases found");
}
