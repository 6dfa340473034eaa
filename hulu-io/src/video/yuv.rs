//! YUV 4:2:0 to RGB as FFmpeg's `rgb24` conversion does it: the stream's colour range and
//! matrix from its H.264 VUI (ITU-T H.264 Annex E: `video_full_range_flag`,
//! `matrix_coefficients`), BT.601 when it says nothing (swscale's default), chroma taken
//! from the nearest sample (swscale's unscaled `yuv2rgb` path does the same).

/// How a stream's samples map to RGB.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Colour {
    /// Full range (`yuvj420p`, Y 0..255) rather than limited (Y 16..235, C 16..240).
    pub full_range: bool,
    /// Luma weights of red and blue (Kr, Kb) of the matrix.
    pub kr_kb: (f32, f32),
}

impl Default for Colour {
    /// BT.601 limited range: what FFmpeg assumes for a stream without colour tags.
    fn default() -> Self {
        Colour {
            full_range: false,
            kr_kb: (0.299, 0.114),
        }
    }
}

impl Colour {
    /// From H.264 VUI values: `matrix_coefficients` per ITU-T H.273 (1 BT.709, 4 FCC,
    /// 5/6 BT.601, 7 SMPTE 240M, 9/10 BT.2020); others (2 unspecified among them) fall back
    /// to BT.601 as swscale's `sws_getCoefficients` does.
    pub fn from_vui(full_range: bool, matrix_coefficients: Option<u8>) -> Self {
        let kr_kb = match matrix_coefficients {
            Some(1) => (0.2126, 0.0722),
            Some(4) => (0.30, 0.11),
            Some(7) => (0.212, 0.087),
            Some(9 | 10) => (0.2627, 0.0593),
            _ => (0.299, 0.114),
        };
        Colour { full_range, kr_kb }
    }
}

/// Converts one I420 picture. `strides` are the byte strides of the Y and the U/V planes.
/// `None` when a plane is too short for the declared size.
pub fn i420_to_rgb(
    (y, u, v): (&[u8], &[u8], &[u8]),
    (width, height): (usize, usize),
    (y_stride, uv_stride): (usize, usize),
    colour: &Colour,
) -> Option<Vec<u8>> {
    if width == 0 || height == 0 {
        return None;
    }
    let y_need = (height - 1) * y_stride + width;
    let uv_need = ((height - 1) / 2) * uv_stride + (width - 1) / 2 + 1;
    if y.len() < y_need || u.len() < uv_need || v.len() < uv_need || y_stride < width {
        return None;
    }
    let (kr, kb) = colour.kr_kb;
    let kg = 1.0 - kr - kb;
    let (y_off, y_gain, c_gain) = if colour.full_range {
        (0.0, 1.0, 1.0)
    } else {
        (16.0, 255.0 / 219.0, 255.0 / 224.0)
    };
    let r_cr = 2.0 * (1.0 - kr) * c_gain;
    let b_cb = 2.0 * (1.0 - kb) * c_gain;
    let g_cb = 2.0 * kb * (1.0 - kb) / kg * c_gain;
    let g_cr = 2.0 * kr * (1.0 - kr) / kg * c_gain;
    let mut out = vec![0u8; width * height * 3];
    for row in 0..height {
        let yr = &y[row * y_stride..row * y_stride + width];
        let cr = (row / 2) * uv_stride;
        let dst = &mut out[row * width * 3..(row + 1) * width * 3];
        for (col, px) in dst.chunks_exact_mut(3).enumerate() {
            let yy = y_gain * (yr[col] as f32 - y_off);
            let cb = u[cr + col / 2] as f32 - 128.0;
            let cv = v[cr + col / 2] as f32 - 128.0;
            px[0] = (yy + r_cr * cv).round().clamp(0.0, 255.0) as u8;
            px[1] = (yy - g_cb * cb - g_cr * cv).round().clamp(0.0, 255.0) as u8;
            px[2] = (yy + b_cb * cb).round().clamp(0.0, 255.0) as u8;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_and_matrix_change_the_result() {
        // One 2x2 picture of grey 200 in full range stays 200 (the `mp4-full-range` bug);
        // read as limited range it would become 214.
        let grey = [200u8; 4];
        let c = [128u8];
        let full = Colour::from_vui(true, None);
        let rgb = i420_to_rgb((&grey, &c, &c), (2, 2), (2, 1), &full).unwrap();
        assert!(rgb.iter().all(|&v| v == 200));
        let limited = i420_to_rgb((&grey, &c, &c), (2, 2), (2, 1), &Colour::default()).unwrap();
        assert!(limited.iter().all(|&v| v == 214));
        // A saturated chroma sample: BT.709 gives less red than BT.601 for the same Cr.
        let y = [100u8; 4];
        let (cb, cr) = ([128u8], [200u8]);
        let r601 = i420_to_rgb((&y, &cb, &cr), (2, 2), (2, 1), &Colour::default()).unwrap()[0];
        let r709 = i420_to_rgb(
            (&y, &cb, &cr),
            (2, 2),
            (2, 1),
            &Colour::from_vui(false, Some(1)),
        )
        .unwrap()[0];
        assert!(r709 > r601, "709 {r709} vs 601 {r601}");
    }
}
