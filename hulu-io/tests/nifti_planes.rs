//! `NiftiFile::read_slices` (only the chosen planes read) gives exactly the frames of a full read
//! followed by `slices_with_limits`, for every fixture, axis, count and volume.

use hulu_io::nifti::{NiftiFile, NiftiVolume, SliceAxis, SliceOptions, Window};
use hulu_io::{Error, Limits};
use hulu_testkit::io_files;

const AXES: [SliceAxis; 6] = [
    SliceAxis::Index(0),
    SliceAxis::Index(1),
    SliceAxis::Index(2),
    SliceAxis::Axial,
    SliceAxis::Coronal,
    SliceAxis::Sagittal,
];

#[test]
fn planes_equal_the_full_read_for_every_fixture() {
    let limits = Limits::default();
    let mut checked = 0;
    for path in io_files("nifti", ".nii")
        .into_iter()
        .chain(io_files("nifti", ".nii.gz"))
    {
        let Ok(volume) = NiftiVolume::open(&path) else {
            println!("{}: not readable as a whole, skipped", path.display());
            continue;
        };
        for axis in AXES {
            for count in [None, Some(1), Some(5)] {
                for window in [None, Some(Window::BRAIN)] {
                    let options = SliceOptions {
                        axis,
                        count,
                        volume: volume.volumes() - 1,
                        window,
                    };
                    let full = volume.slices_with_limits(&options, &limits).unwrap();
                    let planes = NiftiFile::open(&path)
                        .unwrap()
                        .read_slices(&options, &limits)
                        .unwrap();
                    assert_eq!(
                        NiftiFile::open(&path).unwrap().slice_count(axis).unwrap(),
                        volume.slice_count(axis).unwrap()
                    );
                    assert_eq!(planes.frames, full.frames, "{} {options:?}", path.display());
                    checked += 1;
                }
            }
        }
        println!("{}: planes equal the full read", path.display());
    }
    assert!(checked > 0);
}

#[test]
fn a_truncated_file_is_refused_even_when_the_chosen_planes_survive() {
    let path = io_files("nifti", ".nii")
        .into_iter()
        .find(|p| p.to_string_lossy().ends_with("anatomical.nii"))
        .expect("anatomical.nii fixture");
    let bytes = std::fs::read(&path).unwrap();
    let dir = std::env::temp_dir().join(format!("hulu_planes_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cut = dir.join("cut.nii");
    std::fs::write(&cut, &bytes[..bytes.len() - 10]).unwrap();
    let options = SliceOptions {
        axis: SliceAxis::Index(2),
        count: Some(1),
        ..SliceOptions::default()
    };
    let e = NiftiFile::open(&cut)
        .unwrap()
        .read_slices(&options, &Limits::default())
        .unwrap_err();
    assert!(matches!(e, Error::InvalidNifti { .. }), "{e}");
    let bad_volume = SliceOptions {
        volume: 7,
        ..options
    };
    let e = NiftiFile::open(&path)
        .unwrap()
        .read_slices(&bad_volume, &Limits::default())
        .unwrap_err();
    assert!(matches!(e, Error::InvalidRequest(_)), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}
