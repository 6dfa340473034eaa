//! The request types of OpenAI's chat completions API as this server reads them, with hulu's
//! extensions: medical content parts (`dicom_series`, `dicom_file`, `nifti`, `video`) and the
//! `hulu` options object, both of which the official clients pass through (`extra_body`).
//!
//! Fields OpenAI defines that hulu does not use (`logprobs`, `user`, …) are ignored; a known
//! field of the wrong type is refused (422) naming the field.

use serde::Deserialize;

/// `POST /v1/chat/completions`.
#[derive(Debug, Deserialize)]
pub struct ChatRequest {
    /// The model id (`GET /v1/models`).
    pub model: String,
    /// The conversation.
    pub messages: Vec<ChatMessage>,
    /// Server-sent events instead of one JSON answer.
    #[serde(default)]
    pub stream: Option<bool>,
    /// `include_usage`: a last chunk with the token counts.
    #[serde(default)]
    pub stream_options: Option<StreamOptions>,
    /// Most new tokens (legacy name).
    #[serde(default)]
    pub max_tokens: Option<u64>,
    /// Most new tokens.
    #[serde(default)]
    pub max_completion_tokens: Option<u64>,
    /// Sampling temperature; absent or 0 is greedy (as `hulu ask`).
    #[serde(default)]
    pub temperature: Option<f32>,
    /// Nucleus filter when sampling.
    #[serde(default)]
    pub top_p: Option<f32>,
    /// Sampling seed.
    #[serde(default)]
    pub seed: Option<i64>,
    /// Stop strings (one or a list of up to four).
    #[serde(default)]
    pub stop: Option<Stop>,
    /// Answers per request (only 1).
    #[serde(default)]
    pub n: Option<u32>,
    /// hulu's per-request options (`extra_body={"hulu": {...}}`).
    #[serde(default)]
    pub hulu: Option<HuluOptions>,
}

/// OpenAI's `stream_options`.
#[derive(Debug, Deserialize, Default)]
pub struct StreamOptions {
    /// Send a last chunk with `usage`.
    #[serde(default)]
    pub include_usage: Option<bool>,
}

/// `stop`: a string or a list.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Stop {
    /// One stop string.
    One(String),
    /// Several.
    Many(Vec<String>),
}

impl Stop {
    /// The strings.
    pub fn into_vec(self) -> Vec<String> {
        match self {
            Stop::One(s) => vec![s],
            Stop::Many(v) => v,
        }
    }
}

/// One message.
#[derive(Debug, Deserialize)]
pub struct ChatMessage {
    /// `system`, `developer`, `user` or `assistant`.
    pub role: String,
    /// A string or a list of parts.
    pub content: MessageContent,
}

/// A message's content.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum MessageContent {
    /// Plain text.
    Text(String),
    /// Parts in order.
    Parts(Vec<ContentPart>),
}

/// A content part, told apart by `type`.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ContentPart {
    /// `{"type": "text", "text": ...}`.
    Text {
        /// The text, encoded literally.
        text: String,
    },
    /// `{"type": "image_url", "image_url": {"url": "data:image/png;base64,..."}}`.
    ImageUrl {
        /// The image.
        image_url: ImageUrl,
    },
    /// A DICOM series: a folder under the media root or an uploaded `.zip` export.
    DicomSeries {
        /// Where and how.
        dicom_series: MediaPart,
    },
    /// One DICOM file (image, cine or multi-frame volume).
    DicomFile {
        /// Where and how.
        dicom_file: MediaPart,
    },
    /// A NIfTI-1/2 volume (`.nii`, `.nii.gz`).
    Nifti {
        /// Where and how.
        nifti: MediaPart,
    },
    /// An MP4 video.
    Video {
        /// Where and how.
        video: MediaPart,
    },
}

/// OpenAI's `image_url` object.
#[derive(Debug, Deserialize)]
pub struct ImageUrl {
    /// A `data:` URL (network URLs are refused: the server fetches nothing).
    pub url: String,
    /// Ignored (`auto`, `low`, `high`).
    #[serde(default)]
    pub detail: Option<String>,
}

/// A medical input and its reading options (those of `hulu ask`).
#[derive(Debug, Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct MediaPart {
    /// An id from `POST /v1/files`.
    #[serde(default)]
    pub file_id: Option<String>,
    /// A path under `--media-root` (relative to it, or absolute inside it).
    #[serde(default)]
    pub path: Option<String>,
    /// Slices of a volume to keep.
    #[serde(default)]
    pub slices: Option<usize>,
    /// Volume axis: 0, 1, 2, axial, coronal, sagittal.
    #[serde(default)]
    pub axis: Option<String>,
    /// A window preset (lung, bone, …) or `CENTRE/WIDTH`.
    #[serde(default)]
    pub window: Option<String>,
    /// Video and cine frames per second.
    #[serde(default)]
    pub fps: Option<f64>,
    /// Most frames or slices.
    #[serde(default)]
    pub max_frames: Option<usize>,
    /// Which series of an export: a UID, a Series Number or `#INDEX`.
    #[serde(default)]
    pub series: Option<String>,
}

/// hulu's request options (`extra_body={"hulu": {...}}`).
#[derive(Debug, Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct HuluOptions {
    /// Compress visual tokens between slices and frames (default: the checkpoint's).
    #[serde(default)]
    pub compression: Option<bool>,
    /// Compression threshold (mean absolute pixel difference).
    #[serde(default)]
    pub compression_threshold: Option<f64>,
    /// Pixel budget in patches for the request's visuals (capped by the server).
    #[serde(default)]
    pub max_visual_tokens: Option<usize>,
    /// Top-k filter when sampling.
    #[serde(default)]
    pub top_k: Option<usize>,
    /// Repetition penalty.
    #[serde(default)]
    pub repetition_penalty: Option<f32>,
}
