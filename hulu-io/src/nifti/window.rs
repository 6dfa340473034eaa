//! Intensity windows (centre/width), with the usual CT presets in Hounsfield units.

use crate::{Error, Result};

/// A display window: values are clipped to `center ± width / 2` before normalisation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Window {
    /// Window centre (level).
    pub center: f64,
    /// Window width; must be positive.
    pub width: f64,
}

impl Window {
    /// Lung: centre -600, width 1500 HU.
    pub const LUNG: Window = Window::new(-600.0, 1500.0);
    /// Mediastinum / soft tissue: centre 40, width 400 HU.
    pub const MEDIASTINUM: Window = Window::new(40.0, 400.0);
    /// Bone: centre 400, width 1800 HU.
    pub const BONE: Window = Window::new(400.0, 1800.0);
    /// Brain: centre 40, width 80 HU.
    pub const BRAIN: Window = Window::new(40.0, 80.0);
    /// Abdomen: centre 60, width 400 HU.
    pub const ABDOMEN: Window = Window::new(60.0, 400.0);
    /// Liver: centre 60, width 150 HU.
    pub const LIVER: Window = Window::new(60.0, 150.0);

    /// A window from its centre and width.
    pub const fn new(center: f64, width: f64) -> Self {
        Window { center, width }
    }

    /// A preset by name (case-insensitive): `lung`, `mediastinum` (or `soft_tissue`,
    /// `soft-tissue`, `soft tissue`), `bone`, `brain`, `abdomen`, `liver`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidRequest`] for an unknown preset name (the message lists the known ones).
    pub fn preset(name: &str) -> Result<Self> {
        let key = name.trim().to_ascii_lowercase().replace(['-', ' '], "_");
        Ok(match key.as_str() {
            "lung" => Self::LUNG,
            "mediastinum" | "soft_tissue" => Self::MEDIASTINUM,
            "bone" => Self::BONE,
            "brain" => Self::BRAIN,
            "abdomen" => Self::ABDOMEN,
            "liver" => Self::LIVER,
            _ => {
                return Err(Error::InvalidRequest(format!(
                    "unknown window preset {name:?} (known: lung, mediastinum, soft_tissue, \
                     bone, brain, abdomen, liver)"
                )))
            }
        })
    }

    /// Lowest and highest value kept; an error when the width is not positive and finite.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidRequest`] when the width is not positive and finite or the centre is not
    /// finite.
    pub fn bounds(&self) -> Result<(f64, f64)> {
        if !(self.width > 0.0 && self.width.is_finite() && self.center.is_finite()) {
            return Err(Error::InvalidRequest(format!(
                "window centre {} width {}: width must be positive and both finite",
                self.center, self.width
            )));
        }
        Ok((
            self.center - self.width / 2.0,
            self.center + self.width / 2.0,
        ))
    }
}
