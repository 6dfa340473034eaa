//! Our own sequential-DCT Huffman JPEG decoder (T.81 SOF0 and SOF1, 8- or 12-bit samples),
//! for DICOM "JPEG Extended" (1.2.840.10008.1.2.4.51) files with more than 8 bits stored,
//! which the registry's Rust JPEG decoders cannot read (they have no 12-bit DCT path).
//!
//! Scope: 1 to 4 components, any sampling factors, interleaved and single-component
//! scans, restart intervals, 8- and 16-bit quantisation tables. Progressive, lossless,
//! hierarchical and arithmetic-coded streams are refused (dicom-pixeldata reads those
//! syntaxes). Entropy data that ends early is an error, never zero-filled.
//!
//! Memory: the component planes are allocated once, after the frame header has been
//! checked against the caller's width and height, padded to whole MCUs (at most 32 samples
//! more per side), plus the output.

mod fragments;
mod frame;
mod huffman;
mod idct;
mod scan;
#[cfg(test)]
mod tests;

pub(crate) use fragments::decode_dicom_frames;

use frame::{parse_frame, parse_huffman, parse_quant, parse_restart, parse_scan, Frame, Tables};
use scan::{decode_scan, Plane};

/// A decoded JPEG image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Decoded {
    pub(crate) width: usize,
    pub(crate) height: usize,
    /// Components per pixel (1 to 4), in frame header order.
    pub(crate) components: usize,
    /// Sample precision of the frame: 8 or 12 bits.
    pub(crate) precision: u8,
    /// `height × width × components` samples, row-major, components interleaved, each
    /// component upsampled to full resolution by replication; no colour conversion.
    pub(crate) samples: Vec<u16>,
}

/// Decodes one JPEG codestream whose frame is at most `max_width` × `max_height`.
pub(crate) fn decode(bytes: &[u8], max_width: usize, max_height: usize) -> Result<Decoded, String> {
    if !bytes.starts_with(&[0xFF, 0xD8]) {
        return Err("JPEG data does not start with SOI".into());
    }
    let mut pos = 2;
    let mut frame: Option<Frame> = None;
    let mut planes: Vec<Plane> = Vec::new();
    let mut coded = [false; 4];
    let mut tables = Tables::default();
    let mut restart_interval = 0;
    // Without EOI, the data may simply end: accepted when every component was coded.
    while let Some(&byte) = bytes.get(pos) {
        if byte != 0xFF {
            return Err(format!("JPEG: no marker at byte {pos}"));
        }
        let marker = *bytes.get(pos + 1).ok_or("JPEG data ends inside a marker")?;
        pos += if marker == 0xFF { 1 } else { 2 };
        match marker {
            0xFF => continue, // fill byte
            0xD9 => break,    // EOI
            0x01 | 0xD0..=0xD7 => continue,
            0xD8 => return Err("JPEG: a second SOI".into()),
            _ => {}
        }
        let len = usize::from(u16::from_be_bytes([
            *bytes.get(pos).ok_or("JPEG segment length is cut off")?,
            *bytes.get(pos + 1).ok_or("JPEG segment length is cut off")?,
        ]));
        if len < 2 {
            return Err(format!("JPEG segment 0x{marker:02X} of length {len}"));
        }
        let payload = bytes
            .get(pos + 2..pos + len)
            .ok_or_else(|| format!("JPEG segment 0x{marker:02X} of length {len} is cut off"))?;
        let next = pos + len;
        match marker {
            0xC0 | 0xC1 => {
                if frame.is_some() {
                    return Err("JPEG: a second frame header".into());
                }
                let f = parse_frame(payload, marker, max_width, max_height)?;
                planes = allocate_planes(&f);
                frame = Some(f);
            }
            0xC2 | 0xC6 | 0xCA | 0xCE => return Err(unsupported(marker, "progressive")),
            0xC3 | 0xC7 | 0xCB | 0xCF => return Err(unsupported(marker, "lossless")),
            0xC5 | 0xC9 | 0xCC | 0xCD | 0xDE | 0xDF => {
                return Err(unsupported(marker, "arithmetic-coded or hierarchical"))
            }
            0xC4 => parse_huffman(payload, &mut tables)?,
            0xDB => parse_quant(payload, &mut tables)?,
            0xDD => restart_interval = parse_restart(payload)?,
            0xDA => {
                let f = frame
                    .as_ref()
                    .ok_or("JPEG: a scan before the frame header")?;
                let scan = parse_scan(payload, f, &tables)?;
                for s in &scan {
                    if std::mem::replace(&mut coded[s.index], true) {
                        return Err("JPEG: a component coded in two scans".into());
                    }
                }
                pos = decode_scan(
                    bytes,
                    next,
                    f,
                    &scan,
                    &tables,
                    restart_interval,
                    &mut planes,
                )?;
                continue;
            }
            0xDC => return Err("JPEG: DNL marker (height defined later) is not supported".into()),
            0xE0..=0xFE => {} // APPn, JPGn, COM: skipped
            _ => return Err(format!("JPEG: unexpected marker 0x{marker:02X}")),
        }
        pos = next;
    }
    let frame = frame.ok_or("JPEG without a frame header")?;
    if coded[..frame.components.len()].contains(&false) {
        return Err("JPEG: a component has no scan".into());
    }
    Ok(assemble(&frame, &planes))
}

fn unsupported(marker: u8, kind: &str) -> String {
    format!(
        "{kind} JPEG (SOF{}) is not supported by the 12-bit decoder",
        marker.wrapping_sub(0xC0)
    )
}

/// One zeroed plane per component, sized to whole MCUs.
fn allocate_planes(frame: &Frame) -> Vec<Plane> {
    let (mcus_x, mcus_y) = frame.mcus();
    frame
        .components
        .iter()
        .map(|c| {
            let stride = mcus_x * c.h * 8;
            Plane {
                stride,
                samples: vec![0; stride * mcus_y * c.v * 8],
            }
        })
        .collect()
}

/// Crops the planes to the frame and interleaves them at full resolution.
fn assemble(frame: &Frame, planes: &[Plane]) -> Decoded {
    let (hmax, vmax) = frame.max_sampling();
    let n = frame.components.len();
    let (width, height) = (frame.width, frame.height);
    let mut samples = Vec::with_capacity(width * height * n);
    if n == 1 {
        let plane = &planes[0];
        for y in 0..height {
            samples.extend_from_slice(&plane.samples[y * plane.stride..][..width]);
        }
    } else {
        for y in 0..height {
            for x in 0..width {
                for (c, plane) in frame.components.iter().zip(planes) {
                    let (cx, cy) = (x * c.h / hmax, y * c.v / vmax);
                    samples.push(plane.samples[cy * plane.stride + cx]);
                }
            }
        }
    }
    Decoded {
        width,
        height,
        components: n,
        precision: frame.precision,
        samples,
    }
}
