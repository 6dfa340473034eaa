//! The one visual type the rest of the workspace consumes: an ordered set of 8-bit RGB frames
//! with what kind of input they came from.

/// What a set of frames is, which decides how the model treats it (merge size, sizing rule).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VisualKind {
    /// A single 2-D picture (one frame).
    Image,
    /// Slices of a 3-D volume (CT/MR), in anatomical order.
    Volume,
    /// Frames of a video or a DICOM cine, in time order.
    Video,
}

/// One 8-bit RGB frame, row-major, channels interleaved (`[height][width][3]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RgbFrame {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// `height * width * 3` bytes.
    pub data: Vec<u8>,
}

impl RgbFrame {
    /// A frame from interleaved RGB bytes; `None` when the length is not `height * width * 3`.
    pub fn new(width: usize, height: usize, data: Vec<u8>) -> Option<Self> {
        (width.checked_mul(height)?.checked_mul(3)? == data.len()).then_some(RgbFrame {
            width,
            height,
            data,
        })
    }

    /// A frame from one grey channel, replicated to three.
    pub fn from_grey(width: usize, height: usize, grey: &[u8]) -> Option<Self> {
        if width.checked_mul(height)? != grey.len() {
            return None;
        }
        let data = grey.iter().flat_map(|&g| [g, g, g]).collect();
        Some(RgbFrame {
            width,
            height,
            data,
        })
    }
}

/// An ordered set of frames with its kind: what every loader returns and the vision side reads.
#[derive(Debug, Clone, PartialEq)]
pub struct Visual {
    /// Image, volume or video.
    pub kind: VisualKind,
    /// The frames, all of one size for volumes and videos.
    pub frames: Vec<RgbFrame>,
    /// Seconds from the start of the video for each frame (videos only).
    pub timestamps: Option<Vec<f64>>,
    /// The file or folder the frames were read from, so that a later stage's error can name
    /// it; `None` for frames made in memory.
    pub origin: Option<std::path::PathBuf>,
}

impl Visual {
    /// The same frames, recorded as read from `origin`.
    pub fn with_origin(mut self, origin: impl Into<std::path::PathBuf>) -> Self {
        self.origin = Some(origin.into());
        self
    }

    /// Frames of a given kind, without timestamps.
    pub fn new(kind: VisualKind, frames: Vec<RgbFrame>) -> Self {
        Visual {
            kind,
            frames,
            timestamps: None,
            origin: None,
        }
    }
}
