//! `hulu batch`: one question per study over a JSON Lines manifest, answers appended to a
//! JSON Lines file as each finishes; resumable (done ids are skipped) and a failed study is
//! recorded with its error. The work is `hulu_model::batch::run_batch`, which the Python
//! bindings and the Ray example share, so all three write the same lines.

use super::common::ModelArgs;
use anyhow::{Context, Result};
use clap::Args;
use hulu_model::batch::{run_batch, CallOptions, Outcome};
use std::path::PathBuf;

/// Arguments of `hulu batch`.
#[derive(Args, Debug)]
pub struct BatchArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// The studies, one JSON object a line: `{"id": ..., "question": ..., "inputs": [{"type":
    /// "dicom_series", "path": ...}], "options": {...}}` (see README "Many machines").
    #[arg(long)]
    manifest: PathBuf,
    /// The answers, one JSON object a line (appended; ids already there are skipped).
    #[arg(long)]
    out: PathBuf,
    /// Options for every study, as JSON (a study's own `options` win), e.g.
    /// '{"max_new_tokens": 64, "compression": true}'.
    #[arg(long, default_value = "{}")]
    options: String,
}

/// Runs `hulu batch`, printing a line per study to stderr and a summary at the end.
///
/// # Errors
/// When the model cannot be loaded, `--options` is not valid, or the manifest or output
/// cannot be read or written (a study's own failure is recorded, not returned).
pub fn run(args: &BatchArgs) -> Result<()> {
    let defaults = CallOptions::from_json(&args.options).context("--options")?;
    let (model, _) = args.model.load()?;
    let summary = run_batch(
        &model,
        &args.manifest,
        &args.out,
        &defaults,
        |answer| match &answer.outcome {
            Outcome::Answered { finish_reason, .. } => {
                eprintln!("{}: answered ({finish_reason})", answer.id)
            }
            Outcome::Failed { error } => eprintln!("{}: failed: {}", answer.id, error["message"]),
        },
    )
    .with_context(|| format!("batch over {}", args.manifest.display()))?;
    eprintln!(
        "[{} answered, {} failed, {} already done]",
        summary.answered, summary.failed, summary.skipped
    );
    Ok(())
}
