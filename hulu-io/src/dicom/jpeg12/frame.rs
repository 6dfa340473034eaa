//! Marker segments (T.81 B.2): frame header, scan header, Huffman and quantisation tables,
//! restart interval. Every field is range-checked here, so decoding can index freely.

use super::huffman::HuffmanTable;

/// One component of the frame header.
#[derive(Debug, Clone)]
pub(super) struct Component {
    /// Component identifier Ci, as scans refer to it.
    pub(super) id: u8,
    /// Horizontal and vertical sampling factors, 1..=4.
    pub(super) h: usize,
    pub(super) v: usize,
    /// Quantisation table selector, 0..=3.
    pub(super) tq: usize,
}

/// The frame header (SOF0 or SOF1).
#[derive(Debug, Clone)]
pub(super) struct Frame {
    /// Sample precision P: 8 or 12 bits.
    pub(super) precision: u8,
    pub(super) width: usize,
    pub(super) height: usize,
    pub(super) components: Vec<Component>,
}

impl Frame {
    /// Largest horizontal and vertical sampling factors.
    pub(super) fn max_sampling(&self) -> (usize, usize) {
        let h = self.components.iter().map(|c| c.h).max().unwrap_or(1);
        let v = self.components.iter().map(|c| c.v).max().unwrap_or(1);
        (h, v)
    }

    /// MCUs per line and MCU lines of an interleaved scan.
    pub(super) fn mcus(&self) -> (usize, usize) {
        let (hmax, vmax) = self.max_sampling();
        (
            self.width.div_ceil(8 * hmax),
            self.height.div_ceil(8 * vmax),
        )
    }
}

/// One component of a scan header: index into the frame's components and table selectors.
#[derive(Debug, Clone, Copy)]
pub(super) struct ScanComponent {
    pub(super) index: usize,
    pub(super) dc: usize,
    pub(super) ac: usize,
}

/// Huffman and quantisation tables defined so far (four slots of each, as T.81 allows).
#[derive(Debug, Default)]
pub(super) struct Tables {
    pub(super) dc: [Option<HuffmanTable>; 4],
    pub(super) ac: [Option<HuffmanTable>; 4],
    /// Quantisation tables in zigzag order, as DQT writes them.
    pub(super) quant: [Option<[u16; 64]>; 4],
}

/// A cursor over one segment's payload that refuses reads past its end.
struct Payload<'a> {
    bytes: &'a [u8],
    at: usize,
    what: &'static str,
}

impl<'a> Payload<'a> {
    fn u8(&mut self) -> Result<u8, String> {
        let b = *self
            .bytes
            .get(self.at)
            .ok_or_else(|| format!("{} segment is cut off", self.what))?;
        self.at += 1;
        Ok(b)
    }

    fn u16(&mut self) -> Result<u16, String> {
        Ok(u16::from(self.u8()?) << 8 | u16::from(self.u8()?))
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let s = self
            .bytes
            .get(self.at..self.at + n)
            .ok_or_else(|| format!("{} segment is cut off", self.what))?;
        self.at += n;
        Ok(s)
    }

    fn done(&self) -> bool {
        self.at == self.bytes.len()
    }

    fn expect_end(&self) -> Result<(), String> {
        if self.done() {
            Ok(())
        } else {
            Err(format!(
                "{} segment has {} bytes more than its fields",
                self.what,
                self.bytes.len() - self.at
            ))
        }
    }
}

/// Parses a SOF0/SOF1 payload, refusing sizes of zero or beyond `max_width` × `max_height`.
pub(super) fn parse_frame(
    payload: &[u8],
    marker: u8,
    max_width: usize,
    max_height: usize,
) -> Result<Frame, String> {
    let mut p = Payload {
        bytes: payload,
        at: 0,
        what: "frame header",
    };
    let precision = p.u8()?;
    let ok_precision = match marker {
        0xC0 => precision == 8,
        _ => matches!(precision, 8 | 12),
    };
    if !ok_precision {
        return Err(format!(
            "sample precision {precision} with SOF{}",
            marker - 0xC0
        ));
    }
    let height = usize::from(p.u16()?);
    let width = usize::from(p.u16()?);
    if height == 0 {
        return Err("frame height 0 (a DNL marker) is not supported".into());
    }
    if width == 0 {
        return Err("frame width 0".into());
    }
    if width > max_width || height > max_height {
        return Err(format!(
            "frame of {width}x{height} pixels in a {max_width}x{max_height} image"
        ));
    }
    let n = usize::from(p.u8()?);
    if !(1..=4).contains(&n) {
        return Err(format!("{n} components in a frame (1 to 4 supported)"));
    }
    let mut components: Vec<Component> = Vec::with_capacity(n);
    for _ in 0..n {
        let id = p.u8()?;
        let hv = p.u8()?;
        let tq = usize::from(p.u8()?);
        let (h, v) = (usize::from(hv >> 4), usize::from(hv & 15));
        if !(1..=4).contains(&h) || !(1..=4).contains(&v) {
            return Err(format!("component {id}: sampling factors {h}x{v}"));
        }
        if tq > 3 {
            return Err(format!("component {id}: quantisation table {tq}"));
        }
        if components.iter().any(|c| c.id == id) {
            return Err(format!("component id {id} appears twice in the frame"));
        }
        components.push(Component { id, h, v, tq });
    }
    p.expect_end()?;
    Ok(Frame {
        precision,
        width,
        height,
        components,
    })
}

/// Parses a DHT payload (one or more tables) into `tables`.
pub(super) fn parse_huffman(payload: &[u8], tables: &mut Tables) -> Result<(), String> {
    let mut p = Payload {
        bytes: payload,
        at: 0,
        what: "Huffman table",
    };
    while !p.done() {
        let tc_th = p.u8()?;
        let (class, slot) = (tc_th >> 4, usize::from(tc_th & 15));
        if class > 1 || slot > 3 {
            return Err(format!("Huffman table class {class}, slot {slot}"));
        }
        let mut counts = [0u8; 16];
        counts.copy_from_slice(p.take(16)?);
        let total = counts.iter().map(|&c| usize::from(c)).sum();
        let table = HuffmanTable::new(&counts, p.take(total)?)?;
        let target = if class == 0 {
            &mut tables.dc
        } else {
            &mut tables.ac
        };
        target[slot] = Some(table);
    }
    Ok(())
}

/// Parses a DQT payload (one or more tables, 8- or 16-bit entries) into `tables`.
pub(super) fn parse_quant(payload: &[u8], tables: &mut Tables) -> Result<(), String> {
    let mut p = Payload {
        bytes: payload,
        at: 0,
        what: "quantisation table",
    };
    while !p.done() {
        let pq_tq = p.u8()?;
        let (wide, slot) = (pq_tq >> 4, usize::from(pq_tq & 15));
        if wide > 1 || slot > 3 {
            return Err(format!("quantisation table precision {wide}, slot {slot}"));
        }
        let mut q = [0u16; 64];
        for entry in &mut q {
            *entry = if wide == 1 {
                p.u16()?
            } else {
                u16::from(p.u8()?)
            };
        }
        tables.quant[slot] = Some(q);
    }
    Ok(())
}

/// Parses a DRI payload: the restart interval in MCUs (0: none).
pub(super) fn parse_restart(payload: &[u8]) -> Result<usize, String> {
    let mut p = Payload {
        bytes: payload,
        at: 0,
        what: "restart interval",
    };
    let r = p.u16()?;
    p.expect_end()?;
    Ok(usize::from(r))
}

/// Parses an SOS payload against the frame and the tables defined so far.
pub(super) fn parse_scan(
    payload: &[u8],
    frame: &Frame,
    tables: &Tables,
) -> Result<Vec<ScanComponent>, String> {
    let mut p = Payload {
        bytes: payload,
        at: 0,
        what: "scan header",
    };
    let n = usize::from(p.u8()?);
    if !(1..=4).contains(&n) {
        return Err(format!("{n} components in a scan"));
    }
    let mut scan: Vec<ScanComponent> = Vec::with_capacity(n);
    for _ in 0..n {
        let id = p.u8()?;
        let tables_byte = p.u8()?;
        let index = frame
            .components
            .iter()
            .position(|c| c.id == id)
            .ok_or_else(|| format!("scan names component {id}, which the frame lacks"))?;
        if scan.iter().any(|s| s.index == index) {
            return Err(format!("scan names component {id} twice"));
        }
        let (dc, ac) = (usize::from(tables_byte >> 4), usize::from(tables_byte & 15));
        if dc > 3 || tables.dc[dc].is_none() {
            return Err(format!("scan uses undefined DC Huffman table {dc}"));
        }
        if ac > 3 || tables.ac[ac].is_none() {
            return Err(format!("scan uses undefined AC Huffman table {ac}"));
        }
        let tq = frame.components[index].tq;
        if tables.quant[tq].is_none() {
            return Err(format!(
                "component {id} uses undefined quantisation table {tq}"
            ));
        }
        scan.push(ScanComponent { index, dc, ac });
    }
    if n > 1 {
        let blocks: usize = scan
            .iter()
            .map(|s| frame.components[s.index].h * frame.components[s.index].v)
            .sum();
        if blocks > 10 {
            return Err(format!(
                "interleaved scan with {blocks} blocks per MCU (at most 10)"
            ));
        }
    }
    // Ss, Se, Ah/Al: fixed (0, 63, 0) for sequential DCT; read and not otherwise used.
    p.take(3)?;
    p.expect_end()?;
    Ok(scan)
}
