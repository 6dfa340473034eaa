//! Datasets: JSONL, one conversation a line, in the reference's message format or the
//! LLaVA / VideoLLaMA3 form public medical instruction sets are published in, with media
//! read through the inference loaders ([`VisualSource`], same options).
//!
//! Reference format (file references relative to the data root):
//! `{"messages": [{"role": "user", "content": [{"type": "image", "image": "ct.png"},
//! {"type": "text", "text": "..."}]}, {"role": "assistant", "content": "..."}]}`; a visual part
//! names its file under the key of its type (`image`, `video`, `volume`) or `path`.
//!
//! LLaVA form: `{"image": ["a.png"], "conversations": [{"from": "human", "value":
//! "<image>\n..."}, {"from": "gpt", "value": "..."}]}`: each `<image>` in a value takes the next
//! file of `image` (or `video`); files no `<image>` claims go before the first human text.
//!
//! A row that cannot be used is skipped and counted by [`SkipReason`], never a failure of
//! the run.

use crate::example::Example;
use hulu_model::Role;
use hulu_model::{Item, LoadOptions, PrepareOptions, Turn, VisualSource};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// Why a row was skipped.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    /// Not valid JSON, or neither format.
    Malformed,
    /// A media file that does not exist.
    MissingFile,
    /// A media file the loaders refuse (corrupt, unsupported, over the limits).
    CorruptMedia,
    /// No assistant turn to learn from.
    NoAssistantTurn,
    /// Longer than the decoder's context.
    TooLong,
    /// Anything else the model refused while encoding the row.
    Unusable,
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SkipReason::Malformed => "malformed row",
            SkipReason::MissingFile => "missing file",
            SkipReason::CorruptMedia => "corrupt media",
            SkipReason::NoAssistantTurn => "no assistant turn",
            SkipReason::TooLong => "longer than the context",
            SkipReason::Unusable => "unusable",
        })
    }
}

/// Rows skipped, by reason. Serialised as a map from the reason (`missing_file`, ...) to
/// its count, as a stage's resume state keeps it.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct SkipTable {
    counts: BTreeMap<SkipReason, usize>,
}

impl SkipTable {
    /// Counts one skipped row.
    pub fn add(&mut self, reason: SkipReason) {
        *self.counts.entry(reason).or_default() += 1;
    }

    /// Rows skipped for `reason`.
    pub fn count(&self, reason: SkipReason) -> usize {
        self.counts.get(&reason).copied().unwrap_or(0)
    }

    /// Rows skipped in all.
    pub fn total(&self) -> usize {
        self.counts.values().sum()
    }

    /// Adds every count of `other`.
    pub fn merge(&mut self, other: &SkipTable) {
        for (&reason, &n) in &other.counts {
            *self.counts.entry(reason).or_default() += n;
        }
    }
}

impl fmt::Display for SkipTable {
    /// The end-of-run table: one line per reason.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{:<26} {:>8}", "skipped rows", "count")?;
        for (reason, n) in &self.counts {
            writeln!(f, "{:<26} {n:>8}", reason.to_string())?;
        }
        write!(f, "{:<26} {:>8}", "total", self.total())
    }
}

/// How a dataset's media are read and processed.
#[derive(Debug, Clone, Default)]
pub struct DatasetOptions {
    /// Slices, axis, window, fps, frame cap.
    pub load: LoadOptions,
    /// Compression, merge size, pixel budget.
    pub prepare: PrepareOptions,
}

/// The rows of one JSONL file.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// The file.
    pub path: PathBuf,
    /// Media paths are relative to this folder.
    pub root: PathBuf,
    /// Each line, parsed lazily.
    pub rows: Vec<String>,
    /// Reading options.
    pub options: DatasetOptions,
}

impl Dataset {
    /// Reads the lines of `path` (blank lines dropped); media resolve under `root`.
    ///
    /// # Errors
    /// [`crate::Error::File`] when the file cannot be read.
    pub fn open(path: &Path, root: &Path, options: DatasetOptions) -> crate::Result<Dataset> {
        let _span = tracing::info_span!("dataset_open", path = %path.display()).entered();
        let text = std::fs::read_to_string(path).map_err(|e| crate::Error::file(path, e))?;
        Ok(Dataset {
            path: path.into(),
            root: root.into(),
            rows: text
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(str::to_string)
                .collect(),
            options,
        })
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Row `index` as an example, or why it cannot be one.
    pub fn example(&self, index: usize) -> Result<Example, SkipReason> {
        let row: Value = serde_json::from_str(self.rows.get(index).ok_or(SkipReason::Malformed)?)
            .map_err(|_| SkipReason::Malformed)?;
        let turns = parse_row(&row, &self.root, &self.options.load)?;
        if !turns.iter().any(|t| t.role == Role::Assistant) {
            return Err(SkipReason::NoAssistantTurn);
        }
        Ok(Example {
            turns,
            options: self.options.prepare.clone(),
        })
    }
}

fn load(root: &Path, file: &str, options: &LoadOptions) -> Result<Item, SkipReason> {
    let path = root.join(file);
    if !path.exists() {
        return Err(SkipReason::MissingFile);
    }
    VisualSource::from_path(&path)
        .load(options)
        .map(Item::Visual)
        .map_err(|_| SkipReason::CorruptMedia)
}

/// A row in either format as turns.
pub fn parse_row(row: &Value, root: &Path, options: &LoadOptions) -> Result<Vec<Turn>, SkipReason> {
    if let Some(messages) = row["messages"].as_array() {
        return messages
            .iter()
            .map(|m| reference_turn(m, root, options))
            .collect();
    }
    if let Some(conversations) = row["conversations"].as_array() {
        return llava_turns(row, conversations, root, options);
    }
    Err(SkipReason::Malformed)
}

fn reference_turn(m: &Value, root: &Path, options: &LoadOptions) -> Result<Turn, SkipReason> {
    let role = Role::from(m["role"].as_str().ok_or(SkipReason::Malformed)?);
    let items = match &m["content"] {
        Value::String(s) => vec![Item::Text(s.clone())],
        Value::Array(parts) => parts
            .iter()
            .map(|p| {
                let kind = p["type"].as_str().ok_or(SkipReason::Malformed)?;
                if kind == "text" {
                    return Ok(Item::Text(
                        p["text"].as_str().unwrap_or_default().to_string(),
                    ));
                }
                let file = p[kind]
                    .as_str()
                    .or_else(|| p["path"].as_str())
                    .ok_or(SkipReason::Malformed)?;
                load(root, file, options)
            })
            .collect::<Result<Vec<_>, _>>()?,
        _ => return Err(SkipReason::Malformed),
    };
    Ok(Turn::new(role, items))
}

fn files(value: &Value) -> Vec<String> {
    match value {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

fn llava_turns(
    row: &Value,
    conversations: &[Value],
    root: &Path,
    options: &LoadOptions,
) -> Result<Vec<Turn>, SkipReason> {
    let mut media: Vec<String> = files(&row["image"]);
    media.extend(files(&row["video"]));
    let claimed: usize = conversations
        .iter()
        .filter_map(|c| c["value"].as_str())
        .map(|v| v.matches("<image>").count())
        .sum();
    let mut next = media.iter();
    let mut unclaimed: Vec<&String> = Vec::new();
    if claimed < media.len() {
        unclaimed.extend(next.by_ref().take(media.len() - claimed));
    }
    let mut turns = Vec::new();
    for (i, c) in conversations.iter().enumerate() {
        let role = match c["from"].as_str() {
            Some("human" | "user") => Role::User,
            Some("gpt" | "assistant") => Role::Assistant,
            Some("system") => Role::System,
            _ => return Err(SkipReason::Malformed),
        };
        let value = c["value"].as_str().ok_or(SkipReason::Malformed)?;
        let mut items = Vec::new();
        if i == 0 || (role == Role::User && turns.is_empty()) {
            for f in unclaimed.drain(..) {
                items.push(load(root, f, options)?);
            }
        }
        for (k, piece) in value.split("<image>").enumerate() {
            if k > 0 {
                let f = next.next().ok_or(SkipReason::Malformed)?;
                items.push(load(root, f, options)?);
            }
            let piece = piece.trim_start_matches('\n');
            if !piece.is_empty() {
                items.push(Item::Text(piece.to_string()));
            }
        }
        turns.push(Turn::new(role, items));
    }
    Ok(turns)
}
