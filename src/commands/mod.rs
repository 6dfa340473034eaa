//! The CLI's subcommands, one module each.

pub mod answer;
pub mod ask;
pub mod batch;
pub mod bench;
pub mod chat;
pub mod common;
pub mod demo;
pub mod doctor;
pub mod follow_up;
pub mod info;
pub mod inspect;
#[cfg(feature = "parity")]
pub mod parity;
pub mod progress;
pub mod select;
pub mod serve;
pub mod synth;
pub mod train;
pub mod volume;
