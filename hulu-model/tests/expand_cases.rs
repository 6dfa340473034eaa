//! Every fixture case end to end on the text side: messages → template → tokenizer →
//! `<image>` expansion must give the case's `input_ids` exactly, with the visual token counts
//! derived from its `grid_sizes` and `merge_sizes`.

use hulu_io::{MergedGrid, PatchGrid};
use hulu_model::template::Message;
use hulu_model::{
    encode_with_images, expand_image_tokens, image_token_id, tokens_per_placeholder, ChatTemplate,
    Error, Tokenizer,
};
use hulu_testkit::{cases, Case};

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

/// Each model's tokenizer, loaded once for all cases (loading takes a while in debug builds).
fn tokenizer_for(dir: &PathBuf) -> Tokenizer {
    static CACHE: OnceLock<Mutex<HashMap<PathBuf, Tokenizer>>> = OnceLock::new();
    let mut cache = CACHE.get_or_init(Default::default).lock().unwrap();
    cache
        .entry(dir.clone())
        .or_insert_with(|| Tokenizer::from_dir(dir).unwrap())
        .clone()
}

/// The case's visual grids and merge factors (empty for text-only cases).
fn grids(case: &Case) -> (Vec<PatchGrid>, Vec<usize>) {
    let tensors = case.tensors();
    if !tensors.has("grid_sizes") {
        return (Vec::new(), Vec::new());
    }
    let grid = tensors.get("grid_sizes").i64();
    let grids = grid
        .chunks(3)
        .map(|g| PatchGrid {
            frames: g[0] as usize,
            rows: g[1] as usize,
            cols: g[2] as usize,
        })
        .collect();
    let merges = tensors
        .get("merge_sizes")
        .i64()
        .iter()
        .map(|&m| m as usize)
        .collect();
    (grids, merges)
}

#[test]
fn input_ids_match_every_case() {
    for case in cases() {
        let template = ChatTemplate::from_dir(&case.model_dir).unwrap();
        let tokenizer = tokenizer_for(&case.model_dir);
        let image_id = image_token_id(&case.model_dir).unwrap();
        assert_eq!(
            i64::from(image_id),
            case.json["image_token_id"].as_i64().unwrap()
        );

        let messages: Vec<Message> = serde_json::from_value(case.json["messages"].clone()).unwrap();
        let prompt = template.render(&messages, true).unwrap();
        let (grids, merges) = grids(&case);
        let counts = tokens_per_placeholder(&MergedGrid::zip(&grids, &merges).unwrap());
        assert_eq!(
            counts.len(),
            hulu_model::template::image_placeholders(&messages)
        );

        let ids = encode_with_images(&tokenizer, &prompt, image_id, &counts).unwrap();
        let expected: Vec<u32> = case
            .tensors()
            .get("input_ids")
            .i64()
            .iter()
            .map(|&id| id as u32)
            .collect();
        println!(
            "{}: {} ids, {} placeholders -> {} visual tokens",
            case.label(),
            ids.len(),
            counts.len(),
            counts.iter().sum::<usize>()
        );
        assert_eq!(ids, expected, "{}", case.label());
    }
}

#[test]
fn placeholder_and_frame_count_mismatches_are_typed_errors() {
    for case in cases().into_iter().filter(Case::has_visual) {
        println!("{}", case.label());
        let tokenizer = tokenizer_for(&case.model_dir);
        let image_id = image_token_id(&case.model_dir).unwrap();
        let ids = tokenizer
            .encode(case.json["prompt"].as_str().unwrap())
            .unwrap();
        let (grids, merges) = grids(&case);
        let counts = tokens_per_placeholder(&MergedGrid::zip(&grids, &merges).unwrap());

        let fewer = &counts[..counts.len() - 1];
        assert!(matches!(
            expand_image_tokens(&ids, image_id, fewer),
            Err(Error::ImageCountMismatch { placeholders, visual_frames })
                if placeholders == counts.len() && visual_frames == counts.len() - 1
        ));
        let mut more = counts.clone();
        more.push(1);
        assert!(matches!(
            expand_image_tokens(&ids, image_id, &more),
            Err(Error::ImageCountMismatch { .. })
        ));
    }
}

#[test]
fn counts_follow_frames_and_merge() {
    let volume = PatchGrid {
        frames: 8,
        rows: 8,
        cols: 10,
    };
    let image = PatchGrid {
        frames: 1,
        rows: 9,
        cols: 9,
    };
    assert_eq!(
        tokens_per_placeholder(&MergedGrid::zip(&[image, volume], &[1, 2]).unwrap()),
        [81, 20, 20, 20, 20, 20, 20, 20, 20]
    );
    // Merge sizes that do not fit are refused when the grid is made, before any count.
    assert!(MergedGrid::zip(&[image], &[2]).is_err());
    assert!(MergedGrid::zip(&[image], &[0]).is_err());
    assert!(MergedGrid::zip(&[image], &[]).is_err());
    assert_eq!(
        expand_image_tokens(&[5, 9, 6, 9, 7], 9, &[2, 0]).unwrap(),
        [5, 9, 9, 6, 7]
    );
}
