//! The encoder cache: a study's visual features, kept for follow-up questions.
//!
//! Keyed by the SHA-256 of the preprocessed input (the patches the encoder reads, their grids
//! and merge sizes, dtype): two requests that reach the same patches reuse one encoding,
//! whatever path, upload or message brought the file, while any option that changes the
//! patches (slices, window, pixel budget, fps) changes the key. Least recently used entries
//! go first.

use hulu_model::stages::{EncodedVisuals, PreprocessedVisuals};
use sha2::{Digest, Sha256};
use std::collections::VecDeque;
use tch::{Device, Kind};

/// A content hash of preprocessed visuals.
pub type CacheKey = [u8; 32];

/// The key of `visuals`.
///
/// # Errors
///
/// The tensor error of copying the patches to the CPU.
pub fn key(visuals: &PreprocessedVisuals) -> Result<CacheKey, tch::TchError> {
    let mut hash = Sha256::new();
    for grid in &visuals.grids {
        hash.update(format!("{grid:?};").as_bytes());
    }
    hash.update(format!("{:?}", visuals.pixel_values.kind()).as_bytes());
    let flat = visuals
        .pixel_values
        .f_to_device(Device::Cpu)?
        .f_to_kind(Kind::Float)?
        .f_contiguous()?
        .f_view([-1])?;
    let values = Vec::<f32>::try_from(&flat)?;
    for v in values {
        hash.update(v.to_le_bytes());
    }
    Ok(hash.finalize().into())
}

/// Encoded visuals by key, at most `capacity` of them.
pub struct EncoderCache {
    capacity: usize,
    entries: VecDeque<(CacheKey, EncodedVisuals)>,
}

impl EncoderCache {
    /// An empty cache holding up to `capacity` studies (0: caches nothing).
    pub fn new(capacity: usize) -> Self {
        EncoderCache {
            capacity,
            entries: VecDeque::new(),
        }
    }

    /// The features for `key` (a view sharing the cached storage), marked most recently used.
    pub fn get(&mut self, key: &CacheKey) -> Option<EncodedVisuals> {
        let at = self.entries.iter().position(|(k, _)| k == key)?;
        let entry = self.entries.remove(at)?;
        let view = share(&entry.1);
        self.entries.push_back(entry);
        Some(view)
    }

    /// Keeps `encoded` under `key`, dropping the least recently used beyond the capacity.
    pub fn put(&mut self, key: CacheKey, encoded: &EncodedVisuals) {
        if self.capacity == 0 {
            return;
        }
        self.entries.retain(|(k, _)| k != &key);
        self.entries.push_back((key, share(encoded)));
        while self.entries.len() > self.capacity {
            self.entries.pop_front();
        }
    }

    /// Studies held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

fn share(e: &EncodedVisuals) -> EncodedVisuals {
    EncodedVisuals {
        vision_features: e.vision_features.shallow_clone(),
        mm_features: e.mm_features.shallow_clone(),
    }
}
