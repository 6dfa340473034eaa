//! Hostile video input: random bytes, random box trees and mutated real clips must give `Ok`
//! or a typed error, never a panic, and never one allocation beyond the budget.

use hulu_testkit::LargestAllocation;
use std::path::PathBuf;

use hulu_io::video::{video_from_bytes, VideoOptions};
use hulu_io::Limits;
use proptest::prelude::*;

#[global_allocator]
static ALLOCATOR: LargestAllocation = LargestAllocation;

/// One load's budget. The decoder's own frame buffers for a 176×144 clip stay far below it.
const BUDGET: usize = 8 << 20;

/// Loads `bytes`; true when it decoded.
fn exercise(bytes: &[u8]) -> bool {
    let limits = Limits {
        max_bytes: BUDGET,
        max_frames: 64,
        max_dim: 4096,
    };
    LargestAllocation::reset_here();
    let ok = video_from_bytes("<fuzz>", bytes, &VideoOptions::default(), &limits).is_ok();
    let largest = LargestAllocation::largest_here();
    assert!(
        largest <= BUDGET,
        "an allocation of {largest} bytes exceeds the budget"
    );
    ok
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
        let _ = exercise(&bytes);
    }

    #[test]
    fn random_box_trees(tree in box_tree()) {
        let mut bytes = boxed(b"ftyp", b"isom\0\0\x02\0isomavc1");
        bytes.extend_from_slice(&tree);
        let _ = exercise(&bytes);
    }
}

#[test]
fn mutated_real_clip() {
    let dir = std::env::var_os("HULU_MEDIA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.cache/media"));
    let path = dir.join("carphone_distorted.mp4");
    let Ok(original) = std::fs::read(&path) else {
        if std::env::var_os("HULU_REQUIRE_MEDIA").is_some() {
            panic!(
                "{}: missing; run scripts/fetch-test-media.sh",
                path.display()
            );
        }
        eprintln!(
            "SKIPPED: {} missing; run scripts/fetch-test-media.sh",
            path.display()
        );
        return;
    };
    println!("mutating {}", path.display());
    // The unmutated clip decodes: mutations start from a file that reaches the decoder.
    let clean = video_from_bytes(
        "<clip>",
        &original,
        &VideoOptions::default(),
        &Limits::default(),
    )
    .unwrap();
    assert_eq!(clean.frames.len(), 4);
    let decoded = std::cell::Cell::new(0);
    let cases = hulu_testkit::fuzz_cases(60);
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    let strategy = (
        proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6),
        proptest::option::of(any::<usize>()),
    );
    runner
        .run(&strategy, |(edits, cut)| {
            let mut bytes = original.clone();
            for (at, value) in edits {
                let at = at % bytes.len();
                bytes[at] = value;
            }
            if let Some(cut) = cut {
                bytes.truncate(cut % (bytes.len() + 1));
            }
            if exercise(&bytes) {
                decoded.set(decoded.get() + 1);
            }
            Ok(())
        })
        .unwrap();
    println!(
        "{cases} mutated clips, {} still decoded: largest allocation {}",
        decoded.get(),
        LargestAllocation::largest()
    );
}
