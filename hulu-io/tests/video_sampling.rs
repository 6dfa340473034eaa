//! Picking frames by time costs what the frames cost, whatever durations the tags claim or
//! `fps` asks for: a cine whose Frame Time is 10^12 ms (`tests/data/cine-absurd-frame-time/`,
//! from /work/shared/bugs; it took 110 s, one loop step per claimed second) and properties
//! over absurd durations and rates, for cines and for video.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use hulu_io::dicom::{load_dicom, sample_cine, DicomRender};
use hulu_io::video::{pick_frames, VideoOptions};
use hulu_io::{Error, Limits, VisualKind};
use proptest::prelude::*;

/// Far above what these computations take, far below one step per claimed second.
const QUICK: Duration = Duration::from_secs(2);

fn cine() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/cine-absurd-frame-time/ft_1e12.dcm")
}

#[test]
fn absurd_frame_time_gives_every_frame_quickly() {
    // The right value (the bug report's): 10 frames stamped 0, 1e9, ..., 9e9 s.
    let every: Vec<f64> = (0..10).map(|i| i as f64 * 1e9).collect();
    // One instant per 10^10 s reaches only the first frame (the cine lasts 9e9 s).
    for (fps, want) in [
        (Some(1.0), &every[..]),
        (Some(1e9), &every[..]),
        (Some(1e-6), &every[..]),
        (Some(30.0), &every[..]),
        (None, &every[..]),
        (Some(1e-10), &[0.0][..]),
    ] {
        let start = Instant::now();
        let render = DicomRender {
            fps,
            ..DicomRender::default()
        };
        let visual = load_dicom(cine(), &render, &Limits::default()).unwrap();
        let took = start.elapsed();
        println!("fps {fps:?}: {} frames in {took:?}", visual.frames.len());
        assert!(took < QUICK * 5, "fps {fps:?}: {took:?}");
        assert_eq!(visual.kind, VisualKind::Video);
        assert_eq!(visual.frames.len(), want.len());
        assert_eq!(visual.timestamps.unwrap(), want, "fps {fps:?}");
    }
    // At most the frame limit.
    let render = DicomRender {
        max_frames: Some(4),
        ..DicomRender::default()
    };
    let visual = load_dicom(cine(), &render, &Limits::default()).unwrap();
    assert_eq!(visual.timestamps.unwrap(), [0.0, 3e9, 6e9, 9e9]);
}

/// The rule `sample_cine` documents, one step per instant: the oracle for small cases.
fn one_step_per_instant(times: &[f64], fps: f64) -> Vec<usize> {
    let last = *times.last().unwrap();
    let mut out: Vec<usize> = Vec::new();
    let mut k = 0usize;
    while k as f64 / fps <= last + 1e-9 {
        let t = k as f64 / fps;
        let nearest = (0..times.len())
            .min_by(|&a, &b| (times[a] - t).abs().total_cmp(&(times[b] - t).abs()))
            .unwrap();
        if out.last() != Some(&nearest) {
            out.push(nearest);
        }
        k += 1;
    }
    out
}

fn cumulative(deltas: &[f64]) -> Vec<f64> {
    let mut t = 0.0;
    let mut out = vec![0.0];
    for d in deltas {
        t += d;
        out.push(t);
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: hulu_testkit::fuzz_cases(512), failure_persistence: None, ..ProptestConfig::default() })]

    /// Where one step per instant is affordable, the bounded rule picks the same frames.
    #[test]
    fn cine_matches_the_stepwise_rule(
        deltas in proptest::collection::vec(prop_oneof![Just(0.0), 0.001f64..3.0, Just(0.5), Just(1.0)], 0..40),
        fps in prop_oneof![Just(1.0), Just(2.0), Just(30.0), 0.05f64..20.0],
    ) {
        let times = cumulative(&deltas);
        prop_assert_eq!(sample_cine(&times, Some(fps), None), one_step_per_instant(&times, fps));
    }

    /// Any duration and rate: quick, each frame at most once, in order, within the limit.
    #[test]
    fn cine_is_bounded_for_absurd_durations(
        deltas in proptest::collection::vec(prop_oneof![0.0f64..1e-3, 1e6f64..1e300, Just(f64::MAX)], 1..60),
        fps in prop_oneof![1e-300f64..1e-3, 1e3f64..1e300, Just(1.0)],
        max_frames in proptest::option::of(1usize..20),
    ) {
        let times = cumulative(&deltas);
        let start = Instant::now();
        let picked = sample_cine(&times, Some(fps), max_frames);
        prop_assert!(start.elapsed() < QUICK);
        prop_assert!(picked.windows(2).all(|w| w[0] < w[1]));
        prop_assert!(picked.iter().all(|&i| i < times.len()));
        prop_assert!(picked.len() <= max_frames.unwrap_or(usize::MAX));
        prop_assert!(!picked.is_empty() || times.is_empty());
    }

    /// Video: a stream end of up to 10^300 s or an fps of up to 10^300 costs at most
    /// `max_frames` lookups; past the frame limit it is a typed error, not an allocation.
    #[test]
    fn video_picks_are_bounded_for_absurd_durations(
        n in 1usize..200,
        end in prop_oneof![1e3f64..1e300, Just(f64::MAX), Just(f64::INFINITY)],
        fps in prop_oneof![1e-3f64..1e300, Just(1.0)],
        max_frames in prop_oneof![1usize..500, Just(usize::MAX)],
    ) {
        let pts: Vec<f64> = (0..n).map(|i| i as f64 / 25.0).collect();
        let options = VideoOptions { fps: Some(fps), max_frames };
        let limits = Limits { max_frames: 1000, ..Limits::default() };
        let start = Instant::now();
        let result = pick_frames("<clip>", &pts, end, &options, &limits);
        prop_assert!(start.elapsed() < QUICK);
        match result {
            Ok(picks) => {
                prop_assert!(!picks.is_empty() && picks.len() <= max_frames.min(1000));
                prop_assert!(picks.iter().all(|p| p.frame < n));
            }
            Err(Error::TooLarge { what, .. }) => {
                prop_assert_eq!(what, "<clip>");
                prop_assert!(max_frames > 1000);
            }
            Err(e) => prop_assert!(false, "unexpected error {e}"),
        }
    }
}

#[test]
fn mp4_with_absurd_fps_is_quick() {
    // tests/data/video-ffmpeg/video-plain.mp4: 35 frames at 10 fps (3.5 s).
    let clip =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/video-ffmpeg/video-plain.mp4");
    for fps in [1e300, 1e9, 1e-300] {
        let options = VideoOptions {
            fps: Some(fps),
            max_frames: 180,
        };
        let start = Instant::now();
        let visual = hulu_io::video::load_video(&clip, &options).unwrap();
        let took = start.elapsed();
        println!("fps {fps:e}: {} frames in {took:?}", visual.frames.len());
        assert!(took < QUICK * 5);
        // Past 10 fps every tick repeats a frame; the picks stay within max_frames.
        let want = if fps < 1.0 { 1 } else { 180 };
        assert_eq!(visual.frames.len(), want);
    }
}
