//! `hulu ask`: one question about zero or more images, volumes, DICOM files or series, videos.

use super::common::{question_turn, summary, GenerateArgs, ModelArgs, VisualArgs};
use anyhow::Result;
use clap::Args;
use hulu_model::Turn;
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
    /// A system prompt.
    #[arg(long)]
    system: Option<String>,
    /// Visual inputs: images, NIfTI, NRRD, MetaImage, DICOM files, folders, zips or DICOMDIR
    /// exports, MP4 videos, told apart by content.
    files: Vec<PathBuf>,
}

/// Runs `hulu ask`: streams the answer to stdout, then a summary line to stderr.
pub fn run(args: &AskArgs) -> Result<()> {
    let (model, load) = args.model.load()?;
    let items = args.visual.load_items(&args.files)?;
    let mut turns = Vec::new();
    if let Some(system) = &args.system {
        turns.push(Turn::system(system.clone()));
    }
    turns.push(question_turn(items, &args.question));
    let stdout = std::io::stdout();
    let generation = model.generate_stream(
        &turns,
        &args.visual.prepare_options(),
        &args.generate.options(),
        |piece| {
            let mut out = stdout.lock();
            let _ = out.write_all(piece.as_bytes());
            let _ = out.flush();
        },
    )?;
    // A closed stdout is an error main ends on quietly, not a panic.
    writeln!(stdout.lock())?;
    eprintln!("{}", summary(&generation, Some(load)));
    Ok(())
}
