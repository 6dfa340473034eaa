//! The track header's display matrix (ISO/IEC 14496-12 §8.3.2, `tkhd`), applied the way the
//! FFmpeg 5.1 command line does with its default `-autorotate`: the matrix's rotation
//! `theta` (libavutil `av_display_rotation_get`, negated and wrapped to 0..360) picks a
//! `transpose`, `hflip`/`vflip` or nothing (`fftools/ffmpeg_filter.c`, `configure_input_video_filter`).

use crate::RgbFrame;

/// The fixed transform FFmpeg inserts before its filters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Orientation {
    /// No matrix, or the identity.
    #[default]
    AsCoded,
    /// `transpose=clock`: 90 degrees clockwise.
    Clockwise,
    /// `transpose=cclock`: 90 degrees counter-clockwise.
    CounterClockwise,
    /// `transpose=cclock_flip`: rows become columns (a transpose).
    Transpose,
    /// `transpose=clock_flip`: the transpose about the other diagonal.
    AntiTranspose,
    /// `hflip` and/or `vflip` (180 degrees is both).
    Flip {
        /// Mirror left to right.
        horizontal: bool,
        /// Mirror top to bottom.
        vertical: bool,
    },
}

impl Orientation {
    /// From a `tkhd` matrix `[a, b, u, c, d, v, x, y, w]` (a to d in 16.16 fixed point).
    /// `Err(theta)` for a rotation other than a multiple of 90 degrees (FFmpeg would insert
    /// its `rotate` filter, which this crate does not reproduce).
    pub fn from_matrix(m: [i32; 9]) -> Result<Self, f64> {
        let fp = |v: i32| v as f64 / 65536.0;
        let scale0 = fp(m[0]).hypot(fp(m[3]));
        let scale1 = fp(m[1]).hypot(fp(m[4]));
        if scale0 == 0.0 || scale1 == 0.0 {
            // av_display_rotation_get gives NaN: FFmpeg inserts nothing.
            return Ok(Orientation::AsCoded);
        }
        let rotation = -(fp(m[1]) / scale1).atan2(fp(m[0]) / scale0).to_degrees();
        let mut theta = -rotation.round();
        theta -= 360.0 * (theta / 360.0 + 0.9 / 360.0).floor();
        Ok(if (theta - 90.0).abs() < 1.0 {
            if m[3] > 0 {
                Orientation::Transpose
            } else {
                Orientation::Clockwise
            }
        } else if (theta - 180.0).abs() < 1.0 {
            Orientation::Flip {
                horizontal: m[0] < 0,
                vertical: m[4] < 0,
            }
        } else if (theta - 270.0).abs() < 1.0 {
            if m[3] < 0 {
                Orientation::AntiTranspose
            } else {
                Orientation::CounterClockwise
            }
        } else if theta.abs() > 1.0 {
            return Err(theta);
        } else {
            Orientation::AsCoded
        })
    }

    /// Width and height of a `width` x `height` coded frame once presented.
    pub fn presented_size(self, width: usize, height: usize) -> (usize, usize) {
        match self {
            Orientation::AsCoded | Orientation::Flip { .. } => (width, height),
            _ => (height, width),
        }
    }

    /// The frame as presented.
    pub fn apply(self, frame: RgbFrame) -> RgbFrame {
        if self == Orientation::AsCoded
            || self
                == (Orientation::Flip {
                    horizontal: false,
                    vertical: false,
                })
        {
            return frame;
        }
        let (w, h) = (frame.width, frame.height);
        let (ow, oh) = self.presented_size(w, h);
        let mut out = vec![0u8; w * h * 3];
        for r in 0..oh {
            for c in 0..ow {
                // Source row and column of output pixel (r, c).
                let (sr, sc) = match self {
                    Orientation::AsCoded => (r, c),
                    Orientation::Clockwise => (h - 1 - c, r),
                    Orientation::CounterClockwise => (c, w - 1 - r),
                    Orientation::Transpose => (c, r),
                    Orientation::AntiTranspose => (h - 1 - c, w - 1 - r),
                    Orientation::Flip {
                        horizontal,
                        vertical,
                    } => (
                        if vertical { h - 1 - r } else { r },
                        if horizontal { w - 1 - c } else { c },
                    ),
                };
                let s = (sr * w + sc) * 3;
                let d = (r * ow + c) * 3;
                out[d..d + 3].copy_from_slice(&frame.data[s..s + 3]);
            }
        }
        RgbFrame::new(ow, oh, out).expect("same pixel count")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ONE: i32 = 65536;

    #[test]
    fn matrices_of_the_test_clips() {
        // `ffprobe` prints these for tests/data/video-ffmpeg/video-rot{90,180,270}.mp4.
        let m = |a, b, c, d| [a, b, 0, c, d, 0, 0, 0, 1 << 30];
        assert_eq!(
            Orientation::from_matrix(m(0, -ONE, ONE, 0)),
            Ok(Orientation::CounterClockwise)
        );
        assert_eq!(
            Orientation::from_matrix(m(0, ONE, -ONE, 0)),
            Ok(Orientation::Clockwise)
        );
        assert_eq!(
            Orientation::from_matrix(m(-ONE, 0, 0, -ONE)),
            Ok(Orientation::Flip {
                horizontal: true,
                vertical: true
            })
        );
        assert_eq!(
            Orientation::from_matrix(m(ONE, 0, 0, ONE)),
            Ok(Orientation::AsCoded)
        );
        // 45 degrees.
        assert!(Orientation::from_matrix(m(46341, 46341, -46341, 46341)).is_err());
    }

    #[test]
    fn rotations_move_pixels() {
        // 2 wide, 1 high: red then blue.
        let f = RgbFrame::new(2, 1, vec![255, 0, 0, 0, 0, 255]).unwrap();
        let cw = Orientation::Clockwise.apply(f.clone());
        assert_eq!((cw.width, cw.height), (1, 2));
        assert_eq!(cw.data, [255, 0, 0, 0, 0, 255]);
        let ccw = Orientation::CounterClockwise.apply(f);
        assert_eq!(ccw.data, [0, 0, 255, 255, 0, 0]);
    }
}
