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

fn limits() -> Limits {
    Limits {
        max_bytes: BUDGET,
        max_frames: 16,
        max_dim: 8192,
    }
}

/// The largest single allocation a picture of `len` bytes may cost: its decoded buffer is at
/// most 2800 times its size (TIFF's LZW, the most expanding encoding read) or the budget's
/// expansion floor, and the u16 copy and the RGB frame are at most three times that; plus
/// the decoders' own fixed tables.
fn proportional_bound(len: usize) -> usize {
    let decoded = (limits().expansion_floor() as usize).max(2800 * len);
    (3 * decoded).min(BUDGET) + (256 << 10)
}

fn exercise(bytes: &[u8]) {
    LargestAllocation::reset_here();
    if let Ok(p) = picture_from_bytes("<fuzz>", bytes, &limits()) {
        let _ = p.to_rgb_frame();
    }
    let largest = LargestAllocation::largest_here();
    let bound = proportional_bound(bytes.len());
    assert!(
        largest <= bound,
        "an allocation of {largest} bytes from {} input bytes exceeds {bound}",
        bytes.len()
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

/// A PNG declaring `width` x `height` 8-bit RGB whose IDAT is `zeros` zero bytes, deflated:
/// far fewer than the declared pixels need.
fn png_declaring(width: u32, height: u32, zeros: usize) -> Vec<u8> {
    fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        out.extend((data.len() as u32).to_be_bytes());
        let mut crc = flate2::Crc::new();
        crc.update(kind);
        crc.update(data);
        out.extend(kind);
        out.extend(data);
        out.extend(crc.sum().to_be_bytes());
    }
    let mut ihdr = width.to_be_bytes().to_vec();
    ihdr.extend(height.to_be_bytes());
    ihdr.extend([8, 2, 0, 0, 0]);
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    // In 1 MiB pieces, so the test itself never holds the zeros it declares.
    let piece = vec![0u8; 1 << 20];
    let mut left = zeros;
    while left > 0 {
        let n = left.min(piece.len());
        std::io::Write::write_all(&mut z, &piece[..n]).unwrap();
        left -= n;
    }
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(&mut out, b"IDAT", &z.finish().unwrap());
    chunk(&mut out, b"IEND", &[]);
    out
}

/// A classic TIFF declaring `width` x `height` 8-bit grey, uncompressed, with one strip of
/// `present` bytes.
fn tiff_declaring(width: u32, height: u32, present: u32) -> Vec<u8> {
    let entries: [(u16, u16, u32, u32); 8] = [
        (256, 4, 1, width),
        (257, 4, 1, height),
        (258, 3, 1, 8),
        (259, 3, 1, 1),
        (262, 3, 1, 1),
        (273, 4, 1, 8 + 2 + 8 * 12 + 4),
        (278, 4, 1, height),
        (279, 4, 1, present),
    ];
    let mut b = b"II*\0".to_vec();
    b.extend(8u32.to_le_bytes());
    b.extend((entries.len() as u16).to_le_bytes());
    for (tag, ty, count, value) in entries {
        b.extend(tag.to_le_bytes());
        b.extend(ty.to_le_bytes());
        b.extend(count.to_le_bytes());
        b.extend(value.to_le_bytes());
    }
    b.extend(0u32.to_le_bytes());
    b.resize(b.len() + present as usize, 0);
    b
}

/// Decodes with the default budget and returns the error and the largest allocation.
fn refused(what: &str, bytes: &[u8]) -> (hulu_io::Error, usize) {
    LargestAllocation::reset_here();
    let e = picture_from_bytes(what, bytes, &Limits::default())
        .expect_err("a picture out of proportion to its file must be refused");
    (e, LargestAllocation::largest_here())
}

#[test]
fn a_small_jpeg_declaring_20000_squared_is_refused_before_decoding() {
    // /work/shared/hostile/jpeg-declares-20000x20000, vendored: 1.9 KB declaring 1.2 GB.
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/hostile/sof_20000x20000.jpg"
    );
    let bytes = std::fs::read(path).unwrap();
    LargestAllocation::reset_here();
    let e = hulu_io::image::load_image(path).expect_err("refused");
    let largest = LargestAllocation::largest_here();
    assert!(matches!(e, hulu_io::Error::TooLarge { .. }), "{e}");
    let text = e.to_string();
    assert!(
        text.contains("sof_20000x20000.jpg") && text.contains("proportion"),
        "{text}"
    );
    assert!(
        largest < 1 << 20,
        "{largest} bytes allocated for a {}-byte file",
        bytes.len()
    );
}

#[test]
fn png_and_tiff_of_zeros_declaring_more_than_they_hold_are_refused() {
    // 20000 x 20000 RGB (1.2 GB) from a PNG of a few hundred KB of deflated zeros.
    let png = png_declaring(20000, 20000, 300 << 20);
    assert!(png.len() < 1 << 20, "{}", png.len());
    let (e, largest) = refused("zeros.png", &png);
    assert!(matches!(e, hulu_io::Error::TooLarge { .. }), "{e}");
    assert!(e.to_string().contains("zeros.png"), "{e}");
    assert!(largest < 4 << 20, "{largest}");
    // 30000 x 30000 grey (900 MB) from a TIFF of 300 KB of zeros.
    let tiff = tiff_declaring(30000, 30000, 300 << 10);
    let (e, largest) = refused("zeros.tif", &tiff);
    assert!(matches!(e, hulu_io::Error::TooLarge { .. }), "{e}");
    assert!(largest < 4 << 20, "{largest}");
}

#[test]
fn a_png_of_zeros_within_deflates_ratio_is_still_read() {
    // 2000 x 2000 RGB zeros (12 MB), deflated near deflate's 1032:1 limit: legitimate, and
    // above the expansion floor of a 64 MB budget (1 MB), so the ratio is what admits it.
    let png = png_declaring(2000, 2000, 2000 * (2000 * 3 + 1));
    let limits = Limits {
        max_bytes: 64 << 20,
        ..Limits::default()
    };
    assert!(png.len() as u64 * 1032 >= 12_000_000);
    let p = picture_from_bytes("zeros.png", &png, &limits).unwrap();
    assert_eq!((p.width, p.height, p.channels), (2000, 2000, 3));
    assert!(p.samples.iter().all(|&v| v == 0));
}
