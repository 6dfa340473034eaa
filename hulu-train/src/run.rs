//! Running a recipe: each stage trains from the previous stage's checkpoint, draws its
//! datasets' rows in a seeded shuffled mix, logs one JSON line per step (`metrics.jsonl`),
//! evaluates the held-out rows every `eval_every` steps and at the end, and saves a checkpoint
//! (and a LoRA stage's adapter, and the state a resume needs) into `<out>/<stage>`, and at the
//! end the loss curve (`<out>/loss.png`).
//!
//! A stop request (SIGINT/SIGTERM in `hulu train`) ends the run at the end of the current step
//! with the stage saved as incomplete (`state/trainer_state.json` has `"complete": false`,
//! the stage's step and data position); resuming rebuilds the stage's trainer from the
//! checkpoint the stage started from and restores its trainable weights, Adam's moments, the
//! schedule step and the data position, so the resumed run draws and steps exactly as a
//! straight one. Each stage's state also keeps the rows it skipped (held-out and drawn, apart),
//! so a resumed run's skip table counts every row the straight run would have: a finished
//! stage's counts are read back, an interrupted stage's drawn-row counts are continued and its
//! held-out rows counted again as they are encoded again.

use crate::data::{Dataset, DatasetOptions, SkipReason, SkipTable};
use crate::example::Encoded;
use crate::recipe::{Recipe, StageSpec};
use crate::save::SaveOptions;
use crate::trainer::{StepReport, Trainer, TrainerOptions};
use crate::{Error, Result};
use hulu_model::{HuluConfig, LoadOptions, PrepareOptions};
use hulu_nn::{RecordingBackend, VarBuilder};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// What a run reports per step to its caller (a progress bar).
#[derive(Debug, Clone)]
pub struct Progress<'a> {
    /// The stage's name.
    pub stage: &'a str,
    /// Steps done in the stage.
    pub step: u64,
    /// Steps of the stage.
    pub total: u64,
    /// The step's report.
    pub report: &'a StepReport,
    /// Labelled tokens per second of the step.
    pub tokens_per_s: f64,
}

/// What a finished run returns.
#[derive(Debug, Default)]
pub struct RunSummary {
    /// Rows skipped, by reason.
    pub skipped: SkipTable,
    /// Training loss of every step, all stages in order.
    pub losses: Vec<f64>,
    /// Held-out loss at the end of each stage that has held-out rows.
    pub held_out: Vec<(String, f64)>,
    /// The last stage's checkpoint (of an interrupted run: the interrupted stage's).
    pub checkpoint: PathBuf,
    /// Where a stop request ended the run: the stage and the steps it had done (saved, to be
    /// continued with [`RunControl::resume`]); `None` when every stage ran to its end.
    pub interrupted: Option<(String, u64)>,
}

/// A small seeded generator (SplitMix64) for the shuffle: the order must depend only on the
/// seed, so a resumed run draws the same rows.
fn shuffle<T>(items: &mut [T], seed: u64) {
    let mut state = seed;
    let mut next = || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    for i in (1..items.len()).rev() {
        let j = (next() % (i as u64 + 1)) as usize;
        items.swap(i, j);
    }
}

fn skip_reason(e: &Error) -> SkipReason {
    match e {
        Error::Example { reason } if reason.contains("assistant") => SkipReason::NoAssistantTurn,
        Error::Model(hulu_model::Error::PromptTooLong { .. }) => SkipReason::TooLong,
        _ => SkipReason::Unusable,
    }
}

fn datasets(recipe: &Recipe, stage: &StageSpec) -> Result<Vec<(Dataset, f64, usize)>> {
    stage
        .data
        .iter()
        .map(|d| {
            let path = recipe.base.join(&d.path);
            let root = match &d.root {
                Some(r) => recipe.base.join(r),
                None => path.parent().unwrap_or(Path::new(".")).to_path_buf(),
            };
            let defaults = LoadOptions::default();
            let options = DatasetOptions {
                load: LoadOptions {
                    slices: d.slices.or(defaults.slices),
                    fps: d.fps.or(defaults.fps),
                    ..defaults
                },
                prepare: PrepareOptions {
                    compression: d.compression,
                    merge_size: d.merge_size,
                    max_visual_tokens: d.max_visual_tokens,
                    ..PrepareOptions::default()
                },
            };
            Ok((Dataset::open(&path, &root, options)?, d.weight, d.held_out))
        })
        .collect()
}

/// Row `i` of dataset `d` encoded for the trainer's model, or `None` (counted) when unusable.
fn encode_row(
    trainer: &Trainer,
    sets: &[(Dataset, f64, usize)],
    max_len: usize,
    d: usize,
    i: usize,
    skipped: &mut SkipTable,
) -> Option<Encoded> {
    let example = match sets[d].0.example(i) {
        Ok(e) => e,
        Err(reason) => {
            skipped.add(reason);
            return None;
        }
    };
    match trainer.encode(&example) {
        Ok(e) if e.input_ids.len() < max_len => Some(e),
        Ok(_) => {
            skipped.add(SkipReason::TooLong);
            None
        }
        Err(e) => {
            skipped.add(skip_reason(&e));
            None
        }
    }
}

/// How a run is driven from outside: a stop request (a signal handler sets it) and resuming.
#[derive(Debug, Clone, Default)]
pub struct RunControl {
    /// When set, the run stops at the end of the current step, saving the stage's checkpoint
    /// and the state [`RunControl::resume`] continues from.
    pub stop: Option<Arc<AtomicBool>>,
    /// Continue the run saved in the output folder: finished stages are kept, an interrupted
    /// stage continues from its saved state, `metrics.jsonl` is appended to.
    pub resume: bool,
}

impl RunControl {
    fn stop_requested(&self) -> bool {
        self.stop.as_ref().is_some_and(|s| s.load(Ordering::SeqCst))
    }
}

/// Checks what can be checked against the model's `config.json` alone, before any weight is
/// read: every LoRA stage's targets must name projections of the decoder, whose layout comes
/// from a dry build over [`hulu_nn::RecordingBackend`] (no values materialised).
///
/// # Errors
/// [`Error::LoraTargetMatchesNothing`]; [`Error::Model`] for an unreadable config;
/// [`Error::Decoder`] when the decoder cannot be built from it.
pub fn preflight(recipe: &Recipe, model: &Path) -> Result<()> {
    recipe.validate()?;
    let lora: Vec<_> = recipe
        .stage
        .iter()
        .map(StageSpec::policy)
        .collect::<Result<Vec<_>>>()?
        .into_iter()
        .filter_map(|p| p.lora().cloned())
        .collect();
    if lora.is_empty() {
        return Ok(());
    }
    let config = HuluConfig::from_file(model.join("config.json"))?;
    let vb = VarBuilder::new(RecordingBackend::new(), tch::Kind::Float, tch::Device::Cpu);
    let mut decoder = hulu_llm::load_decoder(&config.decoder, &vb)?;
    for settings in &lora {
        crate::lora::target_names(decoder.as_mut(), settings)?;
    }
    Ok(())
}

/// Where a stage stands in a saved run (`<out>/<stage>/state/trainer_state.json`).
struct SavedStage {
    complete: bool,
    /// Rows skipped among the stage's drawn rows and among its held-out rows.
    skipped_training: SkipTable,
    skipped_held_out: SkipTable,
}

fn saved_stage(state: &Path) -> Result<Option<SavedStage>> {
    let json = state.join(crate::save::STATE_JSON);
    if !json.is_file() {
        return Ok(None);
    }
    let value: serde_json::Value = hulu_io::json::read_json(&json)?;
    let table = |key: &str| -> Result<SkipTable> {
        match value["run"].get(key) {
            None => Ok(SkipTable::default()),
            Some(v) => serde_json::from_value(v.clone()).map_err(|e| Error::Json {
                path: json.clone(),
                source: e,
            }),
        }
    };
    Ok(Some(SavedStage {
        complete: value["run"]["complete"].as_bool().unwrap_or(true),
        skipped_training: table("skipped_training")?,
        skipped_held_out: table("skipped_held_out")?,
    }))
}

/// Where a stage stands when it is saved.
struct StageProgress<'a> {
    position: usize,
    step: u64,
    complete: bool,
    skipped_training: &'a SkipTable,
    skipped_held_out: &'a SkipTable,
}

/// Saves a stage's checkpoint (and adapter) into `dir` and the resume state into `dir/state`.
fn save_stage(
    trainer: &Trainer,
    recipe: &Recipe,
    dir: &Path,
    at: &StageProgress<'_>,
) -> Result<()> {
    trainer.save_checkpoint(
        dir,
        &SaveOptions {
            kind: recipe.save_kind()?,
            ..SaveOptions::default()
        },
    )?;
    if trainer.adapters().is_some() {
        trainer.save_adapter(&dir.join("adapter"))?;
    }
    trainer.save_state(
        &dir.join("state"),
        &serde_json::json!({
            "data_position": at.position, "seed": recipe.seed,
            "stage_step": at.step, "complete": at.complete,
            "skipped_training": at.skipped_training,
            "skipped_held_out": at.skipped_held_out,
        }),
    )
}

/// Runs every stage of `recipe` from the checkpoint in `model`, writing into `out`
/// (`metrics.jsonl`, a checkpoint per stage, `loss.png` at the end). `progress` is called
/// after every step. A stop request ends the run after the current step with the stage saved;
/// [`RunSummary::interrupted`] says where.
///
/// # Errors
/// The recipe's setting errors and those of [`preflight`] (before any weight is read), the
/// trainer's, [`Error::File`] when the output cannot be written, [`Error::Plot`] for the loss
/// curve. Unusable rows are skipped and counted, not errors; a stage whose rows are all
/// unusable is an [`Error::Example`].
pub fn run_recipe(
    recipe: &Recipe,
    model: &Path,
    out: &Path,
    control: &RunControl,
    mut progress: impl FnMut(&Progress<'_>),
) -> Result<RunSummary> {
    preflight(recipe, model)?;
    std::fs::create_dir_all(out).map_err(|e| Error::file(out, e))?;
    let metrics_path = out.join("metrics.jsonl");
    let mut metrics = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .append(control.resume)
        .truncate(!control.resume)
        .open(&metrics_path)
        .map_err(|e| Error::file(&metrics_path, e))?;
    let mut summary = RunSummary::default();
    let mut current = model.to_path_buf();
    for (index, stage) in recipe.stage.iter().enumerate() {
        let _span = tracing::info_span!("stage", name = %stage.name).entered();
        let dir = out.join(&stage.name);
        let saved = match control.resume {
            true => saved_stage(&dir.join("state"))?,
            false => None,
        };
        if let Some(done) = saved.as_ref().filter(|s| s.complete) {
            summary.skipped.merge(&done.skipped_training);
            summary.skipped.merge(&done.skipped_held_out);
            current = dir;
            continue;
        }
        if index > 0 && control.stop_requested() {
            summary.interrupted = Some((stage.name.clone(), 0));
            break;
        }
        let options = TrainerOptions {
            policy: stage.policy()?,
            optimizer: stage.optimizer()?,
            memory: recipe.memory()?,
            device: tch::Device::Cpu,
            adapter_init: None,
            seed: recipe.seed,
            precision: recipe.precision()?,
        };
        let mut trainer = Trainer::new(&current, options)?;
        let (mut position, mut step) = (0usize, 0u64);
        let mut skipped_training = saved
            .as_ref()
            .map(|s| s.skipped_training.clone())
            .unwrap_or_default();
        let mut skipped_held_out = SkipTable::default();
        if saved.is_some() {
            let run = trainer.load_state(&dir.join("state"))?;
            position = run["data_position"].as_u64().unwrap_or(0) as usize;
            step = run["stage_step"].as_u64().unwrap_or(0);
        }
        let max_len = trainer.model().decoder().config().max_position_embeddings;
        let sets = datasets(recipe, stage)?;
        // Held-out rows first in each file; the rest drawn by weight, shuffled by seed.
        let mut order = Vec::new();
        let mut held = Vec::new();
        for (d, (set, weight, held_out)) in sets.iter().enumerate() {
            let n = set.len();
            held.extend((0..(*held_out).min(n)).map(|i| (d, i)));
            let train: Vec<usize> = ((*held_out).min(n)..n).collect();
            let draws = (weight * train.len() as f64).round() as usize;
            order.extend((0..draws).map(|k| (d, train[k % train.len().max(1)])));
        }
        shuffle(&mut order, recipe.seed.wrapping_add(index as u64));
        let held_out: Vec<Encoded> = held
            .iter()
            .filter_map(|&(d, i)| encode_row(&trainer, &sets, max_len, d, i, &mut skipped_held_out))
            .collect();
        if order.is_empty() {
            return Err(Error::example(format!(
                "stage {}: every row is held out, none left to train on",
                stage.name
            )));
        }
        let mut stopped = false;
        while step < stage.steps {
            let mut micro = Vec::new();
            let mut tried = 0;
            while micro.len() < stage.accumulation && tried <= order.len() {
                let mut batch = Vec::new();
                while batch.len() < stage.batch_size && tried <= order.len() {
                    let (d, i) = order[position % order.len().max(1)];
                    position += 1;
                    tried += 1;
                    batch.extend(encode_row(
                        &trainer,
                        &sets,
                        max_len,
                        d,
                        i,
                        &mut skipped_training,
                    ));
                }
                if !batch.is_empty() {
                    micro.push(batch);
                }
            }
            if micro.is_empty() {
                return Err(Error::example(format!(
                    "stage {}: no usable row in its datasets",
                    stage.name
                )));
            }
            let refs: Vec<Vec<&Encoded>> = micro.iter().map(|b| b.iter().collect()).collect();
            let start = Instant::now();
            let report = trainer.step(&refs)?;
            step += 1;
            let tokens_per_s = report.tokens as f64 / start.elapsed().as_secs_f64().max(1e-9);
            let eval = if !held_out.is_empty()
                && (step == stage.steps || (stage.eval_every > 0 && step % stage.eval_every == 0))
            {
                let refs: Vec<&Encoded> = held_out.iter().collect();
                Some(trainer.eval(&refs)?)
            } else {
                None
            };
            let line = serde_json::json!({
                "stage": stage.name, "step": step, "loss": report.loss,
                "grad_norm": report.grad_norm, "tokens": report.tokens,
                "tokens_per_s": tokens_per_s,
                "lr": report.lr.iter().map(|(c, v)| (c.name().to_string(), serde_json::json!(v))).collect::<serde_json::Map<_, _>>(),
                "held_out_loss": eval,
            });
            writeln!(metrics, "{line}").map_err(|e| Error::file(&metrics_path, e))?;
            summary.losses.push(report.loss);
            if let (Some(l), true) = (eval, step == stage.steps) {
                summary.held_out.push((stage.name.clone(), l));
            }
            progress(&Progress {
                stage: &stage.name,
                step,
                total: stage.steps,
                report: &report,
                tokens_per_s,
            });
            if step < stage.steps && control.stop_requested() {
                stopped = true;
                break;
            }
        }
        save_stage(
            &trainer,
            recipe,
            &dir,
            &StageProgress {
                position,
                step,
                complete: !stopped,
                skipped_training: &skipped_training,
                skipped_held_out: &skipped_held_out,
            },
        )?;
        summary.skipped.merge(&skipped_training);
        summary.skipped.merge(&skipped_held_out);
        current = dir;
        if stopped {
            summary.interrupted = Some((stage.name.clone(), step));
            break;
        }
    }
    drop(metrics);
    let png = out.join("loss.png");
    crate::plot::write_loss_curve(&crate::plot::read_metrics(&metrics_path)?, &png)?;
    summary.checkpoint = current;
    Ok(summary)
}
