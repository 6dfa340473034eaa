//! Reading rows back out of libtorch's CPU int4 packed layout, so that a vocabulary table
//! quantized to int4 is stored once: `lm_head` runs the packed kernel on it and the embedding
//! lookup decodes only the rows it needs.
//!
//! Why our own code: libtorch has no "gather rows of a packed int4 weight" operator. The packed
//! layout (`weight_to_int4pack_kernel` in ATen's `native/cpu/int4mm_kernel.cpp`) depends on the
//! vector width libtorch dispatches to at run time: blocks of 64 rows (AVX-512) or 32 rows
//! (AVX2 and the plain kernel), each block stored as `K` runs of `block / 2` bytes, the rows of
//! a run paired into bytes in a width-specific order (a last, shorter block pairs neighbours).
//! The layout is therefore never assumed: [`detected`] packs a probe through the real kernel
//! once per process and keeps the candidate that decodes it exactly; callers also check the
//! rows of their own table and keep another copy for lookups when nothing matches (CUDA's
//! packed layout, a future libtorch).

use crate::Result;
use std::sync::OnceLock;
use tch::{Device, Kind, Tensor};

/// One of the CPU int4 packed layouts libtorch 2.x writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PackedLayout {
    /// Blocks of 64 rows; row `16·lane + d` of a block sits in byte `16·(lane & 1) + d` of a
    /// run, in the high nibble for lanes 2 and 3.
    Avx512,
    /// Blocks of 32 rows; row `16·half + d` sits in byte `d`, high nibble for the second half.
    Avx2,
    /// Blocks of 32 rows; rows `2j`, `2j + 1` share byte `j` (even row in the low nibble).
    Plain,
}

impl PackedLayout {
    const ALL: [PackedLayout; 3] = [
        PackedLayout::Avx512,
        PackedLayout::Avx2,
        PackedLayout::Plain,
    ];

    fn block(self) -> i64 {
        match self {
            PackedLayout::Avx512 => 64,
            PackedLayout::Avx2 | PackedLayout::Plain => 32,
        }
    }

    /// Byte within a run and nibble (0 low, 1 high) of row `r` of a block of `size` rows.
    fn place(self, r: i64, size: i64) -> (i64, i64) {
        if size != self.block() {
            // A shorter last block: neighbours paired, as the plain kernel does.
            return (r / 2, r & 1);
        }
        match self {
            PackedLayout::Avx512 => {
                let lane = r / 16;
                ((lane & 1) * 16 + r % 16, lane >> 1)
            }
            PackedLayout::Avx2 => (r % 16, r / 16),
            PackedLayout::Plain => (r / 2, r & 1),
        }
    }

    /// The codes (int64, `0..=15`) of rows `ids` of a `[n, k]` table packed as `packed`
    /// (`n · k / 2` bytes, any shape): `[ids.len(), k]`.
    pub(crate) fn rows(self, packed: &Tensor, n: i64, k: i64, ids: &[i64]) -> Result<Tensor> {
        let block = self.block();
        let count = ids.len();
        let (mut start, mut stride, mut shift) = (
            Vec::with_capacity(count),
            Vec::with_capacity(count),
            Vec::with_capacity(count),
        );
        for &id in ids {
            let (b, r) = (id / block, id % block);
            let size = block.min(n - b * block);
            let (byte, high) = self.place(r, size);
            start.push(b * block * k / 2 + byte);
            stride.push(size / 2);
            shift.push(4 * high);
        }
        let device = packed.device();
        let column = |v: Vec<i64>| -> Result<Tensor> {
            Ok(Tensor::from_slice(&v).f_to_device(device)?.f_unsqueeze(1)?)
        };
        let cols = Tensor::f_arange(k, (Kind::Int64, device))?.f_unsqueeze(0)?;
        let index = column(start)?.f_add(&column(stride)?.f_mul(&cols)?)?;
        let bytes = packed
            .f_reshape([-1])?
            .f_index_select(0, &index.f_reshape([-1])?)?
            .f_to_kind(Kind::Int64)?
            .f_reshape([count as i64, k])?;
        Ok(bytes
            .f_bitwise_right_shift(&column(shift)?)?
            .f_bitwise_and(15)?)
    }
}

/// The layout libtorch's CPU int4 packer writes in this process, found by packing a probe
/// (two full 64-row blocks and a 48-row tail, distinct codes per row and column) and decoding
/// it with each candidate; `None` when no candidate decodes it exactly.
pub(crate) fn detected() -> Option<PackedLayout> {
    static LAYOUT: OnceLock<Option<PackedLayout>> = OnceLock::new();
    *LAYOUT.get_or_init(|| {
        let (n, k) = (176i64, 32i64);
        let codes: Vec<i32> = (0..n * k)
            .map(|i| ((i / k) * 7 + (i % k) * 3 + (i / k) / 16) as i32 % 16)
            .collect();
        let codes = Tensor::from_slice(&codes).reshape([n, k]);
        let packed = codes
            .f_internal_convert_weight_to_int4pack_for_cpu(1)
            .ok()?;
        let ids: Vec<i64> = (0..n).collect();
        let expected = codes.to_kind(Kind::Int64);
        PackedLayout::ALL.into_iter().find(|layout| {
            layout
                .rows(&packed, n, k, &ids)
                .is_ok_and(|rows| rows.equal(&expected))
        })
    })
}

/// Whether `layout` decodes rows of `packed` (from `codes`, int `[n, k]`) exactly, checked on
/// the first two blocks and the last one.
pub(crate) fn decodes(layout: PackedLayout, packed: &Tensor, codes: &Tensor) -> bool {
    if packed.device() != Device::Cpu {
        return false;
    }
    let (n, k) = (codes.size()[0], codes.size()[1]);
    let mut ids: Vec<i64> = (0..n.min(128)).collect();
    ids.extend((n - n.min(64)).max(128.min(n))..n);
    let Ok(rows) = layout.rows(packed, n, k, &ids) else {
        return false;
    };
    let index = Tensor::from_slice(&ids);
    codes
        .to_kind(Kind::Int64)
        .index_select(0, &index)
        .equal(&rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kernel_layout_is_found_and_decodes_any_table() {
        let layout = detected().expect("libtorch's CPU int4 layout is one of the candidates");
        println!("detected {layout:?}");
        // Tables with full blocks only, a shorter tail, and a single short block.
        for (n, k) in [(128i64, 64i64), (208, 32), (16, 96), (48, 256)] {
            tch::manual_seed(n + k);
            let codes = Tensor::randint(16, [n, k], (Kind::Int, Device::Cpu));
            let packed = codes.internal_convert_weight_to_int4pack_for_cpu(1);
            let ids: Vec<i64> = (0..n).rev().collect();
            let rows = layout.rows(&packed, n, k, &ids).unwrap();
            let expected = codes
                .to_kind(Kind::Int64)
                .index_select(0, &Tensor::from_slice(&ids));
            assert!(rows.equal(&expected), "[{n}, {k}]");
            assert!(decodes(layout, &packed, &codes), "[{n}, {k}]");
        }
    }

    #[test]
    fn a_wrong_layout_is_caught() {
        let layout = detected().unwrap();
        let (n, k) = (128i64, 64i64);
        tch::manual_seed(5);
        let codes = Tensor::randint(16, [n, k], (Kind::Int, Device::Cpu));
        let packed = codes.internal_convert_weight_to_int4pack_for_cpu(1);
        for other in PackedLayout::ALL.into_iter().filter(|&l| l != layout) {
            assert!(
                !decodes(other, &packed, &codes),
                "{other:?} passed for {layout:?}"
            );
        }
    }
}
