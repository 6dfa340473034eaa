//! A structural check of an MP4's box tree before `mp4parse` reads it.
//!
//! `mp4parse` never panics or loops on these inputs, but it reserves a table's memory from
//! the entry count a box declares before reading the entries (`stts`, `stsc`, `stsz`,
//! `stco`, `co64`, `stss`, `elst`, `stsd`): a 7 KB file can ask for 32 GB. The reservation is
//! fallible, yet with memory overcommit it may succeed, and it breaks this crate's rule that
//! allocations follow what a file holds. So: every box must fit inside its parent, a size of
//! 0 ("to the end of the file") is accepted only at the top level (ISO/IEC 14496-12 §4.2),
//! and every table's declared entries must fit in its box.

/// Boxes whose payload is a list of boxes, and the bytes of fixed fields before that list
/// (a full box's version and flags, an entry count, a sample entry's fields). `meta` is
/// handled apart: its full-box header is optional in practice.
const CONTAINERS: [(&[u8; 4], usize); 17] = [
    (b"moov", 0),
    (b"trak", 0),
    (b"mdia", 0),
    (b"minf", 0),
    (b"stbl", 0),
    (b"edts", 0),
    (b"dinf", 0),
    (b"mvex", 0),
    (b"moof", 0),
    (b"traf", 0),
    (b"udta", 0),
    (b"ilst", 0),
    (b"stsd", 8),
    (b"dref", 8),
    (b"avc1", 78),
    (b"hev1", 78),
    (b"mp4a", 28),
];

/// Where the child boxes of a box start, for the boxes the parser descends into.
fn children_at(kind: &[u8; 4], payload: &[u8], parent: Option<&[u8; 4]>) -> Option<usize> {
    if let Some(&(_, skip)) = CONTAINERS.iter().find(|(k, _)| *k == kind) {
        return Some(skip);
    }
    match kind {
        // ISO requires version and flags; some writers omit them and start with `hdlr`.
        b"meta" => Some(if payload.get(4..8) == Some(b"hdlr") {
            0
        } else {
            4
        }),
        // Every item of a metadata list holds `data` boxes.
        _ if parent == Some(b"ilst") => Some(0),
        _ => None,
    }
}

fn be32(bytes: &[u8], at: usize) -> Option<u64> {
    bytes
        .get(at..at + 4)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as u64)
}

/// For a table box: (bytes of the table, bytes its declared entries need). `None` for
/// other boxes.
fn table_need(kind: &[u8; 4], payload: &[u8]) -> Option<(u64, u64)> {
    let len = payload.len() as u64;
    // Full box: version and flags, then an entry count.
    let count = || be32(payload, 4).unwrap_or(u64::MAX);
    let need = match kind {
        b"stts" | b"ctts" | b"co64" => count().saturating_mul(8),
        b"stss" | b"stco" => count().saturating_mul(4),
        b"stsc" => count().saturating_mul(12),
        b"elst" => {
            let entry = if payload.first() == Some(&1) { 20 } else { 12 };
            count().saturating_mul(entry)
        }
        // Each entry is a box of at least 8 bytes.
        b"stsd" | b"dref" => count().saturating_mul(8),
        // Sample sizes are listed only when there is no constant size.
        b"stsz" => match be32(payload, 4) {
            Some(0) => be32(payload, 8).unwrap_or(u64::MAX).saturating_mul(4) + 4,
            Some(_) => 4,
            None => u64::MAX,
        },
        _ => return None,
    };
    Some((len, need.saturating_add(8)))
}

/// `Err(reason)` when a box header is truncated, a box overruns its parent, or a table
/// declares more entries than its box holds.
pub fn check_boxes(bytes: &[u8]) -> Result<(), String> {
    walk(bytes, 0, None)
}

fn walk(mut rest: &[u8], depth: usize, parent: Option<&[u8; 4]>) -> Result<(), String> {
    if depth > 16 {
        return Err("boxes nested deeper than 16 levels".into());
    }
    while !rest.is_empty() {
        if rest.len() < 8 {
            return Err(format!("{} trailing bytes are no box header", rest.len()));
        }
        let small = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as u64;
        let kind: [u8; 4] = [rest[4], rest[5], rest[6], rest[7]];
        let name = String::from_utf8_lossy(&kind).into_owned();
        let (size, header) = match small {
            0 if depth == 0 => (rest.len() as u64, 8u64),
            0 => {
                let parent = parent.map(|p| String::from_utf8_lossy(p).into_owned());
                return Err(format!(
                    "box {name:?} inside {:?} has size 0 (allowed only at the top level)",
                    parent.unwrap_or_default()
                ));
            }
            1 => {
                let Some(large) = rest.get(8..16) else {
                    return Err("truncated 64-bit box size".into());
                };
                (u64::from_be_bytes(large.try_into().expect("8 bytes")), 16)
            }
            s => (s, 8),
        };
        if size < header || size > rest.len() as u64 {
            return Err(format!(
                "box {name:?} of {size} bytes does not fit in the {} bytes left",
                rest.len()
            ));
        }
        let (this, tail) = rest.split_at(size as usize);
        let payload = &this[header as usize..];
        if let Some((have, need)) = table_need(&kind, payload) {
            if need > have {
                return Err(format!(
                    "box {name:?} declares entries of {need} bytes in {have} bytes"
                ));
            }
        }
        if let Some(skip) = children_at(&kind, payload, parent) {
            let children = payload.get(skip..).ok_or_else(|| {
                format!("box {name:?} is shorter than its {skip} bytes of fields")
            })?;
            walk(children, depth + 1, Some(&kind))?;
        }
        rest = tail;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn boxed(kind: &[u8; 4], payload: &[u8]) -> Vec<u8> {
        let mut b = ((payload.len() + 8) as u32).to_be_bytes().to_vec();
        b.extend_from_slice(kind);
        b.extend_from_slice(payload);
        b
    }

    #[test]
    fn tables_must_hold_their_entries() {
        // stco: version/flags, count 2, two offsets: fits; count 2^32 - 1 does not.
        let ok = boxed(b"stco", &[0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2]);
        assert!(check_boxes(&boxed(b"stbl", &ok)).is_ok());
        let bad = boxed(b"stco", &[0, 0, 0, 0, 255, 255, 255, 255, 0, 0, 0, 1]);
        assert!(check_boxes(&boxed(b"stbl", &bad)).is_err());
        // A constant sample size lists no sizes.
        let stsz = boxed(b"stsz", &[0, 0, 0, 0, 0, 0, 0, 9, 255, 255, 255, 255]);
        assert!(check_boxes(&stsz).is_ok());
    }

    #[test]
    fn size_zero_only_at_the_top() {
        let mut moov = boxed(b"moov", &[0, 0, 0, 0, b'u', b'd', b't', b'a']);
        assert!(check_boxes(&moov).is_err());
        moov = vec![0, 0, 0, 0, b'f', b'r', b'e', b'e', 1, 2, 3];
        assert!(check_boxes(&moov).is_ok());
    }
}
