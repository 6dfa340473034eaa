//! `hulu demo`: the quick-start demo. The embedded tiny model answers a question about a real
//! CT DICOM series and one about a real MR NIfTI volume from the fixtures, with its token
//! accounting. The tiny model's weights are random: its words are too.

use super::common::{question_turn, summary};
use anyhow::Result;
use hulu_model::{GenerateOptions, HuluMed, LoadOptions, PrepareOptions, VisualSource};
use std::io::Write;
use std::path::Path;
use tch::{Device, Kind};

/// Runs the demo on the checkpoint in `dir`, with the inputs under `fixtures`.
pub fn run(dir: &Path, fixtures: &Path) -> Result<()> {
    let start = std::time::Instant::now();
    let model = HuluMed::from_pretrained(dir, Device::Cpu, Kind::Float)?;
    println!(
        "loaded {} ({:?} decoder) in {:.2}s",
        dir.display(),
        model.config().family(),
        start.elapsed().as_secs_f64()
    );
    println!(
        "note: the embedded tiny model has random weights, so its answers are random words.\n"
    );
    let questions = [
        (
            fixtures.join("io/dicom/series_ct5n"),
            "Is there any abnormality in this CT series?",
        ),
        (
            fixtures.join("inputs/anatomical.nii"),
            "Which organ is shown in this MRI volume?",
        ),
    ];
    for (file, question) in questions {
        let visual = VisualSource::from_path(&file).load(&LoadOptions {
            slices: Some(8),
            ..LoadOptions::default()
        })?;
        print!(
            "{} ({:?}, {} slices)\nQ: {question}\nA: ",
            file.strip_prefix(fixtures).unwrap_or(&file).display(),
            visual.kind,
            visual.frames.len()
        );
        let turns = [question_turn(
            vec![hulu_model::Item::Visual(visual)],
            question,
        )];
        let generation = model.generate_stream(
            &turns,
            &PrepareOptions {
                compression: Some(true),
                ..PrepareOptions::default()
            },
            &GenerateOptions {
                max_new_tokens: 24,
                ..GenerateOptions::default()
            },
            |piece| {
                print!("{piece}");
                let _ = std::io::stdout().flush();
            },
        )?;
        println!("\n{}\n", summary(&generation, None));
    }
    println!(
        "For a real checkpoint: hulu ask --model /path/to/Hulu-Med-7B --dtype bf16 \\\n    \
         --question \"Describe the findings.\" /path/to/ct_series_folder"
    );
    Ok(())
}
