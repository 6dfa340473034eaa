//! NRRD headers (teem's format specification, <http://teem.sourceforge.net/nrrd/format.html>):
//! the `NRRD000X` magic line, `field: value` lines, `#` comments and `key:=value` pairs, ended
//! by a blank line (attached data follows it) or by the end of a `.nhdr` naming a `data file`.

use std::path::Path;

use super::{data_at_end, data_file_beside, dims_from, Parsed};
use crate::nifti::{Affine, Encoding, VoxelLayout, VoxelType};
use crate::{Error, Result};

const FORMAT: &str = "NRRD";

fn invalid(what: &str, reason: impl Into<String>) -> Error {
    Error::InvalidVolume {
        what: what.to_string(),
        format: FORMAT,
        reason: reason.into(),
    }
}

fn unsupported(what: &str, reason: impl Into<String>) -> Error {
    Error::UnsupportedMedia {
        what: what.to_string(),
        reason: reason.into(),
    }
}

/// The spec's type names (all its synonyms) as voxel types.
fn voxel_type(what: &str, name: &str) -> Result<VoxelType> {
    Ok(match name {
        "signed char" | "int8" | "int8_t" => VoxelType::I8,
        "uchar" | "unsigned char" | "uint8" | "uint8_t" => VoxelType::U8,
        "short" | "short int" | "signed short" | "signed short int" | "int16" | "int16_t" => {
            VoxelType::I16
        }
        "ushort" | "unsigned short" | "unsigned short int" | "uint16" | "uint16_t" => {
            VoxelType::U16
        }
        "int" | "signed int" | "int32" | "int32_t" => VoxelType::I32,
        "uint" | "unsigned int" | "uint32" | "uint32_t" => VoxelType::U32,
        "longlong"
        | "long long"
        | "long long int"
        | "signed long long"
        | "signed long long int"
        | "int64"
        | "int64_t" => VoxelType::I64,
        "ulonglong" | "unsigned long long" | "unsigned long long int" | "uint64" | "uint64_t" => {
            VoxelType::U64
        }
        "float" => VoxelType::F32,
        "double" => VoxelType::F64,
        other => return Err(unsupported(what, format!("NRRD type {other:?}"))),
    })
}

/// `(x,y,z)` vectors, or `none` for an axis outside space.
fn vectors(what: &str, value: &str) -> Result<Vec<Option<[f64; 3]>>> {
    value
        .split_whitespace()
        .map(|v| {
            if v == "none" {
                return Ok(None);
            }
            let inner = v
                .strip_prefix('(')
                .and_then(|v| v.strip_suffix(')'))
                .ok_or_else(|| invalid(what, format!("space direction {v:?} is not (x,y,z)")))?;
            let c: Vec<f64> = inner
                .split(',')
                .map(|n| n.trim().parse::<f64>())
                .collect::<std::result::Result<_, _>>()
                .map_err(|e| invalid(what, format!("space direction {v:?}: {e}")))?;
            match c.as_slice() {
                [x, y, z] if c.iter().all(|n| n.is_finite()) => Ok(Some([*x, *y, *z])),
                _ => Err(invalid(
                    what,
                    format!("space direction {v:?} is not 3 finite numbers"),
                )),
            }
        })
        .collect()
}

/// Signs taking a 3-D `space` to RAS (L, P and I axes flipped).
fn to_ras(what: &str, space: Option<&str>) -> Result<[f64; 3]> {
    Ok(match space {
        None | Some("right-anterior-superior" | "RAS" | "scanner-xyz" | "3D-right-handed") => {
            [1.0, 1.0, 1.0]
        }
        Some("left-posterior-superior" | "LPS") => [-1.0, -1.0, 1.0],
        Some("left-anterior-superior" | "LAS") => [-1.0, 1.0, 1.0],
        Some(other) => return Err(unsupported(what, format!("NRRD space {other:?}"))),
    })
}

pub(super) fn parse(what: &str, path: &Path, head: &[u8]) -> Result<Parsed> {
    // Attached data starts after the first blank line; a detached header is all text.
    let end = head.windows(2).position(|w| w == b"\n\n");
    let text_end = end.unwrap_or(head.len());
    let text = std::str::from_utf8(&head[..text_end])
        .map_err(|_| invalid(what, "the header is not text"))?;
    let mut fields = std::collections::HashMap::new();
    for (n, line) in text.lines().enumerate().skip(1) {
        let line = line.trim_end_matches('\r');
        if line.is_empty() || line.starts_with('#') || line.contains(":=") {
            continue;
        }
        let (key, value) = line
            .split_once(": ")
            .ok_or_else(|| invalid(what, format!("line {} is not `field: value`", n + 1)))?;
        fields.insert(key.trim().to_ascii_lowercase(), value.trim().to_string());
    }
    let field = |k: &str| fields.get(k).map(String::as_str);
    let need = |k: &str| field(k).ok_or_else(|| invalid(what, format!("no {k:?} field")));
    let ty = voxel_type(what, need("type")?)?;
    let dimension: usize = need("dimension")?
        .parse()
        .map_err(|_| invalid(what, "dimension is not a number"))?;
    let sizes: Vec<usize> = need("sizes")?
        .split_whitespace()
        .map(str::parse)
        .collect::<std::result::Result<_, _>>()
        .map_err(|_| invalid(what, "sizes are not whole numbers"))?;
    if sizes.len() != dimension {
        return Err(invalid(
            what,
            format!("dimension {dimension} but {} sizes", sizes.len()),
        ));
    }
    let dims = dims_from(what, FORMAT, &sizes)?;
    let encoding = match need("encoding")? {
        "raw" => Encoding::Raw,
        "gzip" | "gz" => Encoding::Gzip,
        other => {
            return Err(unsupported(
                what,
                format!("NRRD encoding {other:?} (raw and gzip are read)"),
            ))
        }
    };
    let big_endian = match field("endian") {
        Some("big") => true,
        Some("little") => false,
        None if ty.size() == 1 => false,
        other => {
            return Err(invalid(
                what,
                format!("endian {other:?}: expected little or big"),
            ))
        }
    };
    if field("line skip")
        .or(field("lineskip"))
        .is_some_and(|v| v != "0")
    {
        return Err(unsupported(what, "a non-zero line skip"));
    }
    let layout = VoxelLayout {
        dims,
        ty,
        big_endian,
        scaling: None,
    };
    let detached = field("data file").or(field("datafile"));
    let (data_path, file_offset) = match detached {
        Some(name) if name.starts_with("LIST") || name.contains('%') || name.contains(' ') => {
            return Err(unsupported(what, "a data file list or pattern"))
        }
        Some(name) => (data_file_beside(what, FORMAT, path, name)?, 0),
        None => {
            let end = end.ok_or_else(|| invalid(what, "no blank line ends the header"))?;
            (path.to_path_buf(), end as u64 + 2)
        }
    };
    let data_start = match field("byte skip").or(field("byteskip")) {
        None | Some("0") => 0,
        Some("-1") if encoding == Encoding::Raw => data_at_end(what, FORMAT, &data_path, &layout)?
            .checked_sub(file_offset)
            .ok_or_else(|| invalid(what, "the voxels would start inside the header"))?,
        Some(v) => v
            .parse::<u64>()
            .map_err(|_| invalid(what, format!("byte skip {v:?}")))?,
    };
    Ok(Parsed {
        data_path,
        file_offset,
        data_start,
        encoding,
        layout,
        affine: affine(what, &fields, dimension)?,
    })
}

/// The RAS affine: `space directions` (signs turned from `space`) and `space origin`, else
/// `spacings` on the diagonal, else the identity.
fn affine(
    what: &str,
    fields: &std::collections::HashMap<String, String>,
    dimension: usize,
) -> Result<Affine> {
    let mut a: Affine = [[0.0; 4]; 4];
    for (i, row) in a.iter_mut().enumerate() {
        row[i] = 1.0;
    }
    let sign = to_ras(what, fields.get("space").map(String::as_str))?;
    if let Some(dirs) = fields.get("space directions") {
        let dirs = vectors(what, dirs)?;
        if dirs.len() != dimension {
            return Err(invalid(
                what,
                format!("{} space directions for dimension {dimension}", dirs.len()),
            ));
        }
        for (j, v) in dirs.iter().flatten().take(3).enumerate() {
            for i in 0..3 {
                a[i][j] = sign[i] * v[i];
            }
        }
        if let Some(origin) = fields.get("space origin") {
            if let Some(Some(o)) = vectors(what, origin)?.first() {
                for i in 0..3 {
                    a[i][3] = sign[i] * o[i];
                }
            }
        }
    } else if let Some(spacings) = fields.get("spacings") {
        for (j, s) in spacings.split_whitespace().take(3).enumerate() {
            if let Ok(s) = s.parse::<f64>() {
                if s.is_finite() && s != 0.0 {
                    a[j][j] = s;
                }
            }
        }
    }
    Ok(a)
}
