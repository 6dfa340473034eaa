//! Pillow-exact bicubic resize of 8-bit RGB frames.
//!
//! The fixtures hold Pillow's bytes, so this follows Pillow's separable resampler exactly:
//! per axis, a bicubic kernel (a = −0.5) whose support widens with the downscale factor,
//! weights normalised in f64 and then quantised to 22-bit fixed point; each pass accumulates
//! from a rounding offset, shifts and clamps to 8 bits. Width is resized first, into an 8-bit
//! buffer, then height; an axis whose size does not change is left untouched.

/// Bits of the fixed-point weights (Pillow's `PRECISION_BITS`).
const PRECISION_BITS: u32 = 22;

/// Pillow's bicubic filter with `a = −0.5` (same operation order, for bit-exact weights).
fn bicubic(x: f64) -> f64 {
    const A: f64 = -0.5;
    let x = x.abs();
    if x < 1.0 {
        ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0
    } else if x < 2.0 {
        (((x - 5.0) * x + 8.0) * x - 4.0) * A
    } else {
        0.0
    }
}

/// Fixed-point resampling weights of one axis: output `i` reads `len[i]` consecutive source
/// samples from `start[i]`, weighted by `weights[i * taps ..][..len[i]]`.
#[derive(Debug, Clone)]
pub struct AxisKernel {
    start: Vec<usize>,
    len: Vec<usize>,
    taps: usize,
    weights: Vec<i32>,
}

impl AxisKernel {
    /// The weights that resample `in_size` samples to `out_size` (both positive).
    pub fn new(in_size: usize, out_size: usize) -> Self {
        let scale = in_size as f64 / out_size as f64;
        let filter_scale = scale.max(1.0);
        let support = 2.0 * filter_scale;
        let taps = support.ceil() as usize * 2 + 1;
        let mut kernel = AxisKernel {
            start: Vec::with_capacity(out_size),
            len: Vec::with_capacity(out_size),
            taps,
            weights: vec![0; out_size * taps],
        };
        let inv = 1.0 / filter_scale;
        let mut row = vec![0f64; taps];
        for i in 0..out_size {
            let center = (i as f64 + 0.5) * scale;
            // C casts truncate toward zero; the clamps follow them, as in Pillow.
            let lo = ((center - support + 0.5) as i64).max(0) as usize;
            let hi = ((center + support + 0.5) as i64).min(in_size as i64) as usize;
            let n = hi.saturating_sub(lo).min(taps);
            let mut total = 0.0;
            for (x, w) in row.iter_mut().enumerate().take(n) {
                *w = bicubic(((x + lo) as f64 - center + 0.5) * inv);
                total += *w;
            }
            let fixed = &mut kernel.weights[i * taps..i * taps + n];
            for (k, &w) in fixed.iter_mut().zip(&row) {
                let w = if total != 0.0 { w / total } else { w };
                let scaled = w * f64::from(1u32 << PRECISION_BITS);
                *k = if w < 0.0 {
                    (scaled - 0.5) as i32
                } else {
                    (scaled + 0.5) as i32
                };
            }
            kernel.start.push(lo);
            kernel.len.push(n);
        }
        kernel
    }

    fn taps_of(&self, i: usize) -> (usize, &[i32]) {
        let n = self.len[i];
        (
            self.start[i],
            &self.weights[i * self.taps..i * self.taps + n],
        )
    }
}

/// Rounds a fixed-point sum back to 8 bits, clamping as Pillow's `clip8` does.
#[inline]
fn clip8(acc: i32) -> u8 {
    (acc >> PRECISION_BITS).clamp(0, 255) as u8
}

const HALF: i32 = 1 << (PRECISION_BITS - 1);

/// Resizes interleaved RGB rows horizontally: `height` rows of `in_w` pixels to `out.len() /
/// (3 · height)` pixels.
fn resize_horizontal(src: &[u8], in_w: usize, height: usize, kernel: &AxisKernel, out: &mut [u8]) {
    let out_w = kernel.start.len();
    for y in 0..height {
        let row = &src[y * in_w * 3..(y + 1) * in_w * 3];
        let dst = &mut out[y * out_w * 3..(y + 1) * out_w * 3];
        for (x, px) in dst.chunks_exact_mut(3).enumerate() {
            let (start, weights) = kernel.taps_of(x);
            let mut acc = [HALF; 3];
            for (k, &w) in weights.iter().enumerate() {
                let p = (start + k) * 3;
                acc[0] += i32::from(row[p]) * w;
                acc[1] += i32::from(row[p + 1]) * w;
                acc[2] += i32::from(row[p + 2]) * w;
            }
            px[0] = clip8(acc[0]);
            px[1] = clip8(acc[1]);
            px[2] = clip8(acc[2]);
        }
    }
}

/// Resizes interleaved RGB rows vertically: rows of `width` pixels, `kernel` over rows.
fn resize_vertical(src: &[u8], width: usize, kernel: &AxisKernel, out: &mut [u8]) {
    let stride = width * 3;
    let mut acc = vec![0i32; stride];
    for (y, dst) in out.chunks_exact_mut(stride).enumerate() {
        let (start, weights) = kernel.taps_of(y);
        acc.fill(HALF);
        for (k, &w) in weights.iter().enumerate() {
            let row = &src[(start + k) * stride..(start + k + 1) * stride];
            for (a, &v) in acc.iter_mut().zip(row) {
                *a += i32::from(v) * w;
            }
        }
        for (d, &a) in dst.iter_mut().zip(&acc) {
            *d = clip8(a);
        }
    }
}

/// A reusable Pillow bicubic resize from one frame size to another.
#[derive(Debug, Clone)]
pub struct BicubicResize {
    in_w: usize,
    in_h: usize,
    out_w: usize,
    out_h: usize,
    horizontal: Option<AxisKernel>,
    vertical: Option<AxisKernel>,
}

impl BicubicResize {
    /// Precomputes the weights for `in_w × in_h → out_w × out_h` (all positive).
    pub fn new(in_w: usize, in_h: usize, out_w: usize, out_h: usize) -> Self {
        BicubicResize {
            in_w,
            in_h,
            out_w,
            out_h,
            horizontal: (in_w != out_w).then(|| AxisKernel::new(in_w, out_w)),
            vertical: (in_h != out_h).then(|| AxisKernel::new(in_h, out_h)),
        }
    }

    /// Resizes one interleaved RGB frame of `in_w × in_h` pixels (`src.len()` must be
    /// `in_w · in_h · 3`) to `out_w × out_h`.
    pub fn apply(&self, src: &[u8]) -> Vec<u8> {
        debug_assert_eq!(src.len(), self.in_w * self.in_h * 3);
        let widened;
        let rows: &[u8] = match &self.horizontal {
            Some(k) => {
                let mut buf = vec![0u8; self.out_w * self.in_h * 3];
                resize_horizontal(src, self.in_w, self.in_h, k, &mut buf);
                widened = buf;
                &widened
            }
            None => src,
        };
        match &self.vertical {
            Some(k) => {
                let mut out = vec![0u8; self.out_w * self.out_h * 3];
                resize_vertical(rows, self.out_w, k, &mut out);
                out
            }
            None => rows.to_vec(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_sum_to_one_in_fixed_point() {
        for (i, o) in [(320, 238), (240, 322), (33, 112), (512, 252), (5, 5)] {
            let k = AxisKernel::new(i, o);
            for x in 0..o {
                let (_, w) = k.taps_of(x);
                let sum: i32 = w.iter().sum();
                assert!(
                    (sum - (1 << PRECISION_BITS)).abs() <= w.len() as i32,
                    "{i}->{o} at {x}"
                );
            }
        }
    }

    #[test]
    fn constant_frames_stay_constant() {
        let src = vec![77u8; 41 * 33 * 3];
        for (w, h) in [(140, 112), (20, 16), (41, 50)] {
            let out = BicubicResize::new(41, 33, w, h).apply(&src);
            assert_eq!(out.len(), w * h * 3);
            assert!(out.iter().all(|&v| v == 77));
        }
    }

    #[test]
    fn same_size_is_the_identity() {
        let src: Vec<u8> = (0..7 * 5 * 3).map(|v| (v * 37 % 256) as u8).collect();
        assert_eq!(BicubicResize::new(7, 5, 7, 5).apply(&src), src);
    }
}
