//! The study schema shared by `hulu batch` and the Python bindings: what it accepts, what
//! it refuses (naming the field), and how options fall back.

use hulu_model::batch::{error_class, CallOptions, ErrorClass, InputKind, ReadOptions, Study};
use hulu_model::{Error, SliceAxis, Window};

fn invalid_field(err: Error) -> String {
    match err {
        Error::InvalidRequest { field, .. } => field,
        other => panic!("expected InvalidRequest, got {other:?}"),
    }
}

#[test]
fn a_study_line_reads_inputs_and_options() {
    let study = Study::from_json(
        r#"{"id": "ct-1", "question": "Nodule?",
            "inputs": [{"type": "dicom_series", "path": "/a/ct", "slices": 32, "window": "lung"}],
            "options": {"max_new_tokens": 8, "compression": true}}"#,
    )
    .unwrap();
    assert_eq!(study.id, "ct-1");
    assert_eq!(study.inputs[0].kind, InputKind::DicomSeries);
    let load = study.inputs[0].read_options().load_options().unwrap();
    assert_eq!(load.slices, Some(32));
    assert_eq!(load.window, Some(Window::LUNG));
    let options = study.options.unwrap();
    assert_eq!(options.generate_options().max_new_tokens, 8);
    assert_eq!(options.prepare_options().compression, Some(true));
}

#[test]
fn unknown_or_mistyped_fields_are_named() {
    let field = |json: &str| invalid_field(Study::from_json(json).unwrap_err());
    assert!(field(
        r#"{"id": "a", "question": "?", "inputs": [{"type": "nifti", "path": "x", "slice": 3}]}"#
    )
    .starts_with("study.inputs[0]"));
    assert_eq!(
        field(r#"{"id": "a", "question": "?", "inputs": [{"type": "hologram", "path": "x"}]}"#),
        "study.inputs[0].type"
    );
    assert_eq!(field(r#"{"question": "?"}"#), "study");
    assert_eq!(
        invalid_field(CallOptions::from_json(r#"{"max_new_tokens": "many"}"#).unwrap_err()),
        "options.max_new_tokens"
    );
}

#[test]
fn windows_axes_and_series_parse_as_the_cli_flags_do() {
    let read = |json: &str| {
        CallOptions::from_json(json)
            .unwrap()
            .read_options()
            .load_options()
    };
    assert_eq!(
        read(r#"{"window": "-600/1500"}"#).unwrap().window,
        Some(Window::LUNG)
    );
    assert_eq!(
        read(r#"{"window": [40, 400]}"#).unwrap().window,
        Some(Window::MEDIASTINUM)
    );
    assert_eq!(read(r#"{"axis": 1}"#).unwrap().axis, SliceAxis::Index(1));
    assert_eq!(
        read(r#"{"axis": "sagittal"}"#).unwrap().axis,
        SliceAxis::parse("sagittal").unwrap()
    );
    for (bad, field) in [
        (r#"{"window": "minmax"}"#, "window"),
        (r#"{"window": [40, 0]}"#, "window"),
        (r#"{"axis": "sideways"}"#, "axis"),
        (r#"{"fps": 0}"#, "fps"),
        (r##"{"series": "#x"}"##, "series"),
    ] {
        assert_eq!(invalid_field(read(bad).unwrap_err()), field, "{bad}");
    }
}

#[test]
fn a_part_choice_wins_over_the_call_and_the_call_over_the_defaults() {
    let part = ReadOptions {
        slices: Some(4),
        ..ReadOptions::default()
    };
    let call = CallOptions::from_json(r#"{"slices": 8, "fps": 2.0}"#).unwrap();
    let merged = part.or(&call.read_options());
    assert_eq!(merged.slices, Some(4));
    assert_eq!(merged.fps, Some(2.0));
    let study = CallOptions::from_json(r#"{"max_new_tokens": 3}"#).unwrap();
    let run = CallOptions::from_json(r#"{"max_new_tokens": 9, "ignore_eos": true}"#).unwrap();
    let both = study.or(&run);
    assert_eq!(both.max_new_tokens, Some(3));
    assert_eq!(both.ignore_eos, Some(true));
    assert!(both.generate_options().suppress_eos);
}

#[test]
fn errors_sort_into_file_input_and_model() {
    let missing = hulu_model::VisualSource::Nifti("/nonexistent/x.nii".into())
        .load(&Default::default())
        .unwrap_err();
    assert_eq!(error_class(&missing), ErrorClass::File);
    let option = CallOptions::from_json(r#"{"fps": "x"}"#).unwrap_err();
    assert_eq!(error_class(&option), ErrorClass::Input);
    assert_eq!(error_class(&Error::Template("x".into())), ErrorClass::Model);
    assert_eq!(ErrorClass::Input.name(), "InputError");
}
