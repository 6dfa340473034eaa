//! Stage 1: the conversation rendered by the chat template and tokenised.
//!
//! Literal text (see [`PrepareOptions::literal_text`]) is rendered as a private-use sentinel
//! (`U+E000 index U+E001`) and tokenised apart from the template's markup, so text that looks
//! like markup can never be read as markup, wherever it lands in the prompt.

use crate::conversation::{to_messages_mapped, Item, Turn};
use crate::error::{Error, Result};
use crate::expand::{expand_image_tokens, tokens_per_placeholder};
use crate::messages::Role;
use crate::model::HuluMed;
use crate::prepare::PrepareOptions;
use crate::template::TemplateOptions;
use hulu_io::MergedGrid;

const OPEN: char = '\u{E000}';
const CLOSE: char = '\u{E001}';

/// The rendered prompt and its ids, each `<image>` still one id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedPrompt {
    /// The rendered template, ending with the opening of an assistant turn.
    pub prompt: String,
    /// Its ids, one per `<image>` placeholder.
    pub ids: Vec<u32>,
    /// The image token id.
    pub image_token: u32,
}

impl RenderedPrompt {
    /// The ids with each `<image>` expanded to one id per merged visual token of `grids` (one
    /// placeholder per frame, in order).
    ///
    /// # Errors
    ///
    /// [`Error::ImageCountMismatch`] when the placeholders are not one per frame of `grids`.
    pub fn expand(&self, grids: &[MergedGrid]) -> Result<Vec<i64>> {
        let counts = tokens_per_placeholder(grids);
        Ok(expand_image_tokens(&self.ids, self.image_token, &counts)?
            .into_iter()
            .map(i64::from)
            .collect())
    }
}

impl HuluMed {
    /// Stage 1: renders `turns` with the chat template (ending with the opening of an
    /// assistant turn) and tokenises the prompt. With [`PrepareOptions::literal_text`], the
    /// text of user and assistant turns is encoded literally (`<|im_end|>` or `<image>` in it
    /// are plain characters); the template's own markup and system turns keep their special
    /// tokens.
    ///
    /// # Errors
    ///
    /// [`Error::LiteralImageToken`] when text read with special tokens contains the image
    /// token's text (`<image>`: visuals go in as visual items); [`Error::InvalidImageToken`]
    /// for a config whose `image_token_index` is not a token id; [`Error::Template`] and
    /// [`Error::Tokenizer`] when rendering or tokenising fails.
    pub fn render_prompt(
        &self,
        turns: &[Turn],
        options: &PrepareOptions,
    ) -> Result<RenderedPrompt> {
        let _span = tracing::info_span!("render_prompt", turns = turns.len()).entered();
        let image_token = self.image_token_id();
        let image_token =
            u32::try_from(image_token).map_err(|_| Error::InvalidImageToken(image_token))?;
        let literal = |turn: &Turn| options.literal_text && turn.role != Role::System;
        if let Some(text) = self.tokenizer.id_to_token(image_token) {
            for (index, turn) in turns.iter().enumerate() {
                let typed = turn.items.iter().any(|i| match i {
                    Item::Text(t) => t.contains(&text),
                    Item::Visual(_) => false,
                });
                if typed && !literal(turn) {
                    return Err(Error::LiteralImageToken { turn: index, text });
                }
            }
        }
        let template = TemplateOptions {
            add_generation_prompt: true,
            add_system_prompt: options.add_system_prompt,
            extra: options.template_variables.clone(),
            ..TemplateOptions::default()
        };
        if !options.literal_text {
            let prompt = self
                .template
                .render_with(&to_messages_mapped(turns, |_, t| t.to_string()), &template)?;
            let ids = self.tokenizer.encode(&prompt)?;
            return Ok(RenderedPrompt {
                prompt,
                ids,
                image_token,
            });
        }
        let mut spans: Vec<String> = Vec::new();
        let messages = to_messages_mapped(turns, |turn, text| {
            if literal(turn) {
                spans.push(text.to_string());
                format!("{OPEN}{}{CLOSE}", spans.len() - 1)
            } else {
                text.to_string()
            }
        });
        if spans.iter().any(|s| s.contains([OPEN, CLOSE])) {
            return Err(Error::Tokenizer(
                "literal text may not contain the private-use characters U+E000 and U+E001".into(),
            ));
        }
        let marked = self.template.render_with(&messages, &template)?;
        let (prompt, ids) = self.encode_marked(&marked, &spans)?;
        Ok(RenderedPrompt {
            prompt,
            ids,
            image_token,
        })
    }

    /// The prompt with each sentinel replaced by its span, and its ids: markup with special
    /// tokens, spans literally.
    fn encode_marked(&self, marked: &str, spans: &[String]) -> Result<(String, Vec<u32>)> {
        let mut prompt = String::with_capacity(marked.len());
        let mut ids = Vec::new();
        let mut rest = marked;
        while let Some(open) = rest.find(OPEN) {
            let markup = &rest[..open];
            let after = &rest[open + OPEN.len_utf8()..];
            let close = after.find(CLOSE).ok_or_else(|| {
                Error::Template("the chat template cut a literal text apart".into())
            })?;
            let span = after[..close]
                .parse::<usize>()
                .ok()
                .and_then(|i| spans.get(i))
                .ok_or_else(|| {
                    Error::Template("the chat template changed a literal text".into())
                })?;
            if !markup.is_empty() {
                ids.extend(self.tokenizer.encode(markup)?);
            }
            ids.extend(self.tokenizer.encode_literal(span)?);
            prompt.push_str(markup);
            prompt.push_str(span);
            rest = &after[close + CLOSE.len_utf8()..];
        }
        if !rest.is_empty() {
            ids.extend(self.tokenizer.encode(rest)?);
        }
        prompt.push_str(rest);
        Ok((prompt, ids))
    }
}
