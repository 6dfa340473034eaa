//! The chat template: the checkpoint's Jinja template rendered with `minijinja`, configured
//! the way `transformers` renders chat templates.
//!
//! Its input is a list of [`Message`]s in the reference's JSON content format. That is the
//! template's language, not a second conversation type: applications build a conversation of
//! [`crate::Turn`]s (whose visual items carry their frames), and the render stage turns it into
//! messages ([`crate::conversation::to_messages`]).

mod growth;
mod pyjson;
mod pyround;

use std::path::Path;

use minijinja::{Environment, Value};
use serde_json::Value as Json;

pub use pyround::python_round;

use crate::error::{Error, Result};
use crate::files::read_json_opt;
pub use crate::messages::{image_placeholders, Content, Message, Part};

/// The text the template substitutes for each visual frame.
pub const IMAGE_TOKEN: &str = "<image>";

/// Name of the template inside the `minijinja` environment.
const TEMPLATE_NAME: &str = "chat";

/// Variables the template reads besides `messages`.
#[derive(Debug, Clone, PartialEq)]
pub struct TemplateOptions {
    /// Append the opening of an assistant turn (`<|im_start|>assistant\n`).
    pub add_generation_prompt: bool,
    /// Let VideoLLaMA3-style templates prepend their own system message (default false, which
    /// renders the same text as the reference template).
    pub add_system_prompt: bool,
    /// The placeholder text for one visual frame (default `"<image>"`).
    pub image_token: String,
    /// More variables for templates that read them (e.g. Qwen3's `enable_thinking`); they
    /// cannot override the ones above or `messages`.
    pub extra: serde_json::Map<String, Json>,
}

impl Default for TemplateOptions {
    fn default() -> Self {
        TemplateOptions {
            add_generation_prompt: true,
            add_system_prompt: false,
            image_token: IMAGE_TOKEN.to_string(),
            extra: serde_json::Map::new(),
        }
    }
}

/// A compiled chat template.
///
/// Rendered like `transformers` does: `trim_blocks` and `lstrip_blocks` on, loop controls,
/// `raise_exception`, Python string methods, a `round` filter that is Python's `round`
/// (ties to even on the exact binary value, so `0.25 | round(1)` is `0.2`), a `tojson` filter
/// that writes what Python's `json.dumps` writes, and mappings that keep their insertion order.
#[derive(Debug)]
pub struct ChatTemplate {
    source: String,
    env: Environment<'static>,
    /// `bos_token`, `eos_token`, ... from `tokenizer_config.json`, which `transformers` also
    /// passes to templates.
    special_tokens: serde_json::Map<String, Json>,
}

impl ChatTemplate {
    /// The template of the checkpoint directory `dir`: `chat_template.json` first, else the
    /// `chat_template` field of `tokenizer_config.json`.
    ///
    /// # Errors
    ///
    /// [`Error::NoChatTemplate`] when neither file holds one; [`Error::Io`] or
    /// [`Error::InvalidJson`] for an unreadable file; [`Error::Template`] when the template
    /// does not compile.
    pub fn from_dir(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref();
        let config_path = dir.join("tokenizer_config.json");
        let config = read_json_opt(&config_path)?;
        let mut source = None;
        if let Some(json) = read_json_opt(&dir.join("chat_template.json"))? {
            source = template_source(&json, &dir.join("chat_template.json"))?;
        }
        if source.is_none() {
            if let Some(json) = &config {
                source = template_source(json, &config_path)?;
            }
        }
        let Some(source) = source else {
            return Err(Error::NoChatTemplate {
                dir: dir.to_path_buf(),
            });
        };
        let mut template = Self::new(source)?;
        if let Some(config) = &config {
            template.special_tokens = special_tokens(config);
        }
        Ok(template)
    }

    /// This template with the `bos_token`, `eos_token`, `pad_token` and `unk_token` variables of
    /// `dir/tokenizer_config.json` (as [`ChatTemplate::from_dir`] sets them).
    ///
    /// # Errors
    ///
    /// [`Error::Io`] or [`Error::InvalidJson`] when `tokenizer_config.json` cannot be read.
    pub fn with_special_tokens_of(mut self, dir: impl AsRef<Path>) -> Result<Self> {
        if let Some(config) = read_json_opt(&dir.as_ref().join("tokenizer_config.json"))? {
            self.special_tokens = special_tokens(&config);
        }
        Ok(self)
    }

    /// Compiles a template from its Jinja source.
    ///
    /// # Errors
    ///
    /// [`Error::Template`] when the source does not compile; [`Error::TemplateRefused`] when
    /// it is built to exhaust memory (it assigns a variable from two or more copies of itself,
    /// or a macro calls itself: see the `growth` module).
    pub fn new(source: impl Into<String>) -> Result<Self> {
        let source = source.into();
        let mut env = Environment::new();
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        env.set_keep_trailing_newline(false);
        // Templates come from checkpoints people download: a loop that never ends or nests
        // without bound stops with a typed error (see `limits`).
        env.set_fuel(Some(limits::MAX_INSTRUCTIONS));
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        env.add_filter("round", round_filter);
        env.add_filter("tojson", pyjson::tojson_filter);
        env.add_function("raise_exception", raise_exception);
        env.add_template_owned(TEMPLATE_NAME, source.clone())?;
        if let Some(reason) = growth::unbounded_growth(&source) {
            return Err(Error::TemplateRefused { reason });
        }
        Ok(ChatTemplate {
            source,
            env,
            special_tokens: serde_json::Map::new(),
        })
    }

    /// The Jinja source.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Renders a conversation with the default options and the given `add_generation_prompt`.
    ///
    /// # Errors
    ///
    /// [`Error::Template`] when rendering fails (the template raised an exception, a loop ran
    /// too deep).
    pub fn render(&self, messages: &[Message], add_generation_prompt: bool) -> Result<String> {
        self.render_with(
            messages,
            &TemplateOptions {
                add_generation_prompt,
                ..TemplateOptions::default()
            },
        )
    }

    /// Renders a conversation with explicit options.
    ///
    /// # Errors
    ///
    /// [`Error::Template`] when rendering fails (the template raised an exception, a loop ran
    /// too deep).
    pub fn render_with(&self, messages: &[Message], options: &TemplateOptions) -> Result<String> {
        let _span = tracing::info_span!("render_template", messages = messages.len()).entered();
        let template = self.env.get_template(TEMPLATE_NAME)?;
        let context = minijinja::context! {
            messages => Value::from_serialize(messages),
            add_generation_prompt => options.add_generation_prompt,
            add_system_prompt => options.add_system_prompt,
            image_token => options.image_token.as_str(),
            ..Value::from_serialize(&options.extra)
        };
        // Later sources only fill names the earlier ones lack.
        let context = minijinja::context! {
            ..context,
            ..Value::from_serialize(&self.special_tokens)
        };
        let mut out = CappedOutput::default();
        match template.render_captured_to(context, &mut out) {
            Ok(_) => {}
            Err(e) if e.kind() == minijinja::ErrorKind::OutOfFuel => {
                return Err(Error::TemplateBudget {
                    what: "instructions",
                    limit: limits::MAX_INSTRUCTIONS,
                })
            }
            Err(_) if out.exceeded => {
                return Err(Error::TemplateBudget {
                    what: "output bytes",
                    limit: limits::MAX_OUTPUT_BYTES as u64,
                })
            }
            Err(e) => return Err(e.into()),
        }
        String::from_utf8(out.bytes)
            .map_err(|e| Error::Template(format!("output is not UTF-8: {e}")))
    }
}

/// What one rendering may spend. A real chat template renders a long conversation in a few
/// thousand instructions and a few kilobytes; these bounds are orders of magnitude above that
/// and stop a hostile template (`/work/shared/hostile/template-nested-loops`: two nested loops
/// of 100,000) in well under a second.
pub mod limits {
    /// Template instructions executed (minijinja's fuel).
    pub const MAX_INSTRUCTIONS: u64 = 5_000_000;
    /// Bytes of rendered prompt.
    pub const MAX_OUTPUT_BYTES: usize = 16 << 20;
}

/// The rendered text, refusing to grow past [`limits::MAX_OUTPUT_BYTES`].
#[derive(Default)]
struct CappedOutput {
    bytes: Vec<u8>,
    exceeded: bool,
}

impl std::io::Write for CappedOutput {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.bytes.len() + buf.len() > limits::MAX_OUTPUT_BYTES {
            self.exceeded = true;
            return Err(std::io::Error::other("rendered prompt too long"));
        }
        self.bytes.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The `chat_template` string of a config file, if it has one. A list of named templates
/// (`[{"name": "default", "template": ...}]`) yields the one named `default`.
fn template_source(json: &Json, path: &Path) -> Result<Option<String>> {
    match json.get("chat_template") {
        None | Some(Json::Null) => Ok(None),
        Some(Json::String(s)) => Ok(Some(s.clone())),
        Some(Json::Array(list)) => Ok(list
            .iter()
            .find(|t| t.get("name").and_then(Json::as_str) == Some("default"))
            .and_then(|t| t.get("template"))
            .and_then(Json::as_str)
            .map(str::to_string)),
        Some(_) => Err(Error::json(path, "chat_template must be a string")),
    }
}

/// `bos_token`, `eos_token`, `pad_token`, `unk_token` of `tokenizer_config.json` as strings
/// (a missing or null token is left out).
fn special_tokens(config: &Json) -> serde_json::Map<String, Json> {
    let mut out = serde_json::Map::new();
    for key in ["bos_token", "eos_token", "pad_token", "unk_token"] {
        let text = match config.get(key) {
            Some(Json::String(s)) => Some(s.clone()),
            Some(Json::Object(o)) => o.get("content").and_then(Json::as_str).map(str::to_string),
            _ => None,
        };
        if let Some(text) = text {
            out.insert(key.to_string(), Json::String(text));
        }
    }
    out
}

/// Jinja2's `round(value, precision=0, method='common')` with Python's rounding.
fn round_filter(
    value: Value,
    precision: Option<i32>,
    method: Option<String>,
) -> std::result::Result<Value, minijinja::Error> {
    let invalid = |msg: String| minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, msg);
    let x = f64::try_from(value.clone())
        .map_err(|_| invalid(format!("cannot round {}", value.kind())))?;
    let digits = precision.unwrap_or(0);
    let rounded = match method.as_deref().unwrap_or("common") {
        "common" => python_round(x, digits),
        "floor" => (x * 10f64.powi(digits)).floor() / 10f64.powi(digits),
        "ceil" => (x * 10f64.powi(digits)).ceil() / 10f64.powi(digits),
        other => return Err(invalid(format!("unknown rounding method {other:?}"))),
    };
    // Jinja2 returns a float even for integer input.
    Ok(Value::from(rounded))
}

/// `raise_exception(message)`: templates call it to reject a conversation.
fn raise_exception(message: String) -> std::result::Result<Value, minijinja::Error> {
    Err(minijinja::Error::new(
        minijinja::ErrorKind::InvalidOperation,
        message,
    ))
}
