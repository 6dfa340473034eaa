//! Token ids and labels of a conversation, as the reference's processor builds them with
//! `return_labels=True` (`tests/fixtures/README.md`, `train/`, pins the rule):
//!
//! - each message is rendered by the chat template on its own and tokenised, and the pieces
//!   are concatenated;
//! - every token is ignored ([`IGNORE`]) except, in each assistant message, the tokens after
//!   `<|im_start|>assistant\n` up to and including `<|im_end|>` (the trailing `\n` is ignored);
//! - visual placeholders are ignored (and so are the visual tokens they expand to).

use crate::{Error, Result};
use hulu_model::conversation::to_messages;
use hulu_model::Role;
use hulu_model::{HuluMed, TemplateOptions, Turn};

/// The label of a position that carries no loss (PyTorch's `ignore_index`).
pub const IGNORE: i64 = -100;

/// The ids of a conversation (each visual placeholder still one id) and their labels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tokenized {
    /// Token ids.
    pub ids: Vec<i64>,
    /// The id where the position is trained on, [`IGNORE`] elsewhere.
    pub labels: Vec<i64>,
}

impl Tokenized {
    /// Positions that carry a label.
    pub fn targets(&self) -> usize {
        self.labels.iter().filter(|&&l| l != IGNORE).count()
    }
}

/// Renders and tokenises `turns` message by message and labels the assistant answers.
///
/// # Errors
/// [`Error::Example`] for a conversation without an assistant turn or an assistant message the
/// template does not render as `<|im_start|>assistant\n … <|im_end|>`; [`Error::Model`] when
/// rendering or tokenising fails.
pub fn tokenize_conversation(model: &HuluMed, turns: &[Turn]) -> Result<Tokenized> {
    if !turns.iter().any(|t| t.role == Role::Assistant) {
        return Err(Error::example("the conversation has no assistant turn"));
    }
    let options = TemplateOptions {
        add_generation_prompt: false,
        ..TemplateOptions::default()
    };
    let tokenizer = model.tokenizer();
    let header: Vec<i64> = tokenizer
        .encode("<|im_start|>assistant\n")?
        .into_iter()
        .map(i64::from)
        .collect();
    let end = tokenizer
        .token_to_id("<|im_end|>")
        .map(i64::from)
        .ok_or_else(|| Error::example("the tokenizer has no <|im_end|> token"))?;
    let mut out = Tokenized {
        ids: Vec::new(),
        labels: Vec::new(),
    };
    for (index, turn) in turns.iter().enumerate() {
        let text = model
            .template()
            .render_with(&to_messages(std::slice::from_ref(turn)), &options)?;
        let ids: Vec<i64> = tokenizer
            .encode(&text)?
            .into_iter()
            .map(i64::from)
            .collect();
        let mut labels = vec![IGNORE; ids.len()];
        if turn.role == Role::Assistant {
            let last = ids.iter().rposition(|&id| id == end);
            match last {
                Some(last) if ids.starts_with(&header) && last >= header.len() => {
                    labels[header.len()..=last].copy_from_slice(&ids[header.len()..=last]);
                }
                _ => {
                    return Err(Error::example(format!(
                        "message {index}: the template does not render an assistant message as \
                         <|im_start|>assistant\\n … <|im_end|>"
                    )))
                }
            }
        }
        out.ids.extend(ids);
        out.labels.extend(labels);
    }
    Ok(out)
}
