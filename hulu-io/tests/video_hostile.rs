//! Hostile video input: the reported files (`tests/data/mp4-hostile/`), random bytes, random
//! box trees and a mutation campaign over real clips must give `Ok` or a typed error, with
//! no panic anywhere (not even one caught inside the crate: its text would reach the user),
//! in bounded time, and with no allocation beyond a bound proportional to the input.
//!
//! The campaign runs 400 mutations by default; `HULU_MUTATIONS=5000` runs more.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Once};
use std::time::{Duration, Instant};

use hulu_io::video::{video_from_bytes, VideoOptions};
use hulu_io::{Error, Limits};
use hulu_testkit::LargestAllocation;
use proptest::prelude::*;

#[global_allocator]
static ALLOCATOR: LargestAllocation = LargestAllocation;

/// Frames are at most this many pixels a side in these tests (the clips are 96x64 and 320x240).
const MAX_DIM: usize = 512;
/// A case may allocate, in one piece, 16 bytes per input byte (the sample table holds 32
/// bytes per sample of at least 4 bytes in the file), plus one RGB frame, plus 64 KiB.
fn allocation_bound(input: usize) -> usize {
    16 * input + MAX_DIM * MAX_DIM * 3 + (64 << 10)
}
/// One load may not take longer (a debug build on a busy machine decodes these clips in
/// well under a second).
const TIME_LIMIT: Duration = Duration::from_secs(20);

/// Panics seen by the hook, caught or not.
static PANICS: AtomicUsize = AtomicUsize::new(0);

fn count_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            PANICS.fetch_add(1, Ordering::SeqCst);
            previous(info);
        }));
    });
}

/// What one load did.
struct Outcome {
    result: Result<usize, Error>,
    largest: usize,
    took: Duration,
}

/// Loads `bytes` on a worker thread; fails the test on a panic, on a load slower than
/// [`TIME_LIMIT`] (the worker is left behind) or on an allocation past the bound.
fn exercise(label: &str, bytes: &[u8]) -> Outcome {
    count_panics();
    let before = PANICS.load(Ordering::SeqCst);
    let (tx, rx) = mpsc::channel();
    let input = bytes.to_vec();
    let start = Instant::now();
    std::thread::spawn(move || {
        let limits = Limits {
            max_bytes: 8 << 20,
            max_frames: 64,
            max_dim: MAX_DIM,
        };
        LargestAllocation::reset_here();
        let result = video_from_bytes("<fuzz>", &input, &VideoOptions::default(), &limits)
            .map(|v| v.frames.len());
        let largest = LargestAllocation::largest_here();
        let _ = tx.send((result, largest));
    });
    let outcome = match rx.recv_timeout(TIME_LIMIT) {
        Ok((result, largest)) => Outcome {
            result,
            largest,
            took: start.elapsed(),
        },
        Err(_) => fail(label, bytes, "did not finish in time"),
    };
    if PANICS.load(Ordering::SeqCst) != before {
        fail(label, bytes, "panicked");
    }
    if outcome.largest > allocation_bound(bytes.len()) {
        fail(
            label,
            bytes,
            &format!("allocated {} bytes in one piece", outcome.largest),
        );
    }
    outcome
}

fn fail(label: &str, bytes: &[u8], what: &str) -> ! {
    let dump = std::env::temp_dir().join(format!("hulu_video_{}.mp4", std::process::id()));
    std::fs::write(&dump, bytes).unwrap();
    panic!("{label}: {what} (input saved to {})", dump.display());
}

fn data(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(path)
}

#[test]
fn reported_files_give_typed_errors() {
    // /work/shared/hostile: a `udta` of size 0 inside `moov` (the `mp4` crate looped
    // forever) and an `stts` entry counting 0 samples (the `mp4` crate panicked).
    let zero = std::fs::read(data("mp4-hostile/udta_size_0.mp4")).unwrap();
    let out = exercise("udta_size_0", &zero);
    let message = out.result.unwrap_err().to_string();
    assert_eq!(
        message,
        "<fuzz>: invalid video: box \"udta\" inside \"moov\" has size 0 (allowed only at the \
         top level)"
    );
    let stts = std::fs::read(data("mp4-hostile/stts_sample_count_0.mp4")).unwrap();
    // A run of 0 samples is harmless: the table walks the samples, not the runs.
    let out = exercise("stts_sample_count_0", &stts);
    assert!(out.result.is_ok(), "{:?}", out.result.err());
}

/// A small deterministic generator (xorshift64*), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Offsets of every box header in `bytes` (descending into the usual containers).
fn box_offsets(bytes: &[u8]) -> Vec<usize> {
    fn walk(bytes: &[u8], mut at: usize, end: usize, out: &mut Vec<usize>) {
        while at + 8 <= end {
            let size = u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
            if size < 8 || at + size > end {
                return;
            }
            out.push(at);
            let kind = &bytes[at + 4..at + 8];
            let skip = match kind {
                b"moov" | b"trak" | b"mdia" | b"minf" | b"stbl" | b"edts" | b"dinf" | b"udta" => {
                    Some(8)
                }
                b"stsd" => Some(16),
                b"avc1" => Some(86),
                _ => None,
            };
            if let Some(skip) = skip {
                walk(bytes, at + skip, at + size, out);
            }
            at += size;
        }
    }
    let mut out = Vec::new();
    walk(bytes, 0, bytes.len(), &mut out);
    out
}

/// One mutation: flipped bytes, a lying box size, a lying table count, a cut, a splice.
fn mutate(rng: &mut Rng, original: &[u8], boxes: &[usize]) -> Vec<u8> {
    let mut b = original.to_vec();
    let lies: [u32; 8] = [0, 1, 7, 8, 0xFFFF, 0x7FFF_FFFF, 0xFFFF_FFFE, 0xFFFF_FFFF];
    match rng.below(5) {
        0 => {
            for _ in 0..1 + rng.below(6) {
                let i = rng.below(b.len());
                b[i] ^= 1 << rng.below(8);
            }
        }
        1 => {
            // A box's size.
            let at = boxes[rng.below(boxes.len())];
            let v = if rng.below(2) == 0 {
                lies[rng.below(lies.len())]
            } else {
                let size = u32::from_be_bytes(b[at..at + 4].try_into().unwrap());
                size.wrapping_add(rng.below(17) as u32).wrapping_sub(8)
            };
            b[at..at + 4].copy_from_slice(&v.to_be_bytes());
        }
        2 => {
            // A field of a box: entry counts, sample sizes, timescales, dimensions.
            let at = boxes[rng.below(boxes.len())] + 8 + 4 * rng.below(6);
            if at + 4 <= b.len() {
                let v = lies[rng.below(lies.len())];
                b[at..at + 4].copy_from_slice(&v.to_be_bytes());
            }
        }
        3 => b.truncate(rng.below(b.len())),
        _ => {
            let (s, len) = (rng.below(b.len()), rng.below(64));
            let span: Vec<u8> = b[s..(s + len).min(b.len())].to_vec();
            let at = rng.below(b.len());
            b.splice(at..at, span);
        }
    }
    b
}

fn campaign_clips() -> Vec<PathBuf> {
    let mut clips = vec![
        data("video-ffmpeg/video-plain.mp4"),
        data("video-ffmpeg/video-rot90.mp4"),
        data("video-ffmpeg/video-edit-list.mp4"),
        data("video-bugs/full_grey.mp4"),
        data("mp4-hostile/stts_sample_count_0.mp4"),
    ];
    // The fetched real clip too, when present (scripts/fetch-test-media.sh).
    let fetched = std::env::var_os("HULU_MEDIA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.cache/media"))
        .join("carphone_distorted.mp4");
    if fetched.is_file() {
        clips.push(fetched);
    }
    clips
}

#[test]
fn mutation_campaign() {
    let total: usize = std::env::var("HULU_MUTATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(400);
    let clips = campaign_clips();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let (mut decoded, mut typed, mut cases) = (0, 0, 0);
    let mut slowest = Duration::ZERO;
    let mut largest = 0;
    for (n, path) in clips.iter().enumerate() {
        let original = std::fs::read(path).unwrap();
        let clean = exercise(&path.display().to_string(), &original);
        assert!(
            clean.result.is_ok(),
            "{}: the unmutated clip",
            path.display()
        );
        let boxes = box_offsets(&original);
        let share = total / clips.len() + usize::from(n < total % clips.len());
        for i in 0..share {
            let bytes = mutate(&mut rng, &original, &boxes);
            let label = format!("{} mutation {i}", label_of(path));
            let out = exercise(&label, &bytes);
            match out.result {
                Ok(_) => decoded += 1,
                Err(_) => typed += 1,
            }
            slowest = slowest.max(out.took);
            largest = largest.max(out.largest);
            cases += 1;
        }
    }
    println!(
        "{cases} mutations of {} clips: {decoded} decoded, {typed} typed errors, 0 panics; \
         slowest {slowest:?}; largest allocation {largest} bytes",
        clips.len()
    );
}

fn label_of(path: &Path) -> String {
    path.file_name().unwrap().to_string_lossy().into_owned()
}

fn boxed(kind: &[u8; 4], payload: &[u8]) -> Vec<u8> {
    let mut b = ((payload.len() + 8) as u32).to_be_bytes().to_vec();
    b.extend_from_slice(kind);
    b.extend_from_slice(payload);
    b
}

const KINDS: [&[u8; 4]; 16] = [
    b"moov", b"trak", b"mdia", b"minf", b"stbl", b"mvhd", b"tkhd", b"mdhd", b"hdlr", b"stsd",
    b"stts", b"stsc", b"stsz", b"stco", b"ctts", b"elst",
];

/// A random tree of MP4 boxes (consistent sizes, random payloads), so the parser itself is
/// exercised, not just the structural pre-check.
fn box_tree() -> impl Strategy<Value = Vec<u8>> {
    let leaf = (
        0..KINDS.len(),
        proptest::collection::vec(any::<u8>(), 0..64),
    )
        .prop_map(|(k, p)| boxed(KINDS[k], &p));
    leaf.prop_recursive(4, 32, 6, |inner| {
        (0..5usize, proptest::collection::vec(inner, 1..6))
            .prop_map(|(k, kids)| boxed(KINDS[k], &kids.concat()))
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: hulu_testkit::fuzz_cases(256), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes(mut bytes in proptest::collection::vec(any::<u8>(), 8..2048)) {
        // Half the time claim to be MP4 so the parser runs.
        if bytes[0] & 1 == 0 {
            bytes[4..8].copy_from_slice(b"ftyp");
        }
        let _ = exercise("random bytes", &bytes);
    }

    #[test]
    fn random_box_trees(tree in box_tree()) {
        let mut bytes = boxed(b"ftyp", b"isom\0\0\x02\0isomavc1");
        bytes.extend_from_slice(&tree);
        let _ = exercise("random box tree", &bytes);
    }
}
