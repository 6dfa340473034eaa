//! `hulu ask`: one question about zero or more images, volumes, DICOM files or series, videos.
//!
//! Every flag and input is read and checked before the weights load, so a typo in a path
//! costs no model load.

use super::answer::{answer, to_json};
use super::common::{question_turn, summary, GenerateArgs, ModelArgs, SystemPrompt, VisualArgs};
use anyhow::Result;
use clap::Args;
use std::io::Write;
use std::path::PathBuf;

/// Arguments of `hulu ask`.
#[derive(Args, Debug)]
pub struct AskArgs {
    #[command(flatten)]
    model: ModelArgs,
    #[command(flatten)]
    visual: VisualArgs,
    #[command(flatten)]
    generate: GenerateArgs,
    /// The question.
    #[arg(short, long)]
    question: String,
    /// System prompt: `default` (the checkpoint template's own, as the official usage),
    /// `none`, or the text itself.
    #[arg(
        long,
        alias = "system",
        default_value = "default",
        value_name = "default|none|TEXT"
    )]
    system_prompt: String,
    /// Print one JSON object (answer, finish reason, token counts before and after
    /// compression, timings, prompt) instead of streaming text.
    #[arg(long)]
    json: bool,
    /// Visual inputs: images, NIfTI, NRRD, MetaImage, DICOM files, folders, zips or DICOMDIR
    /// exports, MP4 videos, told apart by content.
    files: Vec<PathBuf>,
}

/// Runs `hulu ask`: streams the answer to stdout, then a summary line to stderr (or one JSON
/// object with `--json`).
///
/// # Errors
///
/// Usage, input and model errors tagged with their category (see `crate::failure`).
pub fn run(args: &AskArgs) -> Result<()> {
    let resolved = args.model.resolve()?;
    let items = args.visual.load_items(&args.files)?;
    let system = SystemPrompt::parse(&args.system_prompt);
    let (model, load) = resolved.load()?;
    let mut turns: Vec<_> = system.turn().into_iter().collect();
    turns.push(question_turn(items, &args.question));
    let mut prepare = args.visual.prepare_options();
    system.apply(&mut prepare);
    let options = args.generate.options(model.generation_config());
    let stdout = std::io::stdout();
    let streaming = !args.json;
    let (generation, prompt, _) = answer(&model, &turns, &prepare, &options, None, |piece| {
        if streaming {
            let mut out = stdout.lock();
            let _ = out.write_all(piece.as_bytes());
            let _ = out.flush();
        }
    })?;
    if args.json {
        let value = to_json(&generation, &prompt, &model, &options, Some(load));
        writeln!(stdout.lock(), "{value:#}")?;
    } else {
        // A closed stdout is an error main ends on quietly, not a panic.
        writeln!(stdout.lock())?;
        eprintln!("{}", summary(&generation, Some(load)));
    }
    Ok(())
}
