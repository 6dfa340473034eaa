//! `hulu`: command-line interface to the hulu Hulu-Med runtime.
//!
//! Exit status: 0 success, 1 internal error, 2 usage, 3 input file, 4 model or device (the
//! table is in `failure.rs`); errors print as one line, never with a backtrace.

mod commands;
mod failure;

use anyhow::Result;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "hulu", version, about = "Run Hulu-Med from Rust on libtorch")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The quick-start demo: questions about a real DICOM series and a real NIfTI volume.
    ///
    /// The repository ships a tiny random-weight model (tests/fixtures/models/tiny-qwen2) and
    /// the demo's inputs (tests/fixtures); `scripts/demo.sh` passes both. The tiny model's
    /// answers are random words; the pipeline around it is the real one.
    Demo {
        /// Checkpoint directory (Hugging Face layout).
        #[arg(long, env = "HULU_MODEL")]
        model: PathBuf,
        /// Folder holding the demo inputs (`io/dicom/series_ct5n`, `inputs/anatomical.nii`).
        #[arg(long, env = "HULU_DEMO_INPUTS")]
        inputs: PathBuf,
    },
    /// Ask one question about images, volumes (NIfTI, DICOM), or videos.
    Ask(commands::ask::AskArgs),
    /// Answer a question per study of a JSON Lines manifest (resumable).
    Batch(commands::batch::BatchArgs),
    /// Interactive multi-turn chat on standard input.
    Chat(commands::chat::ChatArgs),
    /// What a file holds and the tokens it would cost before and after compression.
    Inspect(commands::inspect::InspectArgs),
    /// Replay every reference case under a fixtures root and compare every stage (developer
    /// command, built with `--features parity`).
    #[cfg(feature = "parity")]
    Parity {
        /// Fixtures root (with `cases/` and `models/`, e.g. tests/fixtures).
        root: PathBuf,
        /// One JSON array (case, group, rel_l2, max_abs, ids_equal, ok) instead of lines.
        #[arg(long)]
        json: bool,
    },
    /// Serve the model over an OpenAI-compatible HTTP API (chat completions, files, metrics).
    Serve(commands::serve::ServeArgs),
    /// Train with a recipe (align, full, LoRA stages); checkpoints per stage, resumable.
    Train(commands::train::TrainArgs),
    /// Time the real pipeline stage by stage on a volume, DICOM series or video.
    Bench(commands::bench::BenchArgs),
    /// Show what a checkpoint directory holds and check its tensors against its config.
    Info {
        /// Checkpoint: a directory (Hugging Face layout) or a Hub id `org/name[@revision]`
        /// found offline in the Hugging Face cache.
        #[arg(long, env = "HULU_MODEL")]
        model: PathBuf,
        /// One JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// The libtorch in use and where it was found, CUDA and cuDNN, the Hugging Face cache,
    /// and checks that explain the usual failures.
    Doctor(commands::doctor::DoctorArgs),
    /// Write a checkpoint with seeded random bf16 weights at benchmark sizes.
    Synth {
        /// One of bench-qwen2, bench-qwen3, bench-qwen2-27l.
        #[arg(long)]
        preset: String,
        /// Output directory.
        #[arg(long)]
        out: PathBuf,
        /// Seed for the weights.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Where the config, tokenizer and templates to start from live (a Hugging Face
        /// checkpoint directory; its weights are not read), e.g. the repository's
        /// tests/fixtures/models/tiny-qwen2.
        #[arg(long)]
        template: PathBuf,
    },
    /// Write an int16 NIfTI-1 phantom volume (input for `hulu bench`).
    SynthVolume {
        /// Output `.nii` file.
        #[arg(long)]
        out: PathBuf,
        /// Slices (third axis).
        #[arg(long, default_value_t = 180)]
        slices: usize,
        /// Width and height of each slice.
        #[arg(long, default_value_t = 512)]
        size: usize,
    },
}

/// Whether the error is stdout closed early (`hulu inspect FILE | head -1`): the reader has
/// all it wanted, so the command ends quietly and successfully, as `cat` and `ls` do.
fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            // `{err:#}`, not `{err:?}`: the Debug form appends the backtrace anyhow captured
            // under RUST_BACKTRACE=1. Ignore a closed stderr too.
            let _ = writeln!(std::io::stderr(), "{}", failure::message(&err));
            ExitCode::from(failure::category_of(&err).exit_code())
        }
    }
}

fn run() -> Result<()> {
    // RUST_LOG=info prints every stage span with its busy and idle time when it closes: the
    // quickest profile of where a run spends its time.
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
        .with_writer(std::io::stderr)
        .init();
    let mut command = Cli::command();
    // The long version probes libtorch; only `--version` pays for it.
    if std::env::args_os().any(|a| a == "--version") {
        // clap keeps only `'static` text; this runs once per process.
        let text: &'static str = Box::leak(commands::doctor::version_text().into_boxed_str());
        command = command.long_version(text);
    }
    let cli = Cli::from_arg_matches(&command.get_matches()).unwrap_or_else(|e| e.exit());
    match cli.command {
        Command::Demo { model, inputs } => commands::demo::run(&model, &inputs),
        Command::Ask(args) => commands::ask::run(&args),
        Command::Batch(args) => commands::batch::run(&args),
        Command::Chat(args) => commands::chat::run(&args),
        Command::Inspect(args) => commands::inspect::run(&args),
        #[cfg(feature = "parity")]
        Command::Parity { root, json } => commands::parity::run(&root, json),
        Command::Bench(args) => commands::bench::run(&args),
        Command::Train(args) => commands::train::run(&args),
        Command::Serve(args) => commands::serve::run(&args),
        Command::Info { model, json } => commands::info::run(&model, json),
        Command::Doctor(args) => commands::doctor::run(&args),
        Command::Synth {
            preset,
            out,
            seed,
            template,
        } => {
            let dir = commands::synth::synth(&preset, &out, &template, seed)?;
            println!("wrote {preset} to {}", dir.display());
            commands::info::run(&dir, false)
        }
        Command::SynthVolume { out, slices, size } => {
            commands::volume::write(&out, size, size, slices)?;
            println!(
                "wrote {size}x{size}x{slices} int16 volume to {}",
                out.display()
            );
            Ok(())
        }
    }
}
