//! What trains: the three components of Hulu-Med, the stage policies over them, and the
//! weight-decay rule.

use crate::{Error, Result};
use std::collections::BTreeSet;
use std::fmt;

/// One of Hulu-Med's three parts, each with its own learning rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Component {
    /// The decoder: embeddings, layers, final norm, `lm_head` (and LoRA adapters on it).
    Llm,
    /// The `mm_projector` from vision width to decoder width.
    Projector,
    /// The vision encoder.
    Vision,
}

impl Component {
    /// Every component.
    pub const ALL: [Component; 3] = [Component::Llm, Component::Projector, Component::Vision];

    /// The component a checkpoint key (or a PEFT adapter key) belongs to:
    /// `model.vision_encoder.*` is vision, `model.mm_projector.*` the projector, the rest the
    /// decoder.
    pub fn of(key: &str) -> Component {
        let key = key.strip_prefix(crate::lora::PEFT_PREFIX).unwrap_or(key);
        if key.starts_with("model.vision_encoder.") {
            Component::Vision
        } else if key.starts_with("model.mm_projector.") {
            Component::Projector
        } else {
            Component::Llm
        }
    }

    /// `llm`, `projector` or `vision`.
    ///
    /// # Errors
    /// [`Error::UnknownComponent`] for any other name.
    pub fn parse(name: &str) -> Result<Component> {
        match name {
            "llm" => Ok(Component::Llm),
            "projector" => Ok(Component::Projector),
            "vision" => Ok(Component::Vision),
            _ => Err(Error::UnknownComponent {
                name: name.to_string(),
            }),
        }
    }

    /// The name recipes use.
    pub fn name(self) -> &'static str {
        match self {
            Component::Llm => "llm",
            Component::Projector => "projector",
            Component::Vision => "vision",
        }
    }
}

impl fmt::Display for Component {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// LoRA settings: rank, alpha and the decoder projections that get adapters.
#[derive(Debug, Clone, PartialEq)]
pub struct LoraSettings {
    /// Rank `r`.
    pub r: usize,
    /// `lora_alpha`; the update is scaled by `alpha / r`.
    pub alpha: f64,
    /// Projection names (`q_proj`, `down_proj`, …) or full key prefixes
    /// (`model.layers.0.self_attn.q_proj`).
    pub targets: Vec<String>,
    /// Also train the projector (fully) beside the adapters.
    pub with_projector: bool,
}

impl LoraSettings {
    /// Whether the decoder projection `name` (a checkpoint key prefix) is a target.
    pub fn matches(&self, name: &str) -> bool {
        self.targets.iter().any(|t| {
            name == t
                || name.rsplit('.').next() == Some(t.as_str())
                || name.ends_with(&format!(".{t}"))
        })
    }

    fn validate(&self) -> Result<()> {
        if self.r == 0 {
            return Err(Error::setting("lora.r", "the rank must be at least 1"));
        }
        if !(self.alpha.is_finite() && self.alpha > 0.0) {
            return Err(Error::setting(
                "lora.alpha",
                format!("must be positive, got {}", self.alpha),
            ));
        }
        if self.targets.is_empty() {
            return Err(Error::setting(
                "lora.targets",
                "name at least one projection",
            ));
        }
        Ok(())
    }
}

/// Which parameters a stage trains.
#[derive(Debug, Clone, PartialEq)]
pub enum Policy {
    /// Stage 1: vision encoder and projector; the decoder (embeddings, `lm_head`) is frozen.
    Align,
    /// Everything trains.
    Full,
    /// The projector only (a fresh projector between swapped backbones).
    Projector,
    /// LoRA adapters on decoder projections (optionally the projector too); base weights
    /// frozen.
    Lora(LoraSettings),
    /// Any set of components, fully.
    Custom(BTreeSet<Component>),
}

impl Policy {
    /// A policy by its recipe name (`align`, `full`, `projector`); `lora` needs
    /// [`LoraSettings`] and custom sets [`Policy::custom`].
    ///
    /// # Errors
    /// [`Error::InvalidSetting`] for another name.
    pub fn named(name: &str) -> Result<Policy> {
        match name {
            "align" => Ok(Policy::Align),
            "full" => Ok(Policy::Full),
            "projector" => Ok(Policy::Projector),
            other => Err(Error::setting(
                "policy",
                format!(
                    "unknown policy {other:?} (align, full, projector, lora, or a component list)"
                ),
            )),
        }
    }

    /// A custom set of component names.
    ///
    /// # Errors
    /// [`Error::UnknownComponent`] for a name that is not a component; [`Error::NothingToTrain`]
    /// for an empty list.
    pub fn custom<S: AsRef<str>>(names: &[S]) -> Result<Policy> {
        let set = names
            .iter()
            .map(|n| Component::parse(n.as_ref()))
            .collect::<Result<BTreeSet<_>>>()?;
        if set.is_empty() {
            return Err(Error::NothingToTrain {
                policy: "custom".into(),
            });
        }
        Ok(Policy::Custom(set))
    }

    /// Checks the policy's own settings.
    ///
    /// # Errors
    /// [`Error::InvalidSetting`] for a LoRA rank of 0, a non-positive alpha or no targets.
    pub fn validate(&self) -> Result<()> {
        match self {
            Policy::Lora(l) => l.validate(),
            _ => Ok(()),
        }
    }

    /// The policy's name.
    pub fn name(&self) -> String {
        match self {
            Policy::Align => "align".into(),
            Policy::Full => "full".into(),
            Policy::Projector => "projector".into(),
            Policy::Lora(_) => "lora".into(),
            Policy::Custom(set) => set.iter().map(|c| c.name()).collect::<Vec<_>>().join("+"),
        }
    }

    /// The components whose base (checkpoint) parameters train.
    pub fn components(&self) -> BTreeSet<Component> {
        match self {
            Policy::Align => [Component::Vision, Component::Projector].into(),
            Policy::Full => Component::ALL.into(),
            Policy::Projector => [Component::Projector].into(),
            Policy::Lora(l) if l.with_projector => [Component::Projector].into(),
            Policy::Lora(_) => BTreeSet::new(),
            Policy::Custom(set) => set.clone(),
        }
    }

    /// Whether the checkpoint parameter `key` trains (requires grad).
    pub fn trains(&self, key: &str) -> bool {
        self.components().contains(&Component::of(key))
    }

    /// The LoRA settings of a `lora` policy.
    pub fn lora(&self) -> Option<&LoraSettings> {
        match self {
            Policy::Lora(l) => Some(l),
            _ => None,
        }
    }
}

/// Whether AdamW's weight decay applies to the trainable parameter `key`: every parameter
/// except those whose name contains `bias`, `layernorm` or `rmsnorm` and those of LayerNorm
/// modules (the SigLIP encoder's `layer_norm1` / `layer_norm2`). So `model.norm.weight`,
/// `q_norm` and `k_norm` (RMSNorm modules not named so) *are* decayed, as the fixtures'
/// `decayed_parameters` pin (`tests/fixtures/README.md`, `train/`).
pub fn is_decayed(key: &str) -> bool {
    let lower = key.to_ascii_lowercase();
    !["bias", "layernorm", "rmsnorm", "layer_norm"]
        .iter()
        .any(|p| lower.contains(p))
}
