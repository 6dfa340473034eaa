//! The key/value cache: preallocated per sequence, filled by a prefill, extended one token per
//! decode step, truncatable for retries.
//!
//! A batch of prompts of different lengths is stored left-padded: every row shares the same
//! column count (`len`), and row `b`'s real tokens start at column `pads[b]`. Padding columns
//! are masked out of attention and do not advance positions, so each row computes exactly what
//! it would compute alone.

mod rows;

pub use rows::BatchCache;

use crate::config::DecoderConfig;
use crate::{Error, Result};
use tch::{Device, Kind, Tensor};

/// How much memory a [`KvCache`] holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheMemory {
    /// Bytes preallocated for keys and values of every layer.
    pub allocated_bytes: usize,
    /// Bytes of those that hold entries (columns below `len`, padding included).
    pub used_bytes: usize,
}

/// Preallocated keys and values of every layer, `[batch, kv_heads, capacity, head_dim]` each.
#[derive(Debug)]
pub struct KvCache {
    keys: Vec<Tensor>,
    values: Vec<Tensor>,
    batch: usize,
    capacity: usize,
    len: usize,
    pads: Vec<usize>,
    bytes_per_column: usize,
    kind: Kind,
    device: Device,
}

impl KvCache {
    /// A cache for `batch` sequences of up to `capacity` columns each (padding included) for a
    /// decoder of `config`, in `kind` on `device`. `capacity` may not exceed
    /// `max_position_embeddings`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidRequest`] when `batch` or `capacity` is zero; [`Error::TooLong`] when
    /// `capacity` exceeds `max_position_embeddings`; [`Error::Torch`] when the buffers cannot
    /// be allocated.
    pub fn new(
        config: &DecoderConfig,
        batch: usize,
        capacity: usize,
        kind: Kind,
        device: Device,
    ) -> Result<Self> {
        if batch == 0 || capacity == 0 {
            return Err(Error::request(format!(
                "a KV cache needs a positive batch and capacity (got {batch} and {capacity})"
            )));
        }
        if capacity > config.max_position_embeddings {
            return Err(Error::TooLong {
                needed: capacity,
                max: config.max_position_embeddings,
            });
        }
        let element = kind.elt_size_in_bytes();
        let bytes_per_column = [
            2,
            config.num_hidden_layers,
            batch,
            config.num_key_value_heads,
            config.head_dim,
            element,
        ]
        .into_iter()
        .try_fold(1usize, usize::checked_mul)
        .ok_or_else(|| Error::request("KV cache size overflows"))?;
        bytes_per_column
            .checked_mul(capacity)
            .filter(|&b| b <= isize::MAX as usize)
            .ok_or_else(|| Error::request("KV cache size overflows"))?;
        let shape = [
            batch as i64,
            config.num_key_value_heads as i64,
            capacity as i64,
            config.head_dim as i64,
        ];
        let _span = tracing::info_span!("kv_cache_alloc", batch, capacity).entered();
        // Zeros, not uninitialised memory: masked slots still enter the attention product, and a
        // NaN left there would survive a zero weight.
        let mut keys = Vec::with_capacity(config.num_hidden_layers);
        let mut values = Vec::with_capacity(config.num_hidden_layers);
        for _ in 0..config.num_hidden_layers {
            keys.push(Tensor::f_zeros(shape, (kind, device))?);
            values.push(Tensor::f_zeros(shape, (kind, device))?);
        }
        Ok(KvCache {
            keys,
            values,
            batch,
            capacity,
            len: 0,
            pads: vec![0; batch],
            bytes_per_column,
            kind,
            device,
        })
    }

    /// Sequences held.
    pub fn batch(&self) -> usize {
        self.batch
    }

    /// Columns preallocated per sequence.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Columns filled (the longest row's tokens plus the other rows' left padding).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing has been cached yet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Columns still free.
    pub fn remaining(&self) -> usize {
        self.capacity - self.len
    }

    /// Left-padding columns of each row.
    pub fn pads(&self) -> &[usize] {
        &self.pads
    }

    /// Tokens actually cached for row `row` (its length without padding).
    pub fn row_len(&self, row: usize) -> Option<usize> {
        self.pads.get(row).map(|p| self.len - p)
    }

    /// Element type of the cached keys and values.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// Device of the cached keys and values.
    pub fn device(&self) -> Device {
        self.device
    }

    /// Memory held and used.
    pub fn memory(&self) -> CacheMemory {
        CacheMemory {
            allocated_bytes: self.bytes_per_column * self.capacity,
            used_bytes: self.bytes_per_column * self.len,
        }
    }

    /// Forgets every column from `len` on, e.g. to retry generation from an earlier point. The
    /// cache keeps its allocation. Cutting into a row's left padding is refused unless `len` is
    /// 0 (a full reset).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidRequest`] when `len` is past the cached columns or cuts into a row's left
    /// padding.
    pub fn truncate(&mut self, len: usize) -> Result<()> {
        if len > self.len {
            return Err(Error::request(format!(
                "cannot truncate a cache of {} columns to {len}",
                self.len
            )));
        }
        let max_pad = self.pads.iter().copied().max().unwrap_or(0);
        if len == 0 {
            self.pads.fill(0);
        } else if len <= max_pad {
            return Err(Error::request(format!(
                "truncating to {len} columns would remove every token of a row padded by {max_pad}"
            )));
        }
        self.len = len;
        Ok(())
    }

    /// The first `len` tokens of row `row` (its left padding dropped) copied into a new
    /// one-row cache of `capacity` columns, for reuse by a later prompt that starts with the
    /// same tokens. Keys are stored already rotated to their positions, and a row's positions
    /// are `column - pad`, so the copied columns compute exactly what they computed in place.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidRequest`] when there is no row `row`, `len` is more than the row holds,
    /// or `capacity` is below `len`; [`Error::Torch`] when the new buffers cannot be allocated.
    pub fn row_prefix(&self, row: usize, len: usize, capacity: usize) -> Result<KvCache> {
        let Some(held) = self.row_len(row) else {
            return Err(Error::request(format!(
                "no row {row} in a cache of {} rows",
                self.batch
            )));
        };
        if len > held || capacity < len || capacity == 0 {
            return Err(Error::request(format!(
                "cannot copy {len} of row {row}'s {held} tokens into {capacity} columns"
            )));
        }
        let pad = self.pads[row] as i64;
        let copy = |t: &Tensor| -> Result<Tensor> {
            let mut size = t.size();
            size[0] = 1;
            size[2] = capacity as i64;
            let out = Tensor::f_zeros(size.as_slice(), (self.kind, self.device))?;
            out.f_narrow(2, 0, len as i64)?
                .f_copy_(&t.f_narrow(0, row as i64, 1)?.f_narrow(2, pad, len as i64)?)?;
            Ok(out)
        };
        Ok(KvCache {
            keys: self.keys.iter().map(copy).collect::<Result<_>>()?,
            values: self.values.iter().map(copy).collect::<Result<_>>()?,
            batch: 1,
            capacity,
            len,
            pads: vec![0],
            bytes_per_column: self.bytes_per_column / self.batch.max(1),
            kind: self.kind,
            device: self.device,
        })
    }

    /// Empties the cache (same as `truncate(0)`).
    pub fn reset(&mut self) {
        self.len = 0;
        self.pads.fill(0);
    }

    /// Checks that `new` columns fit and returns the first column they go to and every row's
    /// left padding (`pads` may set it for the first chunk only). Changes nothing: a failed
    /// forward pass leaves the cache as it was.
    pub(crate) fn plan(&self, new: usize, pads: Option<&[usize]>) -> Result<(usize, Vec<usize>)> {
        let needed = self.len + new;
        if needed > self.capacity {
            return Err(Error::CacheOverflow {
                needed,
                capacity: self.capacity,
            });
        }
        match pads {
            Some(pads) if self.is_empty() => Ok((0, pads.to_vec())),
            Some(pads) if pads.iter().any(|&p| p != 0) => Err(Error::request(
                "left padding can only be given for the first chunk of a cache",
            )),
            _ => Ok((self.len, self.pads.clone())),
        }
    }

    /// Writes one layer's new keys and values (`[B, kv_heads, L, d]`) at column `start` and
    /// returns views of every filled column, new ones included.
    pub(crate) fn write(
        &mut self,
        layer: usize,
        start: usize,
        k: &Tensor,
        v: &Tensor,
    ) -> Result<(Tensor, Tensor)> {
        let new = k.size()[2];
        let end = start as i64 + new;
        let (keys, values) = (&mut self.keys[layer], &mut self.values[layer]);
        keys.f_narrow(2, start as i64, new)?.f_copy_(k)?;
        values.f_narrow(2, start as i64, new)?.f_copy_(v)?;
        Ok((keys.f_narrow(2, 0, end)?, values.f_narrow(2, 0, end)?))
    }

    /// Marks `new` columns (written to every layer) as filled, with the padding [`plan`]
    /// returned.
    ///
    /// [`plan`]: KvCache::plan
    pub(crate) fn advance(&mut self, new: usize, pads: Vec<usize>) {
        self.len += new;
        self.pads = pads;
    }

    pub(crate) fn layers(&self) -> usize {
        self.keys.len()
    }
}
