//! A check of a checkpoint against an expected layout (key → shape), listing every problem at
//! once before anything is loaded (what `hulu info` shows, and what a user wants when a 30 GB
//! download is for the wrong config).
//!
//! The expected layout comes from the model crates (a dry run of the model over a recording
//! weights backend): hulu-io knows no model.

use crate::{Checkpoint, Error, Result};
use std::collections::BTreeMap;

/// A tensor whose stored shape differs from the expected one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MisShaped {
    /// Tensor key.
    pub key: String,
    /// Shape the config implies.
    pub expected: Vec<usize>,
    /// Shape stored in the checkpoint.
    pub actual: Vec<usize>,
}

/// Differences between a checkpoint and the layout its config implies.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WeightReport {
    /// Expected keys absent from the checkpoint.
    pub missing: Vec<String>,
    /// Checkpoint keys the config does not explain.
    pub unexpected: Vec<String>,
    /// Keys present with another shape.
    pub mis_shaped: Vec<MisShaped>,
}

impl WeightReport {
    /// Whether the checkpoint matches exactly.
    pub fn is_clean(&self) -> bool {
        self.missing.is_empty() && self.unexpected.is_empty() && self.mis_shaped.is_empty()
    }

    /// `Ok` when clean, else [`Error::WeightLayout`] listing every problem.
    ///
    /// # Errors
    ///
    /// [`Error::WeightLayout`] listing every missing, unexpected and mis-shaped key.
    pub fn into_result(self) -> Result<()> {
        if self.is_clean() {
            Ok(())
        } else {
            Err(Error::WeightLayout(Box::new(self)))
        }
    }
}

impl std::fmt::Display for WeightReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "missing {:?}, unexpected {:?}, mis-shaped [",
            self.missing, self.unexpected
        )?;
        for (n, m) in self.mis_shaped.iter().enumerate() {
            let sep = if n == 0 { "" } else { ", " };
            write!(
                f,
                "{sep}{} {:?} (expected {:?})",
                m.key, m.actual, m.expected
            )?;
        }
        write!(f, "]")
    }
}

impl Checkpoint {
    /// Compares the stored tensors with `expected` (key → shape).
    pub fn check_layout(&self, expected: &BTreeMap<String, Vec<usize>>) -> WeightReport {
        let mut report = WeightReport::default();
        for (key, shape) in expected {
            match self.meta(key) {
                None => report.missing.push(key.clone()),
                Some(meta) if &meta.shape != shape => report.mis_shaped.push(MisShaped {
                    key: key.clone(),
                    expected: shape.clone(),
                    actual: meta.shape.clone(),
                }),
                Some(_) => {}
            }
        }
        report.unexpected = self
            .keys()
            .filter(|k| !expected.contains_key(*k))
            .map(str::to_string)
            .collect();
        report
    }
}
