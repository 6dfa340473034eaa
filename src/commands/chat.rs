//! `hulu chat`: an interactive multi-turn conversation.
//!
//! On a terminal, lines are read with `rustyline` (editing, Up/Down history, Ctrl-D leaves,
//! Ctrl-C at the prompt clears the line); Ctrl-C while an answer streams cancels that answer
//! and the chat goes on. Piped input is read line by line, and a line that is not UTF-8 is
//! refused on its own. Lines starting with `/` are commands (`/help` lists them), never sent
//! to the model.

use super::answer::{answer, Reuse};
use super::common::{question_turn, summary, GenerateArgs, ModelArgs, SystemPrompt, VisualArgs};
use anyhow::{anyhow, bail, Result};
use clap::Args;
use hulu_model::{GenerateOptions, HuluMed, Item, PrepareOptions, Turn};
use std::io::{BufRead, IsTerminal, Write};
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Arguments of `hulu chat`.
#[derive(Args, Debug)]
pub struct ChatArgs {
    #[command(flatten)]
    model: ModelArgs,
    #[command(flatten)]
    visual: VisualArgs,
    #[command(flatten)]
    generate: GenerateArgs,
    /// System prompt: `default` (the checkpoint template's own, as the official usage),
    /// `none`, or the text itself.
    #[arg(
        long,
        alias = "system",
        default_value = "default",
        value_name = "default|none|TEXT"
    )]
    system_prompt: String,
    /// Visual inputs attached to the first turn.
    files: Vec<PathBuf>,
}

const HELP: &str = "\
commands:
  /help                 this list
  /file PATH            attach an image, volume, DICOM series or video to the next question
  /system default|none|TEXT
                        the system prompt (the conversation starts again)
  /set KEY VALUE        temperature, top_k, top_p, min_p, repetition_penalty, seed,
                        max_new_tokens, greedy on|off, show_think on|off
  /set                  show the current values
  /reset                forget the conversation and the attached files
  /quit                 leave (also Ctrl-D)
anything else is a question; Ctrl-C cancels an answer";

/// Where lines come from.
enum Lines {
    /// A terminal: line editing and history.
    Editor(Box<rustyline::DefaultEditor>),
    /// Piped input.
    Plain(std::io::Stdin),
}

/// One line read.
enum Line {
    Text(String),
    NotUtf8,
    Interrupted,
    End,
}

impl Lines {
    fn read(&mut self, prompt: &str) -> Result<Line> {
        match self {
            Lines::Editor(editor) => match editor.readline(prompt) {
                Ok(line) => {
                    if !line.trim().is_empty() {
                        let _ = editor.add_history_entry(line.as_str());
                    }
                    Ok(Line::Text(line))
                }
                Err(rustyline::error::ReadlineError::Interrupted) => Ok(Line::Interrupted),
                Err(rustyline::error::ReadlineError::Eof) => Ok(Line::End),
                Err(e) => Err(e.into()),
            },
            Lines::Plain(stdin) => {
                let mut stdout = std::io::stdout();
                write!(stdout, "{prompt}")?;
                stdout.flush()?;
                let mut bytes = Vec::new();
                if stdin.lock().read_until(b'\n', &mut bytes)? == 0 {
                    return Ok(Line::End);
                }
                Ok(String::from_utf8(bytes).map_or(Line::NotUtf8, Line::Text))
            }
        }
    }
}

/// The conversation and its settings.
struct Session<'a> {
    model: &'a HuluMed,
    visual: &'a VisualArgs,
    system: SystemPrompt,
    history: Vec<Turn>,
    attached: Vec<Item>,
    prepare: PrepareOptions,
    options: GenerateOptions,
    reuse: Reuse,
}

impl Session<'_> {
    fn reset(&mut self) {
        self.history = self.system.turn().into_iter().collect();
        self.attached.clear();
        self.reuse.clear();
        self.system.apply(&mut self.prepare);
    }

    /// Handles a `/command`; `Ok(false)` means leave.
    fn command(&mut self, line: &str) -> Result<bool> {
        let (name, rest) = line.split_once(' ').unwrap_or((line, ""));
        let rest = rest.trim();
        match name {
            "/quit" | "/exit" => return Ok(false),
            "/help" => eprintln!("{HELP}"),
            "/reset" => {
                self.reset();
                eprintln!("conversation cleared");
            }
            "/system" if !rest.is_empty() => {
                self.system = SystemPrompt::parse(rest);
                self.reset();
                eprintln!("system prompt set; conversation cleared");
            }
            "/file" if !rest.is_empty() => self.attach(rest)?,
            "/set" if rest.is_empty() => eprintln!("{}", self.settings()),
            "/set" => {
                let (key, value) = rest
                    .split_once(' ')
                    .ok_or_else(|| anyhow!("/set KEY VALUE (see /help)"))?;
                self.set(key.trim(), value.trim())?;
                eprintln!("{}", self.settings());
            }
            _ => bail!("unknown or incomplete command {line:?}; /help lists the commands"),
        }
        Ok(true)
    }

    /// Reads a file and says what was attached and what it costs in visual tokens.
    fn attach(&mut self, path: &str) -> Result<()> {
        let path = PathBuf::from(path);
        let mut items = self.visual.load_items(std::slice::from_ref(&path))?;
        let Some(Item::Visual(visual)) = items.pop() else {
            bail!("{} held no visual", path.display());
        };
        // The processor alone (no encoder) gives the grid, hence the token cost.
        let tokens: usize = self
            .model
            .preprocess_visuals(&[&visual], &self.prepare)?
            .map_or(0, |p| p.grids.iter().map(|g| g.tokens()).sum());
        eprintln!(
            "attached {} ({:?}, {} frame(s), {}x{}): {tokens} visual tokens before compression",
            path.display(),
            visual.kind,
            visual.frames.len(),
            visual.frames.first().map_or(0, |f| f.width),
            visual.frames.first().map_or(0, |f| f.height),
        );
        self.attached.push(Item::Visual(visual));
        Ok(())
    }

    fn set(&mut self, key: &str, value: &str) -> Result<()> {
        let s = &mut self.options.sampling;
        let on = || match value {
            "on" | "true" | "1" => Ok(true),
            "off" | "false" | "0" => Ok(false),
            _ => Err(anyhow!("{key}: on or off, not {value:?}")),
        };
        let number = |what: &str| anyhow!("{key}: {value:?} is not {what}");
        match key {
            "temperature" => {
                s.temperature = value.parse().map_err(|_| number("a number"))?;
                s.do_sample = true;
            }
            "top_k" => s.top_k = value.parse().map_err(|_| number("a count"))?,
            "top_p" => s.top_p = value.parse().map_err(|_| number("a number"))?,
            "min_p" => s.min_p = value.parse().map_err(|_| number("a number"))?,
            "repetition_penalty" => {
                s.repetition_penalty = value.parse().map_err(|_| number("a number"))?
            }
            "seed" => s.seed = value.parse().map_err(|_| number("a count"))?,
            "greedy" => s.do_sample = !on()?,
            "max_new_tokens" => {
                self.options.max_new_tokens = value.parse().map_err(|_| number("a count"))?
            }
            "show_think" => self.options.strip_think = !on()?,
            _ => bail!("/set: unknown key {key:?} (see /help)"),
        }
        self.options.sampling.validate()?;
        Ok(())
    }

    fn settings(&self) -> String {
        let s = &self.options.sampling;
        format!(
            "greedy {}, temperature {}, top_k {}, top_p {}, min_p {}, repetition_penalty {}, seed {}, max_new_tokens {}, show_think {}",
            if s.do_sample { "off" } else { "on" },
            s.temperature,
            s.top_k,
            s.top_p,
            s.min_p,
            s.repetition_penalty,
            s.seed,
            self.options.max_new_tokens,
            if self.options.strip_think { "off" } else { "on" },
        )
    }

    /// Answers `question` with the attached files; keeps the turn unless it failed.
    fn ask(&mut self, question: &str, cancel: &AtomicBool) -> Result<()> {
        let mut turns = self.history.clone();
        turns.push(question_turn(std::mem::take(&mut self.attached), question));
        cancel.store(false, Ordering::SeqCst);
        let mut stdout = std::io::stdout();
        let (generation, _, used) = answer(
            self.model,
            &turns,
            &self.prepare,
            &self.options,
            Some(&mut self.reuse),
            |piece| {
                let _ = stdout.write_all(piece.as_bytes());
                let _ = stdout.flush();
                if cancel.swap(false, Ordering::SeqCst) {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            },
        )?;
        // A closed stdout ends the chat (quietly, in main) instead of panicking.
        writeln!(stdout)?;
        eprintln!("{}", summary(&generation, None));
        eprintln!(
            "[reused: {} of {} prompt tokens from the KV cache, {} of {} visual(s) from the encoder cache]",
            generation.reused_tokens,
            generation.counts.total(),
            used.hits,
            used.hits + used.misses,
        );
        self.history = turns;
        self.history.push(Turn::assistant(generation.text));
        Ok(())
    }
}

/// Runs the chat loop until `/quit` or end of input.
///
/// # Errors
///
/// Flags, files given on the command line, or the model failing to load; errors inside the
/// chat are printed and the chat goes on.
pub fn run(args: &ChatArgs) -> Result<()> {
    let resolved = args.model.resolve()?;
    let attached: Vec<Item> = args.visual.load_items(&args.files)?;
    let (model, _) = resolved.load()?;
    let mut session = Session {
        model: &model,
        visual: &args.visual,
        system: SystemPrompt::parse(&args.system_prompt),
        history: Vec::new(),
        attached: Vec::new(),
        prepare: args.visual.prepare_options(),
        options: args.generate.options(model.generation_config()),
        reuse: Reuse::new(),
    };
    session.reset();
    session.attached = attached;
    let cancel = Arc::new(AtomicBool::new(false));
    let interactive = std::io::stdin().is_terminal();
    if interactive {
        // Ctrl-C while an answer streams (the terminal is not in raw mode then) cancels it.
        let flag = Arc::clone(&cancel);
        ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst))?;
    }
    let mut lines = if interactive {
        Lines::Editor(Box::new(rustyline::DefaultEditor::new()?))
    } else {
        Lines::Plain(std::io::stdin())
    };
    eprintln!("hulu chat: type a question; /help lists the commands, /quit or Ctrl-D leaves");
    loop {
        let line = match lines.read("> ")? {
            Line::End => break,
            Line::Interrupted => continue,
            // A pasted binary or a wrong terminal encoding is refused on its own.
            Line::NotUtf8 => {
                eprintln!("that line is not UTF-8 text; it was ignored");
                continue;
            }
            Line::Text(line) => line,
        };
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let outcome = if line.starts_with('/') {
            match session.command(line) {
                Ok(false) => break,
                Ok(true) => Ok(()),
                Err(e) => Err(e),
            }
        } else {
            session.ask(line, &cancel)
        };
        if let Err(e) = outcome {
            eprintln!("error: {e:#}");
        }
    }
    Ok(())
}
