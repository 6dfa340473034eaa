//! A pass over the raw element stream before the DICOM parser sees it.
//!
//! The parser allocates each value at the length its header declares before reading it, so a
//! corrupt or hostile length of up to 4 GiB would be allocated (and zero-filled) before the
//! read fails. This walk checks every declared length, at every nesting depth, against the
//! bytes that remain, and bounds the nesting depth, so that every allocation the parser then
//! makes is at most the size of the file.
//!
//! One length rule for both: the walk judges each element exactly as `dicom-parser` 0.10
//! reads it (the same short/long length forms, the dictionary VR in implicit mode, OW for
//! implicit pixel and overlay data). That parser reads a value of a fixed-size VR (US, UL,
//! FD, …) in whole units (`len / 4` values for UL) yet advances its position by the declared
//! length, so a length that is not a multiple of the unit leaves it reading the next header
//! from the wrong byte, where lengths the walk never saw (up to 4 GiB) are allocated. Such an
//! element (a VR changed without fixing its length: `tests/data/dicom-hostile/vr_ul_only.dcm`)
//! is refused here. `guard_and_parser_agree_on_every_element` checks the agreement on mutated
//! fixture files.

use std::io::Read;

use dicom_core::dictionary::{DataDictionary, DataDictionaryEntry};
use dicom_core::{Tag, VR};
use dicom_dictionary_std::StandardDataDictionary;

/// Deepest sequence nesting accepted; real files rarely exceed 5.
const MAX_DEPTH: usize = 64;
/// The value length that means "undefined, ends at a delimiter".
const UNDEFINED: u32 = 0xFFFF_FFFF;

/// Where the file meta group starts and which encoding the data set after it uses.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    /// Offset of the `DICM` magic (0 without a preamble, 128 with one).
    pub magic_at: usize,
    /// Offset of the first data set element, after the file meta group.
    pub dataset_at: usize,
    /// Transfer Syntax UID from the file meta group, trimmed.
    pub transfer_syntax: String,
}

/// How data set elements are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Encoding {
    explicit: bool,
    big_endian: bool,
}

impl Encoding {
    const EXPLICIT_LE: Encoding = Encoding {
        explicit: true,
        big_endian: false,
    };
    const IMPLICIT_LE: Encoding = Encoding {
        explicit: false,
        big_endian: false,
    };

    fn u16(&self, b: &[u8], at: usize) -> u16 {
        let v = [b[at], b[at + 1]];
        if self.big_endian {
            u16::from_be_bytes(v)
        } else {
            u16::from_le_bytes(v)
        }
    }

    fn u32(&self, b: &[u8], at: usize) -> u32 {
        let v = [b[at], b[at + 1], b[at + 2], b[at + 3]];
        if self.big_endian {
            u32::from_be_bytes(v)
        } else {
            u32::from_le_bytes(v)
        }
    }
}

/// The transfer syntax of deflated explicit VR little endian.
pub(crate) const DEFLATED: &str = "1.2.840.10008.1.2.1.99";

/// Encoding of the data set for a transfer syntax UID (every compressed syntax is explicit VR
/// little endian; deflate is explicit little endian once inflated).
pub(crate) fn encoding_of(transfer_syntax: &str) -> Encoding {
    match transfer_syntax {
        "1.2.840.10008.1.2" => Encoding::IMPLICIT_LE,
        "1.2.840.10008.1.2.2" => Encoding {
            explicit: true,
            big_endian: true,
        },
        _ => Encoding::EXPLICIT_LE,
    }
}

/// Finds the `DICM` magic and walks the file meta group (always explicit VR little endian).
pub(crate) fn file_layout(bytes: &[u8]) -> Result<Layout, String> {
    let magic_at = if bytes.len() >= 132 && &bytes[128..132] == b"DICM" {
        128
    } else if bytes.starts_with(b"DICM") {
        0
    } else {
        return Err("no DICM magic at byte 128 or 0: not a DICOM Part 10 file \
                    (no file meta group, so the transfer syntax is unknown)"
            .into());
    };
    let enc = Encoding::EXPLICIT_LE;
    let mut pos = magic_at + 4;
    let mut transfer_syntax = None;
    while pos + 8 <= bytes.len() && enc.u16(bytes, pos) == 0x0002 {
        let (header, len) = element_header(bytes, pos, enc)?;
        if len == UNDEFINED {
            return Err(format!(
                "file meta element at byte {pos} has an undefined length"
            ));
        }
        let start = pos + header;
        let end = start
            .checked_add(len as usize)
            .filter(|&e| e <= bytes.len())
            .ok_or_else(|| {
                format!("file meta element at byte {pos} declares {len} bytes past the end")
            })?;
        if enc.u16(bytes, pos + 2) == 0x0010 {
            let uid = String::from_utf8_lossy(&bytes[start..end]);
            transfer_syntax = Some(
                uid.trim_matches(|c: char| c == '\0' || c == ' ')
                    .to_string(),
            );
        }
        pos = end;
    }
    let transfer_syntax = transfer_syntax
        .ok_or("file meta group has no Transfer Syntax UID (0002,0010)".to_string())?;
    Ok(Layout {
        magic_at,
        dataset_at: pos,
        transfer_syntax,
    })
}

/// Inflates a deflated data set, refusing to produce more than `max_bytes` (a zip bomb).
pub(crate) fn inflate(deflated: &[u8], max_bytes: usize) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let limit = (max_bytes as u64).saturating_add(1);
    flate2::read::DeflateDecoder::new(deflated)
        .take(limit)
        .read_to_end(&mut out)
        .map_err(|e| format!("deflated data set: {e}"))?;
    if out.len() > max_bytes {
        return Err(format!(
            "deflated data set inflates past the {max_bytes} byte budget"
        ));
    }
    Ok(out)
}

/// Tag and value length of the element at `pos`; returns the header size and the length.
fn element_header(b: &[u8], pos: usize, enc: Encoding) -> Result<(usize, u32), String> {
    if pos + 8 > b.len() {
        return Err(format!("element header at byte {pos} is cut off"));
    }
    if !enc.explicit {
        return Ok((8, enc.u32(b, pos + 4)));
    }
    // As the parser does: these VRs have a 16-bit length, every other one (including an
    // unknown VR, read as UN) has 2 reserved bytes and a 32-bit length.
    let short = matches!(
        &b[pos + 4..pos + 6],
        b"AE"
            | b"AS"
            | b"AT"
            | b"CS"
            | b"DA"
            | b"DS"
            | b"DT"
            | b"FL"
            | b"FD"
            | b"IS"
            | b"LO"
            | b"LT"
            | b"PN"
            | b"SH"
            | b"SL"
            | b"SS"
            | b"ST"
            | b"TM"
            | b"UI"
            | b"UL"
            | b"US"
    );
    if !short {
        if pos + 12 > b.len() {
            return Err(format!("element header at byte {pos} is cut off"));
        }
        Ok((12, enc.u32(b, pos + 8)))
    } else {
        Ok((8, u32::from(enc.u16(b, pos + 6))))
    }
}

/// One open container, as `dicom-parser`'s `DataSetReader` stacks them.
struct Open {
    /// A sequence (expects items) or an item (expects elements).
    sequence: bool,
    /// Inside encapsulated pixel data: items are fragments of codec bytes.
    pixel: bool,
    /// Offset where a defined-length container ends; `None` for undefined length.
    end: Option<usize>,
}

/// The VR the parser gives an implicit-VR element, as `dicom-encoding`'s implicit decoder
/// does: OW for Pixel Data and Overlay Data (PS3.5 A.1), else the standard dictionary's
/// (relaxed: US for US-or-SS, OW for OB-or-OW), else UN. So only tags the dictionary calls SQ
/// are sequences (a private or unknown tag is UN bytes, whatever its value looks like).
fn implicit_vr(group: u16, elem: u16) -> VR {
    if (group, elem) == (0x7FE0, 0x0010) || (group >> 8 == 0x60 && elem == 0x3000) {
        return VR::OW;
    }
    StandardDataDictionary
        .by_tag(Tag(group, elem))
        .map_or(VR::UN, |entry| entry.vr().relaxed())
}

/// Bytes per value the parser reads for a VR: `dicom-parser` reads `len / unit` values of
/// these and skips nothing, so the declared length must be a multiple of the unit.
pub(crate) fn value_unit(vr: VR) -> usize {
    match vr {
        VR::US | VR::SS | VR::OW => 2,
        VR::UL | VR::SL | VR::OL | VR::FL | VR::OF | VR::AT => 4,
        VR::FD | VR::OD | VR::SV | VR::UV | VR::OV => 8,
        _ => 1,
    }
}

/// The VR the parser sees for two explicit VR bytes (an unknown VR is read as UN).
fn explicit_vr(bytes: [u8; 2]) -> VR {
    VR::from_binary(bytes).unwrap_or(VR::UN)
}

/// One element or item header as the walk read it: tag and declared length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Seen {
    /// Group and element.
    pub tag: (u16, u16),
    /// Declared value length (`0xFFFF_FFFF`: undefined).
    pub len: u32,
}

/// Checks every element of `data` (a data set in `enc`): each declared length fits in the
/// bytes that remain of its innermost defined-length container (a value that overruns its
/// item is corrupt, and past that point the parser and this walk would disagree on where the
/// next header is), and sequences nest at most [`MAX_DEPTH`] deep.
pub(crate) fn check_dataset(data: &[u8], enc: Encoding) -> Result<(), String> {
    walk(data, enc, &mut |_| {})
}

/// [`check_dataset`], telling `seen` every element and item header in stream order.
///
/// The walk is `dicom-parser` 0.10's `DataSetReader` state machine without the values: it
/// expects item headers inside sequences and element headers elsewhere, closes a
/// defined-length container when the position reaches its end, reads an item tag where an
/// element is expected as an element of VR UN (an undefined one opens a sequence), ignores
/// an item delimiter outside any container, and ends quietly at the end of the data.
pub(crate) fn walk(data: &[u8], enc: Encoding, seen: &mut dyn FnMut(Seen)) -> Result<(), String> {
    let mut open: Vec<Open> = Vec::new();
    let mut in_sequence = false;
    let mut check_pending = false;
    // Right after an encapsulated Pixel Data header: only an item or a sequence delimiter.
    let mut pixel_start = false;
    let mut pos = 0usize;
    let u32_at = |at: usize| enc.u32(data, at);
    loop {
        if check_pending {
            if let Some(top) = open.last() {
                if let Some(end) = top.end {
                    if end == pos {
                        in_sequence = !top.sequence;
                        open.pop();
                        continue;
                    }
                    if end < pos {
                        return Err(format!(
                            "a value runs past the end of its container at byte {end}"
                        ));
                    }
                }
            }
            check_pending = false;
        }
        if open.len() > MAX_DEPTH {
            return Err(format!("sequences nest deeper than {MAX_DEPTH} levels"));
        }
        // The nearest end of an enclosing defined-length container bounds every length.
        let limit = open
            .iter()
            .filter_map(|o| o.end)
            .min()
            .unwrap_or(data.len());
        let remaining = |start: usize| limit.saturating_sub(start);
        if in_sequence {
            if pos + 8 > data.len() {
                if pos >= data.len() || open.last().is_some_and(|o| o.pixel) {
                    return Ok(());
                }
                return Err(format!("item header at byte {pos} is cut off"));
            }
            let (group, elem) = (enc.u16(data, pos), enc.u16(data, pos + 2));
            let len = u32_at(pos + 4);
            pos += 8;
            match (group, elem) {
                (0xFFFE, 0xE000) => {
                    let Some(parent) = open.last() else {
                        return Err(format!("item outside a sequence at byte {}", pos - 8));
                    };
                    let pixel = parent.pixel;
                    seen(Seen {
                        tag: (group, elem),
                        len,
                    });
                    let end = if len == UNDEFINED {
                        if pixel {
                            return Err("pixel data fragment of undefined length".into());
                        }
                        None
                    } else {
                        if len as usize > remaining(pos) {
                            return Err(format!(
                                "item at byte {} declares {len} bytes, only {} remain",
                                pos - 8,
                                remaining(pos)
                            ));
                        }
                        Some(pos + len as usize)
                    };
                    in_sequence = false;
                    pixel_start = false;
                    open.push(Open {
                        sequence: false,
                        pixel,
                        end,
                    });
                    if pixel {
                        // A fragment's bytes are read whole; its end closes the item.
                        pos += len as usize;
                        check_pending = true;
                    } else if len == 0 {
                        check_pending = true;
                    }
                }
                (0xFFFE, 0xE00D) if !pixel_start => {
                    open.pop();
                    in_sequence = true;
                    check_pending = true;
                }
                (0xFFFE, 0xE0DD) => {
                    open.pop();
                    in_sequence = false;
                    pixel_start = false;
                    check_pending = true;
                }
                _ => {
                    return Err(format!(
                        "({group:04X},{elem:04X}) at byte {} where an item header belongs",
                        pos - 8
                    ))
                }
            }
            continue;
        }
        if pos >= data.len() {
            return Ok(());
        }
        if pos + 8 > data.len() {
            return Err(format!("element header at byte {pos} is cut off"));
        }
        let (group, elem) = (enc.u16(data, pos), enc.u16(data, pos + 2));
        let (header, len, vr) = if group == 0xFFFE {
            // Item and delimiter tags: a 4-byte length and no VR, read as UN.
            (8, u32_at(pos + 4), VR::UN)
        } else {
            let (header, len) = element_header(data, pos, enc)?;
            let vr = if enc.explicit {
                explicit_vr([data[pos + 4], data[pos + 5]])
            } else {
                implicit_vr(group, elem)
            };
            (header, len, vr)
        };
        if (group, elem) == (0xFFFE, 0xE00D) {
            pos += 8;
            if !open.is_empty() {
                open.pop();
                in_sequence = true;
                check_pending = true;
            }
            continue;
        }
        seen(Seen {
            tag: (group, elem),
            len,
        });
        pos += header;
        let defined = len != UNDEFINED;
        if defined && len as usize > remaining(pos) {
            return Err(format!(
                "element ({group:04X},{elem:04X}) at byte {} declares {len} bytes, only {} remain",
                pos - header,
                remaining(pos)
            ));
        }
        if vr == VR::SQ || !defined {
            // As the parser: an explicit SQ is a sequence of data set items even on the
            // Pixel Data tag; only a non-SQ undefined-length Pixel Data holds fragments.
            let pixel = vr != VR::SQ && (group, elem) == (0x7FE0, 0x0010) && !defined;
            in_sequence = true;
            pixel_start = pixel;
            open.push(Open {
                sequence: true,
                pixel,
                end: defined.then(|| pos + len as usize),
            });
            if len == 0 {
                check_pending = true;
            }
            continue;
        }
        let unit = value_unit(vr);
        if !(len as usize).is_multiple_of(unit) {
            return Err(format!(
                "element ({group:04X},{elem:04X}) at byte {} has VR {vr} but declares {len} bytes, \
                 not a whole number of {unit}-byte values (a VR changed without its length?)",
                pos - header,
            ));
        }
        pos += len as usize;
        check_pending = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn explicit_le(tag: (u16, u16), vr: &[u8; 2], value: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend(tag.0.to_le_bytes());
        out.extend(tag.1.to_le_bytes());
        out.extend(vr);
        out.extend((value.len() as u16).to_le_bytes());
        out.extend(value);
        out
    }

    #[test]
    fn accepts_well_formed_and_refuses_lying_lengths() {
        let mut good = explicit_le((0x0028, 0x0010), b"US", &64u16.to_le_bytes());
        good.extend(explicit_le((0x0028, 0x0011), b"US", &64u16.to_le_bytes()));
        assert!(check_dataset(&good, Encoding::EXPLICIT_LE).is_ok());

        // Pixel data (OW, long form) declaring 4 GiB - 2 in a 20-byte data set.
        let mut lying = good.clone();
        lying.extend([0xE0, 0x7F, 0x10, 0x00, b'O', b'W', 0, 0]);
        lying.extend(0xFFFF_FFFEu32.to_le_bytes());
        let err = check_dataset(&lying, Encoding::EXPLICIT_LE).unwrap_err();
        assert!(err.contains("(7FE0,0010)"), "{err}");

        // The same lie inside an implicit-VR defined-length sequence item.
        let mut inner = Vec::new();
        inner.extend([0x08, 0x00, 0x16, 0x00]);
        inner.extend(0x7000_0000u32.to_le_bytes());
        let mut item = vec![0xFE, 0xFF, 0x00, 0xE0];
        item.extend((inner.len() as u32).to_le_bytes());
        item.extend(&inner);
        let mut seq = vec![0x08, 0x00, 0x15, 0x11];
        seq.extend((item.len() as u32).to_le_bytes());
        seq.extend(&item);
        assert!(check_dataset(&seq, Encoding::IMPLICIT_LE).is_err());
    }

    /// An implicit-VR element: tag, 32-bit length, value.
    fn implicit(tag: (u16, u16), value: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend(tag.0.to_le_bytes());
        out.extend(tag.1.to_le_bytes());
        out.extend((value.len() as u32).to_le_bytes());
        out.extend(value);
        out
    }

    fn item(content: &[u8]) -> Vec<u8> {
        let mut out = vec![0xFE, 0xFF, 0x00, 0xE0];
        out.extend((content.len() as u32).to_le_bytes());
        out.extend(content);
        out
    }

    #[test]
    fn a_value_overrunning_its_item_is_refused() {
        // (0008,0016) claims 64 bytes inside an item that holds 16, though the file has more.
        let mut content = vec![0x08, 0x00, 0x16, 0x00];
        content.extend(64u32.to_le_bytes());
        content.extend([b'1'; 8]);
        let mut data = implicit((0x0008, 0x1115), &item(&content));
        data.extend(implicit((0x0010, 0x0010), &[b'A'; 100]));
        let err = check_dataset(&data, Encoding::IMPLICIT_LE).unwrap_err();
        assert!(err.contains("(0008,0016)"), "{err}");
    }

    #[test]
    fn implicit_private_values_are_bytes_even_when_they_look_like_items() {
        // A private tag is UN to the parser: its value is skipped whole, so a lying length
        // inside it is never read and must not be judged.
        let mut inside = vec![0x08, 0x00, 0x16, 0x00];
        inside.extend(0x7000_0000u32.to_le_bytes());
        let data = implicit((0x0009, 0x1001), &item(&inside));
        assert!(check_dataset(&data, Encoding::IMPLICIT_LE).is_ok());
        // The same bytes under a standard SQ tag are a sequence, and the lie is caught.
        let data = implicit((0x0008, 0x1115), &item(&inside));
        assert!(check_dataset(&data, Encoding::IMPLICIT_LE).is_err());
    }

    #[test]
    fn refuses_deep_nesting_and_inflation_past_the_budget() {
        let mut deep = Vec::new();
        for _ in 0..100 {
            deep.extend([
                0x08, 0x00, 0x15, 0x11, b'S', b'Q', 0, 0, 0xFF, 0xFF, 0xFF, 0xFF,
            ]);
            deep.extend([0xFE, 0xFF, 0x00, 0xE0, 0xFF, 0xFF, 0xFF, 0xFF]);
        }
        assert!(check_dataset(&deep, Encoding::EXPLICIT_LE)
            .unwrap_err()
            .contains("deeper"));

        use std::io::Write;
        let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
        enc.write_all(&vec![0u8; 1 << 20]).unwrap();
        let bomb = enc.finish().unwrap();
        assert!(inflate(&bomb, 1000).is_err());
        assert_eq!(inflate(&bomb, 1 << 20).unwrap().len(), 1 << 20);
    }
}
/// The guard and `dicom-parser` must see the same element stream: same tags, same declared
/// lengths, in the same order, on every file the guard accepts. Mutations target what the
/// length rule is about: VRs swapped for others (lengths kept), lengths overwritten, flipped
/// bytes in element headers.
#[cfg(test)]
mod agreement {
    use super::*;
    use dicom_encoding::transfer_syntax::TransferSyntaxIndex;
    use dicom_parser::dataset::{DataSetReader, DataToken};
    use dicom_transfer_syntax_registry::TransferSyntaxRegistry;

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

    const VRS: [&[u8; 2]; 12] = [
        b"UL", b"US", b"FD", b"FL", b"SS", b"SL", b"AT", b"OB", b"OW", b"SQ", b"UN", b"CS",
    ];

    fn mutate(rng: &mut Rng, data: &[u8], explicit: bool) -> Vec<u8> {
        let mut b = data.to_vec();
        let vr_at: Vec<usize> = if explicit {
            (0..b.len().saturating_sub(2))
                .filter(|&i| VR::from_binary([b[i], b[i + 1]]).is_some())
                .collect()
        } else {
            Vec::new()
        };
        for _ in 0..1 + rng.below(3) {
            match rng.below(3) {
                0 if !vr_at.is_empty() => {
                    let i = vr_at[rng.below(vr_at.len())];
                    b[i..i + 2].copy_from_slice(VRS[rng.below(VRS.len())]);
                }
                1 => {
                    let i = rng.below(b.len().saturating_sub(4));
                    let v: u32 = [0xFFFF_FFFF, 2, 3, 6, 0x7FFF, 0x0001_0000][rng.below(6)];
                    b[i..i + 4].copy_from_slice(&v.to_le_bytes());
                }
                _ => {
                    let i = rng.below(b.len());
                    b[i] ^= 1 << rng.below(8);
                }
            }
        }
        b
    }

    /// Tags and lengths as the parser reads them, up to its first error.
    fn parser_view(data: &[u8], ts: &str) -> Vec<Seen> {
        let syntax = TransferSyntaxRegistry
            .get(ts)
            .expect("a known transfer syntax");
        let Ok(reader) = DataSetReader::new_with_ts(data, syntax) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for token in reader {
            let seen = match token {
                Ok(DataToken::ElementHeader(h)) => (h.tag, h.len.0),
                Ok(DataToken::SequenceStart { tag, len }) => (tag, len.0),
                Ok(DataToken::PixelSequenceStart) => (Tag(0x7FE0, 0x0010), UNDEFINED),
                Ok(DataToken::ItemStart { len }) => (Tag(0xFFFE, 0xE000), len.0),
                Ok(_) => continue,
                Err(_) => break,
            };
            out.push(Seen {
                tag: (seen.0 .0, seen.0 .1),
                len: seen.1,
            });
        }
        out
    }

    #[test]
    fn guard_and_parser_agree_on_every_element() {
        let mut rng = Rng(0x5DEE_CE66_D1CE_4E5B);
        let (mut accepted, mut cases) = (0, 0);
        for path in hulu_testkit::io_files("dicom", ".dcm") {
            let original = std::fs::read(&path).unwrap();
            let Ok(layout) = file_layout(&original) else {
                continue;
            };
            if layout.transfer_syntax == DEFLATED {
                continue;
            }
            let enc = encoding_of(&layout.transfer_syntax);
            let data = &original[layout.dataset_at..];
            for case in 0..hulu_testkit::fuzz_cases(40) {
                let mutated = if case == 0 {
                    data.to_vec()
                } else {
                    mutate(&mut rng, data, enc.explicit)
                };
                cases += 1;
                let mut ours = Vec::new();
                if walk(&mutated, enc, &mut |s| ours.push(s)).is_err() {
                    continue;
                }
                accepted += 1;
                let theirs = parser_view(&mutated, &layout.transfer_syntax);
                let agree = theirs.len() <= ours.len() && theirs[..] == ours[..theirs.len()];
                if !agree {
                    let first = theirs.iter().zip(&ours).position(|(a, b)| a != b);
                    let dump = std::env::temp_dir().join("hulu_guard_disagreement.bin");
                    std::fs::write(&dump, &mutated).unwrap();
                    panic!(
                        "{} case {case}: guard and parser disagree at element {first:?}: \
                         parser {:?}, guard {:?} (data set saved to {})",
                        path.display(),
                        first.map(|i| &theirs[i.saturating_sub(3)..(i + 2).min(theirs.len())]),
                        first.map(|i| &ours[i.saturating_sub(3)..(i + 2).min(ours.len())]),
                        dump.display()
                    );
                }
            }
        }
        println!("{cases} cases, {accepted} accepted by the guard, all read alike");
        assert!(accepted > 20, "too few accepted cases to judge: {accepted}");
    }
}
