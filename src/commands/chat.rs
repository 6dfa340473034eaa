//! `hulu chat`: an interactive multi-turn conversation on standard input.
//!
//! Each line is a user turn. `/file PATH` attaches a visual input to the next turn, `/reset`
//! forgets the conversation, `/quit` (or end of input) leaves.

use super::common::{question_turn, summary, GenerateArgs, ModelArgs, VisualArgs};
use anyhow::Result;
use clap::Args;
use hulu_model::{Item, Turn};
use std::io::{BufRead, Write};
use std::path::PathBuf;

/// Arguments of `hulu chat`.
#[derive(Args, Debug)]
pub struct ChatArgs {
    #[command(flatten)]
    model: ModelArgs,
    #[command(flatten)]
    visual: VisualArgs,
    #[command(flatten)]
    generate: GenerateArgs,
    /// A system prompt.
    #[arg(long)]
    system: Option<String>,
    /// Visual inputs attached to the first turn.
    files: Vec<PathBuf>,
}

/// Runs the chat loop until `/quit` or end of input.
pub fn run(args: &ChatArgs) -> Result<()> {
    let (model, _) = args.model.load()?;
    let mut history: Vec<Turn> = args
        .system
        .iter()
        .map(|s| Turn::system(s.clone()))
        .collect();
    let mut attached: Vec<Item> = args.visual.load_items(&args.files)?;
    let stdin = std::io::stdin();
    let mut stdout = std::io::stdout();
    eprintln!("hulu chat: type a question; /file PATH attaches a file, /reset, /quit");
    loop {
        write!(stdout, "> ")?;
        stdout.flush()?;
        let mut bytes = Vec::new();
        if stdin.lock().read_until(b'\n', &mut bytes)? == 0 {
            break;
        }
        // A line that is not UTF-8 (a pasted binary, a wrong terminal encoding) is refused on
        // its own; the conversation goes on.
        let Ok(line) = String::from_utf8(bytes) else {
            eprintln!("that line is not UTF-8 text; it was ignored");
            continue;
        };
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if line == "/quit" {
            break;
        }
        if line == "/reset" {
            history.retain(|t| t.role == hulu_model::Role::System);
            attached.clear();
            continue;
        }
        if let Some(path) = line.strip_prefix("/file ") {
            match args.visual.load_items(&[PathBuf::from(path.trim())]) {
                Ok(items) => attached.extend(items),
                Err(e) => eprintln!("{e:#}"),
            }
            continue;
        }
        let mut turns = history.clone();
        turns.push(question_turn(std::mem::take(&mut attached), line));
        let result = model.generate_stream(
            &turns,
            &args.visual.prepare_options(),
            &args.generate.options(),
            |piece| {
                let _ = stdout.write_all(piece.as_bytes());
                let _ = stdout.flush();
            },
        );
        match result {
            Ok(generation) => {
                // A closed stdout ends the chat (quietly, in main) instead of panicking.
                writeln!(stdout)?;
                eprintln!("{}", summary(&generation, None));
                history = turns;
                history.push(Turn::assistant(generation.text));
            }
            Err(e) => eprintln!("error: {e}"),
        }
    }
    Ok(())
}
