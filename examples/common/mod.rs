//! Presentation the examples share (argument defaults, streamed output, token accounting),
//! so each example's own lines are the library calls it demonstrates.
#![allow(dead_code)] // each example uses some of these

use hulu_model::Generation;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The example's positional arguments as paths; a missing one falls back to its default,
/// relative to the repository root (the tiny test models and the fixture inputs).
pub fn paths_or<const N: usize>(defaults: [&str; N]) -> [PathBuf; N] {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut args = std::env::args_os().skip(1).map(PathBuf::from);
    defaults.map(|d| args.next().unwrap_or_else(|| root.join(d)))
}

/// Prints one streamed piece of the answer at once (pieces are whole UTF-8 text).
pub fn print_piece(piece: &str) {
    print!("{piece}");
    let _ = std::io::stdout().flush();
}

/// The prompt and generated token counts of one answer, and why it stopped.
pub fn print_counts(generation: &Generation) {
    let c = &generation.counts;
    println!(
        "tokens: {} prompt ({} text + {} visual), {} generated, finish {:?}",
        c.total(),
        c.text,
        c.visual_after,
        generation.ids.len(),
        generation.finish
    );
}

/// Says that the tiny test model's words are random, when it is the one in use.
pub fn note_if_tiny(model_dir: &Path) {
    if model_dir.ends_with("tiny-qwen2") || model_dir.ends_with("tiny-qwen3") {
        println!("(the tiny test models have random weights: their words are random)");
    }
}
