//! The processor against the reference's `pixel_values`, `grid_sizes` and `merge_sizes` for
//! every fixture case with visual input.

mod common;

use hulu_io::PatchGrid;
use hulu_testkit::cases;
use hulu_vision::PreprocessorConfig;
use hulu_vision::{ImageProcessor, VisualInput};

/// One 8-bit step in normalised units (std 0.5): 2/255.
const ONE_STEP: f32 = 2.0 / 255.0;

#[test]
fn pixel_values_grids_and_merge_sizes_match_the_reference() {
    let mut checked = 0;
    for case in cases().into_iter().filter(|c| c.has_visual()) {
        println!("{}", case.label());
        let config =
            PreprocessorConfig::from_file(case.model_dir.join("preprocessor_config.json")).unwrap();
        let processor = ImageProcessor::new(&config).unwrap();
        let visuals = common::case_visuals(&case);
        let inputs: Vec<VisualInput> = visuals
            .iter()
            .map(VisualInput::with_default_merge)
            .collect();
        let out = processor.process(&inputs).unwrap();

        let t = case.tensors();
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
        let out_grids: Vec<PatchGrid> = out.grids.iter().map(|g| g.grid()).collect();
        assert_eq!(out_grids, grids, "{}: grid_sizes", case.label());
        let merges: Vec<usize> = t
            .get("merge_sizes")
            .i64()
            .iter()
            .map(|&m| m as usize)
            .collect();
        let out_merges: Vec<usize> = out.grids.iter().map(|g| g.merge()).collect();
        assert_eq!(out_merges, merges, "{}: merge_sizes", case.label());

        let expected = t.get("pixel_values");
        assert_eq!(expected.shape, [out.num_patches(), out.patch_dim]);
        let expected = expected.f32();
        let mut off_by_one = 0usize;
        for (i, (&a, &b)) in out.pixel_values.iter().zip(&expected).enumerate() {
            let d = (a - b).abs();
            assert!(
                d <= ONE_STEP * 1.001,
                "{}: value {i} is {a}, reference {b}",
                case.label()
            );
            off_by_one += usize::from(d > 0.0);
        }
        println!(
            "  pixel_values: {} of {} differ by one step",
            off_by_one,
            expected.len()
        );
        assert!(
            off_by_one * 1000 <= expected.len(),
            "{}: {off_by_one} values off by one step",
            case.label()
        );
        checked += 1;
    }
    assert!(checked > 0, "no visual cases found");
}
