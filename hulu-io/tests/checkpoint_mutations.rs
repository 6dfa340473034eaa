//! Mutation campaign over checkpoints: the fixture shards with bytes changed (mostly in the
//! safetensors header) or cut short, and the shard index JSON with bytes changed. Each case
//! must open to `Ok` (then every tensor reads) or a typed error, never panic, finish in
//! bounded time, and allocate at most a bound proportional to the files it was given.
//!
//! `HULU_FUZZ_CASES=5000 cargo test -p hulu-io --no-default-features --test
//! checkpoint_mutations --release` runs thousands of cases instead of the default few hundred.

use std::path::Path;
use std::time::{Duration, Instant};

use hulu_io::Checkpoint;
use hulu_testkit::{LargestAllocation, ScratchModel};
use proptest::prelude::*;

#[global_allocator]
static ALLOCATOR: LargestAllocation = LargestAllocation;

/// Slowest a single case may be (debug build, shared CI cores).
const CASE_TIME: Duration = Duration::from_secs(5);

/// Opens the checkpoint in `dir` and reads every tensor; returns the largest allocation.
fn exercise(dir: &Path) -> usize {
    LargestAllocation::reset_here();
    let started = Instant::now();
    if let Ok(ckpt) = Checkpoint::open(dir) {
        let keys: Vec<String> = ckpt.keys().map(str::to_string).collect();
        for key in keys {
            let _ = ckpt.raw_bytes(&key);
        }
    }
    let elapsed = started.elapsed();
    assert!(elapsed < CASE_TIME, "a case took {elapsed:?}");
    LargestAllocation::largest_here()
}

/// The largest single allocation a checkpoint of `len` bytes may cost: the JSON header and
/// its parse (a few times the header), one tensor's bytes (at most the file), plus a fixed
/// amount for paths and the error text.
fn bound(len: usize) -> usize {
    8 * len + (64 << 10)
}

fn edits() -> impl Strategy<Value = (Vec<(usize, u8)>, Option<usize>)> {
    (
        // Mostly in the length field and the JSON header, sometimes anywhere.
        proptest::collection::vec(
            (prop_oneof![0usize..2048, any::<usize>()], any::<u8>()),
            1..8,
        ),
        proptest::option::weighted(0.2, any::<usize>()),
    )
}

fn mutate(original: &[u8], edits: &[(usize, u8)], cut: Option<usize>) -> Vec<u8> {
    let mut bytes = original.to_vec();
    for &(at, value) in edits {
        let at = at % bytes.len();
        bytes[at] = value;
    }
    if let Some(cut) = cut {
        bytes.truncate(cut % (bytes.len() + 1));
    }
    bytes
}

fn runner(cases: u32) -> proptest::test_runner::TestRunner {
    proptest::test_runner::TestRunner::new(ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    })
}

#[test]
fn mutated_single_file_checkpoints() {
    let s = ScratchModel::of("tiny-qwen3");
    let file = s.path("model.safetensors");
    let original = std::fs::read(&file).unwrap();
    let cases = hulu_testkit::fuzz_cases(100);
    let opened = std::cell::Cell::new(0usize);
    runner(cases)
        .run(&edits(), |(edits, cut)| {
            let bytes = mutate(&original, &edits, cut);
            std::fs::write(&file, &bytes).unwrap();
            let largest = exercise(s.dir());
            prop_assert!(
                largest <= bound(bytes.len()),
                "{largest} bytes allocated for a {}-byte shard",
                bytes.len()
            );
            opened.set(opened.get() + usize::from(Checkpoint::open(s.dir()).is_ok()));
            Ok(())
        })
        .unwrap();
    println!(
        "{cases} mutated shards: {} still opened, largest allocation {} bytes",
        opened.get(),
        LargestAllocation::largest()
    );
}

#[test]
fn mutated_shard_indexes() {
    let s = ScratchModel::of("tiny-qwen2");
    let index = s.path("model.safetensors.index.json");
    let original = std::fs::read(&index).unwrap();
    let total: usize = std::fs::read_dir(s.dir())
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len() as usize)
        .sum();
    let cases = hulu_testkit::fuzz_cases(200);
    let opened = std::cell::Cell::new(0usize);
    let strategy = (
        proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6),
        proptest::option::weighted(0.2, any::<usize>()),
    );
    runner(cases)
        .run(&strategy, |(edits, cut)| {
            let bytes = mutate(&original, &edits, cut);
            std::fs::write(&index, &bytes).unwrap();
            let largest = exercise(s.dir());
            prop_assert!(largest <= bound(total), "{largest} bytes allocated");
            opened.set(opened.get() + usize::from(Checkpoint::open(s.dir()).is_ok()));
            Ok(())
        })
        .unwrap();
    println!(
        "{cases} mutated shard indexes: {} still opened",
        opened.get()
    );
}

#[test]
fn random_headers() {
    // A valid length field followed by random bytes: a header that is not JSON, or JSON that
    // is not a header.
    let s = ScratchModel::of("tiny-qwen3");
    let cases = hulu_testkit::fuzz_cases(128);
    let strategy = (proptest::collection::vec(any::<u8>(), 0..512), 0usize..256);
    runner(cases)
        .run(&strategy, |(header, data)| {
            let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
            bytes.extend(&header);
            bytes.resize(bytes.len() + data, 0);
            std::fs::write(s.path("model.safetensors"), &bytes).unwrap();
            let largest = exercise(s.dir());
            prop_assert!(largest <= bound(bytes.len()));
            Ok(())
        })
        .unwrap();
}
