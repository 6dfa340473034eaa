//! A manifest run: one study a line in, one answer (or the study's error) a line out,
//! appended and flushed as each finishes, so that a restart skips what is done.

use super::spec::{from_json, CallOptions, InputSpec};
use super::{error_class, ErrorClass};
use crate::conversation::{Item, Turn};
use crate::error::{Error, Result};
use crate::generate::{FinishReason, Generation};
use crate::model::HuluMed;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::HashSet;
use std::fs::OpenOptions;
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::Path;

/// One line of a manifest: an id, the question, the visual inputs, and per-study options.
///
/// ```json
/// {"id": "ct-001", "question": "Describe the findings.",
///  "inputs": [{"type": "dicom_series", "path": "exports/ct-001", "slices": 32}],
///  "options": {"window": "lung", "max_new_tokens": 64}}
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Study {
    /// Unique within the manifest: the key a restart skips by.
    pub id: String,
    /// The question, after the inputs in the user turn.
    pub question: String,
    /// Visual inputs, in order.
    #[serde(default)]
    pub inputs: Vec<InputSpec>,
    /// Per-study options over the run's.
    #[serde(default)]
    pub options: Option<CallOptions>,
}

impl Study {
    /// Parses one manifest line.
    ///
    /// # Errors
    /// [`Error::InvalidRequest`] naming the field (`study.inputs[0].type`).
    pub fn from_json(line: &str) -> Result<Self> {
        from_json(line, "study")
    }
}

/// What one study produced: the answer, or the error that stopped it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StudyAnswer {
    /// The study's id.
    pub id: String,
    /// The answer, or what failed.
    #[serde(flatten)]
    pub outcome: Outcome,
}

/// An answered or failed study.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Outcome {
    /// The model answered.
    Answered {
        /// Visible text.
        text: String,
        /// `eos`, `stop_string`, `max_tokens` or `cancelled`.
        finish_reason: &'static str,
        /// Generated token ids.
        ids: Vec<i64>,
        /// Prompt tokens: text, visual before and after compression.
        tokens: Value,
    },
    /// The study could not be answered.
    Failed {
        /// The error's class and message.
        error: Value,
    },
}

impl StudyAnswer {
    /// The answer line for a generation.
    pub fn answered(id: String, g: &Generation) -> Self {
        StudyAnswer {
            id,
            outcome: Outcome::Answered {
                text: g.text.clone(),
                finish_reason: finish_name(g.finish),
                ids: g.ids.clone(),
                tokens: json!({
                    "text": g.counts.text,
                    "visual_before": g.counts.visual_before,
                    "visual_after": g.counts.visual_after,
                }),
            },
        }
    }

    /// The line for a failed study: the error's class and its message with every source.
    pub fn failed(id: String, err: &Error) -> Self {
        let class: ErrorClass = error_class(err);
        StudyAnswer {
            id,
            outcome: Outcome::Failed {
                error: json!({"class": class.name(), "message": message_chain(err)}),
            },
        }
    }

    /// The JSON line (no newline).
    pub fn to_line(&self) -> String {
        serde_json::to_string(self).expect("an answer serialises")
    }
}

/// The error and its sources, `: `-joined (each `Display` leaves its source out).
pub fn message_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(e) = source {
        let s = e.to_string();
        if !text.contains(&s) {
            text.push_str(": ");
            text.push_str(&s);
        }
        source = e.source();
    }
    text
}

/// The finish reason as the answer line (and OpenAI's API) names it.
pub fn finish_name(f: FinishReason) -> &'static str {
    match f {
        FinishReason::Eos => "eos",
        FinishReason::StopString => "stop_string",
        FinishReason::MaxTokens => "max_tokens",
        FinishReason::Cancelled => "cancelled",
    }
}

/// Answers one study: its inputs read with its options over `defaults`, one user turn of
/// the inputs then the question. Never fails: an error is the answer's outcome.
pub fn answer_study(model: &HuluMed, study: &Study, defaults: &CallOptions) -> StudyAnswer {
    let _span = tracing::info_span!("study", id = %study.id).entered();
    match try_answer(model, study, defaults) {
        Ok(g) => StudyAnswer::answered(study.id.clone(), &g),
        Err(e) => StudyAnswer::failed(study.id.clone(), &e),
    }
}

fn try_answer(model: &HuluMed, study: &Study, defaults: &CallOptions) -> Result<Generation> {
    let options = study
        .options
        .as_ref()
        .map_or_else(|| defaults.clone(), |o| o.or(defaults));
    let read = options.read_options();
    let mut items = study
        .inputs
        .iter()
        .map(|input| input.load(&read).map(Item::Visual))
        .collect::<Result<Vec<_>>>()?;
    items.push(Item::Text(study.question.clone()));
    model.generate(
        &[Turn::user(items)],
        &options.prepare_options(),
        &options.generate_options(),
    )
}

/// Answers one manifest line (`line` is 1-based, for the id of a line without one).
pub fn answer_line(
    model: &HuluMed,
    text: &str,
    line: usize,
    defaults: &CallOptions,
) -> StudyAnswer {
    match Study::from_json(text) {
        Ok(study) => answer_study(model, &study, defaults),
        Err(e) => StudyAnswer::failed(line_id(text, line), &e),
    }
}

/// The id of a manifest line: its `id` field when it has one, else `line N`.
pub fn line_id(text: &str, line: usize) -> String {
    serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|v| v.get("id").and_then(Value::as_str).map(str::to_string))
        .unwrap_or_else(|| format!("line {line}"))
}

/// What a run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchSummary {
    /// Studies answered in this run.
    pub answered: usize,
    /// Studies that failed in this run (recorded with their error).
    pub failed: usize,
    /// Studies skipped because the output already had them.
    pub skipped: usize,
}

/// Answers every study of `manifest` (JSON Lines, blank lines ignored) into `out`, one line
/// each, appended and flushed as each finishes. Studies whose id `out` already holds are
/// skipped, so an interrupted run resumes where it stopped; a partial last line (a crash in
/// mid-write) is cut off first. A study that fails is recorded with its error and the run
/// goes on. `on_answer` sees each new line.
///
/// # Errors
/// [`Error::Io`] for the manifest or output file, [`Error::Manifest`] for an id used twice
/// (a restart could not tell the studies apart).
pub fn run_batch(
    model: &HuluMed,
    manifest: &Path,
    out: &Path,
    defaults: &CallOptions,
    mut on_answer: impl FnMut(&StudyAnswer),
) -> Result<BatchSummary> {
    let _span = tracing::info_span!("batch", manifest = %manifest.display()).entered();
    let lines = read_manifest(manifest)?;
    let done = done_ids(out)?;
    let mut file = OpenOptions::new()
        .append(true)
        .create(true)
        .open(out)
        .map_err(|e| Error::io(out, e))?;
    let mut summary = BatchSummary::default();
    for (number, text) in lines {
        if done.contains(&line_id(&text, number)) {
            summary.skipped += 1;
            continue;
        }
        let answer = answer_line(model, &text, number, defaults);
        match answer.outcome {
            Outcome::Answered { .. } => summary.answered += 1,
            Outcome::Failed { .. } => summary.failed += 1,
        }
        writeln!(file, "{}", answer.to_line())
            .and_then(|()| file.flush())
            .map_err(|e| Error::io(out, e))?;
        on_answer(&answer);
    }
    Ok(summary)
}

/// The manifest's non-blank lines with their 1-based numbers; ids must be unique.
///
/// # Errors
/// [`Error::Io`] when it cannot be read, [`Error::Manifest`] for a repeated id.
pub fn read_manifest(manifest: &Path) -> Result<Vec<(usize, String)>> {
    let file = hulu_io::file::open_regular(manifest).map_err(Error::Media)?;
    let mut seen = HashSet::new();
    let mut lines = Vec::new();
    for (i, line) in BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|e| Error::io(manifest, e))?;
        if line.trim().is_empty() {
            continue;
        }
        let id = line_id(&line, i + 1);
        if !seen.insert(id.clone()) {
            return Err(Error::Manifest {
                path: manifest.to_path_buf(),
                line: i + 1,
                reason: format!("id {id:?} is used by an earlier line"),
            });
        }
        lines.push((i + 1, line));
    }
    Ok(lines)
}

/// Ids already answered in `out` (none when it does not exist). A last line without its
/// newline was cut by a crash: it is truncated away so its study runs again.
fn done_ids(out: &Path) -> Result<HashSet<String>> {
    let mut file = match OpenOptions::new().read(true).write(true).open(out) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(HashSet::new()),
        Err(e) => return Err(Error::io(out, e)),
    };
    let mut text = String::new();
    std::io::Read::read_to_string(&mut file, &mut text).map_err(|e| Error::io(out, e))?;
    let complete = text.rfind('\n').map_or(0, |i| i + 1);
    if complete < text.len() {
        file.set_len(complete as u64)
            .map_err(|e| Error::io(out, e))?;
        file.seek(SeekFrom::End(0)).map_err(|e| Error::io(out, e))?;
    }
    Ok(text[..complete]
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| v.get("id").and_then(Value::as_str).map(str::to_string))
        .collect())
}
