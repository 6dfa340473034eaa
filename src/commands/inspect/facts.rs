//! The header facts a user checks first, per input: modality, spacing, orientation code,
//! window and where it came from, transfer syntax, series UID, number of series found.
//!
//! Read from the same `hulu-io` headers the loaders use (a second, header-only read), so what
//! is shown is what the loader saw.

use anyhow::Result;
use hulu_io::dicom::{DicomFile, DicomInfo, DicomScan, MixedOrientation, SeriesChoice};
use hulu_io::nifti::{axis_codes, best_affine, NiftiFile, Window};
use hulu_io::video::linspace_indices;
use hulu_io::volume::RawVolume;
use hulu_io::Limits;
use hulu_model::sources::export_root;
use hulu_model::VisualSource;
use serde_json::{json, Map, Value};

/// The source's kind as shown to the user.
pub fn kind_name(source: &VisualSource) -> &'static str {
    match source {
        VisualSource::Image(_) => "image",
        VisualSource::Nifti(_) => "nifti",
        VisualSource::Volume(_) => "volume",
        VisualSource::Dicom(p) if export_root(p).is_some() => "dicom-export",
        VisualSource::Dicom(_) => "dicom",
        VisualSource::Video(_) => "video",
        VisualSource::Frames(_) => "frames",
    }
}

/// Header facts of `source` as a JSON object (absent facts are left out).
pub fn header_facts(
    source: &VisualSource,
    window: Option<Window>,
    series: &SeriesChoice,
    mixed: MixedOrientation,
    max_frames: usize,
    limits: &Limits,
) -> Result<Map<String, Value>> {
    let mut facts = Map::new();
    let user_window =
        window.map(|w| json!({"center": w.center, "width": w.width, "source": "--window"}));
    match source {
        VisualSource::Dicom(path) => match export_root(path) {
            Some(root) => {
                let scan = DicomScan::open(root, mixed, limits)?;
                facts.insert("series_found".into(), json!(scan.series.len()));
                let listing: Vec<Value> = scan
                    .series
                    .iter()
                    .enumerate()
                    .map(|(i, s)| {
                        json!({"index": i, "number": s.series_number(),
                        "uid": s.series_instance_uid, "images": s.len()})
                    })
                    .collect();
                facts.insert("series".into(), Value::Array(listing));
                facts.insert("skipped_files".into(), json!(scan.skipped.len()));
                let chosen = scan.choose(series)?;
                facts.insert("slices_in_series".into(), json!(chosen.len()));
                // The slices the loader keeps (DicomSeries::to_visual's linspace choice).
                let kept: Vec<f64> = if max_frames < chosen.len() {
                    linspace_indices(chosen.len(), max_frames)
                } else {
                    (0..chosen.len()).collect()
                }
                .into_iter()
                .map(|i| chosen.positions[i])
                .collect();
                facts.insert("frame_positions_mm".into(), json!(kept));
                if let Some(s) = chosen.slice_spacing() {
                    facts.insert("slice_spacing_mm".into(), json!(s));
                }
                if let Some(first) = chosen.slices.first() {
                    dicom_facts(&first.info().for_frame(0), &mut facts);
                }
            }
            None => {
                let file = DicomFile::open(path, limits)?;
                facts.insert("series_found".into(), json!(1));
                dicom_facts(&file.info().for_frame(0), &mut facts);
            }
        },
        VisualSource::Nifti(path) => {
            let header = NiftiFile::open(path)?.header().clone();
            let zooms = header.zooms();
            facts.insert(
                "spacing_mm".into(),
                json!(zooms.iter().take(3).collect::<Vec<_>>()),
            );
            facts.insert("shape".into(), json!(header.shape()));
            let codes = axis_codes(&best_affine(&header));
            facts.insert(
                "orientation".into(),
                json!(codes.iter().collect::<String>()),
            );
            facts.insert(
                "window".into(),
                json!({"source": "min-max per slice (the reference's)"}),
            );
        }
        VisualSource::Volume(path) => {
            let volume = RawVolume::open(path)?;
            facts.insert("format".into(), json!(volume.format()));
            facts.insert("spacing_mm".into(), json!(volume.spacing()));
            facts.insert("shape".into(), json!(volume.dims()));
            let codes = volume.axis_codes();
            facts.insert(
                "orientation".into(),
                json!(codes.iter().collect::<String>()),
            );
            facts.insert(
                "window".into(),
                json!({"source": "min-max per slice (the reference's)"}),
            );
        }
        VisualSource::Image(_) | VisualSource::Video(_) | VisualSource::Frames(_) => {}
    }
    if let Some(w) = user_window {
        facts.insert("window".into(), w);
    }
    Ok(facts)
}

/// The facts one DICOM image's attributes give.
fn dicom_facts(info: &DicomInfo, facts: &mut Map<String, Value>) {
    facts.insert("modality".into(), json!(info.modality));
    facts.insert("transfer_syntax".into(), json!(info.transfer_syntax));
    facts.insert("series_uid".into(), json!(info.series_instance_uid));
    facts.insert("series_number".into(), json!(info.series_number));
    facts.insert("series_description".into(), json!(info.series_description));
    facts.insert("pixel_spacing_mm".into(), json!(info.pixel_spacing));
    facts.insert("slice_thickness_mm".into(), json!(info.slice_thickness));
    if let Some(o) = info.image_orientation {
        facts.insert("orientation".into(), json!(orientation_code(&o)));
    }
    let window = match (info.window_center.first(), info.window_width.first()) {
        (Some(c), Some(w)) if info.photometric.is_monochrome() => {
            json!({"center": c, "width": w, "source": "file (0028,1050/1051)"})
        }
        _ if info.photometric.is_monochrome() => json!({"source": "min-max per image"}),
        _ => json!({"source": "none (colour)"}),
    };
    facts.insert("window".into(), window);
}

/// The patient-space directions (DICOM LPS, PS3.3 C.7.6.2.1.1) the row, column and slice
/// normal point to, one letter each by the dominant component: `LPS` for a standard axial
/// slice, as dcm2niix and ITK name orientations.
pub fn orientation_code(o: &[f64; 6]) -> String {
    let row = [o[0], o[1], o[2]];
    let col = [o[3], o[4], o[5]];
    let normal = [
        row[1] * col[2] - row[2] * col[1],
        row[2] * col[0] - row[0] * col[2],
        row[0] * col[1] - row[1] * col[0],
    ];
    [row, col, normal]
        .iter()
        .map(|v| {
            let axis = (0..3)
                .max_by(|&a, &b| v[a].abs().total_cmp(&v[b].abs()))
                .unwrap_or(0);
            let positive = v[axis] >= 0.0;
            match (axis, positive) {
                (0, true) => 'L',
                (0, false) => 'R',
                (1, true) => 'P',
                (1, false) => 'A',
                (_, true) => 'S',
                (_, false) => 'I',
            }
        })
        .collect()
}

/// The facts as `key: value` lines for the plain output.
pub fn plain_lines(facts: &Map<String, Value>) -> Vec<String> {
    facts
        .iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| match (k.as_str(), v) {
            ("frame_positions_mm", Value::Array(list)) => {
                let items: Vec<String> = list
                    .iter()
                    .map(|p| format!("{:.1}", p.as_f64().unwrap_or(f64::NAN)))
                    .collect();
                format!("frame positions (mm along the normal): {}", items.join(" "))
            }
            ("series", Value::Array(list)) => {
                let items: Vec<String> = list
                    .iter()
                    .map(|s| {
                        format!(
                            "#{} number {} uid {} ({} images)",
                            s["index"],
                            s["number"],
                            s["uid"].as_str().unwrap_or("-"),
                            s["images"]
                        )
                    })
                    .collect();
                format!("series: {}", items.join("; "))
            }
            ("window", Value::Object(w)) => match (w.get("center"), w.get("width")) {
                (Some(c), Some(wd)) => format!(
                    "window: centre {c} width {wd} ({})",
                    w["source"].as_str().unwrap_or("-")
                ),
                _ => format!("window: {}", w["source"].as_str().unwrap_or("-")),
            },
            (_, Value::String(s)) => format!("{}: {s}", k.replace('_', " ")),
            _ => format!("{}: {v}", k.replace('_', " ")),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::orientation_code;

    #[test]
    fn orientation_codes_of_the_standard_planes() {
        // PS3.3 C.7.6.2.1.1: x towards the patient's left, y posterior, z head.
        assert_eq!(orientation_code(&[1.0, 0.0, 0.0, 0.0, 1.0, 0.0]), "LPS");
        assert_eq!(orientation_code(&[1.0, 0.0, 0.0, 0.0, 0.0, -1.0]), "LIP");
        assert_eq!(orientation_code(&[0.0, 1.0, 0.0, 0.0, 0.0, -1.0]), "PIR");
        assert_eq!(orientation_code(&[-1.0, 0.0, 0.0, 0.0, -1.0, 0.0]), "RAS");
    }
}
