//! A structural check of an MP4's box tree before the `mp4` crate parses it: every box must
//! fit inside its parent and the file, so no table inside can claim more entries than the
//! file holds (the parser sizes its buffers from those counts).

/// Boxes whose payload is a list of boxes the parser reads, and the bytes of fixed fields
/// before that list (a full box's version and flags, an entry count, a sample entry's
/// fields). `meta` is handled apart: its full-box header is optional in practice.
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

/// `Err(reason)` when a box header is truncated or a box overruns its parent.
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
        let (size, header) = match small {
            0 => (rest.len() as u64, 8u64),
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
                "box {:?} of {size} bytes does not fit in the {} bytes left",
                String::from_utf8_lossy(&kind),
                rest.len()
            ));
        }
        let (this, tail) = rest.split_at(size as usize);
        let payload = &this[header as usize..];
        if let Some(skip) = children_at(&kind, payload, parent) {
            let children = payload.get(skip..).ok_or_else(|| {
                format!(
                    "box {:?} is shorter than its {skip} bytes of fields",
                    String::from_utf8_lossy(&kind)
                )
            })?;
            walk(children, depth + 1, Some(&kind))?;
        }
        rest = tail;
    }
    Ok(())
}
