//! Every NIfTI file in `fixtures/io/nifti/` against what nibabel decoded from it.

use hulu_io::nifti::{NiftiVersion, NiftiVolume, SliceAxis, SliceOptions};
use hulu_io::VisualKind;
use hulu_testkit::{cases, fixtures_root, io_files, TensorFile};

fn media_of(json: &std::path::Path) -> std::path::PathBuf {
    let s = json.to_string_lossy();
    s.strip_suffix(".json").expect("a .json path").into()
}

#[test]
fn every_nifti_file_matches_nibabel() {
    let jsons = io_files("nifti", ".json");
    assert!(!jsons.is_empty(), "no NIfTI fixtures found");
    for json_path in jsons {
        let media = media_of(&json_path);
        println!("checking {}", media.display());
        let meta: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&json_path).unwrap()).unwrap();
        let expected = TensorFile::open(&media.with_extension(format!(
            "{}.safetensors",
            media.extension().unwrap().to_string_lossy()
        )));
        let vol = NiftiVolume::open(&media).unwrap_or_else(|e| panic!("{}: {e}", media.display()));

        let version = match meta["format"].as_str().unwrap() {
            "Nifti1Image" => NiftiVersion::Nifti1,
            "Nifti2Image" => NiftiVersion::Nifti2,
            other => panic!("unexpected format {other}"),
        };
        assert_eq!(vol.header().version, version, "{}", media.display());

        let shape: Vec<usize> = meta["shape"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as usize)
            .collect();
        assert_eq!(vol.shape(), &shape[..], "shape of {}", media.display());
        let data = expected.get("data");
        assert_eq!(data.shape, shape);

        let zooms: Vec<f64> = meta["zooms"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        for (a, b) in vol.zooms().iter().zip(&zooms) {
            assert!((a - b).abs() <= 1e-6 * b.abs().max(1.0), "zooms {a} vs {b}");
        }

        // nibabel's array is C-ordered [i, j, k, t] (last index fastest); ours is first index
        // fastest. Walk nibabel's order and look each voxel up by index.
        let want = data.f32();
        let dims: Vec<usize> = shape.clone();
        let mut index = vec![0usize; dims.len()];
        let mut worst = 0f64;
        for &w in &want {
            let got = vol.get(&index).expect("index inside the volume");
            let err = (got as f64 - w as f64).abs() / (w as f64).abs().max(1.0);
            worst = worst.max(err);
            for axis in (0..dims.len()).rev() {
                index[axis] += 1;
                if index[axis] < dims[axis] {
                    break;
                }
                index[axis] = 0;
            }
        }
        assert!(
            worst <= 1e-5,
            "{}: worst relative error {worst}",
            media.display()
        );

        let want_affine = expected.get("affine").f64();
        for r in 0..4 {
            for c in 0..4 {
                let (a, b) = (vol.affine()[r][c], want_affine[r * 4 + c]);
                assert!(
                    (a - b).abs() <= 1e-9 + 1e-9 * b.abs(),
                    "{}: affine[{r}][{c}] = {a}, nibabel {b}",
                    media.display()
                );
            }
        }
    }
}

#[test]
fn gzip_is_detected_by_content_not_name() {
    let src = fixtures_root().join("io/nifti/standard.nii.gz");
    let dir = std::env::temp_dir().join(format!("hulu-nifti-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let renamed = dir.join("standard_without_gz_suffix.nii");
    std::fs::copy(&src, &renamed).unwrap();
    let a = NiftiVolume::open(&src).unwrap();
    let b = NiftiVolume::open(&renamed).unwrap();
    assert_eq!(a.data(), b.data());
    // And a plain file named .gz reads as plain.
    let plain = dir.join("anatomical_named.nii.gz");
    std::fs::copy(fixtures_root().join("io/nifti/anatomical.nii"), &plain).unwrap();
    assert_eq!(NiftiVolume::open(&plain).unwrap().shape(), &[33, 41, 25]);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The reference's volume frames, reconstructed from `pixel_values`, must match our slices in
/// orientation: rows along array axis 0, columns along axis 1 for `axis = 2`, no flip.
/// (The reference resized 33×41 to 112×140 with Pillow's bicubic; comparing against a
/// nearest-neighbour sampling of our frame leaves a small error only when the orientation is
/// right, so every flip is checked to be worse.)
#[test]
fn volume_slices_match_the_reference_orientation() {
    let mut checked = 0;
    for case in cases() {
        // Every form the fixtures README allows: an array axis, an anatomical name or neither
        // (axis 2), all slices (`num_slices` null or absent), a window, a 4-D volume index.
        let spec = case.spec();
        let Some(src) = spec.sources.iter().find(|s| s.kind == "nifti") else {
            continue;
        };
        println!("checking {}", case.label());
        let vol = NiftiVolume::open(fixtures_root().join(&src.file)).unwrap();
        let by_name = src
            .axis_name
            .as_deref()
            .map(|n| vol.resolve_axis(SliceAxis::parse(n).unwrap()).unwrap());
        let axis = src.axis.or(by_name).unwrap_or(2);
        if let Some(named) = by_name {
            assert_eq!(named, axis, "axis_name and axis disagree");
        }
        let total = vol.slice_count(SliceAxis::Index(axis)).unwrap();
        let count = src.num_slices.unwrap_or(total);
        if let Some(want_idx) = &src.slice_indices {
            assert_eq!(&hulu_io::video::linspace_indices(total, count), want_idx);
        }
        let visual = vol
            .slices(&SliceOptions {
                axis: SliceAxis::Index(axis),
                count: Some(count),
                volume: src.volume.unwrap_or(0),
                window: src.window.map(|w| {
                    let (c, width) = w.center_width();
                    hulu_io::nifti::Window::new(c, width)
                }),
            })
            .unwrap();
        assert_eq!(visual.kind, VisualKind::Volume);
        assert_eq!(visual.frames.len(), count);

        let t = case.tensors();
        let grid = t.get("grid_sizes").i64();
        let merge = t.get("merge_sizes").i64()[0] as usize;
        let (frames, gh, gw) = (grid[0] as usize, grid[1] as usize, grid[2] as usize);
        assert_eq!(frames, count);
        let pv = t.get("pixel_values").f32();
        let (h, w) = (gh * 14, gw * 14);
        for (f, frame) in visual.frames.iter().enumerate() {
            // Reference picture (channel 0) from its patch order: (t, rows/m, cols/m, m, m, c, 14, 14).
            let mut reference = vec![0f64; h * w];
            for y in 0..h {
                for x in 0..w {
                    let (ph, pw) = (y / 14, x / 14);
                    let patch = ((f * (gh / merge) + ph / merge) * (gw / merge) + pw / merge)
                        * merge
                        * merge
                        + (ph % merge) * merge
                        + pw % merge;
                    let v = pv[patch * 588 + (y % 14) * 14 + x % 14];
                    reference[y * w + x] = ((v as f64) * 0.5 + 0.5) * 255.0;
                }
            }
            let mad = |flip_rows: bool, flip_cols: bool| -> f64 {
                let mut sum = 0.0;
                for y in 0..h {
                    for x in 0..w {
                        let mut sy = (y * frame.height) / h;
                        let mut sx = (x * frame.width) / w;
                        if flip_rows {
                            sy = frame.height - 1 - sy;
                        }
                        if flip_cols {
                            sx = frame.width - 1 - sx;
                        }
                        let ours = frame.data[(sy * frame.width + sx) * 3] as f64;
                        sum += (ours - reference[y * w + x]).abs();
                    }
                }
                sum / (h * w) as f64
            };
            let straight = mad(false, false);
            println!("  frame {f}: mean |diff| {straight:.2} levels");
            assert!(straight < 12.0, "frame {f}: mean difference {straight}");
            for (r, c) in [(true, false), (false, true), (true, true)] {
                assert!(mad(r, c) > 2.0 * straight, "frame {f}: a flip fits as well");
            }
            // Frames from volumes are not transposed: rows follow the first remaining array
            // axis, columns the second.
            let in_plane: Vec<usize> = (0..3)
                .filter(|&a| a != axis)
                .map(|a| vol.shape()[a])
                .collect();
            assert_eq!((frame.height, frame.width), (in_plane[0], in_plane[1]));
        }
        checked += 1;
    }
    assert!(checked > 0, "no NIfTI fixture case found");
}
