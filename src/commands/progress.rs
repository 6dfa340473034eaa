//! Per-stage progress on a terminal (`indicatif` spinners on stderr); nothing at all when
//! stderr is not a terminal, so piped and captured output stays clean.

use indicatif::{ProgressBar, ProgressDrawTarget};
use std::io::IsTerminal;
use std::time::Duration;

/// A spinner showing `message` while a stage runs; hidden unless stderr is a terminal.
/// Finish it with [`ProgressBar::finish_and_clear`].
pub fn spinner(message: impl Into<String>) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    bar.set_message(message.into());
    bar.enable_steady_tick(Duration::from_millis(100));
    bar
}
