//! MetaImage headers (ITK's MetaIO, <https://itk.org/Wiki/ITK/MetaIO/Documentation>): `Key =
//! Value` lines, the last one `ElementDataFile`, which is `LOCAL` when the voxels follow the
//! header in the same `.mha` file. World coordinates are LPS.

use std::path::Path;

use super::{data_at_end, data_file_beside, dims_from, Parsed};
use crate::nifti::{Affine, Encoding, VoxelLayout, VoxelType};
use crate::{Error, Result};

const FORMAT: &str = "MetaImage";

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

/// MetaIO's element types (`MET_LONG` is 32-bit in MetaIO, `MET_LONG_LONG` 64-bit).
fn voxel_type(what: &str, name: &str) -> Result<VoxelType> {
    Ok(match name {
        "MET_CHAR" => VoxelType::I8,
        "MET_UCHAR" => VoxelType::U8,
        "MET_SHORT" => VoxelType::I16,
        "MET_USHORT" => VoxelType::U16,
        "MET_INT" | "MET_LONG" => VoxelType::I32,
        "MET_UINT" | "MET_ULONG" => VoxelType::U32,
        "MET_LONG_LONG" => VoxelType::I64,
        "MET_ULONG_LONG" => VoxelType::U64,
        "MET_FLOAT" => VoxelType::F32,
        "MET_DOUBLE" => VoxelType::F64,
        other => {
            return Err(unsupported(
                what,
                format!("MetaImage element type {other:?}"),
            ))
        }
    })
}

fn numbers(what: &str, key: &str, value: &str) -> Result<Vec<f64>> {
    value
        .split_whitespace()
        .map(|n| n.parse::<f64>().ok().filter(|n| n.is_finite()))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| invalid(what, format!("{key} = {value:?} is not a list of numbers")))
}

fn truth(value: Option<&str>) -> bool {
    value.is_some_and(|v| v.eq_ignore_ascii_case("true") || v == "1")
}

pub(super) fn parse(what: &str, path: &Path, head: &[u8]) -> Result<Parsed> {
    let mut fields = std::collections::HashMap::new();
    let mut at = 0usize;
    let mut data_file = None;
    // Line by line up to ElementDataFile, which ends the header.
    while data_file.is_none() {
        let rest = head
            .get(at..)
            .filter(|r| !r.is_empty())
            .ok_or_else(|| invalid(what, "no ElementDataFile line ends the header"))?;
        let len = rest
            .iter()
            .position(|&b| b == b'\n')
            .map_or(rest.len(), |n| n + 1);
        let line = std::str::from_utf8(&rest[..len])
            .map_err(|_| invalid(what, "the header is not text"))?
            .trim();
        at += len;
        if line.is_empty() {
            continue;
        }
        let (key, value) = line
            .split_once('=')
            .ok_or_else(|| invalid(what, format!("{line:?} is not `Key = Value`")))?;
        let (key, value) = (key.trim(), value.trim().to_string());
        if key == "ElementDataFile" {
            data_file = Some(value);
        } else {
            fields.insert(key.to_string(), value);
        }
    }
    let data_file = data_file.unwrap_or_default();
    let field = |k: &str| fields.get(k).map(String::as_str);
    let need = |k: &str| field(k).ok_or_else(|| invalid(what, format!("no {k} field")));
    if field("ObjectType").is_some_and(|t| t != "Image") {
        return Err(unsupported(what, "a MetaImage object other than an Image"));
    }
    if field("BinaryData").is_some_and(|v| !truth(Some(v))) {
        return Err(unsupported(what, "ASCII MetaImage data"));
    }
    if field("ElementNumberOfChannels").is_some_and(|v| v != "1") {
        return Err(unsupported(what, "multi-channel MetaImage voxels"));
    }
    let ty = voxel_type(what, need("ElementType")?)?;
    let sizes: Vec<usize> = need("DimSize")?
        .split_whitespace()
        .map(str::parse)
        .collect::<std::result::Result<_, _>>()
        .map_err(|_| invalid(what, "DimSize is not whole numbers"))?;
    if let Some(n) = field("NDims") {
        if n.parse::<usize>().ok() != Some(sizes.len()) {
            return Err(invalid(
                what,
                format!("NDims {n} but {} DimSize entries", sizes.len()),
            ));
        }
    }
    let dims = dims_from(what, FORMAT, &sizes)?;
    let big_endian = truth(field("BinaryDataByteOrderMSB").or(field("ElementByteOrderMSB")));
    let encoding = if truth(field("CompressedData")) {
        Encoding::Zlib
    } else {
        Encoding::Raw
    };
    let layout = VoxelLayout {
        dims,
        ty,
        big_endian,
        scaling: None,
    };
    let (data_path, file_offset) = if data_file == "LOCAL" {
        (path.to_path_buf(), at as u64)
    } else if data_file.starts_with("LIST") || data_file.contains(' ') {
        return Err(unsupported(what, "a MetaImage data file list or pattern"));
    } else {
        (data_file_beside(what, FORMAT, path, &data_file)?, 0)
    };
    let data_start = match field("HeaderSize") {
        None | Some("0") => 0,
        Some("-1") if encoding == Encoding::Raw => data_at_end(what, FORMAT, &data_path, &layout)?
            .checked_sub(file_offset)
            .ok_or_else(|| invalid(what, "the voxels would start inside the header"))?,
        Some(v) => v
            .parse::<u64>()
            .map_err(|_| invalid(what, format!("HeaderSize {v:?}")))?,
    };
    Ok(Parsed {
        data_path,
        file_offset,
        data_start,
        encoding,
        layout,
        affine: affine(what, &fields, sizes.len().min(3))?,
    })
}

/// The RAS affine from `TransformMatrix` (axis direction vectors one after another),
/// `ElementSpacing` and `Offset`, LPS turned to RAS.
fn affine(
    what: &str,
    fields: &std::collections::HashMap<String, String>,
    n: usize,
) -> Result<Affine> {
    let get = |keys: &[&'static str]| keys.iter().find_map(|k| fields.get(*k).map(|v| (*k, v)));
    let mut direction = [[0.0; 3]; 3];
    for (j, axis) in direction.iter_mut().enumerate() {
        axis[j] = 1.0;
    }
    if let Some((key, value)) = get(&["TransformMatrix", "Rotation", "Orientation"]) {
        let m = numbers(what, key, value)?;
        if m.len() != n * n {
            return Err(invalid(
                what,
                format!("{key} has {} numbers, expected {}", m.len(), n * n),
            ));
        }
        for j in 0..n {
            for i in 0..n {
                direction[j][i] = m[j * n + i];
            }
        }
    }
    let mut spacing = [1.0; 3];
    if let Some((key, value)) = get(&["ElementSpacing", "ElementSize"]) {
        for (s, v) in spacing.iter_mut().zip(numbers(what, key, value)?) {
            *s = v;
        }
    }
    let mut offset = [0.0; 3];
    if let Some((key, value)) = get(&["Offset", "Position", "Origin"]) {
        for (o, v) in offset.iter_mut().zip(numbers(what, key, value)?) {
            *o = v;
        }
    }
    let sign = [-1.0, -1.0, 1.0];
    let mut a: Affine = [[0.0; 4]; 4];
    a[3][3] = 1.0;
    for i in 0..3 {
        for j in 0..3 {
            a[i][j] = sign[i] * direction[j][i] * spacing[j];
        }
        a[i][3] = sign[i] * offset[i];
    }
    Ok(a)
}
