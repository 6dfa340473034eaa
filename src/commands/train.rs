//! `hulu train`: runs a training recipe (`hulu_train::run_recipe`) with a progress bar, prints
//! the skipped-rows table at the end, and checkpoints on SIGINT/SIGTERM.
//!
//! Exit status: as every command (`failure.rs`): 2 for a bad recipe (unknown component,
//! learning rate ≤ 0, a LoRA target that matches nothing — found before any weight is read),
//! 3 for an unreadable recipe or data file, 4 when the model does not load. A first SIGINT or
//! SIGTERM lets the current step finish, saves the stage's checkpoint and resume state, and
//! exits with 128 + the signal (130, 143), the shell's convention for a signalled process;
//! `--resume` continues from there. A second signal ends the process at once.

use crate::failure::{tag, Category};
use anyhow::Result;
use clap::Args;
use hulu_train::{run_recipe, Error, Progress, Recipe, RunControl};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

/// `hulu train` flags.
#[derive(Args, Debug)]
pub struct TrainArgs {
    /// The recipe (TOML): stages, data, policies, optimizer settings (see recipes/).
    #[arg(long)]
    pub recipe: PathBuf,
    /// Checkpoint directory to start from (Hugging Face layout).
    #[arg(long, env = "HULU_MODEL")]
    pub model: PathBuf,
    /// Output folder: a checkpoint per stage, metrics.jsonl, loss.png.
    #[arg(long)]
    pub out: PathBuf,
    /// Continue the run saved in --out (after an interruption) instead of starting over.
    #[arg(long)]
    pub resume: bool,
}

/// The exit category of a training error: settings are usage errors, files input errors,
/// the checkpoint model errors.
fn categorize(err: Error) -> anyhow::Error {
    let category = match &err {
        Error::UnknownComponent { .. }
        | Error::InvalidLearningRate { .. }
        | Error::InvalidSetting { .. }
        | Error::LoraTargetMatchesNothing { .. }
        | Error::NothingToTrain { .. } => Category::Usage,
        Error::File { .. } | Error::Json { .. } | Error::Example { .. } => Category::Input,
        Error::Adapter { .. }
        | Error::Model(_)
        | Error::Decoder(_)
        | Error::Weights(_)
        | Error::Io(_) => Category::Model,
        _ => Category::Internal,
    };
    tag(err.into(), category)
}

/// Registers SIGINT and SIGTERM: the first sets `stop` and records the signal, a second one
/// exits at once with 128 + the signal.
fn register_signals(stop: &Arc<AtomicBool>, signal: &Arc<AtomicUsize>) -> Result<()> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    use signal_hook::flag;
    for sig in [SIGINT, SIGTERM] {
        // Registered first, so it sees `stop` as the previous signal left it.
        flag::register_conditional_shutdown(sig, 128 + sig, Arc::clone(stop))?;
        flag::register_usize(sig, Arc::clone(signal), sig as usize)?;
        flag::register(sig, Arc::clone(stop))?;
    }
    Ok(())
}

/// A bar over every step of the run; hidden when stderr is not a terminal.
fn progress_bar(total: u64) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    let style = ProgressStyle::with_template(
        "{prefix} [{bar:30}] step {pos}/{len} {msg} [{elapsed_precise} < {eta_precise}]",
    )
    .expect("a valid template")
    .progress_chars("=> ");
    bar.set_style(style);
    bar
}

/// `loss 1.2345 lr projector=2.0e-3 vision=5.0e-4 1234 tok/s`: the learning rates of what
/// trains (the others are zero).
fn step_message(p: &Progress<'_>) -> String {
    let lr: Vec<String> = p
        .report
        .lr
        .iter()
        .filter(|(_, &v)| v > 0.0)
        .map(|(c, v)| format!("{c}={v:.1e}"))
        .collect();
    format!(
        "loss {:.4} lr {} {:.0} tok/s",
        p.report.loss,
        lr.join(" "),
        p.tokens_per_s
    )
}

/// Runs `hulu train`.
///
/// # Errors
/// The recipe's and the run's errors, categorised for the exit status (module doc).
pub fn run(args: &TrainArgs) -> Result<()> {
    let recipe = Recipe::from_file(&args.recipe).map_err(categorize)?;
    // Settings that need the model's config, before any weight is read.
    hulu_train::preflight(&recipe, &args.model).map_err(categorize)?;
    let stop = Arc::new(AtomicBool::new(false));
    let signal = Arc::new(AtomicUsize::new(0));
    register_signals(&stop, &signal)?;
    let offsets: BTreeMap<&str, u64> = recipe
        .stage
        .iter()
        .scan(0u64, |done, s| {
            let offset = *done;
            *done += s.steps;
            Some((s.name.as_str(), offset))
        })
        .collect();
    let bar = progress_bar(recipe.stage.iter().map(|s| s.steps).sum());
    let control = RunControl {
        stop: Some(Arc::clone(&stop)),
        resume: args.resume,
    };
    let summary = run_recipe(&recipe, &args.model, &args.out, &control, |p| {
        bar.set_prefix(p.stage.to_string());
        bar.set_position(offsets.get(p.stage).copied().unwrap_or(0) + p.step);
        bar.set_message(step_message(p));
    })
    .map_err(categorize);
    bar.finish_and_clear();
    let summary = summary?;
    println!("{}", summary.skipped);
    for (stage, loss) in &summary.held_out {
        println!("held-out loss after {stage}: {loss:.4}");
    }
    if let Some(last) = summary.losses.last() {
        println!("last training loss: {last:.4}");
    }
    println!("loss curve: {}", args.out.join("loss.png").display());
    match summary.interrupted {
        None => {
            println!("checkpoint: {}", summary.checkpoint.display());
            Ok(())
        }
        Some((stage, step)) => {
            let sig = signal.load(Ordering::SeqCst);
            eprintln!(
                "interrupted: stage {stage} saved after step {step} in {}; continue with --resume",
                summary.checkpoint.display()
            );
            std::process::exit(128 + sig as i32)
        }
    }
}
