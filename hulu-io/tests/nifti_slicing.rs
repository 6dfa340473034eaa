//! Slicing: anatomical axes resolved from the affine, the 4-D volume index, windowing and
//! the errors for requests a volume cannot satisfy.

use hulu_io::nifti::{NiftiVolume, SliceAxis, SliceOptions, Window};
use hulu_io::{Error, Limits};
use hulu_testkit::fixtures_root;

/// A little-endian NIfTI-1 int16 volume with the given sform rows and voxel values.
fn nifti(dims: [usize; 3], srow: [[f32; 4]; 3], values: &[i16]) -> Vec<u8> {
    let mut h = vec![0u8; 352];
    h[0..4].copy_from_slice(&348i32.to_le_bytes());
    for (i, d) in [3, dims[0], dims[1], dims[2], 1, 1, 1, 1]
        .iter()
        .enumerate()
    {
        h[40 + 2 * i..42 + 2 * i].copy_from_slice(&(*d as i16).to_le_bytes());
    }
    h[70..72].copy_from_slice(&4i16.to_le_bytes());
    h[72..74].copy_from_slice(&16i16.to_le_bytes());
    for i in 0..4 {
        h[76 + 4 * i..80 + 4 * i].copy_from_slice(&1f32.to_le_bytes());
    }
    h[108..112].copy_from_slice(&352f32.to_le_bytes());
    h[254..256].copy_from_slice(&1i16.to_le_bytes()); // sform_code
    for (r, row) in srow.iter().enumerate() {
        for (c, v) in row.iter().enumerate() {
            let at = 280 + 16 * r + 4 * c;
            h[at..at + 4].copy_from_slice(&v.to_le_bytes());
        }
    }
    h[344..348].copy_from_slice(b"n+1\0");
    for v in values {
        h.extend_from_slice(&v.to_le_bytes());
    }
    h
}

#[test]
fn anatomical_planes_follow_the_affine() {
    let dims = [4, 5, 6];
    let values: Vec<i16> = (0..120).collect();
    // Array axis 0 runs inferior→superior, axis 1 left→right (x decreasing), axis 2
    // posterior→anterior: a volume stored in another orientation.
    let srow = [
        [0.0, -1.0, 0.0, 0.0],
        [0.0, 0.0, 1.0, 0.0],
        [1.0, 0.0, 0.0, 0.0],
    ];
    let vol = NiftiVolume::from_bytes(&nifti(dims, srow, &values), &Limits::default()).unwrap();
    assert_eq!(vol.axis_codes(), ['S', 'L', 'A']);
    assert_eq!(vol.resolve_axis(SliceAxis::Axial).unwrap(), 0);
    assert_eq!(vol.resolve_axis(SliceAxis::Sagittal).unwrap(), 1);
    assert_eq!(vol.resolve_axis(SliceAxis::Coronal).unwrap(), 2);
    // Axial slice k = data[k, :, :]: rows along axis 1, columns along axis 2.
    let s = vol.slice(SliceAxis::Axial, 2, 0).unwrap();
    assert_eq!((s.height, s.width), (5, 6));
    for r in 0..5 {
        for c in 0..6 {
            let want = vol.get(&[2, r, c]).unwrap();
            assert_eq!(s.values[r * 6 + c], want);
            assert_eq!(want, (2 + 4 * (r + 5 * c)) as f32);
        }
    }
    let frames = vol
        .slices(&SliceOptions {
            axis: SliceAxis::Axial,
            ..SliceOptions::default()
        })
        .unwrap();
    assert_eq!(frames.frames.len(), 4);

    // The fixture's anatomical.nii is stored LAS: axial is its third axis.
    let anat = NiftiVolume::open(fixtures_root().join("io/nifti/anatomical.nii")).unwrap();
    assert_eq!(anat.axis_codes(), ['L', 'A', 'S']);
    assert_eq!(anat.resolve_axis(SliceAxis::Axial).unwrap(), 2);
    // example4d is oblique (rotated about x): the nearest axes still resolve one to one.
    let ex = NiftiVolume::open(fixtures_root().join("io/nifti/example4d.nii.gz")).unwrap();
    assert_eq!(ex.axis_codes(), ['L', 'A', 'S']);
}

#[test]
fn four_d_series_slice_the_requested_volume() {
    let path = fixtures_root().join("io/nifti/example4d.nii.gz");
    println!("checking {}", path.display());
    let vol = NiftiVolume::open(&path).unwrap();
    assert_eq!(vol.volumes(), 2);
    let s = vol.slice(SliceAxis::Index(2), 10, 1).unwrap();
    assert_eq!((s.height, s.width), (128, 96));
    assert_eq!(s.values[3 * 96 + 7], vol.get(&[3, 7, 10, 1]).unwrap());
    let v0 = vol.slice(SliceAxis::Index(2), 10, 0).unwrap();
    assert_ne!(s.values, v0.values);
    let frames = vol
        .slices(&SliceOptions {
            count: Some(3),
            volume: 1,
            ..SliceOptions::default()
        })
        .unwrap();
    assert_eq!(frames.frames.len(), 3);
    assert!(matches!(
        vol.slices(&SliceOptions {
            volume: 2,
            ..SliceOptions::default()
        }),
        Err(Error::InvalidRequest(_))
    ));
}

#[test]
fn windowed_frames_clip_then_normalise() {
    let values: Vec<i16> = (0..24).map(|v| v * 100 - 1000).collect();
    let eye = [
        [1.0, 0.0, 0.0, 0.0],
        [0.0, 1.0, 0.0, 0.0],
        [0.0, 0.0, 1.0, 0.0],
    ];
    let vol = NiftiVolume::from_bytes(&nifti([2, 3, 4], eye, &values), &Limits::default()).unwrap();
    // Slice k = 3 holds -1000 + 100 * (18..24) = 800..1300; a window of 1000 ± 100 clips
    // 800 and 1300 to 900 and 1100.
    let frames = vol
        .slices(&SliceOptions {
            count: Some(1),
            window: Some(Window::new(1000.0, 200.0)),
            ..SliceOptions::default()
        })
        .unwrap();
    // count 1 takes slice 0: -1000..-500, all below the window: a constant slice, zeros.
    assert!(frames.frames[0].data.iter().all(|&v| v == 0));
    let s = vol.slice(SliceAxis::Index(2), 3, 0).unwrap();
    let u8s = s.to_u8(Some(Window::new(1000.0, 200.0))).unwrap();
    // Row-major over (i, j) = data[:, :, 3]: values 800, 1000, 1200 / 900, 1100, 1300.
    assert_eq!(u8s, [0, 127, 255, 0, 255, 255]);
    assert!(matches!(
        vol.slice(SliceAxis::Index(3), 0, 0),
        Err(Error::InvalidRequest(_))
    ));
    assert!(matches!(
        vol.slice(SliceAxis::Index(2), 4, 0),
        Err(Error::InvalidRequest(_))
    ));
    assert!(SliceAxis::parse("oblique").is_err());
}
