//! Rows joining and leaving a running batch, for continuous batching (a server decodes every
//! active request in one step and admits or retires requests between steps).
//!
//! A [`KvCache`] stores its rows left-padded to one shared column count: row `b`'s tokens sit
//! in columns `pads[b]..len`. Positions are `column - pad` and padding is masked out of
//! attention, so moving a row's columns right and widening its padding changes nothing it
//! computes. Joining therefore copies the newcomer's filled columns to the right edge of the
//! batch (widening everyone's padding first when the newcomer is longer); leaving drops the
//! row and then the columns that became padding in every remaining row.

use super::KvCache;
use crate::{Error, Result};
use tch::Tensor;

/// A KV cache whose rows can join and leave between decode steps.
pub trait BatchCache: Sized {
    /// Rows currently held.
    fn rows(&self) -> usize;

    /// Appends every row of `other` (typically a one-row cache just filled by a prefill) after
    /// the existing rows; returns the index of the first one. Each joined row then decodes the
    /// same tokens it would decode alone.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidRequest`] when `other` is empty or does not match this cache (layers,
    /// heads, head size, dtype, device); [`Error::CacheOverflow`] when the widened batch would
    /// not fit the capacity.
    fn join(&mut self, other: Self) -> Result<usize>;

    /// Removes row `row`; rows after it move down by one.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidRequest`] when there is no row `row`.
    fn leave(&mut self, row: usize) -> Result<()>;
}

impl BatchCache for KvCache {
    fn rows(&self) -> usize {
        self.batch
    }

    fn join(&mut self, other: KvCache) -> Result<usize> {
        if other.batch == 0 || other.is_empty() {
            return Err(Error::request("the joining cache holds no tokens"));
        }
        let same_shape = |a: &Tensor, b: &Tensor| {
            let (a, b) = (a.size(), b.size());
            a[1] == b[1] && a[3] == b[3]
        };
        if other.keys.len() != self.keys.len()
            || other.kind != self.kind
            || other.device != self.device
            || !other
                .keys
                .iter()
                .zip(&self.keys)
                .all(|(a, b)| same_shape(a, b))
        {
            return Err(Error::request(
                "the joining cache differs in layers, heads, head size, dtype or device",
            ));
        }
        // `other.batch` is positive (checked above); `self` may have been emptied.
        let per_row = self
            .bytes_per_column
            .checked_div(self.batch)
            .unwrap_or(other.bytes_per_column / other.batch);
        let width = self.len.max(other.len);
        if width > self.capacity {
            return Err(Error::CacheOverflow {
                needed: width,
                capacity: self.capacity,
            });
        }
        if width > self.len && self.batch > 0 {
            self.shift(width - self.len, true)?;
        }
        self.len = width;
        let offset = width - other.len;
        let first = self.batch;
        for layer in 0..self.keys.len() {
            for (mine, theirs) in [
                (&mut self.keys[layer], &other.keys[layer]),
                (&mut self.values[layer], &other.values[layer]),
            ] {
                let mut size = theirs.size();
                size[2] = self.capacity as i64;
                // Zeros in the padding: masked columns still enter the attention product.
                let placed = Tensor::f_zeros(size.as_slice(), (self.kind, self.device))?;
                placed
                    .f_narrow(2, offset as i64, other.len as i64)?
                    .f_copy_(&theirs.f_narrow(2, 0, other.len as i64)?)?;
                *mine = if first == 0 {
                    placed
                } else {
                    Tensor::f_cat(&[&*mine, &placed], 0)?
                };
            }
        }
        self.pads.extend(other.pads.iter().map(|p| p + offset));
        self.batch += other.batch;
        self.bytes_per_column = per_row * self.batch;
        Ok(first)
    }

    fn leave(&mut self, row: usize) -> Result<()> {
        if row >= self.batch {
            return Err(Error::request(format!(
                "no row {row} in a batch of {}",
                self.batch
            )));
        }
        let per_row = self.bytes_per_column / self.batch;
        let kept: Vec<i64> = (0..self.batch as i64)
            .filter(|&b| b != row as i64)
            .collect();
        self.pads.remove(row);
        self.batch -= 1;
        self.bytes_per_column = per_row * self.batch;
        if self.batch == 0 {
            self.reset();
            return Ok(());
        }
        let index = Tensor::f_from_slice(&kept)?.f_to_device(self.device)?;
        for t in self.keys.iter_mut().chain(self.values.iter_mut()) {
            *t = t.f_index_select(0, &index)?;
        }
        // Columns that are padding in every remaining row are no longer needed.
        let common = self.pads.iter().copied().min().unwrap_or(0);
        if common > 0 {
            self.shift(common, false)?;
        }
        Ok(())
    }
}

impl KvCache {
    /// Moves every row's filled columns `by` columns right (`right`) or left, adjusting the
    /// padding and the filled length to match.
    fn shift(&mut self, by: usize, right: bool) -> Result<()> {
        let (from, to, count) = if right {
            (0, by, self.len)
        } else {
            (by, 0, self.len - by)
        };
        for t in self.keys.iter_mut().chain(self.values.iter_mut()) {
            // A copy first: source and destination overlap.
            let moved = t.f_narrow(2, from as i64, count as i64)?.f_detach_copy()?;
            t.f_narrow(2, to as i64, count as i64)?.f_copy_(&moved)?;
        }
        if right {
            self.pads.iter_mut().for_each(|p| *p += by);
            self.len += by;
        } else {
            self.pads.iter_mut().for_each(|p| *p -= by);
            self.len -= by;
        }
        Ok(())
    }
}
