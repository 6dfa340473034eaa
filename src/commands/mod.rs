//! The CLI's subcommands, one module each.

pub mod info;
pub mod synth;
pub mod volume;
