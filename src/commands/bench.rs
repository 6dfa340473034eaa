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
    /// Passes of the pipeline after one load; each stage reports its median (and range).
    #[arg(long, default_value_t = 1)]
    runs: usize,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    json: bool,
    /// Also time a follow-up question about the same study: from scratch, and with the
    /// encoder and prefix caches the first question filled (as `hulu chat` and `hulu serve`).
    #[arg(long)]
    follow_up: bool,
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

/// One pass of the pipeline after loading, in seconds (and tokens per second).
#[derive(Debug, Clone, Copy)]
struct Pass {
    preprocess: f64,
    vision: f64,
    prefill: f64,
    prefill_tps: f64,
    decode: f64,
    decode_tps: f64,
    end_to_end: f64,
}

/// The median of `values` and their range.
fn summary(values: impl Iterator<Item = f64>) -> (f64, f64, f64) {
    let mut v: Vec<f64> = values.collect();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let median = if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    };
    (median, v[0], v[n - 1])
}

/// Runs the benchmark and prints one line per stage (or JSON): the median over `--runs`
/// passes after one load, with the range when there are several.
pub fn run(args: &BenchArgs) -> Result<()> {
    let source = match (&args.nifti, &args.dicom, &args.video) {
        (Some(p), _, _) => VisualSource::Nifti(p.clone()),
        (_, Some(p), _) => VisualSource::Dicom(p.clone()),
        (_, _, Some(p)) => VisualSource::Video(p.clone()),
        _ => bail!("give --nifti FILE, --dicom DIR or --video FILE"),
    };
    if args.runs == 0 {
        bail!("--runs must be at least 1");
    }
    let axis = SliceAxis::parse(&args.axis)?;
    let _span = tracing::info_span!("bench").entered();
    let t = Instant::now();
    let (model, _) = args.model.load()?;
    let load = t.elapsed().as_secs_f64();
    let peak_load = peak_rss_bytes();
    let staged = reset_peak_rss();

    let mut passes = Vec::with_capacity(args.runs);
    let (mut peak_prepare, mut peak_generate) = (None, None);
    let mut shape = None;
    let mut last_visual = None;
    for _ in 0..args.runs {
        let e2e = Instant::now();
        let t = Instant::now();
        let visual = source.load(&LoadOptions {
            slices: Some(args.slices),
            axis,
            fps: None,
            max_frames: args.slices,
            ..LoadOptions::default()
        })?;
        let read = t.elapsed();
        let frames = visual.frames.len();
        last_visual = Some(visual.clone());
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
        peak_prepare = peak_prepare.max(peak_rss_bytes());
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
        let end_to_end = e2e.elapsed().as_secs_f64();
        peak_generate = peak_generate.max(peak_rss_bytes());
        reset_peak_rss();
        passes.push(Pass {
            preprocess: (read + prepared.timings.preprocess).as_secs_f64(),
            vision: (prepared.timings.vision + prepared.timings.compress).as_secs_f64(),
            prefill: generation.timings.prefill.as_secs_f64(),
            prefill_tps: generation.prefill_tokens_per_second(),
            decode: generation.timings.decode.as_secs_f64(),
            decode_tps: generation.decode_tokens_per_second(),
            end_to_end,
        });
        let patches: usize = prepared.grids.iter().map(|g| g.patches()).sum();
        shape = Some((frames, patches, prepared.counts, generation.ids.len()));
    }
    let (frames, patches, c, new_tokens) = shape.expect("at least one run");
    let follow_up = match (args.follow_up, last_visual) {
        (true, Some(visual)) => Some(super::follow_up::measure(
            &model,
            Item::Visual(visual),
            "Describe the findings in this study.",
            &PrepareOptions {
                compression: Some(args.compress),
                ..PrepareOptions::default()
            },
            args.new_tokens,
        )?),
        _ => None,
    };
    // The whole run's peak is the largest stage peak (each reset restarts from the current
    // size, never below it).
    let peak = [peak_load, peak_prepare, peak_generate]
        .into_iter()
        .flatten()
        .max();
    let stage_peaks = staged.then_some((peak_load, peak_prepare, peak_generate));
    let stat = |f: fn(&Pass) -> f64| summary(passes.iter().map(f));
    let preprocess = stat(|p| p.preprocess);
    let vision = stat(|p| p.vision);
    let prefill = stat(|p| p.prefill);
    let prefill_tps = stat(|p| p.prefill_tps);
    let decode = stat(|p| p.decode);
    let decode_tps = stat(|p| p.decode_tps);
    let end_to_end = stat(|p| p.end_to_end);
    let report = json!({
        "model": args.model.model.display().to_string(),
        // What `auto` resolved to, not the flag.
        "dtype": super::select::kind_name(model.kind()),
        "device": format!("{:?}", model.device()),
        "runs": args.runs,
        "frames": frames,
        "patches": patches,
        "visual_tokens_before": c.visual_before,
        "visual_tokens_after": c.visual_after,
        "prompt_tokens": c.total(),
        "new_tokens": new_tokens,
        "load_s": load,
        "preprocess_s": preprocess.0,
        "vision_projector_compression_s": vision.0,
        "prefill_s": prefill.0,
        "prefill_tok_per_s": prefill_tps.0,
        "decode_s": decode.0,
        "decode_tok_per_s": decode_tps.0,
        "end_to_end_s": end_to_end.0,
        "ranges": {
            "preprocess_s": [preprocess.1, preprocess.2],
            "vision_projector_compression_s": [vision.1, vision.2],
            "prefill_tok_per_s": [prefill_tps.1, prefill_tps.2],
            "decode_tok_per_s": [decode_tps.1, decode_tps.2],
            "end_to_end_s": [end_to_end.1, end_to_end.2],
        },
        "peak_rss_bytes": peak,
        "peak_rss_load_bytes": peak_load,
        "peak_rss_preprocess_vision_bytes": stage_peaks.and_then(|p| p.1),
        "peak_rss_generate_bytes": stage_peaks.and_then(|p| p.2),
        "follow_up": follow_up.map(super::follow_up::FollowUp::to_json),
    });
    if args.json {
        println!("{report}");
        return Ok(());
    }
    let range = |(_, lo, hi): (f64, f64, f64), digits: usize| {
        if args.runs > 1 {
            format!("  [{lo:.digits$} – {hi:.digits$}]")
        } else {
            String::new()
        }
    };
    println!(
        "model        {} ({}, {:?})",
        args.model.model.display(),
        super::select::kind_name(model.kind()),
        model.device()
    );
    println!("input        {frames} frames, {patches} patches");
    if args.runs > 1 {
        println!("runs         {} (median, [min – max])", args.runs);
    }
    println!("load         {load:>8.2} s");
    println!(
        "preprocess   {:>8.2} s  (file -> pixel values){}",
        preprocess.0,
        range(preprocess, 2)
    );
    println!(
        "vision       {:>8.2} s  (encoder + projector + compression: {} -> {} visual tokens){}",
        vision.0,
        c.visual_before,
        c.visual_after,
        range(vision, 2)
    );
    println!(
        "prefill      {:>8.2} s  ({} tokens, {:.1} tok/s){}",
        prefill.0,
        c.total(),
        prefill_tps.0,
        range(prefill_tps, 1)
    );
    println!(
        "decode       {:>8.2} s  ({new_tokens} tokens, {:.2} tok/s){}",
        decode.0,
        decode_tps.0,
        range(decode_tps, 2)
    );
    println!(
        "end to end   {:>8.2} s  (preprocess + generate){}",
        end_to_end.0,
        range(end_to_end, 2)
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
    if let Some(f) = follow_up {
        println!(
            "follow-up    time to first token: first turn {:.2} s; second turn {:.2} s from scratch, \
             {:.2} s with the caches ({:.0}% of scratch, {:.0}% of the first turn; {} of {} prompt tokens reused)",
            f.first,
            f.second_plain,
            f.second_reused,
            100.0 * f.second_reused / f.second_plain,
            100.0 * f.second_reused / f.first,
            f.reused_tokens,
            f.prompt_tokens,
        );
    }
    Ok(())
}
