//! `hulu synth-volume`: writes an int16 NIfTI-1 volume of smooth synthetic anatomy, the input
//! the end-to-end benchmark reads (real CT volumes are not redistributable here).

use anyhow::{ensure, Context, Result};
use std::io::Write;
use std::path::Path;

/// Size of a NIfTI-1 header.
const HEADER: usize = 348;

/// A 348-byte NIfTI-1 header for an int16 volume of `dims` (x, y, z) with 0.7 × 0.7 × 1.25 mm
/// voxels and an axial (RAS) sform.
fn header(dims: [usize; 3]) -> Vec<u8> {
    let mut h = vec![0u8; HEADER];
    let put_i16 =
        |h: &mut Vec<u8>, at: usize, v: i16| h[at..at + 2].copy_from_slice(&v.to_le_bytes());
    let put_f32 =
        |h: &mut Vec<u8>, at: usize, v: f32| h[at..at + 4].copy_from_slice(&v.to_le_bytes());
    h[0..4].copy_from_slice(&(HEADER as i32).to_le_bytes());
    let dim = [
        3,
        dims[0] as i16,
        dims[1] as i16,
        dims[2] as i16,
        1,
        1,
        1,
        1,
    ];
    for (i, d) in dim.iter().enumerate() {
        put_i16(&mut h, 40 + 2 * i, *d);
    }
    put_i16(&mut h, 70, 4); // datatype: int16
    put_i16(&mut h, 72, 16); // bitpix
    let zooms = [1.0f32, 0.7, 0.7, 1.25];
    for (i, z) in zooms.iter().enumerate() {
        put_f32(&mut h, 76 + 4 * i, *z);
    }
    put_f32(&mut h, 108, (HEADER + 4) as f32); // vox_offset
    put_f32(&mut h, 112, 1.0); // scl_slope
    put_f32(&mut h, 116, -1024.0); // scl_inter: stored values + (-1024) = HU
    put_i16(&mut h, 254, 1); // sform_code: scanner
    let srow = [
        [0.7f32, 0.0, 0.0, 0.0],
        [0.0, 0.7, 0.0, 0.0],
        [0.0, 0.0, 1.25, 0.0],
    ];
    for (r, row) in srow.iter().enumerate() {
        for (c, v) in row.iter().enumerate() {
            put_f32(&mut h, 280 + 16 * r + 4 * c, *v);
        }
    }
    h[344..348].copy_from_slice(b"n+1\0");
    h
}

/// Stored value (HU + 1024) of a torso-like phantom: air outside an ellipse of soft tissue,
/// two lungs, a spine, and slow variation along z so neighbouring slices differ a little.
fn voxel(x: usize, y: usize, z: usize, dims: [usize; 3]) -> i16 {
    let u = 2.0 * x as f32 / dims[0] as f32 - 1.0;
    let v = 2.0 * y as f32 / dims[1] as f32 - 1.0;
    let w = z as f32 / dims[2].max(1) as f32;
    let body = (u / 0.85).powi(2) + (v / 0.65).powi(2) < 1.0;
    let lung_r = 0.22 + 0.06 * (std::f32::consts::PI * w).sin();
    let lung = ((u - 0.35).powi(2) + v.powi(2)).sqrt() < lung_r
        || ((u + 0.35).powi(2) + v.powi(2)).sqrt() < lung_r;
    let spine = (u.powi(2) + (v - 0.45).powi(2)).sqrt() < 0.09;
    let hu = if !body {
        -1000.0
    } else if spine {
        700.0
    } else if lung {
        -850.0
    } else {
        40.0 + 20.0 * (7.0 * u + 5.0 * v + 3.0 * w).sin()
    };
    (hu + 1024.0) as i16
}

/// Writes a `width × height × slices` volume to `out` (uncompressed `.nii`).
pub fn write(out: &Path, width: usize, height: usize, slices: usize) -> Result<()> {
    ensure!(
        (1..=i16::MAX as usize).contains(&width)
            && (1..=i16::MAX as usize).contains(&height)
            && (1..=i16::MAX as usize).contains(&slices),
        "each dimension must be between 1 and {}",
        i16::MAX
    );
    let dims = [width, height, slices];
    let file = std::fs::File::create(out).with_context(|| format!("creating {}", out.display()))?;
    let mut w = std::io::BufWriter::new(file);
    w.write_all(&header(dims))?;
    w.write_all(&[0u8; 4])?; // no extensions
    let mut plane = Vec::with_capacity(2 * width * height);
    for z in 0..slices {
        plane.clear();
        for y in 0..height {
            for x in 0..width {
                plane.extend_from_slice(&voxel(x, y, z, dims).to_le_bytes());
            }
        }
        w.write_all(&plane)?;
    }
    w.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_volume_reads_back_with_its_shape_and_scaling() {
        let path = std::env::temp_dir().join(format!("hulu-synth-{}.nii", std::process::id()));
        write(&path, 24, 20, 6).unwrap();
        let vol = hulu_io::NiftiVolume::open(&path).unwrap();
        assert_eq!(vol.shape(), [24, 20, 6]);
        // Corner voxel is air: stored 24 + scl_inter -1024 = -1000 HU.
        assert_eq!(vol.get(&[0, 0, 0]), Some(-1000.0));
        assert_eq!(
            vol.get(&[12, 14, 3]).map(|v| v > 500.0),
            Some(true),
            "spine"
        );
        std::fs::remove_file(&path).unwrap();
    }
}
