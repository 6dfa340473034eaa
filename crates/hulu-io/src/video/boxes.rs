//! A structural check of an MP4's box tree before the `mp4` crate parses it: every box must
//! fit inside its parent and the file, so no table inside can claim more entries than the
//! file holds (the parser sizes its buffers from those counts).

/// Boxes whose payload is itself a list of boxes.
const CONTAINERS: [&[u8; 4]; 10] = [
    b"moov", b"trak", b"mdia", b"minf", b"stbl", b"edts", b"dinf", b"mvex", b"moof", b"traf",
];

/// `Err(reason)` when a box header is truncated or a box overruns its parent.
pub fn check_boxes(bytes: &[u8]) -> Result<(), String> {
    walk(bytes, 0)
}

fn walk(mut rest: &[u8], depth: usize) -> Result<(), String> {
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
        if CONTAINERS.contains(&&kind) {
            walk(&this[header as usize..], depth + 1)?;
        }
        rest = tail;
    }
    Ok(())
}
