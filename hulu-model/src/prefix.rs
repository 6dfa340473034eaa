//! KV-prefix reuse: the decoder's keys and values of earlier conversations, kept so that a
//! prompt starting with the same decoder input (a follow-up question about the same study, the
//! next turn of a chat) computes only its new tokens.
//!
//! Entries are matched on the decoder's input embeddings themselves, row by row, not on token
//! ids: visual tokens share one placeholder id, so only the embeddings tell two studies apart,
//! and equal embeddings at equal positions give equal keys and values (the decoder is causal).
//! At least the prompt's last token is always recomputed, since its logits pick the first new
//! token. This is what vLLM calls automatic prefix caching, at the granularity of one token.

use crate::error::Result;
use hulu_llm::{CausalDecoder, KvCache};
use std::collections::VecDeque;
use tch::{Kind, Tensor};

/// One conversation's decoder input and the cache it filled.
struct Entry {
    /// `[n, hidden]` in the decoder's dtype and device: what the cache's `n` columns hold.
    embeds: Tensor,
    /// One row, no padding, `n` columns filled.
    cache: KvCache,
}

/// Decoder caches of recent conversations, least recently used dropped first.
pub struct PrefixCache {
    entries: VecDeque<Entry>,
    max_entries: usize,
}

impl std::fmt::Debug for PrefixCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrefixCache")
            .field("entries", &self.entries.len())
            .field("max_entries", &self.max_entries)
            .field("bytes", &self.bytes())
            .finish()
    }
}

impl PrefixCache {
    /// An empty cache keeping up to `max_entries` conversations (0 keeps none).
    pub fn new(max_entries: usize) -> Self {
        PrefixCache {
            entries: VecDeque::new(),
            max_entries,
        }
    }

    /// Most conversations kept.
    pub fn capacity(&self) -> usize {
        self.max_entries
    }

    /// Conversations held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Forgets every conversation.
    pub fn clear(&mut self) {
        self.entries.clear();
    }

    /// Bytes of keys and values held.
    pub fn bytes(&self) -> usize {
        self.entries
            .iter()
            .map(|e| e.cache.memory().allocated_bytes)
            .sum()
    }

    /// A one-row cache of `capacity` columns holding the longest cached prefix of `embeds`
    /// (`[L, hidden]`, the decoder's dtype and device), at most `L - 1` tokens, and that
    /// length; `None` when no entry shares a first token. The entry used becomes the most
    /// recently used.
    ///
    /// # Errors
    ///
    /// The tensor errors of comparing the embeddings or copying the cache.
    pub(crate) fn lookup(
        &mut self,
        embeds: &Tensor,
        capacity: usize,
    ) -> Result<Option<(KvCache, usize)>> {
        let wanted = (embeds.size()[0].max(1) - 1) as usize;
        let mut best: Option<(usize, usize)> = None;
        for (i, entry) in self.entries.iter().enumerate() {
            let n = common_rows(&entry.embeds, embeds, wanted)?;
            if n > 0 && best.is_none_or(|(_, b)| n > b) {
                best = Some((i, n));
            }
        }
        let Some((i, n)) = best else {
            return Ok(None);
        };
        let entry = self.entries.remove(i).expect("index from the scan above");
        let cache = entry.cache.row_prefix(0, n, capacity)?;
        self.entries.push_back(entry);
        Ok(Some((cache, n)))
    }

    /// Keeps a finished conversation for later prompts: its `prompt` (`[L, hidden]`) and the
    /// `ids` generated after it, of which row `row` of `cache` holds every one but the last
    /// (never fed back). Nothing is kept when the cache's row does not hold exactly that.
    ///
    /// # Errors
    ///
    /// The tensor errors of embedding the ids or copying the row.
    pub(crate) fn keep(
        &mut self,
        decoder: &dyn CausalDecoder,
        prompt: &Tensor,
        ids: &[i64],
        cache: &KvCache,
        row: usize,
    ) -> Result<()> {
        if self.max_entries == 0 {
            return Ok(());
        }
        let fed = &ids[..ids.len().saturating_sub(1)];
        let held = if fed.is_empty() {
            prompt.shallow_clone()
        } else {
            Tensor::f_cat(&[prompt, &embed_ids(decoder, fed)?], 0)?
        };
        if Some(held.size()[0] as usize) == cache.row_len(row) {
            self.store(held, cache, row)?;
        }
        Ok(())
    }

    /// Keeps `cache` (row `row`, whose first `embeds.size()[0]` tokens are `embeds`), replacing
    /// an entry it extends and dropping the least recently used beyond the limit.
    fn store(&mut self, embeds: Tensor, cache: &KvCache, row: usize) -> Result<()> {
        let n = embeds.size()[0] as usize;
        if self.max_entries == 0 || n == 0 {
            return Ok(());
        }
        let cache = cache.row_prefix(row, n, n)?;
        // An entry the new one starts with holds nothing the new one lacks.
        let mut kept = VecDeque::with_capacity(self.entries.len() + 1);
        for e in self.entries.drain(..) {
            let len = e.embeds.size()[0] as usize;
            if len > n || common_rows(&e.embeds, &embeds, len)? < len {
                kept.push_back(e);
            }
        }
        self.entries = kept;
        self.entries.push_back(Entry { embeds, cache });
        while self.entries.len() > self.max_entries {
            self.entries.pop_front();
        }
        Ok(())
    }
}

/// How many leading rows of `a` and `b` are equal, at most `limit`.
fn common_rows(a: &Tensor, b: &Tensor, limit: usize) -> Result<usize> {
    let n = (a.size()[0].min(b.size()[0]) as usize).min(limit) as i64;
    if n == 0 || a.size()[1] != b.size()[1] {
        return Ok(0);
    }
    let equal = a
        .f_narrow(0, 0, n)?
        .f_eq_tensor(&b.f_narrow(0, 0, n)?)?
        .f_all_dim(1, false)?
        .f_to_kind(Kind::Int64)?
        .f_cumprod(0, Kind::Int64)?
        .f_sum(Kind::Int64)?
        .f_int64_value(&[])?;
    Ok(equal as usize)
}

/// The decoder input of `ids` as the decoder embeds them, `[len, hidden]`.
fn embed_ids(decoder: &dyn CausalDecoder, ids: &[i64]) -> Result<Tensor> {
    let ids = Tensor::f_from_slice(ids)?.f_to_device(decoder.device())?;
    Ok(decoder.embed(&ids.f_unsqueeze(0)?)?.f_squeeze_dim(0)?)
}
