//! Pictures: a fixture PNG against pydicom's pixels, and round trips through every format at
//! 8 and 16 bits, grey and colour.

use std::io::Cursor;

use hulu_io::image::{load_image, picture_from_bytes, Picture};
use hulu_io::{Error, Limits, VisualKind};
use hulu_testkit::{fixtures_root, TensorFile};
use image::{DynamicImage, ImageBuffer, ImageFormat, Luma, LumaA, Rgb, Rgba};

fn encode(img: DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, format).unwrap();
    out.into_inner()
}

fn decode(bytes: &[u8]) -> Picture {
    picture_from_bytes("<test>", bytes, &Limits::default()).unwrap()
}

#[test]
fn fixture_png_matches_the_dicom_it_was_rendered_from() {
    // inputs/SOURCES.json: us_rgb.png is pydicom's decode of examples_rgb_color.dcm.
    let root = fixtures_root();
    let png = root.join("inputs/us_rgb.png");
    println!("checking {}", png.display());
    let visual = load_image(&png).unwrap();
    assert_eq!(visual.kind, VisualKind::Image);
    assert_eq!(visual.frames.len(), 1);
    let frame = &visual.frames[0];
    assert_eq!((frame.width, frame.height), (320, 240));
    let stored =
        TensorFile::open(&root.join("io/dicom/examples_rgb_color.dcm.safetensors")).get("stored");
    assert_eq!(stored.shape, [240, 320, 3]);
    assert_eq!(frame.data, stored.bytes());
    for name in ["ct_small.png", "mr_small.png"] {
        let path = root.join("inputs").join(name);
        println!("checking {}", path.display());
        let pic = hulu_io::image::read_picture(&path, &Limits::default()).unwrap();
        assert_eq!(
            (pic.channels, pic.bit_depth),
            (1, 8),
            "{name} is 8-bit grey"
        );
        let rgb = pic.to_rgb_frame();
        for (px, &g) in rgb.data.chunks_exact(3).zip(&pic.samples) {
            assert_eq!(px, [g as u8; 3]);
        }
    }
}

fn gradient16(w: u32, h: u32) -> ImageBuffer<Luma<u16>, Vec<u16>> {
    ImageBuffer::from_fn(w, h, |x, y| Luma([((x * 977 + y * 7919) % 65536) as u16]))
}

#[test]
fn sixteen_bit_grey_keeps_its_values_and_scales_to_u8() {
    let img = gradient16(37, 23);
    for format in [ImageFormat::Png, ImageFormat::Tiff] {
        let pic = decode(&encode(DynamicImage::ImageLuma16(img.clone()), format));
        println!("checking 16-bit grey {format:?}");
        assert_eq!(
            (pic.width, pic.height, pic.channels, pic.bit_depth),
            (37, 23, 1, 16)
        );
        assert_eq!(pic.samples, img.as_raw().as_slice());
        let frame = pic.to_rgb_frame();
        for (px, &v) in frame.data.chunks_exact(3).zip(img.as_raw()) {
            let want = (v as f64 * 255.0 / 65535.0).round() as u8;
            assert_eq!(px, [want; 3]);
        }
    }
}

#[test]
fn eight_bit_grey_and_colour_round_trip_losslessly() {
    let grey = ImageBuffer::from_fn(19, 11, |x, y| Luma([(x * 13 + y * 7) as u8]));
    let rgb = ImageBuffer::from_fn(19, 11, |x, y| Rgb([x as u8 * 9, y as u8 * 20, 200]));
    let rgba = ImageBuffer::from_fn(19, 11, |x, y| Rgba([x as u8, y as u8, 7, 128]));
    let grey_alpha = ImageBuffer::from_fn(19, 11, |x, _| LumaA([x as u8 * 5, 99]));
    let rgb16 = ImageBuffer::from_fn(19, 11, |x, y| {
        Rgb([x as u16 * 3000, y as u16 * 5000, 65535])
    });
    let cases: Vec<(DynamicImage, ImageFormat)> = vec![
        (DynamicImage::ImageLuma8(grey.clone()), ImageFormat::Png),
        (DynamicImage::ImageLuma8(grey.clone()), ImageFormat::Tiff),
        (DynamicImage::ImageRgb8(rgb.clone()), ImageFormat::Png),
        (DynamicImage::ImageRgb8(rgb.clone()), ImageFormat::Tiff),
        (DynamicImage::ImageRgb8(rgb.clone()), ImageFormat::Bmp),
        (DynamicImage::ImageRgba8(rgba.clone()), ImageFormat::Png),
        (
            DynamicImage::ImageLumaA8(grey_alpha.clone()),
            ImageFormat::Png,
        ),
        (DynamicImage::ImageRgb16(rgb16.clone()), ImageFormat::Png),
    ];
    for (img, format) in cases {
        println!("checking {:?} {format:?}", img.color());
        let pic = decode(&encode(img.clone(), format));
        let frame = pic.to_rgb_frame();
        assert_eq!((frame.width, frame.height), (19, 11));
        // The image crate's own 8-bit RGB conversion drops alpha and scales 16-bit the same
        // way; it is the independent expectation here.
        assert_eq!(
            frame.data,
            img.to_rgb8().into_raw(),
            "{:?} {format:?}",
            img.color()
        );
    }
}

#[test]
fn jpeg_decodes_within_compression_error() {
    let rgb = ImageBuffer::from_fn(64, 48, |x, y| Rgb([(x * 4) as u8, (y * 5) as u8, 128]));
    let bytes = encode(DynamicImage::ImageRgb8(rgb.clone()), ImageFormat::Jpeg);
    let pic = decode(&bytes);
    assert_eq!(pic.format, "Jpeg");
    let frame = pic.to_rgb_frame();
    let mean_err = frame
        .data
        .iter()
        .zip(rgb.as_raw())
        .map(|(&a, &b)| (a as f64 - b as f64).abs())
        .sum::<f64>()
        / frame.data.len() as f64;
    println!("JPEG mean absolute error {mean_err:.2}");
    assert!(mean_err < 3.0, "JPEG mean error {mean_err}");
}

#[test]
fn format_comes_from_content_and_limits_apply_before_decoding() {
    let png = encode(
        DynamicImage::ImageLuma16(gradient16(300, 200)),
        ImageFormat::Png,
    );
    let dir = std::env::temp_dir().join(format!("hulu-image-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let misnamed = dir.join("really_a_png.jpg");
    std::fs::write(&misnamed, &png).unwrap();
    assert_eq!(load_image(&misnamed).unwrap().frames[0].width, 300);
    std::fs::remove_dir_all(&dir).unwrap();

    let small = Limits {
        max_dim: 256,
        ..Limits::default()
    };
    assert!(matches!(
        picture_from_bytes("<test>", &png, &small),
        Err(Error::TooLarge { .. })
    ));
    let tight = Limits {
        max_bytes: 10_000,
        ..Limits::default()
    };
    assert!(matches!(
        picture_from_bytes("<test>", &png, &tight),
        Err(Error::TooLarge { .. })
    ));
    assert!(matches!(
        picture_from_bytes("<test>", b"GIF89a....", &Limits::default()),
        Err(Error::UnsupportedMedia { .. } | Error::InvalidImage { .. })
    ));
}
