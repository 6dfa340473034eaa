//! Huffman tables (T.81 Annex C) and the entropy-coded bit reader (F.2.2.4, F.2.2.5).
//!
//! The reader stops at the first marker: bits asked for beyond it read as zeros, but
//! *consuming* any of them is an error, so entropy data cut short is refused rather than
//! decoded into a plausible-looking image.

/// Bits resolved by one table look-up; longer codes take the canonical slow path.
const FAST_BITS: u32 = 9;

/// One Huffman table: canonical codes built from the DHT code-length counts.
#[derive(Debug, Clone)]
pub(super) struct HuffmanTable {
    /// Per `FAST_BITS` prefix: (code length, symbol), length 0 when the code is longer.
    fast: Vec<(u8, u8)>,
    /// Largest code of each length 1..=16 (index = length), -1 when there is none.
    max_code: [i32; 17],
    /// Index into `values` of the first code of each length, minus that code.
    offset: [i32; 17],
    /// Symbols in code order.
    values: Vec<u8>,
}

impl HuffmanTable {
    /// Builds the table from the 16 counts of codes per length and the symbols in order.
    /// `Err` when the counts and symbols disagree or the counts overflow the code space.
    pub(super) fn new(counts: &[u8; 16], values: &[u8]) -> Result<Self, String> {
        let total: usize = counts.iter().map(|&c| usize::from(c)).sum();
        if total != values.len() || total > 256 {
            return Err(format!(
                "Huffman table declares {total} codes for {} symbols",
                values.len()
            ));
        }
        if total == 0 {
            return Err("Huffman table without codes".into());
        }
        let mut fast = vec![(0u8, 0u8); 1 << FAST_BITS];
        let mut max_code = [-1i32; 17];
        let mut offset = [0i32; 17];
        let mut code: u32 = 0;
        let mut index: usize = 0;
        for len in 1..=16u32 {
            let n = u32::from(counts[len as usize - 1]);
            // Canonical codes of one length are consecutive; they must fit in `len` bits.
            if code + n > 1 << len {
                return Err(format!(
                    "Huffman table: {n} codes of length {len} overflow the code space"
                ));
            }
            if n > 0 {
                offset[len as usize] = index as i32 - code as i32;
                for i in 0..n {
                    let c = code + i;
                    if len <= FAST_BITS {
                        let shift = FAST_BITS - len;
                        let entry = (len as u8, values[index + i as usize]);
                        for slot in (c << shift)..((c + 1) << shift) {
                            fast[slot as usize] = entry;
                        }
                    }
                }
                code += n;
                index += n as usize;
                max_code[len as usize] = code as i32 - 1;
            }
            code <<= 1;
        }
        Ok(Self {
            fast,
            max_code,
            offset,
            values: values.to_vec(),
        })
    }
}

/// Reads bits from entropy-coded data, removing stuffed zero bytes, up to the next marker.
#[derive(Debug)]
pub(super) struct BitReader<'a> {
    data: &'a [u8],
    /// Next byte of `data` to load.
    pos: usize,
    /// Loaded bits, right-aligned: the next bit to read is bit `count - 1`.
    acc: u64,
    count: u32,
    /// How many of the low bits of `acc` are zeros inserted past the end of the data.
    padding: u32,
}

impl<'a> BitReader<'a> {
    /// A reader of the entropy-coded data starting at `data[pos]`.
    pub(super) fn new(data: &'a [u8], pos: usize) -> Self {
        Self {
            data,
            pos,
            acc: 0,
            count: 0,
            padding: 0,
        }
    }

    /// Offset of the next byte not yet loaded.
    pub(super) fn position(&self) -> usize {
        self.pos
    }

    /// Loads bytes until at least 57 bits are held, zeros once the data ends.
    fn fill(&mut self) {
        while self.count <= 56 {
            let byte = match self.data.get(self.pos) {
                Some(&0xFF) => match self.data.get(self.pos + 1) {
                    Some(0x00) => {
                        self.pos += 2;
                        Some(0xFF)
                    }
                    // Fill bytes before a marker.
                    Some(0xFF) => {
                        self.pos += 1;
                        continue;
                    }
                    // A marker (or the data ends on 0xFF): the segment ends here.
                    _ => None,
                },
                Some(&b) => {
                    self.pos += 1;
                    Some(b)
                }
                None => None,
            };
            self.acc = (self.acc << 8) | u64::from(byte.unwrap_or(0));
            self.count += 8;
            if byte.is_none() {
                self.padding += 8;
            }
        }
    }

    /// The next `n` (1..=16) bits without consuming them.
    fn peek(&mut self, n: u32) -> u32 {
        if self.count < n {
            self.fill();
        }
        ((self.acc >> (self.count - n)) & ((1u64 << n) - 1)) as u32
    }

    /// Drops `n` bits already peeked; `Err` when any of them lies past the data.
    fn consume(&mut self, n: u32) -> Result<(), String> {
        self.count -= n;
        if self.count < self.padding {
            return Err("entropy-coded data ends early".into());
        }
        Ok(())
    }

    /// The next `n` (0..=16) bits as an unsigned number.
    pub(super) fn bits(&mut self, n: u32) -> Result<u32, String> {
        if n == 0 {
            return Ok(0);
        }
        let v = self.peek(n);
        self.consume(n)?;
        Ok(v)
    }

    /// `n` (0..=16) bits as a signed difference: the EXTEND procedure of F.2.2.1.
    pub(super) fn receive_extend(&mut self, n: u32) -> Result<i32, String> {
        let v = self.bits(n)? as i32;
        if n == 0 {
            return Ok(0);
        }
        Ok(if v < 1 << (n - 1) {
            v - (1 << n) + 1
        } else {
            v
        })
    }

    /// The next symbol coded with `table`.
    pub(super) fn decode(&mut self, table: &HuffmanTable) -> Result<u8, String> {
        let (len, symbol) = table.fast[self.peek(FAST_BITS) as usize];
        if len > 0 {
            self.consume(u32::from(len))?;
            return Ok(symbol);
        }
        let code = self.peek(16) as i32;
        for len in FAST_BITS + 1..=16 {
            let prefix = code >> (16 - len);
            if prefix <= table.max_code[len as usize] {
                self.consume(len)?;
                let at = (table.offset[len as usize] + prefix) as usize;
                return table
                    .values
                    .get(at)
                    .copied()
                    .ok_or_else(|| "Huffman code outside its table".to_string());
            }
        }
        Err("invalid Huffman code in entropy-coded data".into())
    }

    /// Skips to the restart marker expected next (RST0..RST7 cycle), past it, and drops
    /// the bits held (the padding of the interval's last byte). Bytes left before the
    /// marker are skipped, as libjpeg does; any other marker is an error.
    pub(super) fn restart(&mut self, expected: u8) -> Result<(), String> {
        self.acc = 0;
        self.count = 0;
        self.padding = 0;
        let at = next_marker(self.data, self.pos)
            .ok_or_else(|| format!("entropy data ends before restart marker RST{expected}"))?;
        let marker = self.data[at + 1];
        if marker != 0xD0 + expected {
            return Err(format!(
                "expected restart marker RST{expected}, found marker 0x{marker:02X}"
            ));
        }
        self.pos = at + 2;
        Ok(())
    }
}

/// Offset of the first marker (0xFF then neither 0x00 nor 0xFF) at or after `from`.
pub(super) fn next_marker(data: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while i + 1 < data.len() {
        if data[i] == 0xFF && !matches!(data[i + 1], 0x00 | 0xFF) {
            return Some(i);
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Counts 0,2,1,1,0.. and symbols 10,20,30,40 give the canonical codes
    /// 00, 01, 100, 1010 (T.81 C.2).
    fn small_table() -> HuffmanTable {
        let mut counts = [0u8; 16];
        counts[1] = 2;
        counts[2] = 1;
        counts[3] = 1;
        HuffmanTable::new(&counts, &[10, 20, 30, 40]).unwrap()
    }

    #[test]
    fn hand_built_table_decodes_its_canonical_codes() {
        let table = small_table();
        // 00 01 100 1010 01 then padding 1s: 0001_1001 0100_1111.
        let data = [0b0001_1001, 0b0100_1111];
        let mut r = BitReader::new(&data, 0);
        let got: Vec<u8> = (0..5).map(|_| r.decode(&table).unwrap()).collect();
        assert_eq!(got, [10, 20, 30, 40, 20]);
        // Only the padding 1s are left: 1111 is no code of this table.
        assert!(r.decode(&table).is_err());
    }

    #[test]
    fn long_codes_take_the_slow_path() {
        // One code of each length 1..=12: 0, 10, 110, ..., 111111111110 (12 bits).
        let mut counts = [0u8; 16];
        counts[..12].fill(1);
        let values: Vec<u8> = (1..=12).collect();
        let table = HuffmanTable::new(&counts, &values).unwrap();
        // The 12-bit code 1111_1111_1110 then the 1-bit code 0, then padding; the 0xFF
        // byte is stuffed with a zero.
        let data = [0xFF, 0x00, 0b1110_0111];
        let mut r = BitReader::new(&data, 0);
        assert_eq!(r.decode(&table).unwrap(), 12);
        assert_eq!(r.decode(&table).unwrap(), 1);
    }

    #[test]
    fn overflowing_code_lengths_are_refused() {
        // Three 1-bit codes cannot exist.
        let mut counts = [0u8; 16];
        counts[0] = 3;
        assert!(HuffmanTable::new(&counts, &[1, 2, 3]).is_err());
        // 2 codes of length 1 fill the space; one more of length 2 overflows.
        counts[0] = 2;
        counts[1] = 1;
        assert!(HuffmanTable::new(&counts, &[1, 2, 3]).is_err());
        // Counts that disagree with the symbol count, and an empty table.
        counts = [0; 16];
        counts[2] = 2;
        assert!(HuffmanTable::new(&counts, &[1]).is_err());
        assert!(HuffmanTable::new(&[0; 16], &[]).is_err());
    }

    #[test]
    fn stuffed_bytes_and_markers() {
        // 0xFF 0x00 reads as 0xFF; the marker 0xFF 0xD9 ends the data.
        let data = [0xFF, 0x00, 0x5A, 0xFF, 0xD9];
        let mut r = BitReader::new(&data, 0);
        assert_eq!(r.bits(8).unwrap(), 0xFF);
        assert_eq!(r.bits(8).unwrap(), 0x5A);
        assert!(r.bits(1).is_err(), "bits past the marker are refused");
        assert_eq!(next_marker(&data, 0), Some(3));
    }

    #[test]
    fn extend_gives_signed_differences() {
        // Category 3: 000 is -7, 011 is -4, 100 is 4, 111 is 7.
        let data = [0b0000_1110, 0b0111_1111];
        let mut r = BitReader::new(&data, 0);
        let got: Vec<i32> = (0..4).map(|_| r.receive_extend(3).unwrap()).collect();
        assert_eq!(got, [-7, -4, 4, 7]);
    }

    #[test]
    fn restart_expects_the_next_marker_in_the_cycle() {
        let data = [0xAB, 0xFF, 0xD3, 0xCD, 0xFF, 0xD5];
        let mut r = BitReader::new(&data, 0);
        assert_eq!(r.bits(8).unwrap(), 0xAB);
        r.restart(3).unwrap();
        assert_eq!(r.bits(8).unwrap(), 0xCD);
        assert!(r.restart(4).unwrap_err().contains("RST4"));
    }
}
