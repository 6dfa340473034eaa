//! The loss curve of a run as a PNG (`<out>/loss.png`), drawn from its `metrics.jsonl`, so a
//! resumed run's curve covers the steps before the interruption too.
//!
//! Drawn with `plotters` into an RGB buffer and encoded by the `image` crate. The plot has no
//! text: plotters' text needs a font backend (fontconfig and system fonts, or a bundled font),
//! which a headless training machine may lack; the metrics file holds the numbers. Training
//! losses are one line per stage (stage colours in order), held-out losses are dots, the x
//! axis is the step over all stages, the y axis spans the losses with a 5% margin.

use crate::{Error, Result};
use plotters::prelude::*;
use std::path::Path;

/// Width and height of the loss-curve PNG in pixels.
pub const LOSS_PLOT_SIZE: (u32, u32) = (800, 480);

/// Stage colours, in stage order (repeated past the fifth stage).
const STAGE_COLOURS: [RGBColor; 5] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
];

/// One step's numbers read back from `metrics.jsonl`.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricPoint {
    /// The stage's name.
    pub stage: String,
    /// Training loss of the step.
    pub loss: f64,
    /// Held-out loss after the step, when evaluated.
    pub held_out_loss: Option<f64>,
}

/// The steps of a `metrics.jsonl`, in order.
///
/// # Errors
/// [`Error::File`] when unreadable; [`Error::Json`] for a line that is not a metrics record.
pub fn read_metrics(path: &Path) -> Result<Vec<MetricPoint>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::file(path, e))?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let v: serde_json::Value = serde_json::from_str(line).map_err(|e| Error::Json {
                path: path.into(),
                source: e,
            })?;
            Ok(MetricPoint {
                stage: v["stage"].as_str().unwrap_or_default().to_string(),
                loss: v["loss"].as_f64().unwrap_or(f64::NAN),
                held_out_loss: v["held_out_loss"].as_f64(),
            })
        })
        .collect()
}

fn plot_error(path: &Path, e: impl std::error::Error + Send + Sync + 'static) -> Error {
    Error::Plot {
        path: path.into(),
        source: Box::new(e),
    }
}

/// Draws the loss curve of `points` into the PNG `png` ([`LOSS_PLOT_SIZE`]).
///
/// # Errors
/// [`Error::Plot`] when drawing or writing the PNG fails.
pub fn write_loss_curve(points: &[MetricPoint], png: &Path) -> Result<()> {
    let _span = tracing::info_span!("loss_plot", path = %png.display()).entered();
    let (w, h) = LOSS_PLOT_SIZE;
    let mut buffer = vec![0u8; (w * h * 3) as usize];
    draw(points, &mut buffer, png)?;
    let image = image::RgbImage::from_raw(w, h, buffer).expect("buffer sized for the plot");
    image.save(png).map_err(|e| plot_error(png, e))
}

fn draw(points: &[MetricPoint], buffer: &mut [u8], png: &Path) -> Result<()> {
    let root = BitMapBackend::with_buffer(buffer, LOSS_PLOT_SIZE).into_drawing_area();
    root.fill(&WHITE).map_err(|e| plot_error(png, e))?;
    let values = points
        .iter()
        .flat_map(|p| std::iter::once(p.loss).chain(p.held_out_loss))
        .filter(|v| v.is_finite());
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    if !lo.is_finite() {
        // No finite loss: an empty frame says so without inventing an axis.
        return root.present().map_err(|e| plot_error(png, e));
    }
    let margin = ((hi - lo) * 0.05).max(1e-6);
    let steps = points.len().max(2) as f64;
    let mut chart = ChartBuilder::on(&root)
        .margin(20)
        .build_cartesian_2d(1f64..steps, (lo - margin)..(hi + margin))
        .map_err(|e| plot_error(png, e))?;
    // The frame: the axes as two lines (no labels, see the module doc).
    chart
        .draw_series(LineSeries::new(
            [(1.0, hi + margin), (1.0, lo - margin), (steps, lo - margin)],
            BLACK.stroke_width(1),
        ))
        .map_err(|e| plot_error(png, e))?;
    let mut start = 0;
    let mut stage_index = 0;
    while start < points.len() {
        let end = (start..points.len())
            .find(|&i| points[i].stage != points[start].stage)
            .unwrap_or(points.len());
        let colour = STAGE_COLOURS[stage_index % STAGE_COLOURS.len()];
        let line = (start..end)
            .filter(|&i| points[i].loss.is_finite())
            .map(|i| ((i + 1) as f64, points[i].loss));
        chart
            .draw_series(LineSeries::new(line, colour.stroke_width(2)))
            .map_err(|e| plot_error(png, e))?;
        let dots = (start..end).filter_map(|i| {
            let v = points[i].held_out_loss.filter(|v| v.is_finite())?;
            Some(Circle::new(((i + 1) as f64, v), 4, colour.filled()))
        });
        chart.draw_series(dots).map_err(|e| plot_error(png, e))?;
        start = end;
        stage_index += 1;
    }
    root.present().map_err(|e| plot_error(png, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curve_is_a_png_of_the_plot_size_with_each_stage_drawn() {
        let points: Vec<MetricPoint> = (0..6)
            .map(|i| MetricPoint {
                stage: if i < 3 { "a" } else { "b" }.into(),
                loss: 3.0 - i as f64 * 0.4,
                held_out_loss: (i == 2).then_some(2.5),
            })
            .collect();
        let dir = std::env::temp_dir().join(format!("hulu-train-plot-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let png = dir.join("loss.png");
        write_loss_curve(&points, &png).unwrap();
        let img = image::open(&png).unwrap().to_rgb8();
        assert_eq!(img.dimensions(), LOSS_PLOT_SIZE);
        for colour in &STAGE_COLOURS[..2] {
            let rgb = image::Rgb([colour.0, colour.1, colour.2]);
            assert!(
                img.pixels().any(|p| *p == rgb),
                "stage colour {colour:?} drawn"
            );
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
