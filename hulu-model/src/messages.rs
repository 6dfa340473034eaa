//! A typed conversation in the reference's content format.
//!
//! A [`Message`] serialises to exactly the JSON the reference passes to its chat template:
//! `{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "..."}]}`, or a
//! plain string `content` for text-only messages written that way. Visual parts carry only
//! what the template reads (how many `<image>` placeholders they render to); the pixels are
//! handled by the processing stage.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Who speaks a message.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Role {
    /// Instructions for the assistant (`"system"`).
    System,
    /// The person asking (`"user"`).
    User,
    /// The model's earlier answers (`"assistant"`).
    Assistant,
    /// Any other role the template knows (e.g. the reference template's `"stream"`).
    Other(String),
}

impl Role {
    /// The role as the template sees it.
    pub fn as_str(&self) -> &str {
        match self {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
            Role::Other(name) => name,
        }
    }
}

impl From<&str> for Role {
    fn from(name: &str) -> Self {
        match name {
            "system" => Role::System,
            "user" => Role::User,
            "assistant" => Role::Assistant,
            other => Role::Other(other.to_string()),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Role {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Role {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        Ok(Role::from(name.as_str()))
    }
}

/// One part of a message's content.
///
/// Volumes are sent to the template as videos (`{"type": "video", "num_frames": n}`), one
/// frame per slice, as the reference does; they therefore read back as [`Part::Video`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Part {
    /// Text, rendered as is.
    Text {
        /// The text.
        text: String,
    },
    /// One picture: one `<image>` placeholder, optionally preceded by `Time {t}s: `.
    Image {
        /// Seconds into a stream this picture was taken at, when it is one frame of several.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        time: Option<f64>,
    },
    /// A video or a volume: `num_frames` placeholders separated by commas, each optionally
    /// preceded by `Time {t}s:`.
    Video {
        /// Frames (or slices) sampled from it.
        num_frames: usize,
        /// Seconds from the start for each frame; `None` for volumes.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timestamps: Option<Vec<f64>>,
    },
}

impl Part {
    /// A text part.
    pub fn text(text: impl Into<String>) -> Self {
        Part::Text { text: text.into() }
    }

    /// An image part.
    pub fn image() -> Self {
        Part::Image { time: None }
    }

    /// A video part with one timestamp (seconds) per frame.
    pub fn video(timestamps: Vec<f64>) -> Self {
        Part::Video {
            num_frames: timestamps.len(),
            timestamps: Some(timestamps),
        }
    }

    /// A video part without timestamps (`num_frames` frames).
    pub fn video_frames(num_frames: usize) -> Self {
        Part::Video {
            num_frames,
            timestamps: None,
        }
    }

    /// A volume of `num_slices` slices (rendered as a video without timestamps).
    pub fn volume(num_slices: usize) -> Self {
        Self::video_frames(num_slices)
    }

    /// How many `<image>` placeholders the part renders to (0 for text).
    pub fn image_placeholders(&self) -> usize {
        match self {
            Part::Text { .. } => 0,
            Part::Image { .. } => 1,
            Part::Video { num_frames, .. } => *num_frames,
        }
    }
}

/// A message's content: a plain string, or a list of parts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Content {
    /// `"content": "..."`.
    Text(String),
    /// `"content": [{...}, ...]`.
    Parts(Vec<Part>),
}

/// One turn of a conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// Who speaks.
    pub role: Role,
    /// What they say.
    pub content: Content,
}

impl Message {
    /// A message whose content is a list of parts.
    pub fn new(role: Role, parts: Vec<Part>) -> Self {
        Message {
            role,
            content: Content::Parts(parts),
        }
    }

    /// A message whose content is a plain string (as the reference writes system prompts).
    pub fn plain(role: Role, text: impl Into<String>) -> Self {
        Message {
            role,
            content: Content::Text(text.into()),
        }
    }

    /// A system message with plain-string content.
    pub fn system(text: impl Into<String>) -> Self {
        Self::plain(Role::System, text)
    }

    /// A user message.
    pub fn user(parts: Vec<Part>) -> Self {
        Self::new(Role::User, parts)
    }

    /// An assistant message with one text part.
    pub fn assistant(text: impl Into<String>) -> Self {
        Self::new(Role::Assistant, vec![Part::text(text)])
    }

    /// The parts, a plain string counting as one text part.
    pub fn parts(&self) -> Vec<Part> {
        match &self.content {
            Content::Text(text) => vec![Part::text(text.clone())],
            Content::Parts(parts) => parts.clone(),
        }
    }

    /// How many `<image>` placeholders this message renders to.
    pub fn image_placeholders(&self) -> usize {
        match &self.content {
            Content::Text(_) => 0,
            Content::Parts(parts) => parts.iter().map(Part::image_placeholders).sum(),
        }
    }
}

/// How many `<image>` placeholders a conversation renders to.
pub fn image_placeholders(messages: &[Message]) -> usize {
    messages.iter().map(Message::image_placeholders).sum()
}
