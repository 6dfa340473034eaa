//! `hulu inspect` as a user runs it: `--json` facts, `--save-frames`, `--contact-sheet`,
//! `--series` on every export layout, the mixed-orientation switch, and a closed stdout.
//!
//! Right values come from outside hulu: the fixtures' pydicom JSON (`series_ct5n.json`,
//! `dicom-exports/expected.json`), nibabel's description of `anatomical.nii`
//! (`inputs/SOURCES.json`: 33x41x25, pixdim 2 mm, LAS per `nib.aff2axcodes`), and FFmpeg's
//! `fps=1` picks of the 3.5 s test clip (`video-ffmpeg/make.sh`: 3 frames of 96x64).

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn hulu(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hulu"))
        .env(
            "HULU_MODEL",
            root().join("tests/fixtures/models/tiny-qwen2"),
        )
        .args(args)
        .output()
        .expect("run hulu")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `hulu inspect --json ARGS...`, parsed.
fn inspect_json(args: &[&str]) -> Vec<Value> {
    let mut all = vec!["inspect", "--json"];
    all.extend_from_slice(args);
    let out = hulu(&all);
    assert!(out.status.success(), "{}", text(&out.stderr));
    serde_json::from_slice::<Value>(&out.stdout)
        .expect("JSON")
        .as_array()
        .expect("an array")
        .clone()
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("hulu-cli-inspect-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn ct5n() -> PathBuf {
    root().join("tests/fixtures/io/dicom/series_ct5n")
}

/// Copies every file of `from` into `to` under new names without extension (`IM0000`...).
fn copy_series(from: &Path, to: &Path, prefix: &str) {
    std::fs::create_dir_all(to).unwrap();
    let mut names: Vec<_> = std::fs::read_dir(from)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    for (i, f) in names.iter().enumerate() {
        std::fs::copy(f, to.join(format!("{prefix}{i:04}"))).unwrap();
    }
}

#[test]
fn json_facts_of_a_dicom_series_a_nifti_and_a_video() {
    let expected: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("tests/fixtures/io/dicom/series_ct5n.json")).unwrap(),
    )
    .unwrap();
    let nii = root().join("tests/fixtures/inputs/anatomical.nii");
    let mp4 = root().join("hulu-io/tests/data/video-ffmpeg/video-plain.mp4");
    let reports = inspect_json(&[
        ct5n().to_str().unwrap(),
        nii.to_str().unwrap(),
        mp4.to_str().unwrap(),
    ]);
    assert_eq!(reports.len(), 3);

    let dcm = &reports[0];
    assert_eq!(dcm["kind"], "dicom-export");
    assert_eq!(dcm["frames"], expected["shape"][0]);
    assert_eq!(dcm["height"], expected["shape"][1]);
    assert_eq!(dcm["width"], expected["shape"][2]);
    let h = &dcm["header"];
    assert_eq!(h["modality"], "CT");
    assert_eq!(h["orientation"], "LPS");
    assert_eq!(h["series_found"], 1);
    assert_eq!(h["transfer_syntax"], "1.2.840.10008.1.2.1");
    assert_eq!(
        h["series_uid"],
        "1.3.6.1.4.1.5962.1.1.0.0.0.1194734704.16302.0.6"
    );
    // Series Description (0008,103E) as pydicom 3.0.2 reads it from every file of the series.
    assert_eq!(h["series_description"], "SmartScore - Gated 0.5 sec");
    assert_eq!(h["window"]["source"], "file (0028,1050/1051)");
    let positions = h["frame_positions_mm"].as_array().unwrap();
    let want = expected["positions_along_normal"].as_array().unwrap();
    assert_eq!(positions.len(), want.len());
    for (p, w) in positions.iter().zip(want) {
        assert!(
            (p.as_f64().unwrap() - w.as_f64().unwrap()).abs() < 1e-6,
            "{p} vs {w}"
        );
    }
    // Token accounting is consistent: merged grid, per-frame counts summing to the totals.
    let g = &dcm["patch_grid"];
    let m = g["merge"].as_u64().unwrap();
    let per_frame = (g["rows"].as_u64().unwrap() / m) * (g["cols"].as_u64().unwrap() / m);
    assert_eq!(dcm["tokens_per_frame"].as_u64().unwrap(), per_frame);
    assert_eq!(dcm["tokens"]["before"].as_u64().unwrap(), per_frame * 5);
    let kept: u64 = dcm["tokens"]["kept_per_frame"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["kept"].as_u64().unwrap())
        .sum();
    assert_eq!(kept, dcm["tokens"]["after"].as_u64().unwrap());

    let n = &reports[1];
    assert_eq!(n["kind"], "nifti");
    assert_eq!(n["frames"], 25);
    assert_eq!(n["header"]["shape"], serde_json::json!([33, 41, 25]));
    assert_eq!(
        n["header"]["spacing_mm"],
        serde_json::json!([2.0, 2.0, 2.0])
    );
    assert_eq!(n["header"]["orientation"], "LAS");

    let v = &reports[2];
    assert_eq!(v["kind"], "video");
    assert_eq!(
        (v["width"].as_u64(), v["height"].as_u64()),
        (Some(96), Some(64))
    );
    assert_eq!(v["timestamps"], serde_json::json!([0.0, 1.0, 2.0]));
}

#[test]
fn json_facts_of_nrrd_and_metaimage_match_simpleitk() {
    let data = root().join("hulu-io/tests/data/volume");
    let expected: Value =
        serde_json::from_str(&std::fs::read_to_string(data.join("ct_expected.json")).unwrap())
            .unwrap();
    for name in ["ct.nrrd", "ct.mha", "ct_detached.nhdr", "ct.mhd"] {
        let r = inspect_json(&[data.join(name).to_str().unwrap()]);
        let h = &r[0]["header"];
        assert_eq!(r[0]["kind"], "volume", "{name}");
        assert_eq!(h["orientation"], expected["axis_codes"], "{name}");
        assert_eq!(h["spacing_mm"], expected["spacing"], "{name}");
        assert_eq!(r[0]["frames"], expected["dims"][2], "{name}");
    }
}

#[test]
fn plain_output_shows_the_same_facts() {
    let out = hulu(&["inspect", ct5n().to_str().unwrap()]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    for fact in [
        "modality: CT",
        "orientation: LPS",
        "series found: 1",
        "centre 40",
    ] {
        assert!(stdout.contains(fact), "{fact} missing in {stdout}");
    }
}

#[test]
fn saved_frames_are_the_loader_frames() {
    let dir = scratch("frames");
    let nii = root().join("tests/fixtures/inputs/anatomical.nii");
    let out = hulu(&[
        "inspect",
        "--slices",
        "4",
        "--save-frames",
        dir.to_str().unwrap(),
        ct5n().to_str().unwrap(),
        nii.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let options = hulu_model::LoadOptions {
        slices: Some(4),
        ..hulu_model::LoadOptions::default()
    };
    for (i, file) in [ct5n(), nii].iter().enumerate() {
        let visual = hulu_model::VisualSource::detect(file)
            .unwrap()
            .load(&options)
            .unwrap();
        let saved: Vec<_> = std::fs::read_dir(dir.join(i.to_string()))
            .unwrap()
            .collect();
        assert_eq!(saved.len(), visual.frames.len());
        for (k, frame) in visual.frames.iter().enumerate() {
            let png = image::open(dir.join(format!("{i}/{k:04}.png"))).unwrap();
            assert!(
                matches!(png, image::DynamicImage::ImageRgb8(_)),
                "8-bit RGB"
            );
            let png = png.to_rgb8();
            assert_eq!(
                (png.width() as usize, png.height() as usize),
                (frame.width, frame.height)
            );
            assert_eq!(png.as_raw(), &frame.data, "input {i} frame {k}");
        }
    }
}

#[test]
fn contact_sheet_is_a_png_grid_of_the_frames() {
    let dir = scratch("sheet");
    let sheet = dir.join("sheet.png");
    let out = hulu(&[
        "inspect",
        "--contact-sheet",
        sheet.to_str().unwrap(),
        ct5n().to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let png = image::open(&sheet).unwrap().to_rgb8();
    // 5 square 16x16 frames: 3 columns x 2 rows of 160-pixel tiles, 4-pixel gaps and an
    // 11-pixel label strip under each tile.
    let (cols, rows, tile, gap, label) = (3, 2, 160, 4, 11);
    assert_eq!(png.width(), cols * (tile + gap) + gap);
    assert_eq!(png.height(), rows * (tile + label + gap) + gap);
    // The sixth cell is empty (black), the five others are not.
    let cell_mean = |c: u32, r: u32| {
        let (x0, y0) = (gap + c * (tile + gap), gap + r * (tile + label + gap));
        let mut sum = 0u64;
        for y in y0..y0 + tile {
            for x in x0..x0 + tile {
                sum += png
                    .get_pixel(x, y)
                    .0
                    .iter()
                    .map(|&v| u64::from(v))
                    .sum::<u64>();
            }
        }
        sum
    };
    assert_eq!(cell_mean(2, 1), 0);
    for k in 0..5 {
        assert!(cell_mean(k % 3, k / 3) > 0, "tile {k} is empty");
    }
    // Compression drops tokens of this series (inspect says so), and those areas are red.
    let reports = inspect_json(&[ct5n().to_str().unwrap()]);
    let dropped = reports[0]["tokens"]["before"].as_u64() != reports[0]["tokens"]["after"].as_u64();
    let reddish = png
        .pixels()
        .filter(|p| p.0[0] >= 128 && p.0[1] < 128 && p.0[2] < 128)
        .count();
    assert_eq!(dropped, reddish > 0);
}

#[test]
fn nested_folder_export() {
    let dir = scratch("nested");
    copy_series(&ct5n(), &dir.join("PATIENT/STUDY/SERIES"), "IM");
    let r = inspect_json(&[dir.to_str().unwrap()]);
    assert_eq!(r[0]["frames"], 5);
    assert_eq!(r[0]["header"]["series_found"], 1);
}

#[test]
fn dicomdir_and_zip_exports_with_two_series() {
    let data = root().join("hulu-io/tests/data/dicom-exports");
    let expected: Value =
        serde_json::from_str(&std::fs::read_to_string(data.join("expected.json")).unwrap())
            .unwrap();
    for export in [data.join("study/DICOMDIR"), data.join("study.zip")] {
        let r = inspect_json(&[export.to_str().unwrap()]);
        let h = &r[0]["header"];
        assert_eq!(h["series_found"], 2, "{}", export.display());
        // Default: the largest series.
        let uid = h["series_uid"].as_str().unwrap();
        assert_eq!(expected["series"][uid]["images"], 5);
        assert_eq!(r[0]["frames"], 5);
        // The other one, by UID, by number and by index.
        let other = "1.3.6.1.4.1.5962.1.3.4.1.20040826185059.5457";
        let number = expected["series"][other]["number"].to_string();
        let listed = h["series"].as_array().unwrap();
        let index = listed.iter().position(|s| s["uid"] == other).unwrap();
        for choice in [other.to_string(), number, format!("#{index}")] {
            let r = inspect_json(&["--series", &choice, export.to_str().unwrap()]);
            assert_eq!(r[0]["header"]["series_uid"], other, "--series {choice}");
            assert_eq!(r[0]["frames"], expected["series"][other]["images"]);
        }
    }
}

#[test]
fn several_series_in_one_folder_and_an_unknown_choice() {
    let dir = scratch("several");
    copy_series(&ct5n(), &dir.join("a"), "CT");
    copy_series(
        &root().join("tests/fixtures/io/dicom/series_mr700"),
        &dir.join("b"),
        "MR",
    );
    // series_mr700 is radial (each slice its own orientation): it needs the switch.
    let r = inspect_json(&["--allow-mixed-orientation", dir.to_str().unwrap()]);
    assert_eq!(r[0]["header"]["series_found"], 2);
    let listed = r[0]["header"]["series"].as_array().unwrap();
    let ct = listed.iter().position(|s| s["images"] == 5).unwrap();
    let r = inspect_json(&[
        "--allow-mixed-orientation",
        "--series",
        &format!("#{ct}"),
        dir.to_str().unwrap(),
    ]);
    assert_eq!(r[0]["header"]["modality"], "CT");
    assert_eq!(r[0]["frames"], 5);
    let out = hulu(&[
        "inspect",
        "--series",
        "#7",
        "--allow-mixed-orientation",
        dir.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("no series matches") && !err.contains("panicked"),
        "{err}"
    );
}

#[test]
fn mixed_orientation_is_refused_unless_allowed() {
    let dir = scratch("mixed");
    copy_series(&ct5n(), &dir, "IM");
    // One slice turned coronal: its column direction (0,1,0) becomes (0,0,1), same length.
    let one = dir.join("IM0002");
    let bytes = std::fs::read(&one).unwrap();
    let axial = b"1.000000\\0.000000\\0.000000\\0.000000\\1.000000\\0.000000 ";
    let coronal = b"1.000000\\0.000000\\0.000000\\0.000000\\0.000000\\1.000000 ";
    let at = bytes.windows(axial.len()).position(|w| w == axial).unwrap();
    let mut changed = bytes.clone();
    changed[at..at + axial.len()].copy_from_slice(coronal);
    std::fs::write(&one, changed).unwrap();

    let out = hulu(&["inspect", dir.to_str().unwrap()]);
    assert!(
        !out.status.success(),
        "a mixed series must be refused by default"
    );
    assert!(
        text(&out.stderr).contains("orientation"),
        "{}",
        text(&out.stderr)
    );
    let r = inspect_json(&["--allow-mixed-orientation", dir.to_str().unwrap()]);
    assert_eq!(r[0]["frames"], 5);
}

#[test]
fn kind_by_content_and_unsupported_files_list_what_is() {
    let dir = scratch("content");
    // A NIfTI and an MP4 under misleading names are still read as what they are.
    let nii = dir.join("scan.dcm");
    std::fs::copy(root().join("tests/fixtures/inputs/anatomical.nii"), &nii).unwrap();
    let mp4 = dir.join("clip.png");
    std::fs::copy(
        root().join("hulu-io/tests/data/video-ffmpeg/video-plain.mp4"),
        &mp4,
    )
    .unwrap();
    let r = inspect_json(&[nii.to_str().unwrap(), mp4.to_str().unwrap()]);
    assert_eq!(r[0]["kind"], "nifti");
    assert_eq!(r[1]["kind"], "video");
    let junk = dir.join("notes.png");
    std::fs::write(&junk, "just some text, no picture\n".repeat(20)).unwrap();
    let out = hulu(&["inspect", junk.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("notes.png") && err.contains("supported: DICOM"),
        "{err}"
    );
}

#[test]
fn a_closed_stdout_ends_quietly() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_hulu"))
        .env(
            "HULU_MODEL",
            root().join("tests/fixtures/models/tiny-qwen2"),
        )
        .args(["inspect", ct5n().to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Close the reading end before hulu writes anything (`| head -0`).
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let err = text(&out.stderr);
    assert!(
        !err.contains("panicked") && !err.contains("Broken pipe"),
        "{err}"
    );
    assert!(out.status.success(), "{:?}: {err}", out.status);
}
