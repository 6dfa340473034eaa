//! Hostile pictures: random bytes behind each format's signature and mutated encodings must
//! give `Ok` or a typed error, never a panic, and never one allocation beyond the budget.

use hulu_testkit::LargestAllocation;
use std::io::Cursor;

use hulu_io::image::picture_from_bytes;
use hulu_io::Limits;
use image::{DynamicImage, ImageBuffer, ImageFormat, Luma, Rgb};
use proptest::prelude::*;

#[global_allocator]
static ALLOCATOR: LargestAllocation = LargestAllocation;

const BUDGET: usize = 4 << 20;

fn exercise(bytes: &[u8]) {
    let limits = Limits {
        max_bytes: BUDGET,
        max_frames: 16,
        max_dim: 8192,
    };
    LargestAllocation::reset_here();
    if let Ok(p) = picture_from_bytes("<fuzz>", bytes, &limits) {
        let _ = p.to_rgb_frame();
    }
    let largest = LargestAllocation::largest_here();
    assert!(
        largest <= BUDGET,
        "an allocation of {largest} bytes exceeds the budget"
    );
}

fn encodings() -> Vec<Vec<u8>> {
    let grey16 = DynamicImage::ImageLuma16(ImageBuffer::from_fn(40, 30, |x, y| {
        Luma([(x * 1000 + y * 37) as u16])
    }));
    let rgb = DynamicImage::ImageRgb8(ImageBuffer::from_fn(40, 30, |x, y| {
        Rgb([x as u8 * 6, y as u8 * 8, 90])
    }));
    let mut out = Vec::new();
    for (img, format) in [
        (&grey16, ImageFormat::Png),
        (&grey16, ImageFormat::Tiff),
        (&rgb, ImageFormat::Jpeg),
        (&rgb, ImageFormat::Bmp),
        (&rgb, ImageFormat::Png),
    ] {
        let mut c = Cursor::new(Vec::new());
        img.write_to(&mut c, format).unwrap();
        out.push(c.into_inner());
    }
    out
}

const SIGNATURES: [&[u8]; 5] = [
    b"\x89PNG\r\n\x1a\n",
    b"\xff\xd8\xff",
    b"II*\0",
    b"MM\0*",
    b"BM",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: hulu_testkit::fuzz_cases(256), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_behind_signatures(sig in 0..SIGNATURES.len(), tail in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let mut bytes = SIGNATURES[sig].to_vec();
        bytes.extend_from_slice(&tail);
        exercise(&bytes);
    }
}

#[test]
fn mutated_encodings() {
    let cases = hulu_testkit::fuzz_cases(400);
    let files = encodings();
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    let strategy = (
        0..files.len(),
        proptest::collection::vec((prop_oneof![0usize..64, any::<usize>()], any::<u8>()), 1..8),
        proptest::option::of(any::<usize>()),
    );
    runner
        .run(&strategy, |(which, edits, cut)| {
            let mut bytes = files[which].clone();
            for (at, value) in edits {
                let at = at % bytes.len();
                bytes[at] = value;
            }
            if let Some(cut) = cut {
                bytes.truncate(cut % (bytes.len() + 1));
            }
            exercise(&bytes);
            Ok(())
        })
        .unwrap();
    println!(
        "{cases} mutated pictures: largest allocation {}",
        LargestAllocation::largest()
    );
}
