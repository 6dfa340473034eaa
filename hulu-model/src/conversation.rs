//! A conversation whose visual parts carry their frames, and its rendering to template
//! messages.

use crate::messages::{Message, Part, Role};
use hulu_io::{Visual, VisualKind};

/// One piece of a turn: text, or a visual input already read into frames.
#[derive(Debug, Clone)]
pub enum Item {
    /// Text, rendered as is.
    Text(String),
    /// An image (one frame), a volume (slices) or a video (frames with timestamps).
    Visual(Visual),
}

/// One turn of a conversation: who speaks, and text and visual items in order.
#[derive(Debug, Clone)]
pub struct Turn {
    /// Who speaks.
    pub role: Role,
    /// What they say, interleaved text and visuals.
    pub items: Vec<Item>,
}

impl Turn {
    /// A turn of `role` with `items`.
    pub fn new(role: Role, items: Vec<Item>) -> Self {
        Turn { role, items }
    }

    /// A system prompt.
    pub fn system(text: impl Into<String>) -> Self {
        Turn::new(Role::System, vec![Item::Text(text.into())])
    }

    /// A user turn.
    pub fn user(items: Vec<Item>) -> Self {
        Turn::new(Role::User, items)
    }

    /// A user turn of text only.
    pub fn user_text(text: impl Into<String>) -> Self {
        Turn::user(vec![Item::Text(text.into())])
    }

    /// An assistant turn (an earlier answer, for multi-turn chat).
    pub fn assistant(text: impl Into<String>) -> Self {
        Turn::new(Role::Assistant, vec![Item::Text(text.into())])
    }

    /// The visual items of the turn, in order.
    pub fn visuals(&self) -> impl Iterator<Item = &Visual> {
        self.items.iter().filter_map(|i| match i {
            Item::Visual(v) => Some(v),
            Item::Text(_) => None,
        })
    }
}

/// The template part for a visual: an image is one placeholder; a volume renders as a video
/// without timestamps (one placeholder per slice), as the reference does; a video carries its
/// frame times when known.
pub fn visual_part(visual: &Visual) -> Part {
    match visual.kind {
        VisualKind::Image => Part::image(),
        VisualKind::Volume => Part::volume(visual.frames.len()),
        VisualKind::Video => match &visual.timestamps {
            Some(ts) if ts.len() == visual.frames.len() => Part::video(ts.clone()),
            _ => Part::video_frames(visual.frames.len()),
        },
    }
}

/// The template messages of a conversation. A system turn of plain text becomes a plain-string
/// message, as the reference writes system prompts; every other turn a list of parts.
pub fn to_messages(turns: &[Turn]) -> Vec<Message> {
    to_messages_mapped(turns, |_, text| text.to_string())
}

/// [`to_messages`] with every text replaced by `text(turn, text)`.
pub(crate) fn to_messages_mapped(
    turns: &[Turn],
    mut text: impl FnMut(&Turn, &str) -> String,
) -> Vec<Message> {
    turns
        .iter()
        .map(|turn| match (&turn.role, turn.items.as_slice()) {
            (Role::System, [Item::Text(t)]) => Message::system(text(turn, t)),
            _ => Message::new(
                turn.role.clone(),
                turn.items
                    .iter()
                    .map(|item| match item {
                        Item::Text(t) => Part::text(text(turn, t)),
                        Item::Visual(v) => visual_part(v),
                    })
                    .collect(),
            ),
        })
        .collect()
}
