//! The `ffmpeg` feature's decoder against the same FFmpeg CLI golden values as the MP4 path
//! (`tests/video_golden.json`): sampled frame count, timestamps and channel means within 1.5
//! levels. Runs only with `--features ffmpeg` and the fetched media.
#![cfg(feature = "ffmpeg")]

use std::path::PathBuf;

use hulu_io::video::{load_with_ffmpeg, VideoOptions};
use hulu_io::Limits;

#[test]
fn ffmpeg_path_matches_the_cli() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.cache/media");
    let golden: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/video_golden.json"),
        )
        .unwrap(),
    )
    .unwrap();
    for (name, clip) in golden["clips"].as_object().unwrap() {
        let path = dir.join(name);
        if !path.is_file() {
            eprintln!(
                "SKIPPED: {} missing; run scripts/fetch-test-media.sh",
                path.display()
            );
            continue;
        }
        println!("checking {}", path.display());
        let v = load_with_ffmpeg(&path, &VideoOptions::default(), &Limits::default()).unwrap();
        let frames = clip["frames"].as_array().unwrap();
        assert_eq!(v.frames.len(), frames.len());
        let ts = v.timestamps.unwrap();
        for (a, b) in ts.iter().zip(clip["timestamps"].as_array().unwrap()) {
            assert!((a - b.as_f64().unwrap()).abs() < 1e-9);
        }
        for (frame, want) in v.frames.iter().zip(frames) {
            let n = (frame.width * frame.height) as f64;
            for (c, want) in want["channel_means"].as_array().unwrap().iter().enumerate() {
                let got = frame
                    .data
                    .iter()
                    .skip(c)
                    .step_by(3)
                    .map(|&x| x as f64)
                    .sum::<f64>()
                    / n;
                assert!(
                    (got - want.as_f64().unwrap()).abs() <= 1.5,
                    "{name}: {got} vs {want}"
                );
            }
        }
    }
}
