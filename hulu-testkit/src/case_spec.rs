//! The fixture case schema (`cases/<model>/<case>.json`), every field the fixtures README
//! defines, optional ones included, so a test helper never assumes the public set's fields.
//!
//! Sources may name a window (`[centre, width]` or `{"center", "width"}`), all slices
//! (`num_slices` null or absent), an anatomical axis name or an array axis, a volume of a 4-D
//! file, frame indices and timestamps; unknown extra fields are ignored.

use serde::Deserialize;
use std::collections::BTreeMap;

/// One reference case, as its JSON says.
#[derive(Debug, Clone, Deserialize)]
pub struct CaseSpec {
    /// Case name.
    #[serde(default)]
    pub name: Option<String>,
    /// `image`, `video`, `text`, ...
    #[serde(default)]
    pub modal: Option<String>,
    /// Merge size of volumes and videos (images always use 1).
    #[serde(default)]
    pub merge_size: Option<usize>,
    /// Whether the reference compressed visual tokens.
    #[serde(default)]
    pub use_token_compression: Option<bool>,
    /// The conversation, in the reference's content format.
    pub messages: Vec<CaseMessage>,
    /// One source per visual part, in order.
    #[serde(default)]
    pub sources: Vec<CaseSource>,
    /// The rendered chat template before `<image>` expansion.
    #[serde(default)]
    pub prompt: Option<String>,
    /// The image token id the reference used.
    #[serde(default)]
    pub image_token_id: Option<i64>,
    /// Greedy tokens generated.
    #[serde(default)]
    pub new_tokens: Option<usize>,
    /// Smallest top-1/top-2 logit margin along the greedy path.
    #[serde(default)]
    pub min_greedy_margin: Option<f64>,
    /// Shapes of the tensors in the case's safetensors.
    #[serde(default)]
    pub shapes: BTreeMap<String, Vec<usize>>,
    /// The model directory, relative to the fixtures root.
    pub model: String,
}

/// One message of a case conversation.
#[derive(Debug, Clone, Deserialize)]
pub struct CaseMessage {
    /// `system`, `user` or `assistant`.
    pub role: String,
    /// Plain text or content parts.
    pub content: CaseContent,
}

/// A message's content: a string, or parts.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum CaseContent {
    /// Plain text.
    Text(String),
    /// Text and visual parts.
    Parts(Vec<CasePart>),
}

/// One content part: `{"type": "text", "text": ...}` or a visual part (`image`, `video`, ...)
/// whose data comes from the next source.
#[derive(Debug, Clone, Deserialize)]
pub struct CasePart {
    /// `text`, `image`, `video`, ...
    #[serde(rename = "type")]
    pub kind: String,
    /// The text of a text part.
    #[serde(default)]
    pub text: Option<String>,
}

/// A grey window: `[centre, width]` or `{"center": c, "width": w}`.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum CaseWindow {
    /// `[centre, width]`.
    Pair([f64; 2]),
    /// `{"center": c, "width": w}`.
    Named {
        /// Window centre.
        #[serde(alias = "centre")]
        center: f64,
        /// Window width.
        width: f64,
    },
}

impl CaseWindow {
    /// `(centre, width)`.
    pub fn center_width(&self) -> (f64, f64) {
        match *self {
            CaseWindow::Pair([c, w]) => (c, w),
            CaseWindow::Named { center, width } => (center, width),
        }
    }
}

/// Where one visual part's data came from.
#[derive(Debug, Clone, Deserialize)]
pub struct CaseSource {
    /// `image`, `nifti`, `frames`, ...
    pub kind: String,
    /// The input file, relative to the fixtures root.
    pub file: String,
    /// Array axis the volume was sliced along.
    #[serde(default)]
    pub axis: Option<usize>,
    /// Anatomical axis name (`axial`, `sagittal`, `coronal`).
    #[serde(default)]
    pub axis_name: Option<String>,
    /// Slices kept (`None`: all of them).
    #[serde(default)]
    pub num_slices: Option<usize>,
    /// The slice indices the reference picked.
    #[serde(default)]
    pub slice_indices: Option<Vec<usize>>,
    /// Grey window applied before min-max.
    #[serde(default)]
    pub window: Option<CaseWindow>,
    /// How slices were scaled to 8 bits.
    #[serde(default)]
    pub normalisation: Option<String>,
    /// Which volume of a 4-D file.
    #[serde(default, alias = "volume_index", alias = "t")]
    pub volume: Option<usize>,
    /// Tensor name inside a frames safetensors file.
    #[serde(default)]
    pub tensor: Option<String>,
    /// Frames picked from a video or cine.
    #[serde(default)]
    pub frame_indices: Option<Vec<usize>>,
    /// Timestamps of the picked frames, in seconds.
    #[serde(default)]
    pub timestamps: Option<Vec<f64>>,
}
