//! Hostile input: random bytes and mutated fixture files must give `Ok` or a typed error,
//! never a panic, and never an allocation beyond the configured budget.

use hulu_io::dicom::{DicomFile, DicomRender, DicomWindow};
use hulu_io::Limits;
use hulu_testkit::io_files;
use hulu_testkit::LargestAllocation;

#[global_allocator]
static ALLOCATOR: LargestAllocation = LargestAllocation;

/// Budget for one load; the fixtures decode to at most 7 MB.
const BUDGET: usize = 16 << 20;

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

/// One mutation of a valid file: flipped bytes, a lying 16/32-bit field, a cut, a splice.
fn mutate(rng: &mut Rng, original: &[u8]) -> Vec<u8> {
    let mut b = original.to_vec();
    match rng.below(5) {
        0 => {
            for _ in 0..1 + rng.below(8) {
                let i = rng.below(b.len());
                b[i] ^= 1 << rng.below(8);
            }
        }
        1 => {
            // Overwrite 4 bytes with a huge or odd value (lengths, rows, frame counts).
            let i = rng.below(b.len().saturating_sub(4));
            let v: u32 = [0xFFFF_FFFF, 0xFFFF_FFFE, 0x7FFF_FFFF, 0xFFFF, 0, 1][rng.below(6)];
            b[i..i + 4].copy_from_slice(&v.to_le_bytes());
        }
        2 => b.truncate(rng.below(b.len())),
        3 => {
            // Duplicate a random span somewhere else (misaligned element stream).
            let (s, len) = (rng.below(b.len()), rng.below(64));
            let span: Vec<u8> = b[s..(s + len).min(b.len())].to_vec();
            let at = rng.below(b.len());
            b.splice(at..at, span);
        }
        _ => {
            // Random values in the header region, where the image attributes are.
            for _ in 0..4 {
                let i = 128 + rng.below(b.len().min(1200).saturating_sub(128));
                if i < b.len() {
                    b[i] = rng.next() as u8;
                }
            }
        }
    }
    b
}

/// Parses, decodes and renders; any outcome but a panic is acceptable.
fn exercise(bytes: &[u8], limits: &Limits) -> bool {
    let Ok(file) = DicomFile::from_bytes(bytes, limits) else {
        return false;
    };
    let render = DicomRender {
        window: DicomWindow::Auto,
        max_frames: Some(4),
        fps: None,
    };
    file.to_visual(&render).is_ok()
}

#[test]
fn mutated_and_random_bytes_never_panic_or_overallocate() {
    let limits = Limits {
        max_bytes: BUDGET,
        max_frames: 1000,
        max_dim: 4096,
    };
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut decoded = 0;
    let mut cases = 0;
    for path in io_files("dicom", ".dcm") {
        let original = std::fs::read(&path).unwrap();
        println!("mutating {}", path.display());
        for _ in 0..hulu_testkit::fuzz_cases(150) {
            let bytes = mutate(&mut rng, &original);
            LargestAllocation::reset_here();
            decoded += usize::from(exercise(&bytes, &limits));
            cases += 1;
            let largest = LargestAllocation::largest_here();
            if largest > 2 * BUDGET {
                let dump = std::env::temp_dir().join("hulu_dicom_overallocation.dcm");
                std::fs::write(&dump, &bytes).unwrap();
                panic!(
                    "{}: a mutation allocated {largest} bytes (saved to {})",
                    path.display(),
                    dump.display()
                );
            }
        }
    }
    LargestAllocation::reset_here();
    for len in [0usize, 3, 131, 132, 200, 4096] {
        for prefix in [&b""[..], &[0u8; 128][..]] {
            let mut bytes = prefix.to_vec();
            if !prefix.is_empty() {
                bytes.extend(b"DICM");
            }
            bytes.extend((0..len).map(|_| rng.next() as u8));
            exercise(&bytes, &limits);
            cases += 1;
        }
    }
    let largest = LargestAllocation::largest_here();
    println!("{cases} cases, {decoded} still decoded; largest allocation {largest} bytes");
    assert!(
        largest <= 2 * BUDGET,
        "an allocation of {largest} bytes exceeds the budget"
    );
}

#[test]
fn declared_sizes_beyond_the_budget_are_refused_before_decoding() {
    let path = io_files("dicom", ".dcm")
        .into_iter()
        .find(|p| p.ends_with("examples_ybr_color.dcm"))
        .expect("the cine fixture");
    let small = Limits {
        max_bytes: 1 << 20,
        ..Limits::default()
    };
    // 30 frames of 320x240x3 bytes (6.9 MB) do not fit 1 MiB: refused, nothing decoded.
    let file = DicomFile::open(&path, &small).unwrap();
    let err = file.decode().unwrap_err();
    assert!(matches!(err, hulu_io::Error::TooLarge { .. }), "{err}");
    // Two frames do.
    assert_eq!(file.decode_frames(&[0, 29]).unwrap().frames(), 2);
    let few = Limits {
        max_frames: 10,
        ..Limits::default()
    };
    assert!(matches!(
        DicomFile::open(&path, &few),
        Err(hulu_io::Error::TooLarge { .. })
    ));
}
