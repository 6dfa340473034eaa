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

/// Whether two bytes name a value representation of PS3.5 Table 6.2-1.
fn is_known_vr(vr: &[u8; 2]) -> bool {
    const KNOWN: [&[u8; 2]; 34] = [
        b"AE", b"AS", b"AT", b"CS", b"DA", b"DS", b"DT", b"FD", b"FL", b"IS", b"LO", b"LT", b"OB",
        b"OD", b"OF", b"OL", b"OV", b"OW", b"PN", b"SH", b"SL", b"SQ", b"SS", b"ST", b"SV", b"TM",
        b"UC", b"UI", b"UL", b"UN", b"UR", b"US", b"UT", b"UV",
    ];
    KNOWN.contains(&vr)
}

/// One open container: a sequence, an item, or encapsulated pixel data.
struct Open {
    /// Offset where a defined-length container ends; `None` for undefined length.
    end: Option<usize>,
    /// Items of encapsulated pixel data hold codec bytes, not elements.
    fragments: bool,
    /// Encoding of the elements inside (an undefined-length `UN` holds implicit VR).
    enc: Encoding,
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
pub(crate) fn walk(data: &[u8], enc: Encoding, seen: &mut dyn FnMut(Seen)) -> Result<(), String> {
    let mut open: Vec<Open> = Vec::new();
    let mut pos = 0usize;
    loop {
        while open.last().is_some_and(|o| o.end.is_some_and(|e| pos >= e)) {
            open.pop();
        }
        if pos >= data.len() {
            return Ok(());
        }
        if open.len() > MAX_DEPTH {
            return Err(format!("sequences nest deeper than {MAX_DEPTH} levels"));
        }
        let cur = open.last().map_or(enc, |o| o.enc);
        if pos + 8 > data.len() {
            return Err(format!("element header at byte {pos} is cut off"));
        }
        // The innermost defined-length container bounds everything inside it.
        let limit = open.iter().rev().find_map(|o| o.end).unwrap_or(data.len());
        let remaining = |start: usize| limit.saturating_sub(start);
        let (group, elem) = (cur.u16(data, pos), cur.u16(data, pos + 2));
        if group == 0xFFFE {
            // Items and delimiters: a 4-byte length, never a VR.
            let len = cur.u32(data, pos + 4);
            pos += 8;
            match elem {
                0xE000 => {
                    seen(Seen {
                        tag: (group, elem),
                        len,
                    });
                    let in_fragments = open.last().is_some_and(|o| o.fragments);
                    if len == UNDEFINED {
                        if in_fragments {
                            return Err("pixel data fragment of undefined length".into());
                        }
                        open.push(Open {
                            end: None,
                            fragments: false,
                            enc: cur,
                        });
                    } else {
                        let len = len as usize;
                        if len > remaining(pos) {
                            return Err(format!(
                                "item at byte {} declares {len} bytes, only {} remain",
                                pos - 8,
                                remaining(pos)
                            ));
                        }
                        if in_fragments {
                            pos += len;
                        } else {
                            open.push(Open {
                                end: Some(pos + len),
                                fragments: false,
                                enc: cur,
                            });
                        }
                    }
                }
                // Item and sequence delimiters close the innermost undefined-length container.
                _ => {
                    if let Some(i) = open.iter().rposition(|o| o.end.is_none()) {
                        open.truncate(i);
                    }
                }
            }
            continue;
        }
        let (header, len) = element_header(data, pos, cur)?;
        let vr = cur.explicit.then(|| [data[pos + 4], data[pos + 5]]);
        seen(Seen {
            tag: (group, elem),
            len,
        });
        pos += header;
        if len == UNDEFINED {
            // An undefined-length UN (or unknown VR, which the parser reads as UN) holds
            // implicit VR little endian elements.
            let implicit_inside = vr.is_some_and(|v| !is_known_vr(&v) || &v == b"UN");
            open.push(Open {
                end: None,
                fragments: (group, elem) == (0x7FE0, 0x0010),
                enc: if implicit_inside {
                    Encoding::IMPLICIT_LE
                } else {
                    cur
                },
            });
            continue;
        }
        let len = len as usize;
        if len > remaining(pos) {
            return Err(format!(
                "element ({group:04X},{elem:04X}) at byte {} declares {len} bytes, only {} remain",
                pos - header,
                remaining(pos)
            ));
        }
        // A defined-length sequence: explicit VR says SQ; implicit VR asks the dictionary,
        // as the parser does.
        let parsed_vr = match vr {
            Some(v) => explicit_vr(v),
            None => implicit_vr(group, elem),
        };
        let is_sequence = parsed_vr == VR::SQ;
        let unit = value_unit(parsed_vr);
        if !is_sequence && len % unit != 0 {
            return Err(format!(
                "element ({group:04X},{elem:04X}) at byte {} has VR {parsed_vr} but declares {len} bytes, \
                 not a whole number of {unit}-byte values (a VR changed without its length?)",
                pos - header,
            ));
        }
        if is_sequence {
            open.push(Open {
                end: Some(pos + len),
                fragments: false,
                enc: cur,
            });
        } else {
            pos += len;
        }
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
