//! The vision side's configuration: `config.json`'s `vision_encoder_config` and
//! `preprocessor_config.json`, deserialised straight from their JSON and validated here, beside
//! the encoder and processor they describe.

use crate::{Error, Result};
use serde::Deserialize;
use std::path::Path;

/// Bounds on encoder sizes, far above any published SigLIP encoder (so400m: 27 layers, width
/// 1152, MLP 4304, 16 heads) and low enough that a hostile config cannot make a loader list or
/// allocate without end.
pub mod limits {
    /// Most encoder layers.
    pub const MAX_LAYERS: usize = 1024;
    /// Widest encoder.
    pub const MAX_HIDDEN: usize = 65_536;
    /// Widest MLP.
    pub const MAX_INTERMEDIATE: usize = 262_144;
    /// Most attention heads.
    pub const MAX_HEADS: usize = 1024;
    /// Largest patch side in pixels.
    pub const MAX_PATCH: usize = 1024;
    /// Most input channels.
    pub const MAX_CHANNELS: usize = 16;
}

/// The vision encoder section of `config.json` (`vision_encoder_config`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct VisionEncoderConfig {
    /// Encoder width.
    pub hidden_size: usize,
    /// MLP width.
    pub intermediate_size: usize,
    /// Number of encoder layers.
    pub num_hidden_layers: usize,
    /// Attention heads.
    pub num_attention_heads: usize,
    /// Patch side in pixels (14 for Hulu-Med).
    pub patch_size: usize,
    /// Input channels.
    #[serde(default = "default_channels")]
    pub num_channels: usize,
    /// LayerNorm epsilon.
    #[serde(default = "default_layer_norm_eps")]
    pub layer_norm_eps: f64,
    /// MLP activation (SigLIP uses the tanh approximation of GELU).
    #[serde(default = "default_vision_act")]
    pub hidden_act: String,
}

fn default_channels() -> usize {
    3
}
fn default_layer_norm_eps() -> f64 {
    1e-6
}
fn default_vision_act() -> String {
    "gelu_pytorch_tanh".into()
}

impl VisionEncoderConfig {
    /// Checks every size against [`limits`] and the invariants the layers rely on.
    ///
    /// # Errors
    /// [`Error::Config`] naming the field.
    pub fn validate(&self) -> Result<()> {
        use limits::*;
        for (name, value, max) in [
            ("hidden_size", self.hidden_size, MAX_HIDDEN),
            (
                "intermediate_size",
                self.intermediate_size,
                MAX_INTERMEDIATE,
            ),
            ("num_hidden_layers", self.num_hidden_layers, MAX_LAYERS),
            ("num_attention_heads", self.num_attention_heads, MAX_HEADS),
            ("patch_size", self.patch_size, MAX_PATCH),
            ("num_channels", self.num_channels, MAX_CHANNELS),
        ] {
            if value == 0 || value > max {
                return Err(Error::Config(format!(
                    "vision_encoder_config.{name} = {value} must be between 1 and {max}"
                )));
            }
        }
        if !self.hidden_size.is_multiple_of(self.num_attention_heads) {
            return Err(Error::Config(format!(
                "vision_encoder_config.hidden_size {} is not a multiple of its {} heads",
                self.hidden_size, self.num_attention_heads
            )));
        }
        if !(self.layer_norm_eps.is_finite() && self.layer_norm_eps >= 0.0) {
            return Err(Error::Config(format!(
                "vision_encoder_config.layer_norm_eps {} must be finite and non-negative",
                self.layer_norm_eps
            )));
        }
        Ok(())
    }

    /// Values in one row of `pixel_values`: `num_channels · patch_size²`.
    pub fn patch_values(&self) -> usize {
        self.num_channels * self.patch_size * self.patch_size
    }
}

fn default_mean_std() -> [f64; 3] {
    [0.5, 0.5, 0.5]
}
fn default_rescale() -> f64 {
    1.0 / 255.0
}
fn default_true() -> bool {
    true
}
fn default_min_tokens() -> usize {
    16
}
fn default_max_tokens() -> usize {
    16384
}
fn default_patch() -> usize {
    14
}
fn default_resample() -> u32 {
    3
}

/// `preprocessor_config.json`: the image processor's settings.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct PreprocessorConfig {
    /// Per-channel mean subtracted after rescaling.
    #[serde(default = "default_mean_std")]
    pub image_mean: [f64; 3],
    /// Per-channel standard deviation divided by after subtracting the mean.
    #[serde(default = "default_mean_std")]
    pub image_std: [f64; 3],
    /// Factor applied to 8-bit values (1/255).
    #[serde(default = "default_rescale")]
    pub rescale_factor: f64,
    /// Whether to rescale.
    #[serde(default = "default_true")]
    pub do_rescale: bool,
    /// Whether to normalise.
    #[serde(default = "default_true")]
    pub do_normalize: bool,
    /// Whether to resize.
    #[serde(default = "default_true")]
    pub do_resize: bool,
    /// Fewest patches per call.
    #[serde(default = "default_min_tokens")]
    pub min_tokens: usize,
    /// Pixel budget in patches, shared by every frame and image of a call.
    #[serde(default = "default_max_tokens")]
    pub max_tokens: usize,
    /// Patch side in pixels.
    #[serde(default = "default_patch")]
    pub patch_size: usize,
    /// PIL resample filter (3 = bicubic).
    #[serde(default = "default_resample")]
    pub resample: u32,
}

impl Default for PreprocessorConfig {
    fn default() -> Self {
        serde_json::from_str("{}").expect("every field has a default")
    }
}

impl PreprocessorConfig {
    /// Reads `preprocessor_config.json`.
    ///
    /// # Errors
    /// [`Error::Io`] when the file cannot be read or parsed (the file and field are named).
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        Ok(hulu_io::json::read_json(path.as_ref())?)
    }
}
