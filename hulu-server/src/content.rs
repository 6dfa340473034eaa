//! Request messages → the model's conversation ([`Turn`]s of text and visual [`Item`]s):
//! images from `data:` URLs, medical parts from uploads or `--media-root` paths, read with
//! the part's options within the server's caps. Runs on a blocking thread (decoding a
//! series is CPU work).

use crate::error::ApiError;
use crate::files::FileStore;
use crate::openai::{ChatMessage, ContentPart, MediaPart, MessageContent};
use base64::Engine;
use hulu_io::{Limits, Visual, VisualKind};
use hulu_model::{
    Item, LoadOptions, MixedOrientation, Role, SeriesChoice, SliceAxis, Turn, VisualSource, Window,
};
use std::path::Path;

/// Where media come from and the caps on reading them.
pub struct Resolver<'a> {
    /// Uploads.
    pub files: &'a FileStore,
    /// The canonical media root, if any.
    pub media_root: Option<&'a Path>,
    /// Most frames or slices per visual.
    pub max_frames: usize,
    /// Most visual parts per request.
    pub max_visuals: usize,
}

/// The conversation and the texts of the client's system messages (checked for control tokens
/// by the model thread, which holds the tokenizer).
pub struct Conversation {
    /// The turns, the operator's system prompt first when set.
    pub turns: Vec<Turn>,
    /// Client system texts.
    pub client_system: Vec<String>,
}

/// Converts the messages.
///
/// # Errors
///
/// [`ApiError::InvalidField`] for an unknown role or an empty conversation,
/// [`ApiError::BadRequest`] for more visual parts than allowed or an option over a cap,
/// [`ApiError::UnreadableContent`] for a data URL that is not a picture, a network URL, a
/// file of another kind than its part says or that cannot be read, [`ApiError::UnknownFile`]
/// and [`ApiError::PathRefused`] for media that cannot be reached.
pub fn to_conversation(
    messages: Vec<ChatMessage>,
    system_prompt: Option<&str>,
    resolver: &Resolver<'_>,
) -> Result<Conversation, ApiError> {
    if messages.is_empty() {
        return Err(ApiError::InvalidField {
            field: "messages".into(),
            reason: "at least one message is needed".into(),
        });
    }
    let mut turns = Vec::new();
    let mut client_system = Vec::new();
    if let Some(system) = system_prompt {
        turns.push(Turn::system(system));
    }
    let mut visuals = 0usize;
    for (m, message) in messages.into_iter().enumerate() {
        let role = match message.role.as_str() {
            "system" | "developer" => Role::System,
            "user" => Role::User,
            "assistant" => Role::Assistant,
            other => {
                return Err(ApiError::InvalidField {
                    field: format!("messages[{m}].role"),
                    reason: format!("{other:?} is not system, developer, user or assistant"),
                })
            }
        };
        let parts = match message.content {
            MessageContent::Text(t) => vec![ContentPart::Text { text: t }],
            MessageContent::Parts(p) => p,
        };
        let mut items = Vec::new();
        for (p, part) in parts.into_iter().enumerate() {
            let subject = format!("messages[{m}].content[{p}]");
            let item = match part {
                ContentPart::Text { text } => {
                    if role == Role::System {
                        client_system.push(text.clone());
                    }
                    Item::Text(text)
                }
                other => {
                    if role != Role::User {
                        return Err(ApiError::InvalidField {
                            field: subject,
                            reason: "visual parts are accepted in user messages only".into(),
                        });
                    }
                    visuals += 1;
                    if visuals > resolver.max_visuals {
                        return Err(ApiError::BadRequest {
                            field: subject,
                            reason: format!(
                                "more than {} visual parts in one request",
                                resolver.max_visuals
                            ),
                        });
                    }
                    Item::Visual(read_part(other, &subject, resolver)?)
                }
            };
            items.push(item);
        }
        turns.push(Turn::new(role, items));
    }
    Ok(Conversation {
        turns,
        client_system,
    })
}

fn unreadable(subject: &str, reason: impl Into<String>) -> ApiError {
    ApiError::UnreadableContent {
        subject: subject.to_string(),
        reason: reason.into(),
    }
}

/// Reads one visual part.
fn read_part(part: ContentPart, subject: &str, r: &Resolver<'_>) -> Result<Visual, ApiError> {
    let (media, expected) = match part {
        ContentPart::Text { .. } => {
            return Err(ApiError::Internal(format!(
                "{subject}: a text part read as visual"
            )))
        }
        ContentPart::ImageUrl { image_url } => return image_from_url(&image_url.url, subject),
        ContentPart::DicomSeries { dicom_series } => (dicom_series, "dicom_series"),
        ContentPart::DicomFile { dicom_file } => (dicom_file, "dicom_file"),
        ContentPart::Nifti { nifti } => (nifti, "nifti"),
        ContentPart::Video { video } => (video, "video"),
    };
    let path = match (&media.file_id, &media.path) {
        (Some(id), None) => r.files.get(id)?.path,
        (None, Some(p)) => crate::media::resolve(r.media_root, p)?,
        _ => {
            return Err(ApiError::InvalidField {
                field: format!("{subject}.{expected}"),
                reason: "give exactly one of `file_id` and `path`".into(),
            })
        }
    };
    let options = load_options(&media, subject, r.max_frames)?;
    let source = VisualSource::detect(&path).map_err(|e| unreadable(subject, e.to_string()))?;
    let matches = match (&source, expected) {
        (VisualSource::Dicom(p), "dicom_series") => hulu_model::sources::export_root(p).is_some(),
        (VisualSource::Dicom(p), "dicom_file") => hulu_model::sources::export_root(p).is_none(),
        (VisualSource::Nifti(_), "nifti") | (VisualSource::Video(_), "video") => true,
        _ => false,
    };
    if !matches {
        return Err(unreadable(
            subject,
            format!("a `{expected}` part, but the file is {}", describe(&source)),
        ));
    }
    source
        .load(&options)
        .map_err(|e| unreadable(subject, error_chain(&e)))
}

/// The error and its sources, for a client message.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

fn describe(source: &VisualSource) -> &'static str {
    match source {
        VisualSource::Image(_) => "a picture",
        VisualSource::Nifti(_) => "a NIfTI volume",
        VisualSource::Volume(_) => "an NRRD or MetaImage volume",
        VisualSource::Dicom(p) if hulu_model::sources::export_root(p).is_some() => {
            "a DICOM export (series)"
        }
        VisualSource::Dicom(_) => "a single DICOM file",
        VisualSource::Video(_) => "a video",
        VisualSource::Frames(_) => "frames",
    }
}

/// A part's reading options, checked against the caps.
fn load_options(media: &MediaPart, subject: &str, cap: usize) -> Result<LoadOptions, ApiError> {
    let field = |name: &str, reason: String| ApiError::BadRequest {
        field: format!("{subject}.{name}"),
        reason,
    };
    for (name, value) in [("slices", media.slices), ("max_frames", media.max_frames)] {
        match value {
            Some(0) => return Err(field(name, "must be at least 1".into())),
            Some(n) if n > cap => {
                return Err(field(
                    name,
                    format!("{n} is over the server's cap of {cap}"),
                ))
            }
            _ => {}
        }
    }
    if let Some(fps) = media.fps {
        if !(fps.is_finite() && fps > 0.0 && fps <= 120.0) {
            return Err(field("fps", format!("{fps} is not in (0, 120]")));
        }
    }
    let axis = match &media.axis {
        Some(a) => SliceAxis::parse(a).map_err(|e| field("axis", e.to_string()))?,
        None => LoadOptions::default().axis,
    };
    let window = media
        .window
        .as_deref()
        .map(parse_window)
        .transpose()
        .map_err(|e| field("window", e))?;
    let series = media
        .series
        .as_deref()
        .map(parse_series)
        .transpose()
        .map_err(|e| field("series", e))?
        .unwrap_or_default();
    Ok(LoadOptions {
        slices: media.slices,
        axis,
        window,
        fps: media.fps.or(Some(1.0)),
        max_frames: media.max_frames.unwrap_or(cap),
        series,
        mixed_orientation: MixedOrientation::Reject,
        ..LoadOptions::default()
    })
}

/// A window preset or `CENTRE/WIDTH`, as `hulu ask --window` reads it.
fn parse_window(s: &str) -> Result<Window, String> {
    if let Some((c, w)) = s.split_once(['/', ',']) {
        let number = |part: &str| {
            part.trim()
                .parse::<f64>()
                .map_err(|e| format!("{s:?}: {e}"))
        };
        let window = Window::new(number(c)?, number(w)?);
        window.bounds().map_err(|e| e.to_string())?;
        Ok(window)
    } else {
        Window::preset(s).map_err(|e| e.to_string())
    }
}

/// A series choice, as `hulu ask --series` reads it: `#N` an index, an integer a Series
/// Number, anything else a Series Instance UID.
fn parse_series(s: &str) -> Result<SeriesChoice, String> {
    let s = s.trim();
    if let Some(i) = s.strip_prefix('#') {
        return i
            .parse()
            .map(SeriesChoice::Index)
            .map_err(|e| format!("index {i:?}: {e}"));
    }
    if s.is_empty() {
        return Err("empty".into());
    }
    Ok(s.parse()
        .map(SeriesChoice::Number)
        .unwrap_or_else(|_| SeriesChoice::Uid(s.to_string())))
}

/// An image from a `data:image/...;base64,` URL (RFC 2397). Other URLs are refused: the
/// server fetches nothing from the network.
fn image_from_url(url: &str, subject: &str) -> Result<Visual, ApiError> {
    let Some(rest) = url.strip_prefix("data:") else {
        return Err(unreadable(
            subject,
            "only data: URLs are accepted (the server fetches nothing from the network)",
        ));
    };
    let (header, data) = rest
        .split_once(',')
        .ok_or_else(|| unreadable(subject, "a data: URL without a comma"))?;
    let Some(media_type) = header.strip_suffix(";base64") else {
        return Err(unreadable(subject, "the data: URL is not base64"));
    };
    if !media_type.starts_with("image/") {
        return Err(unreadable(
            subject,
            format!("media type {media_type:?} is not an image"),
        ));
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(data.trim())
        .map_err(|e| unreadable(subject, format!("bad base64: {e}")))?;
    let picture = hulu_io::image::picture_from_bytes(subject, &bytes, &Limits::default())
        .map_err(|e| unreadable(subject, e.to_string()))?;
    Ok(Visual::new(VisualKind::Image, vec![picture.to_rgb_frame()]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_urls() {
        let png = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/fixtures/inputs/ct_small.png"
        ))
        .unwrap();
        let url = format!(
            "data:image/png;base64,{}",
            base64::engine::general_purpose::STANDARD.encode(&png)
        );
        let visual = image_from_url(&url, "p").unwrap();
        assert_eq!(visual.frames.len(), 1);
        for bad in [
            "https://example.com/a.png",
            "data:image/png;base64,@@@",
            "data:text/plain;base64,aGk=",
            "data:image/png,raw",
            "data:image/png;base64,aGVsbG8=",
        ] {
            assert!(
                matches!(
                    image_from_url(bad, "p"),
                    Err(ApiError::UnreadableContent { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn options_within_caps() {
        let part = MediaPart {
            slices: Some(100),
            ..MediaPart::default()
        };
        assert!(load_options(&part, "p", 64).is_err());
        let part = MediaPart {
            slices: Some(8),
            window: Some("-600/1500".into()),
            axis: Some("axial".into()),
            ..MediaPart::default()
        };
        let o = load_options(&part, "p", 64).unwrap();
        assert_eq!(o.slices, Some(8));
        assert_eq!(o.max_frames, 64);
        assert!(load_options(
            &MediaPart {
                window: Some("nope".into()),
                ..MediaPart::default()
            },
            "p",
            64
        )
        .is_err());
    }
}
