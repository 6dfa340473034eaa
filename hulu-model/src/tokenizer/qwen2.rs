//! Assembling a Qwen2 byte-level BPE tokenizer from the "slow" files (`vocab.json`,
//! `merges.txt`, `added_tokens.json`, `tokenizer_config.json`), the way `Qwen2TokenizerFast`
//! converts them when a checkpoint ships no `tokenizer.json`.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use serde_json::Value;
use tokenizers::models::bpe::{Vocab, BPE};
use tokenizers::normalizers::unicode::NFC;
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::pre_tokenizers::split::{Split, SplitPattern};
use tokenizers::{AddedToken, PreTokenizerWrapper, SplitDelimiterBehavior};

use crate::error::{Error, Result};
use crate::files::{read_json, read_json_opt, read_text};

/// The pre-tokenizer split pattern of every Qwen2/Qwen2.5/Qwen3 tokenizer: contractions, letter
/// runs with one optional leading non-letter, single digits, punctuation runs, newlines and
/// whitespace runs (the last whitespace before a word stays with the word).
pub const QWEN2_SPLIT_PATTERN: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// One added token with the flags `tokenizer_config.json` gives it.
#[derive(Debug, Clone)]
struct AddedSpec {
    id: u32,
    token: AddedToken,
}

/// Builds the tokenizer from the slow files in `dir`.
pub(crate) fn build(dir: &Path) -> Result<tokenizers::Tokenizer> {
    let vocab = read_vocab(&dir.join("vocab.json"))?;
    let merges = read_merges(&dir.join("merges.txt"))?;
    let bpe = BPE::builder()
        .vocab_and_merges(vocab, merges)
        .build()
        .map_err(Error::from)?;

    let mut tokenizer = tokenizers::Tokenizer::new(bpe);
    tokenizer.with_normalizer(Some(NFC))?;
    let split = Split::new(
        SplitPattern::Regex(QWEN2_SPLIT_PATTERN.to_string()),
        SplitDelimiterBehavior::Isolated,
        false,
    )?;
    // The regex already did the splitting: byte-level only maps bytes to symbols.
    let byte_level = ByteLevel::new(false, false, false);
    tokenizer.with_pre_tokenizer(Some(Sequence::new(vec![
        PreTokenizerWrapper::Split(split),
        PreTokenizerWrapper::ByteLevel(byte_level),
    ])));
    tokenizer.with_post_processor(Some(byte_level));
    tokenizer.with_decoder(Some(byte_level));

    // Added tokens take the ids right after the vocabulary, in id order; adding them one by
    // one in that order reproduces the ids, which we then check.
    for spec in added_tokens(dir)? {
        let content = spec.token.content.clone();
        if spec.token.special {
            tokenizer.add_special_tokens([spec.token])?;
        } else {
            tokenizer.add_tokens([spec.token])?;
        }
        let actual = tokenizer.token_to_id(&content).unwrap_or(u32::MAX);
        if actual != spec.id {
            return Err(Error::AddedTokenId {
                content,
                expected: spec.id,
                actual,
            });
        }
    }
    Ok(tokenizer)
}

/// `vocab.json`: symbol → id.
fn read_vocab(path: &Path) -> Result<Vocab> {
    let Value::Object(map) = read_json(path)? else {
        return Err(Error::json(path, "vocab.json must be an object"));
    };
    map.into_iter()
        .map(|(symbol, id)| {
            let id = id
                .as_u64()
                .and_then(|id| u32::try_from(id).ok())
                .ok_or_else(|| Error::json(path, format!("id of {symbol:?} is not a u32")))?;
            Ok((symbol, id))
        })
        .collect()
}

/// `merges.txt`: one `left right` pair per line in priority order, after an optional
/// `#version` header; blank lines are skipped as `Qwen2Tokenizer` does.
fn read_merges(path: &Path) -> Result<Vec<(String, String)>> {
    let text = read_text(path)?;
    let mut merges = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.is_empty() || (index == 0 && line.starts_with("#version")) {
            continue;
        }
        let (left, right) = line.split_once(' ').ok_or(Error::BadMerge {
            path: path.to_path_buf(),
            line: index + 1,
        })?;
        if right.contains(' ') {
            return Err(Error::BadMerge {
                path: path.to_path_buf(),
                line: index + 1,
            });
        }
        merges.push((left.to_string(), right.to_string()));
    }
    Ok(merges)
}

/// Added tokens in id order: `tokenizer_config.json`'s `added_tokens_decoder` (with flags),
/// completed by `added_tokens.json` (id only; special when the config lists the token as a
/// special token).
fn added_tokens(dir: &Path) -> Result<Vec<AddedSpec>> {
    let config_path = dir.join("tokenizer_config.json");
    let config = read_json_opt(&config_path)?.unwrap_or(Value::Null);
    let mut by_id: BTreeMap<u32, AddedToken> = BTreeMap::new();

    if let Some(Value::Object(decoder)) = config.get("added_tokens_decoder") {
        for (id, entry) in decoder {
            let id: u32 = id
                .parse()
                .map_err(|_| Error::json(&config_path, format!("added token id {id:?}")))?;
            let content = entry
                .get("content")
                .and_then(Value::as_str)
                .ok_or_else(|| Error::json(&config_path, format!("added token {id}: content")))?;
            let flag = |name: &str, default: bool| {
                entry.get(name).and_then(Value::as_bool).unwrap_or(default)
            };
            let special = flag("special", false);
            let token = AddedToken::from(content, special)
                .single_word(flag("single_word", false))
                .lstrip(flag("lstrip", false))
                .rstrip(flag("rstrip", false))
                .normalized(flag("normalized", !special));
            by_id.insert(id, token);
        }
    }

    let added_path = dir.join("added_tokens.json");
    if let Some(added) = read_json_opt(&added_path)? {
        let Value::Object(added) = added else {
            return Err(Error::json(&added_path, "must be an object"));
        };
        let specials = special_token_names(&config);
        for (content, id) in added {
            let id = id
                .as_u64()
                .and_then(|id| u32::try_from(id).ok())
                .ok_or_else(|| Error::json(&added_path, format!("id of {content:?}")))?;
            by_id.entry(id).or_insert_with(|| {
                let special = specials.contains(content.as_str());
                AddedToken::from(content, special).normalized(false)
            });
        }
    }

    Ok(by_id
        .into_iter()
        .map(|(id, token)| AddedSpec { id, token })
        .collect())
}

/// Tokens the config names as special (`additional_special_tokens`, `eos_token`, ...).
fn special_token_names(config: &Value) -> HashSet<&str> {
    let mut names = HashSet::new();
    if let Some(Value::Array(list)) = config.get("additional_special_tokens") {
        names.extend(list.iter().filter_map(Value::as_str));
    }
    for key in ["bos_token", "eos_token", "pad_token", "unk_token"] {
        match config.get(key) {
            Some(Value::String(s)) => {
                names.insert(s.as_str());
            }
            Some(Value::Object(o)) => {
                if let Some(s) = o.get("content").and_then(Value::as_str) {
                    names.insert(s);
                }
            }
            _ => {}
        }
    }
    names
}
