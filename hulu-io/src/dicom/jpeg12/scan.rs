//! The entropy-coded data of one sequential Huffman scan (T.81 F.2.2): each block decoded,
//! dequantised and inverse-transformed straight into its component's plane.

use super::frame::{Frame, ScanComponent, Tables};
use super::huffman::{next_marker, BitReader, HuffmanTable};
use super::idct::idct_block;

/// Samples of one component at its own resolution, padded to whole MCUs.
#[derive(Debug)]
pub(super) struct Plane {
    pub(super) stride: usize,
    pub(super) samples: Vec<u16>,
}

/// `ZIGZAG[k]`: natural (row-major) index of the `k`-th coefficient in zigzag order
/// (T.81 figure A.6), walking the anti-diagonals in alternating directions.
const ZIGZAG: [usize; 64] = {
    let mut table = [0usize; 64];
    let mut k = 0;
    let mut diagonal: usize = 0;
    while diagonal < 15 {
        let low = diagonal.saturating_sub(7);
        let high = if diagonal < 7 { diagonal } else { 7 };
        let mut i = 0;
        while i <= high - low {
            // Odd diagonals run down-left (row rising), even ones up-right.
            let row = if diagonal % 2 == 1 { low + i } else { high - i };
            table[k] = row * 8 + (diagonal - row);
            k += 1;
            i += 1;
        }
        diagonal += 1;
    }
    table
};

/// The Huffman tables, quantisation table and DC predictor of one scan component.
struct BlockCoder<'t> {
    dc: &'t HuffmanTable,
    ac: &'t HuffmanTable,
    quant: &'t [u16; 64],
    predictor: i32,
}

/// Decodes one scan whose entropy-coded data starts at `data[start]` into `planes`.
/// Returns the offset of the marker that ends the scan (`data.len()` when none does).
pub(super) fn decode_scan(
    data: &[u8],
    start: usize,
    frame: &Frame,
    scan: &[ScanComponent],
    tables: &Tables,
    restart_interval: usize,
    planes: &mut [Plane],
) -> Result<usize, String> {
    let missing = || "scan uses an undefined table".to_string();
    let mut coders = Vec::with_capacity(scan.len());
    for s in scan {
        let component = &frame.components[s.index];
        coders.push(BlockCoder {
            dc: tables.dc[s.dc].as_ref().ok_or_else(missing)?,
            ac: tables.ac[s.ac].as_ref().ok_or_else(missing)?,
            quant: tables.quant[component.tq].as_ref().ok_or_else(missing)?,
            predictor: 0,
        });
    }
    // An interleaved scan codes whole MCUs; a single-component scan codes the component's
    // own blocks one at a time (A.2.2), without the MCU padding.
    let interleaved = scan.len() > 1;
    let (mcus_x, mcus_y) = if interleaved {
        frame.mcus()
    } else {
        let c = &frame.components[scan[0].index];
        let (hmax, vmax) = frame.max_sampling();
        (
            (frame.width * c.h).div_ceil(hmax).div_ceil(8),
            (frame.height * c.v).div_ceil(vmax).div_ceil(8),
        )
    };
    // DC differences reach category 11 at 8 bits and 15 at 12 bits (F.1.2.1.1).
    let max_dc_category = frame.precision + 3;
    let mut reader = BitReader::new(data, start);
    let mut next_restart = 0u8;
    let mut coefficients = [0f32; 64];
    let mut block = [0u16; 64];
    for mcu in 0..mcus_x * mcus_y {
        if restart_interval > 0 && mcu > 0 && mcu % restart_interval == 0 {
            reader.restart(next_restart)?;
            next_restart = (next_restart + 1) % 8;
            for coder in &mut coders {
                coder.predictor = 0;
            }
        }
        let (mx, my) = (mcu % mcus_x, mcu / mcus_x);
        for (s, coder) in scan.iter().zip(&mut coders) {
            let component = &frame.components[s.index];
            let (bh, bv) = if interleaved {
                (component.h, component.v)
            } else {
                (1, 1)
            };
            let plane = &mut planes[s.index];
            for v in 0..bv {
                for h in 0..bh {
                    decode_block(&mut reader, coder, max_dc_category, &mut coefficients)?;
                    idct_block(&coefficients, frame.precision, &mut block);
                    let (x0, y0) = ((mx * bh + h) * 8, (my * bv + v) * 8);
                    for (row, line) in block.chunks_exact(8).enumerate() {
                        let at = (y0 + row) * plane.stride + x0;
                        plane.samples[at..at + 8].copy_from_slice(line);
                    }
                }
            }
        }
    }
    Ok(next_marker(data, reader.position()).unwrap_or(data.len()))
}

/// Decodes one block's DC difference and AC run/size symbols (F.2.2.1, F.2.2.2) into
/// dequantised coefficients in natural order.
fn decode_block(
    reader: &mut BitReader,
    coder: &mut BlockCoder,
    max_dc_category: u8,
    coefficients: &mut [f32; 64],
) -> Result<(), String> {
    coefficients.fill(0.0);
    let category = reader.decode(coder.dc)?;
    if category > max_dc_category {
        return Err(format!("DC difference category {category}"));
    }
    let diff = reader.receive_extend(u32::from(category))?;
    // Hostile data can push the predictor anywhere; wrapping keeps it a number.
    coder.predictor = coder.predictor.wrapping_add(diff);
    coefficients[0] = coder.predictor as f32 * f32::from(coder.quant[0]);
    let mut k = 1;
    while k < 64 {
        let symbol = reader.decode(coder.ac)?;
        let (run, size) = (usize::from(symbol >> 4), symbol & 15);
        if size == 0 {
            if run == 15 {
                // ZRL: sixteen zero coefficients.
                k += 16;
                continue;
            }
            break; // EOB
        }
        k += run;
        if k > 63 {
            return Err("AC coefficients run past the end of a block".into());
        }
        let value = reader.receive_extend(u32::from(size))?;
        coefficients[ZIGZAG[k]] = value as f32 * f32::from(coder.quant[k]);
        k += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::ZIGZAG;

    #[test]
    fn zigzag_matches_the_figure_and_is_a_permutation() {
        // The first and last entries of T.81 figure A.6, as natural indices.
        assert_eq!(ZIGZAG[..10], [0, 1, 8, 16, 9, 2, 3, 10, 17, 24]);
        assert_eq!(ZIGZAG[60..], [47, 55, 62, 63]);
        let mut seen = ZIGZAG.to_vec();
        seen.sort_unstable();
        assert_eq!(seen, (0..64).collect::<Vec<_>>());
    }
}
