//! Stage 4: which visual tokens reach the decoder.

use crate::error::Result;
use crate::model::HuluMed;
use crate::prepare::PrepareOptions;
use crate::stages::PreprocessedVisuals;
use hulu_compress::KeepMask;

impl HuluMed {
    /// Stage 4: the keep-mask of the call. Without compression
    /// ([`PrepareOptions::compression`], default the checkpoint's `use_token_compression`)
    /// every token is kept; with it, the configured compressor decides, with
    /// [`PrepareOptions::compression_threshold`] handed to it when set.
    ///
    /// # Errors
    ///
    /// [`Error::Compress`](crate::Error::Compress) when the compressor fails, or has no
    /// threshold to set.
    pub fn compress_visuals(
        &self,
        visuals: &PreprocessedVisuals,
        options: &PrepareOptions,
    ) -> Result<KeepMask> {
        let enabled = options
            .compression
            .unwrap_or(self.config.use_token_compression);
        let _span = tracing::info_span!("compress", enabled).entered();
        if !enabled {
            return Ok(KeepMask::keep_all(&visuals.grids)?);
        }
        Ok(match options.compression_threshold {
            Some(threshold) => self
                .compressor
                .with_threshold(threshold)?
                .keep_mask(&visuals.pixel_values, &visuals.grids)?,
            None => self
                .compressor
                .keep_mask(&visuals.pixel_values, &visuals.grids)?,
        })
    }
}
