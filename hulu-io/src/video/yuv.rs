//! YUV 4:2:0 to RGB, BT.601 limited range (what FFmpeg's `rgb24` conversion assumes for
//! streams that do not tag their colour space), chroma taken from the nearest sample.

/// Converts one I420 picture. `strides` are the byte strides of the Y and the U/V planes.
/// `None` when a plane is too short for the declared size.
pub fn i420_to_rgb(
    (y, u, v): (&[u8], &[u8], &[u8]),
    (width, height): (usize, usize),
    (y_stride, uv_stride): (usize, usize),
) -> Option<Vec<u8>> {
    if width == 0 || height == 0 {
        return None;
    }
    let y_need = (height - 1) * y_stride + width;
    let uv_need = ((height - 1) / 2) * uv_stride + (width - 1) / 2 + 1;
    if y.len() < y_need || u.len() < uv_need || v.len() < uv_need || y_stride < width {
        return None;
    }
    let mut out = vec![0u8; width * height * 3];
    for row in 0..height {
        let yr = &y[row * y_stride..row * y_stride + width];
        let cr = (row / 2) * uv_stride;
        let dst = &mut out[row * width * 3..(row + 1) * width * 3];
        for (col, px) in dst.chunks_exact_mut(3).enumerate() {
            let yy = 1.164_383_6 * (yr[col] as f32 - 16.0);
            let cb = u[cr + col / 2] as f32 - 128.0;
            let cv = v[cr + col / 2] as f32 - 128.0;
            px[0] = (yy + 1.596_026_8 * cv).round().clamp(0.0, 255.0) as u8;
            px[1] = (yy - 0.391_762_3 * cb - 0.812_967_6 * cv)
                .round()
                .clamp(0.0, 255.0) as u8;
            px[2] = (yy + 2.017_232_1 * cb).round().clamp(0.0, 255.0) as u8;
        }
    }
    Some(out)
}
