//! Hulu-Med's progressive training on libtorch, gradient-exact with the reference: stage 1
//! (`align`) trains the vision encoder and projector on image–caption pairs with the decoder
//! frozen, stage 2 (`full`) everything, stage 3 fine-tunes on mixed-modality instructions
//! (fully or with LoRA adapters).
//!
//! The model is the inference model ([`hulu_model::HuluMed`]) built over a
//! [`hulu_nn::VarMap`]: the same stages (render, preprocess, encode, compress, splice) and the
//! same decoder run with autograd. What the reference's training code does and this crate
//! reproduces (labels, padding, loss normalisation, schedule, decay rule, clipping, LoRA
//! scaling, PEFT's layout) is pinned by `tests/fixtures/train/` (see its README section).
//!
//! - [`labels`]: ids and labels of a conversation;
//! - [`example`]: an example through the stages to the decoder's input;
//! - [`step`]: a batch's loss and backward, plain or with per-layer recomputation;
//! - [`optim`], [`schedule`]: AdamW, clipping, cosine schedule with warm-up;
//! - [`policy`]: what trains and what is decayed;
//! - [`lora`]: adapters in PEFT's layout;
//! - [`trainer`]: all of it over one model;
//! - [`run`], [`recipe`], [`plot`]: a recipe's stages, resumable, with metrics and a loss curve.

mod error;

pub mod data;
pub mod example;
pub mod labels;
pub mod lora;
pub mod optim;
pub mod plot;
pub mod policy;
pub mod precision;
pub mod recipe;
pub mod run;
pub mod save;
pub mod schedule;
pub mod step;
pub mod trainer;

pub use data::{Dataset, DatasetOptions, SkipReason, SkipTable};
pub use error::{Error, Result};
pub use example::{encode_example, Encoded, Example};
pub use labels::{tokenize_conversation, Tokenized, IGNORE};
pub use lora::Adapters;
pub use optim::{AdamW, OptimizerSettings, Param};
pub use policy::{is_decayed, Component, LoraSettings, Policy};
pub use precision::Precision;
pub use recipe::Recipe;
pub use run::{preflight, run_recipe, Progress, RunControl, RunSummary};
pub use save::SaveOptions;
pub use schedule::Schedule;
pub use step::{forward_backward, Memory};
pub use trainer::{StepReport, Trainer, TrainerOptions};
