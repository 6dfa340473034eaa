//! Arguments shared by the subcommands that run the model, and their conversion.

use crate::failure::Categorize;
use anyhow::{bail, Context, Result};
use clap::Args;
use hulu_io::dicom::{MixedOrientation, SeriesChoice};
use hulu_io::nifti::{SliceAxis, Window};
use hulu_model::{GenerateOptions, HuluMed, Item, LoadOptions, PrepareOptions, Turn, VisualSource};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tch::{Device, Kind};

/// Which checkpoint, on which device, in which dtype.
#[derive(Args, Debug, Clone)]
pub struct ModelArgs {
    /// Checkpoint: a directory (Hugging Face layout) or a Hub id `org/name[@revision]` found
    /// in the Hugging Face cache (HF_HUB_CACHE, else HF_HOME/hub, else
    /// ~/.cache/huggingface/hub); a Hub id missing there is downloaded only with --download.
    /// The repository's tiny random-weight model is tests/fixtures/models/tiny-qwen2 (its
    /// answers are random words).
    #[arg(long, env = "HULU_MODEL")]
    pub model: PathBuf,
    /// Download a Hub id missing from the cache into it (config, tokenizer, template and
    /// *.safetensors files only; no *.bin). From HF_ENDPOINT (default https://huggingface.co)
    /// with HF_TOKEN (else the `huggingface-cli login` token); HF_HUB_OFFLINE=1 refuses it.
    /// HULU_DOWNLOAD takes 1/0, true/false, yes/no or on/off.
    #[arg(long, env = "HULU_DOWNLOAD", value_parser = clap::builder::BoolishValueParser::new())]
    pub download: bool,
    /// auto (the checkpoint's torch_dtype; on a CPU, bf16 only where the CPU has native bf16,
    /// else f32), f32, bf16 or f16.
    #[arg(long, default_value = "auto")]
    pub dtype: String,
    /// auto (CUDA when libtorch has it, else CPU), cpu, cuda or cuda:N.
    #[arg(long, default_value = "auto")]
    pub device: String,
    /// Weight-only quantization of the decoder's linear layers at load: int8 (per channel),
    /// int4 (groups of 128 input columns) or int4:G (G = 32, 64, 128 or 256). Embeddings,
    /// norms and lm_head stay in --dtype.
    #[arg(long, value_name = "int8|int4|int4:G")]
    pub quantize: Option<String>,
    /// With --quantize: quantize the vocabulary tables too (embed_tokens and lm_head), which
    /// are much of a small model's bytes and of its decode time; costs some accuracy.
    #[arg(long, requires = "quantize")]
    pub quantize_embeddings: bool,
    /// Load even when the estimated memory (weights in the dtype plus a fifth) exceeds what
    /// is available.
    #[arg(long)]
    pub force: bool,
    /// Memory the load may use, e.g. 8G (default: MemAvailable of /proc/meminfo within the
    /// cgroup limit). Checked on CPU only.
    #[arg(long, value_name = "SIZE")]
    pub memory_limit: Option<String>,
}

/// A checkpoint found, with its device and dtype chosen and its memory checked: everything
/// about the model that can fail before its weights are read.
#[derive(Debug, Clone)]
pub struct ResolvedModel {
    /// The checkpoint directory.
    pub dir: PathBuf,
    /// The device.
    pub device: Device,
    /// The dtype.
    pub kind: Kind,
    /// Weight-only quantization of the decoder's projections, if asked for.
    pub quantization: Option<hulu_llm::Quantization>,
    /// Whether the vocabulary tables are quantized too.
    pub quantize_embeddings: bool,
}

impl ModelArgs {
    /// Finds the checkpoint, chooses device and dtype, and checks memory (unless `--force`).
    ///
    /// # Errors
    ///
    /// Usage errors for unknown values; model errors for a checkpoint not found (naming where
    /// it looked), CUDA unavailable, or a load that would not fit.
    pub fn resolve(&self) -> Result<ResolvedModel> {
        let limit = self
            .memory_limit
            .as_deref()
            .map(super::select::parse_size)
            .transpose()?;
        let device = super::select::device(&self.device)?;
        let hub = hulu_model::hub::HubOptions {
            download: self.download,
            progress: std::io::stderr().is_terminal(),
            cache: None,
        };
        let dir = hulu_model::hub::resolve_with(&self.model, &hub).model()?;
        let kind = super::select::kind(&self.dtype, &dir, device)?;
        if !self.force {
            super::select::check_memory(&dir, device, kind, limit)?;
        }
        let quantization = self
            .quantize
            .as_deref()
            .map(|q| hulu_llm::Quantization::parse(q).context("--quantize"))
            .transpose()
            .usage()?;
        Ok(ResolvedModel {
            dir,
            device,
            kind,
            quantization,
            quantize_embeddings: self.quantize_embeddings,
        })
    }

    /// Resolves and loads the model, showing a spinner on a terminal; returns it with the
    /// load time.
    ///
    /// # Errors
    ///
    /// Those of [`Self::resolve`] and [`ResolvedModel::load`].
    pub fn load(&self) -> Result<(HuluMed, Duration)> {
        self.resolve()?.load()
    }
}

impl ResolvedModel {
    /// Loads the weights, showing a spinner on a terminal; returns the model with the load
    /// time.
    ///
    /// # Errors
    ///
    /// A model error naming the checkpoint.
    pub fn load(&self) -> Result<(HuluMed, Duration)> {
        let spinner = super::progress::spinner(format!(
            "loading {} ({}, {:?})",
            self.dir.display(),
            super::select::kind_name(self.kind),
            self.device
        ));
        let start = Instant::now();
        let model = hulu_model::HuluMedBuilder::new(&self.dir)
            .device(self.device)
            .kind(self.kind)
            .quantization(self.quantization)
            .quantize_embeddings(self.quantize_embeddings)
            .build()
            .with_context(|| format!("loading {}", self.dir.display()))
            .model()?;
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

    /// Reads each file (kind guessed from its name and contents) into a turn item, with a
    /// spinner per file on a terminal.
    ///
    /// # Errors
    ///
    /// A usage error for a reading flag that does not parse; an input error naming the file
    /// that cannot be read.
    pub fn load_items(&self, files: &[PathBuf]) -> Result<Vec<Item>> {
        let options = self.load_options().usage()?;
        files
            .iter()
            .map(|f| {
                let spinner = super::progress::spinner(format!("reading {}", f.display()));
                let visual = VisualSource::detect(f)
                    .and_then(|source| source.load(&options))
                    .map_err(|e| reading_error(f, e))
                    .input()?;
                spinner.finish_and_clear();
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
    /// Greedy decoding instead of the checkpoint's sampling defaults (generation_config.json).
    /// MedUniEval, the authors' evaluation, decodes greedily: use this to compare with it.
    #[arg(long, conflicts_with_all = ["temperature", "top_k", "top_p", "min_p"])]
    pub greedy: bool,
    /// Sampling temperature (default: generation_config.json's; sampling is on by default
    /// when that file says do_sample).
    #[arg(long)]
    pub temperature: Option<f32>,
    /// Top-k filter (default: generation_config.json's, else 50; 0 is off).
    #[arg(long)]
    pub top_k: Option<usize>,
    /// Top-p (nucleus) filter (default: generation_config.json's, else 1).
    #[arg(long)]
    pub top_p: Option<f32>,
    /// Min-p filter (default: generation_config.json's, else 0).
    #[arg(long)]
    pub min_p: Option<f32>,
    /// Repetition penalty (default: generation_config.json's, else 1).
    #[arg(long)]
    pub repetition_penalty: Option<f32>,
    /// Seed for sampling.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Stop when the answer contains this text (repeatable).
    #[arg(long = "stop")]
    pub stop: Vec<String>,
    /// Keep generating past EOS (fixed-length output, as the parity fixtures use).
    #[arg(long)]
    pub ignore_eos: bool,
    /// Keep the <think>…</think> reasoning in the answer (removed by default, as the official
    /// decode does).
    #[arg(long)]
    pub show_think: bool,
}

impl GenerateArgs {
    /// Generation options: the checkpoint's `generation_config.json` sampling (or greedy with
    /// `--greedy`), with each sampling flag given overriding its field.
    pub fn options(&self, generation: &hulu_model::GenerationConfig) -> GenerateOptions {
        let mut sampling = if self.greedy {
            hulu_model::SamplingOptions::greedy()
        } else {
            hulu_model::SamplingOptions::from_generation_config(generation, self.seed)
        };
        if let Some(t) = self.temperature {
            sampling.do_sample = true;
            sampling.temperature = t;
        }
        sampling.top_k = self.top_k.unwrap_or(sampling.top_k);
        sampling.top_p = self.top_p.unwrap_or(sampling.top_p);
        sampling.min_p = self.min_p.unwrap_or(sampling.min_p);
        sampling.repetition_penalty = self
            .repetition_penalty
            .unwrap_or(sampling.repetition_penalty);
        GenerateOptions {
            max_new_tokens: self.max_new_tokens,
            sampling,
            suppress_eos: self.ignore_eos,
            stop_strings: self.stop.clone(),
            strip_think: !self.show_think,
            ..GenerateOptions::default()
        }
    }
}

/// Which system prompt a conversation starts with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SystemPrompt {
    /// The checkpoint template's own (`add_system_prompt`, as the official usage passes it).
    Default,
    /// None.
    None,
    /// This text, as a system turn.
    Text(String),
}

impl SystemPrompt {
    /// Reads a `--system-prompt` value: `default`, `none`, or the text itself.
    pub fn parse(value: &str) -> SystemPrompt {
        match value {
            "default" => SystemPrompt::Default,
            "none" => SystemPrompt::None,
            text => SystemPrompt::Text(text.to_string()),
        }
    }

    /// The system turn that starts the conversation, if any.
    pub fn turn(&self) -> Option<Turn> {
        match self {
            SystemPrompt::Text(text) => Some(Turn::system(text.clone())),
            _ => None,
        }
    }

    /// Sets the template's `add_system_prompt` in `options`.
    pub fn apply(&self, options: &mut PrepareOptions) {
        options.add_system_prompt = *self == SystemPrompt::Default;
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
