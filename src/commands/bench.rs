//! `hulu bench`: the real pipeline on a question about a volume (or a DICOM series, or a
//! video), timed stage by stage, with peak memory.

use super::common::{question_turn, ModelArgs};
use anyhow::{bail, Result};
use clap::Args;
use hulu_io::nifti::SliceAxis;
use hulu_model::{GenerateOptions, Item, LoadOptions, PrepareOptions, VisualSource};
use serde_json::json;
use std::path::PathBuf;
use std::time::Instant;

/// Arguments of `hulu bench`.
#[derive(Args, Debug)]
pub struct BenchArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// A NIfTI volume to ask about.
    #[arg(long, group = "input")]
    nifti: Option<PathBuf>,
    /// A DICOM series folder (or file) to ask about.
    #[arg(long, group = "input")]
    dicom: Option<PathBuf>,
    /// An MP4 video to ask about.
    #[arg(long, group = "input")]
    video: Option<PathBuf>,
    /// Slices (or frames) to use.
    #[arg(long, default_value_t = 8)]
    slices: usize,
    /// Volume axis.
    #[arg(long, default_value = "2")]
    axis: String,
    /// New tokens to generate (EOS ignored, so every run generates exactly this many).
    #[arg(long = "new", default_value_t = 32)]
    new_tokens: usize,
    /// Compress visual tokens between slices.
    #[arg(long)]
    compress: bool,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    json: bool,
}

/// Peak resident memory of this process (VmHWM), in bytes; `None` off Linux.
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Restarts the peak-RSS count from the current resident size (Linux `clear_refs` 5), so each
/// stage's own peak can be read; false where that is unsupported.
pub fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// Runs the benchmark and prints one line per stage (or JSON).
pub fn run(args: &BenchArgs) -> Result<()> {
    let source = match (&args.nifti, &args.dicom, &args.video) {
        (Some(p), _, _) => VisualSource::Nifti(p.clone()),
        (_, Some(p), _) => VisualSource::Dicom(p.clone()),
        (_, _, Some(p)) => VisualSource::Video(p.clone()),
        _ => bail!("give --nifti FILE, --dicom DIR or --video FILE"),
    };
    let _span = tracing::info_span!("bench").entered();
    let t = Instant::now();
    let (model, _) = args.model.load()?;
    let load = t.elapsed();
    let peak_load = peak_rss_bytes();
    let staged = reset_peak_rss();

    let e2e = Instant::now();
    let t = Instant::now();
    let visual = source.load(&LoadOptions {
        slices: Some(args.slices),
        axis: SliceAxis::parse(&args.axis)?,
        fps: None,
        max_frames: args.slices,
        ..LoadOptions::default()
    })?;
    let read = t.elapsed();
    let frames = visual.frames.len();
    let turns = [question_turn(
        vec![Item::Visual(visual)],
        "Describe the findings in this study.",
    )];
    let prepared = model.prepare(
        &turns,
        &PrepareOptions {
            compression: Some(args.compress),
            ..PrepareOptions::default()
        },
    )?;
    let peak_prepare = peak_rss_bytes();
    reset_peak_rss();
    let generation = model.generate_prepared(
        &prepared,
        &GenerateOptions {
            max_new_tokens: args.new_tokens,
            suppress_eos: true,
            ..GenerateOptions::default()
        },
        |_| {},
    )?;
    let e2e = e2e.elapsed();
    let preprocess = read + prepared.timings.preprocess;
    let vision = prepared.timings.vision + prepared.timings.compress;
    let c = &prepared.counts;
    let patches: usize = prepared.grids.iter().map(|g| g.patches()).sum();
    let peak_generate = peak_rss_bytes();
    // The whole run's peak is the largest stage peak (each reset restarts from the current
    // size, never below it).
    let peak = [peak_load, peak_prepare, peak_generate]
        .into_iter()
        .flatten()
        .max();
    let stage_peaks = staged.then_some((peak_load, peak_prepare, peak_generate));
    let report = json!({
        "model": args.model.model.display().to_string(),
        "dtype": args.model.dtype,
        "device": args.model.device,
        "frames": frames,
        "patches": patches,
        "visual_tokens_before": c.visual_before,
        "visual_tokens_after": c.visual_after,
        "prompt_tokens": c.total(),
        "new_tokens": generation.ids.len(),
        "load_s": load.as_secs_f64(),
        "preprocess_s": preprocess.as_secs_f64(),
        "vision_projector_compression_s": vision.as_secs_f64(),
        "prefill_s": generation.timings.prefill.as_secs_f64(),
        "prefill_tok_per_s": generation.prefill_tokens_per_second(),
        "decode_s": generation.timings.decode.as_secs_f64(),
        "decode_tok_per_s": generation.decode_tokens_per_second(),
        "end_to_end_s": e2e.as_secs_f64(),
        "peak_rss_bytes": peak,
        "peak_rss_load_bytes": peak_load,
        "peak_rss_preprocess_vision_bytes": stage_peaks.and_then(|p| p.1),
        "peak_rss_generate_bytes": stage_peaks.and_then(|p| p.2),
    });
    if args.json {
        println!("{report}");
        return Ok(());
    }
    println!(
        "model        {} ({}, {})",
        args.model.model.display(),
        args.model.dtype,
        args.model.device
    );
    println!("input        {frames} frames, {patches} patches");
    println!("load         {:>8.2} s", load.as_secs_f64());
    println!(
        "preprocess   {:>8.2} s  (file -> pixel values)",
        preprocess.as_secs_f64()
    );
    println!(
        "vision       {:>8.2} s  (encoder + projector + compression: {} -> {} visual tokens)",
        vision.as_secs_f64(),
        c.visual_before,
        c.visual_after
    );
    println!(
        "prefill      {:>8.2} s  ({} tokens, {:.1} tok/s)",
        generation.timings.prefill.as_secs_f64(),
        c.total(),
        generation.prefill_tokens_per_second()
    );
    println!(
        "decode       {:>8.2} s  ({} tokens, {:.2} tok/s)",
        generation.timings.decode.as_secs_f64(),
        generation.ids.len(),
        generation.decode_tokens_per_second()
    );
    println!(
        "end to end   {:>8.2} s  (preprocess + generate)",
        e2e.as_secs_f64()
    );
    match peak {
        Some(bytes) => println!("peak RSS     {:>8.2} GB", bytes as f64 / 1e9),
        None => println!("peak RSS     unknown"),
    }
    if let Some((Some(l), Some(p), Some(g))) = stage_peaks {
        let gb = |b: u64| b as f64 / 1e9;
        println!(
            "  by stage   load {:.2} GB, preprocess + vision {:.2} GB, generate {:.2} GB",
            gb(l),
            gb(p),
            gb(g)
        );
    }
    Ok(())
}
