//! What the model sees, as pictures: every frame as handed to the image processor
//! (`--save-frames`) and a labelled contact sheet with the tokens compression drops shaded
//! (`--contact-sheet`).

use super::font;
use anyhow::{Context, Result};
use hulu_io::{RgbFrame, Visual};
use std::path::Path;

/// Longest side of one contact-sheet tile, in pixels.
const TILE: u32 = 160;
/// Height of the label strip under each tile.
const LABEL: u32 = font::HEIGHT as u32 + 4;
/// Gap between tiles.
const GAP: u32 = 4;

/// The frame as an `image` buffer.
fn to_image(frame: &RgbFrame) -> Result<image::RgbImage> {
    image::RgbImage::from_raw(frame.width as u32, frame.height as u32, frame.data.clone())
        .context("frame size does not match its pixels")
}

/// Writes every frame of `visual` as `dir/<input>/<frame:04>.png`, 8-bit RGB.
///
/// # Errors
/// When the folder cannot be made or a PNG cannot be written.
pub fn save_frames(dir: &Path, input: usize, visual: &Visual) -> Result<()> {
    let folder = dir.join(input.to_string());
    std::fs::create_dir_all(&folder).with_context(|| format!("creating {}", folder.display()))?;
    for (k, frame) in visual.frames.iter().enumerate() {
        let path = folder.join(format!("{k:04}.png"));
        to_image(frame)?
            .save_with_format(&path, image::ImageFormat::Png)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// The geometry of a contact sheet of `frames` tiles: columns, rows, tile width and height.
pub fn sheet_layout(frames: usize, width: usize, height: usize) -> (u32, u32, u32, u32) {
    let cols = (frames as f64).sqrt().ceil().max(1.0) as u32;
    let rows = (frames as u32).div_ceil(cols).max(1);
    let scale = TILE as f64 / width.max(height).max(1) as f64;
    let tw = ((width as f64 * scale).round() as u32).max(1);
    let th = ((height as f64 * scale).round() as u32).max(1);
    (cols, rows, tw, th)
}

/// Draws the frames as a grid (row-major), each labelled with its index and `labels[k]`
/// (position or timestamp), with each dropped token's area (`keep[k]`, row-major over a
/// `token_rows × token_cols` grid per frame) shaded red, and writes it as PNG.
///
/// # Errors
/// When the PNG cannot be written.
pub fn contact_sheet(
    out: &Path,
    visual: &Visual,
    labels: &[String],
    keep: &[Vec<bool>],
    token_rows: usize,
    token_cols: usize,
) -> Result<()> {
    let first = visual.frames.first().context("no frames to draw")?;
    let (cols, rows, tw, th) = sheet_layout(visual.frames.len(), first.width, first.height);
    let (cell_w, cell_h) = (tw + GAP, th + LABEL + GAP);
    let mut sheet = image::RgbImage::new(cols * cell_w + GAP, rows * cell_h + GAP);
    for (k, frame) in visual.frames.iter().enumerate() {
        let (cx, cy) = (
            GAP + (k as u32 % cols) * cell_w,
            GAP + (k as u32 / cols) * cell_h,
        );
        let mut tile = image::imageops::resize(
            &to_image(frame)?,
            tw,
            th,
            image::imageops::FilterType::Triangle,
        );
        if let Some(mask) = keep.get(k) {
            shade_dropped(&mut tile, mask, token_rows, token_cols);
        }
        image::imageops::replace(&mut sheet, &tile, cx.into(), cy.into());
        let label = format!("{k} {}", labels.get(k).map_or("", String::as_str));
        font::draw(
            &mut sheet,
            cx as usize,
            (cy + th + 2) as usize,
            label.trim(),
            [255, 255, 0],
        );
    }
    sheet
        .save_with_format(out, image::ImageFormat::Png)
        .with_context(|| format!("writing {}", out.display()))
}

/// Tints the area of every dropped token red (half-way), so kept slices stand out.
fn shade_dropped(tile: &mut image::RgbImage, keep: &[bool], rows: usize, cols: usize) {
    if rows == 0 || cols == 0 {
        return;
    }
    let (w, h) = (tile.width() as usize, tile.height() as usize);
    for (t, _) in keep.iter().enumerate().filter(|(_, &k)| !k) {
        let (r, c) = (t / cols, t % cols);
        for y in r * h / rows..((r + 1) * h / rows).min(h) {
            for x in c * w / cols..((c + 1) * w / cols).min(w) {
                let p = tile.get_pixel_mut(x as u32, y as u32);
                p.0 = [p.0[0] / 2 + 128, p.0[1] / 2, p.0[2] / 2];
            }
        }
    }
}
