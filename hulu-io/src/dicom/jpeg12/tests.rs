//! Whole-codestream tests: streams written here (DC-only, with restart markers), 8-bit
//! streams from the `image` crate's encoder, and the 12-bit DICOM fixture, cut and mutated.

use super::decode;
use proptest::prelude::*;

/// Writes entropy-coded bits, stuffing a zero byte after each 0xFF.
#[derive(Default)]
struct BitWriter {
    out: Vec<u8>,
    acc: u32,
    count: u32,
}

impl BitWriter {
    fn put(&mut self, value: u32, bits: u32) {
        for i in (0..bits).rev() {
            self.acc = (self.acc << 1) | ((value >> i) & 1);
            self.count += 1;
            if self.count == 8 {
                let byte = self.acc as u8;
                self.out.push(byte);
                if byte == 0xFF {
                    self.out.push(0);
                }
                self.acc = 0;
                self.count = 0;
            }
        }
    }

    /// Pads the last byte with 1 bits (F.1.2.3).
    fn align(&mut self) {
        while self.count != 0 {
            self.put(1, 1);
        }
    }
}

fn segment(out: &mut Vec<u8>, marker: u8, payload: &[u8]) {
    out.extend([0xFF, marker]);
    out.extend(((payload.len() + 2) as u16).to_be_bytes());
    out.extend(payload);
}

/// A one-component SOF1 stream of flat 8×8 blocks: `levels` holds one sample value per
/// block (row-major over `ceil(width/8)` × `ceil(height/8)` blocks).
/// `restart` > 0 writes a DRI and RST markers, numbered from `first_rst`.
fn flat_blocks_jpeg(
    precision: u8,
    width: u16,
    height: u16,
    levels: &[u16],
    restart: u16,
    first_rst: u8,
) -> Vec<u8> {
    let blocks_x = usize::from(width).div_ceil(8);
    let level = |_: usize, bx: usize, by: usize| levels[by * blocks_x + bx];
    let layout = Layout {
        precision,
        width,
        height,
        sampling: &[(1, 1)],
        interleaved: false,
    };
    flat_jpeg(&layout, &level, restart, first_rst)
}

/// The shape of a stream written by [`flat_jpeg`].
struct Layout<'a> {
    precision: u8,
    width: u16,
    height: u16,
    /// Sampling factors (h, v) per component.
    sampling: &'a [(usize, usize)],
    /// One interleaved scan, or one scan per component.
    interleaved: bool,
}

impl Layout<'_> {
    fn max_sampling(&self) -> (usize, usize) {
        let h = self.sampling.iter().map(|s| s.0).max().unwrap();
        let v = self.sampling.iter().map(|s| s.1).max().unwrap();
        (h, v)
    }

    /// What the decoder must output: component `c` of pixel (x, y) is the level of the
    /// block holding its (subsampled) position.
    fn expected(&self, level: &dyn Fn(usize, usize, usize) -> u16) -> Vec<u16> {
        let (hmax, vmax) = self.max_sampling();
        let mut out = Vec::new();
        for y in 0..usize::from(self.height) {
            for x in 0..usize::from(self.width) {
                for (c, &(h, v)) in self.sampling.iter().enumerate() {
                    out.push(level(c, x * h / hmax / 8, y * v / vmax / 8));
                }
            }
        }
        out
    }
}

/// A SOF1 stream of flat 8×8 blocks, component `c`'s block (bx, by) at sample value
/// `level(c, bx, by)`. Every quantiser is 1, so a block's DC coefficient is
/// 8 × (level − 2^(P−1)) and its AC coefficients are 0. `restart` > 0 writes a DRI and RST
/// markers (every `restart` MCUs of each scan), numbered from `first_rst`.
fn flat_jpeg(
    layout: &Layout,
    level: &dyn Fn(usize, usize, usize) -> u16,
    restart: u16,
    first_rst: u8,
) -> Vec<u8> {
    let precision = layout.precision;
    let mut out = vec![0xFF, 0xD8];
    let mut dqt = vec![0u8];
    dqt.extend([1u8; 64]);
    segment(&mut out, 0xDB, &dqt);
    // DC categories 0..=14 as 4-bit codes 0000..1110, category 15 as 11110.
    let mut dht = vec![0x00];
    let mut counts = [0u8; 16];
    counts[3] = 15;
    counts[4] = 1;
    dht.extend(counts);
    dht.extend(0..16u8);
    // AC: only EOB, coded as the single bit 0.
    dht.push(0x10);
    let mut counts = [0u8; 16];
    counts[0] = 1;
    dht.extend(counts);
    dht.push(0x00);
    segment(&mut out, 0xC4, &dht);
    let mut sof = vec![precision];
    sof.extend(layout.height.to_be_bytes());
    sof.extend(layout.width.to_be_bytes());
    sof.push(layout.sampling.len() as u8);
    for (c, &(h, v)) in layout.sampling.iter().enumerate() {
        sof.extend([c as u8 + 1, (h << 4 | v) as u8, 0]);
    }
    segment(&mut out, 0xC1, &sof);
    if restart > 0 {
        segment(&mut out, 0xDD, &restart.to_be_bytes());
    }
    let (hmax, vmax) = layout.max_sampling();
    let (width, height) = (usize::from(layout.width), usize::from(layout.height));
    let scans: Vec<Vec<usize>> = if layout.interleaved {
        vec![(0..layout.sampling.len()).collect()]
    } else {
        (0..layout.sampling.len()).map(|c| vec![c]).collect()
    };
    for scan in scans {
        let mut sos = vec![scan.len() as u8];
        for &c in &scan {
            sos.extend([c as u8 + 1, 0x00]);
        }
        sos.extend([0, 63, 0]);
        segment(&mut out, 0xDA, &sos);
        // Each MCU as a list of (component, block x, block y), in coding order (A.2).
        let mut mcus: Vec<Vec<(usize, usize, usize)>> = Vec::new();
        if scan.len() > 1 {
            for my in 0..height.div_ceil(8 * vmax) {
                for mx in 0..width.div_ceil(8 * hmax) {
                    let mut mcu = Vec::new();
                    for &c in &scan {
                        let (h, v) = layout.sampling[c];
                        for by in 0..v {
                            for bx in 0..h {
                                mcu.push((c, mx * h + bx, my * v + by));
                            }
                        }
                    }
                    mcus.push(mcu);
                }
            }
        } else {
            let c = scan[0];
            let (h, v) = layout.sampling[c];
            for by in 0..(height * v).div_ceil(vmax).div_ceil(8) {
                for bx in 0..(width * h).div_ceil(hmax).div_ceil(8) {
                    mcus.push(vec![(c, bx, by)]);
                }
            }
        }
        let shift = 1i32 << (precision - 1);
        let mut w = BitWriter::default();
        let mut predictors = [0i32; 4];
        let mut rst = first_rst;
        for (i, mcu) in mcus.iter().enumerate() {
            if restart > 0 && i > 0 && i % usize::from(restart) == 0 {
                w.align();
                w.out.extend([0xFF, 0xD0 + rst % 8]);
                rst = rst.wrapping_add(1);
                predictors = [0; 4];
            }
            for &(c, bx, by) in mcu {
                let dc = 8 * (i32::from(level(c, bx, by)) - shift);
                let diff = dc - predictors[c];
                predictors[c] = dc;
                let category = 32 - diff.unsigned_abs().leading_zeros();
                if category == 15 {
                    w.put(0b11110, 5);
                } else {
                    w.put(category, 4);
                }
                let bits = if diff < 0 {
                    diff + (1 << category) - 1
                } else {
                    diff
                };
                w.put(bits as u32, category);
                w.put(0, 1); // EOB
            }
        }
        w.align();
        out.extend(w.out);
    }
    out.extend([0xFF, 0xD9]);
    out
}

/// Expected samples of [`flat_blocks_jpeg`].
fn flat_blocks_image(width: usize, height: usize, levels: &[u16]) -> Vec<u16> {
    let blocks_x = width.div_ceil(8);
    (0..height)
        .flat_map(|y| (0..width).map(move |x| levels[(y / 8) * blocks_x + x / 8]))
        .collect()
}

/// The JPEG codestream inside the 12-bit DICOM fixture (one fragment: SOI to EOI).
fn fixture_codestream() -> Vec<u8> {
    let path = hulu_testkit::fixtures_root().join("io/dicom/JPGExtended.dcm");
    let file = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let start = file
        .windows(3)
        .position(|w| w == [0xFF, 0xD8, 0xFF])
        .expect("SOI");
    let end = file
        .windows(2)
        .rposition(|w| w == [0xFF, 0xD9])
        .expect("EOI")
        + 2;
    file[start..end].to_vec()
}

#[test]
fn flat_12_bit_blocks_decode_exactly_and_crop_to_the_frame() {
    // 20 × 13 pixels: 3 × 2 blocks, the last column and row of blocks partly outside.
    let levels = [0, 4095, 2048, 17, 3000, 1];
    let jpeg = flat_blocks_jpeg(12, 20, 13, &levels, 0, 0);
    let d = decode(&jpeg, 20, 13).unwrap();
    assert_eq!(
        (d.width, d.height, d.components, d.precision),
        (20, 13, 1, 12)
    );
    assert_eq!(d.samples, flat_blocks_image(20, 13, &levels));
}

#[test]
fn subsampled_components_upsample_in_interleaved_and_separate_scans() {
    // 4:2:0 luma/chroma, and an odd 3×1 / 1×2 mix, on sizes that are no multiple of an MCU.
    let level = |c: usize, bx: usize, by: usize| ((c * 997 + bx * 131 + by * 311) % 4096) as u16;
    for sampling in [&[(2, 2), (1, 1), (1, 1)][..], &[(3, 1), (1, 2)][..]] {
        for interleaved in [true, false] {
            for restart in [0, 3] {
                let layout = Layout {
                    precision: 12,
                    width: 53,
                    height: 37,
                    sampling,
                    interleaved,
                };
                let jpeg = flat_jpeg(&layout, &level, restart, 0);
                let what = format!("{sampling:?}, interleaved {interleaved}, restart {restart}");
                let d = decode(&jpeg, 53, 37).unwrap_or_else(|e| panic!("{what}: {e}"));
                assert_eq!(d.components, sampling.len(), "{what}");
                assert!(d.samples == layout.expected(&level), "{what}");
            }
        }
    }
}

#[test]
fn restart_markers_reset_the_predictor_and_must_come_in_order() {
    let levels: Vec<u16> = (0..5 * 3).map(|i| (i * 277 % 4096) as u16).collect();
    let want = flat_blocks_image(40, 24, &levels);
    for interval in [1, 2, 4, 7] {
        let jpeg = flat_blocks_jpeg(12, 40, 24, &levels, interval, 0);
        let d = decode(&jpeg, 40, 24).unwrap_or_else(|e| panic!("interval {interval}: {e}"));
        assert_eq!(d.samples, want, "interval {interval}");
    }
    // Numbering that starts at RST3 instead of RST0 is refused.
    let jpeg = flat_blocks_jpeg(12, 40, 24, &levels, 2, 3);
    let e = decode(&jpeg, 40, 24).unwrap_err();
    assert!(e.contains("RST0"), "{e}");
    // A stream cut right after a restart marker ends early.
    let jpeg = flat_blocks_jpeg(12, 40, 24, &levels, 2, 0);
    let rst = jpeg
        .windows(2)
        .position(|w| w == [0xFF, 0xD0])
        .expect("RST0");
    assert!(decode(&jpeg[..rst + 2], 40, 24).is_err());
}

/// A smooth grey test picture with some texture, `width` × `height`.
fn grey_picture(width: u32, height: u32) -> Vec<u8> {
    (0..height)
        .flat_map(|y| {
            (0..width).map(move |x| {
                let wave = ((x as f32 * 0.3).sin() * 40.0 + (y as f32 * 0.17).cos() * 30.0) as i32;
                (128 + wave + ((x * y) % 7) as i32).clamp(0, 255) as u8
            })
        })
        .collect()
}

#[test]
fn eight_bit_grey_matches_the_image_crate() {
    use image::codecs::jpeg::JpegEncoder;
    use image::ExtendedColorType;
    let (w, h) = (61u32, 35u32);
    let pixels = grey_picture(w, h);
    let mut jpeg = Vec::new();
    JpegEncoder::new_with_quality(&mut jpeg, 85)
        .encode(&pixels, w, h, ExtendedColorType::L8)
        .unwrap();
    let theirs = image::load_from_memory(&jpeg).unwrap().to_luma8();
    let ours = decode(&jpeg, w as usize, h as usize).unwrap();
    assert_eq!((ours.components, ours.precision), (1, 8));
    let worst = ours
        .samples
        .iter()
        .zip(theirs.as_raw())
        .map(|(&a, &b)| (i32::from(a) - i32::from(b)).abs())
        .max()
        .unwrap();
    println!("8-bit grey vs image: max |diff| {worst}");
    assert!(worst <= 2, "max |diff| {worst}");
}

#[test]
fn eight_bit_colour_components_match_the_image_crate_after_conversion() {
    use image::codecs::jpeg::JpegEncoder;
    use image::ExtendedColorType;
    // A smooth colour gradient, so chroma upsampling choices barely matter.
    let (w, h) = (48u32, 40u32);
    let rgb: Vec<u8> = (0..h)
        .flat_map(|y| (0..w).flat_map(move |x| [(x * 5) as u8, (y * 6) as u8, ((x + y) * 2) as u8]))
        .collect();
    let mut jpeg = Vec::new();
    JpegEncoder::new_with_quality(&mut jpeg, 90)
        .encode(&rgb, w, h, ExtendedColorType::Rgb8)
        .unwrap();
    let theirs = image::load_from_memory(&jpeg).unwrap().to_rgb8();
    let ours = decode(&jpeg, w as usize, h as usize).unwrap();
    assert_eq!(ours.components, 3);
    // JFIF YCbCr to RGB on our raw component planes.
    let mut worst = 0f32;
    for (ycc, want) in ours
        .samples
        .chunks_exact(3)
        .zip(theirs.as_raw().chunks_exact(3))
    {
        let (y, cb, cr) = (
            f32::from(ycc[0]),
            f32::from(ycc[1]) - 128.0,
            f32::from(ycc[2]) - 128.0,
        );
        let got = [
            y + 1.402 * cr,
            y - 0.344_136 * cb - 0.714_136 * cr,
            y + 1.772 * cb,
        ];
        for (g, &t) in got.iter().zip(want) {
            worst = worst.max((g.round().clamp(0.0, 255.0) - f32::from(t)).abs());
        }
    }
    println!("8-bit colour vs image: max |diff| {worst}");
    assert!(worst <= 4.0, "max |diff| {worst}");
}

#[test]
fn every_prefix_of_the_fixture_is_decoded_or_refused() {
    let jpeg = fixture_codestream();
    // The whole stream decodes: 256 × 1024, 12-bit.
    let d = decode(&jpeg, 256, 1024).unwrap();
    assert_eq!((d.width, d.height, d.precision), (256, 1024, 12));
    let decoded: Vec<usize> = (0..jpeg.len())
        .filter(|&len| decode(&jpeg[..len], 256, 1024).is_ok())
        .collect();
    println!("prefixes of {} bytes that decode: {decoded:?}", jpeg.len());
    // Only the stream without its EOI (and whatever its last entropy bytes do not need)
    // decodes: any earlier cut leaves a block without its bits, and is refused.
    assert!(
        decoded.iter().all(|&len| len + 4 >= jpeg.len()),
        "{decoded:?}"
    );
}

#[test]
fn hostile_headers_are_refused() {
    let levels = [100u16; 4];
    let good = flat_blocks_jpeg(12, 16, 16, &levels, 0, 0);
    assert!(decode(&good, 16, 16).is_ok());
    let find = |marker: u8| good.windows(2).position(|w| w == [0xFF, marker]).unwrap();
    let sof = find(0xC1);
    let mut zero_height = good.clone();
    zero_height[sof + 5..sof + 7].copy_from_slice(&[0, 0]);
    assert!(decode(&zero_height, 16, 16)
        .unwrap_err()
        .contains("height 0"));
    let mut zero_width = good.clone();
    zero_width[sof + 7..sof + 9].copy_from_slice(&[0, 0]);
    assert!(decode(&zero_width, 16, 16).unwrap_err().contains("width 0"));
    let mut absurd = good.clone();
    absurd[sof + 5..sof + 9].copy_from_slice(&[0xFF, 0xFF, 0xFF, 0xFF]);
    assert!(decode(&absurd, 16, 16).unwrap_err().contains("65535x65535"));
    // Bigger than the DICOM header allows, even if modestly.
    assert!(decode(&good, 16, 8).is_err());
    // Precision 16 and SOF2 (progressive).
    let mut p16 = good.clone();
    p16[sof + 4] = 16;
    assert!(decode(&p16, 16, 16).unwrap_err().contains("precision 16"));
    let mut progressive = good.clone();
    progressive[sof + 1] = 0xC2;
    assert!(decode(&progressive, 16, 16)
        .unwrap_err()
        .contains("progressive"));
    // A DC table whose counts overflow the code space: 17 codes of length 4.
    let dht = find(0xC4);
    let mut bad_table = good.clone();
    bad_table[dht + 5 + 3] = 17;
    assert!(decode(&bad_table, 16, 16).is_err());
    // A scan naming AC table 1, which is undefined.
    let sos = find(0xDA);
    let mut undefined = good.clone();
    undefined[sos + 6] = 0x01;
    assert!(decode(&undefined, 16, 16)
        .unwrap_err()
        .contains("AC Huffman table 1"));
    // A scan naming a component the frame lacks.
    let mut no_component = good.clone();
    no_component[sos + 5] = 9;
    assert!(decode(&no_component, 16, 16)
        .unwrap_err()
        .contains("component 9"));
    // The scan header before the frame header.
    let mut reordered = good[..sof].to_vec();
    reordered.extend_from_slice(&good[sos..]);
    assert!(decode(&reordered, 16, 16)
        .unwrap_err()
        .contains("before the frame"));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Random byte changes anywhere in the fixture's codestream: a result or an error,
    /// never a panic, and a result always has the declared size.
    #[test]
    fn mutated_fixture_never_panics(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
    ) {
        let mut jpeg = fixture_codestream();
        for (at, byte) in edits {
            let i = at.index(jpeg.len());
            jpeg[i] = byte;
        }
        if let Ok(d) = decode(&jpeg, 256, 1024) {
            prop_assert_eq!(d.samples.len(), d.width * d.height * d.components);
            prop_assert!(d.width <= 256 && d.height <= 1024);
        }
    }
}
