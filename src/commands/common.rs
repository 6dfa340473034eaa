//! Arguments shared by the subcommands that run the model, and their conversion.

use anyhow::{bail, Context, Result};
use clap::Args;
use hulu_io::dicom::{MixedOrientation, SeriesChoice};
use hulu_io::nifti::{SliceAxis, Window};
use hulu_model::{
    GenerateOptions, HuluMed, HuluMedBuilder, Item, LoadOptions, PrepareOptions, Turn, VisualSource,
};
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tch::{Device, Kind};

/// Which checkpoint, on which device, in which dtype.
#[derive(Args, Debug, Clone)]
pub struct ModelArgs {
    /// Checkpoint directory (Hugging Face layout). The repository's tiny random-weight model
    /// is tests/fixtures/models/tiny-qwen2 (its answers are random words).
    #[arg(long, env = "HULU_MODEL")]
    pub model: PathBuf,
    /// f32, bf16 or f16.
    #[arg(long, default_value = "f32")]
    pub dtype: String,
    /// cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// Weight-only quantization of the decoder's linear layers at load: int8 (per channel),
    /// int4 (groups of 128 input columns) or int4:G (G = 32, 64, 128 or 256). Embeddings,
    /// norms and lm_head stay in --dtype.
    #[arg(long, value_name = "int8|int4|int4:G")]
    pub quantize: Option<String>,
}

impl ModelArgs {
    /// The libtorch dtype.
    pub fn kind(&self) -> Result<Kind> {
        Ok(match self.dtype.as_str() {
            "f32" | "float32" => Kind::Float,
            "bf16" | "bfloat16" => Kind::BFloat16,
            "f16" | "float16" => Kind::Half,
            other => bail!("unknown dtype {other:?} (f32, bf16, f16)"),
        })
    }

    /// The libtorch device.
    pub fn device(&self) -> Result<Device> {
        Ok(match self.device.as_str() {
            "cpu" => Device::Cpu,
            "cuda" => Device::Cuda(0),
            other => match other.strip_prefix("cuda:") {
                Some(n) => Device::Cuda(n.parse().context("cuda device index")?),
                None => bail!("unknown device {other:?} (cpu, cuda, cuda:N)"),
            },
        })
    }

    /// The quantization asked for, if any.
    pub fn quantization(&self) -> Result<Option<hulu_llm::Quantization>> {
        self.quantize
            .as_deref()
            .map(|q| hulu_llm::Quantization::parse(q).context("--quantize"))
            .transpose()
    }

    /// Loads the model, showing a spinner on a terminal; returns it with the load time.
    pub fn load(&self) -> Result<(HuluMed, Duration)> {
        let spinner = indicatif::ProgressBar::new_spinner();
        spinner.set_message(format!("loading {}", self.model.display()));
        spinner.enable_steady_tick(Duration::from_millis(100));
        let start = Instant::now();
        let model = HuluMedBuilder::new(&self.model)
            .device(self.device()?)
            .kind(self.kind()?)
            .quantization(self.quantization()?)
            .build()
            .with_context(|| format!("loading {}", self.model.display()))?;
        let took = start.elapsed();
        spinner.finish_and_clear();
        Ok((model, took))
    }
}

/// How visual files are read and compressed.
#[derive(Args, Debug, Clone, Default)]
pub struct VisualArgs {
    /// Slices of a volume to use (linspace over the axis).
    #[arg(long)]
    pub slices: Option<usize>,
    /// Volume axis: 0, 1, 2, axial, coronal or sagittal.
    #[arg(long, default_value = "2")]
    pub axis: String,
    /// Grey window: a preset (lung, mediastinum, soft_tissue, bone, brain, abdomen, liver) or
    /// CENTRE/WIDTH in modality units (HU for CT).
    #[arg(long, allow_hyphen_values = true)]
    pub window: Option<String>,
    /// Video and cine frames per second.
    #[arg(long)]
    pub fps: Option<f64>,
    /// Most frames or slices.
    #[arg(long, default_value_t = 180)]
    pub max_frames: usize,
    /// Compress visual tokens between slices and frames.
    #[arg(long, conflicts_with = "no_compress")]
    pub compress: bool,
    /// Do not compress (default: the checkpoint's `use_token_compression`).
    #[arg(long)]
    pub no_compress: bool,
    /// Compression threshold (mean absolute pixel difference, default 0.1).
    #[arg(long)]
    pub threshold: Option<f64>,
    /// Pixel budget in patches shared by all visuals of the question.
    #[arg(long)]
    pub max_visual_tokens: Option<usize>,
    /// Which series of a DICOM folder, zip or DICOMDIR holding several: a Series Instance
    /// UID (has a dot), a Series Number, or `#N` / `index:N` for the N-th (0-based) in
    /// `hulu inspect`'s list (default: the series with the most images).
    #[arg(long, value_name = "UID|NUMBER|#INDEX")]
    pub series: Option<String>,
    /// Stack a DICOM series whose slices' orientations differ, each slice sorted along its
    /// own normal (default: refuse such a series with an error listing the orientations).
    #[arg(long)]
    pub allow_mixed_orientation: bool,
}

impl VisualArgs {
    /// Reading options.
    pub fn load_options(&self) -> Result<LoadOptions> {
        Ok(LoadOptions {
            slices: self.slices,
            axis: SliceAxis::parse(&self.axis)?,
            window: self.window.as_deref().map(parse_window).transpose()?,
            fps: self.fps.or(Some(1.0)),
            max_frames: self.max_frames,
            series: self
                .series
                .as_deref()
                .map(parse_series)
                .transpose()?
                .unwrap_or_default(),
            mixed_orientation: if self.allow_mixed_orientation {
                MixedOrientation::OwnNormal
            } else {
                MixedOrientation::Reject
            },
            ..LoadOptions::default()
        })
    }

    /// Processing options.
    pub fn prepare_options(&self) -> PrepareOptions {
        PrepareOptions {
            compression: if self.compress {
                Some(true)
            } else if self.no_compress {
                Some(false)
            } else {
                None
            },
            compression_threshold: self.threshold,
            max_visual_tokens: self.max_visual_tokens,
            ..PrepareOptions::default()
        }
    }

    /// Reads each file (kind guessed from its name and contents) into a turn item.
    pub fn load_items(&self, files: &[PathBuf]) -> Result<Vec<Item>> {
        let options = self.load_options()?;
        files
            .iter()
            .map(|f| {
                let visual = VisualSource::detect(f)
                    .and_then(|source| source.load(&options))
                    .map_err(|e| reading_error(f, e))?;
                Ok(Item::Visual(visual))
            })
            .collect()
    }
}

/// A reading error with the file named and, for a series the library refuses for its mixed
/// orientations, the CLI switch that stacks it anyway.
pub fn reading_error(file: &std::path::Path, err: hulu_model::Error) -> anyhow::Error {
    let hint = if err.to_string().contains("mixes orientations") {
        " (--allow-mixed-orientation stacks it, each slice along its own normal)"
    } else {
        ""
    };
    anyhow::Error::new(err).context(format!("reading {}{hint}", file.display()))
}

/// A `--series` value: `#N` or `index:N` an index, `number:N` or a plain integer a Series
/// Number, `uid:U` or anything else (UIDs are dotted digits, PS3.5 9.1) a Series Instance UID.
pub fn parse_series(s: &str) -> Result<SeriesChoice> {
    let s = s.trim();
    let index = s.strip_prefix('#').or_else(|| s.strip_prefix("index:"));
    Ok(if let Some(i) = index {
        SeriesChoice::Index(i.parse().with_context(|| format!("--series index {i:?}"))?)
    } else if let Some(n) = s.strip_prefix("number:") {
        SeriesChoice::Number(
            n.parse()
                .with_context(|| format!("--series number {n:?}"))?,
        )
    } else if let Some(uid) = s.strip_prefix("uid:") {
        SeriesChoice::Uid(uid.to_string())
    } else if let Ok(n) = s.parse() {
        SeriesChoice::Number(n)
    } else if s.is_empty() {
        bail!("--series is empty (a UID, a Series Number or #INDEX)")
    } else {
        SeriesChoice::Uid(s.to_string())
    })
}

/// A window preset name or `CENTRE/WIDTH`.
pub fn parse_window(s: &str) -> Result<Window> {
    if let Some((c, w)) = s.split_once(['/', ',']) {
        let number = |part: &str, what: &str| -> Result<f64> {
            part.trim().parse().with_context(|| {
                format!("--window {s:?}: the {what} {part:?} is not a number (CENTRE/WIDTH, e.g. -600/1500, or a preset)")
            })
        };
        let window = Window::new(number(c, "centre")?, number(w, "width")?);
        window.bounds()?;
        Ok(window)
    } else {
        Ok(Window::preset(s)?)
    }
}

/// How the answer is generated.
#[derive(Args, Debug, Clone)]
pub struct GenerateArgs {
    /// Most new tokens.
    #[arg(long, default_value_t = 128)]
    pub max_new_tokens: usize,
    /// Sample with this temperature (default: greedy).
    #[arg(long)]
    pub temperature: Option<f32>,
    /// Top-k filter when sampling.
    #[arg(long, default_value_t = 0)]
    pub top_k: usize,
    /// Top-p (nucleus) filter when sampling.
    #[arg(long, default_value_t = 1.0)]
    pub top_p: f32,
    /// Min-p filter when sampling.
    #[arg(long, default_value_t = 0.0)]
    pub min_p: f32,
    /// Repetition penalty.
    #[arg(long, default_value_t = 1.0)]
    pub repetition_penalty: f32,
    /// Seed for sampling.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Stop when the answer contains this text (repeatable).
    #[arg(long = "stop")]
    pub stop: Vec<String>,
    /// Keep generating past EOS (fixed-length output, as the parity fixtures use).
    #[arg(long)]
    pub ignore_eos: bool,
    /// Remove <think>…</think> from the answer.
    #[arg(long)]
    pub strip_think: bool,
}

impl GenerateArgs {
    /// Generation options.
    pub fn options(&self) -> GenerateOptions {
        let mut sampling = hulu_model::SamplingOptions::greedy();
        if let Some(t) = self.temperature {
            sampling = hulu_model::SamplingOptions {
                do_sample: true,
                temperature: t,
                top_k: self.top_k,
                top_p: self.top_p,
                min_p: self.min_p,
                seed: self.seed,
                ..sampling
            };
        }
        sampling.repetition_penalty = self.repetition_penalty;
        GenerateOptions {
            max_new_tokens: self.max_new_tokens,
            sampling,
            suppress_eos: self.ignore_eos,
            stop_strings: self.stop.clone(),
            strip_think: self.strip_think,
            ..GenerateOptions::default()
        }
    }
}

/// One user turn: the visuals, then the question.
pub fn question_turn(items: Vec<Item>, question: &str) -> Turn {
    let mut items = items;
    items.push(Item::Text(question.to_string()));
    Turn::user(items)
}

/// The one-line summary after an answer.
pub fn summary(g: &hulu_model::Generation, load: Option<Duration>) -> String {
    let c = &g.counts;
    let mut line = format!(
        "[tokens: {} prompt ({} text + {} visual",
        c.total(),
        c.text,
        c.visual_after
    );
    if c.visual_before != c.visual_after {
        line.push_str(&format!(
            " of {}, compression ratio {:.2}",
            c.visual_before,
            c.compression_ratio()
        ));
    }
    line.push_str(&format!("), {} new | ", g.ids.len()));
    if let Some(load) = load {
        line.push_str(&format!("load {:.2}s, ", load.as_secs_f64()));
    }
    line.push_str(&format!(
        "time to first token {:.2}s, prefill {:.0} tok/s, decode {:.1} tok/s, finish {:?}]",
        g.timings.time_to_first_token().as_secs_f64(),
        g.prefill_tokens_per_second(),
        g.decode_tokens_per_second(),
        g.finish
    ));
    line
}
