//! Fixture tensors read straight from safetensors into Rust vectors.

use safetensors::{Dtype, SafeTensors};
use std::path::{Path, PathBuf};

/// A tensor of a fixture file, widened to a common element type.
#[derive(Debug, Clone)]
pub struct FixtureTensor {
    /// Shape as stored.
    pub shape: Vec<usize>,
    /// Stored dtype.
    pub dtype: Dtype,
    bytes: Vec<u8>,
}

impl FixtureTensor {
    fn elements(&self) -> usize {
        self.shape.iter().product()
    }

    /// Values as f32 (from f32, f16, bf16, f64 or any integer dtype).
    pub fn f32(&self) -> Vec<f32> {
        let b = &self.bytes;
        match self.dtype {
            Dtype::F32 => chunks(b, 4, |c| f32::from_le_bytes(c.try_into().unwrap())),
            Dtype::F64 => chunks(b, 8, |c| f64::from_le_bytes(c.try_into().unwrap()) as f32),
            Dtype::BF16 => chunks(b, 2, |c| {
                half::bf16::from_le_bytes(c.try_into().unwrap()).to_f32()
            }),
            Dtype::F16 => chunks(b, 2, |c| {
                half::f16::from_le_bytes(c.try_into().unwrap()).to_f32()
            }),
            _ => self.i64().into_iter().map(|v| v as f32).collect(),
        }
    }

    /// Values as f64 (exact for f64 tensors).
    pub fn f64(&self) -> Vec<f64> {
        match self.dtype {
            Dtype::F64 => chunks(&self.bytes, 8, |c| {
                f64::from_le_bytes(c.try_into().unwrap())
            }),
            _ => self.f32().into_iter().map(f64::from).collect(),
        }
    }

    /// Values as i64 (from any integer or bool dtype).
    pub fn i64(&self) -> Vec<i64> {
        let b = &self.bytes;
        let v = match self.dtype {
            Dtype::I64 => chunks(b, 8, |c| i64::from_le_bytes(c.try_into().unwrap())),
            Dtype::U64 => chunks(b, 8, |c| u64::from_le_bytes(c.try_into().unwrap()) as i64),
            Dtype::I32 => chunks(b, 4, |c| i32::from_le_bytes(c.try_into().unwrap()) as i64),
            Dtype::U32 => chunks(b, 4, |c| u32::from_le_bytes(c.try_into().unwrap()) as i64),
            Dtype::I16 => chunks(b, 2, |c| i16::from_le_bytes(c.try_into().unwrap()) as i64),
            Dtype::U16 => chunks(b, 2, |c| u16::from_le_bytes(c.try_into().unwrap()) as i64),
            Dtype::I8 => b.iter().map(|&x| x as i8 as i64).collect(),
            Dtype::U8 | Dtype::BOOL => b.iter().map(|&x| x as i64).collect(),
            other => panic!("tensor of dtype {other:?} is not an integer tensor"),
        };
        assert_eq!(v.len(), self.elements());
        v
    }

    /// Raw little-endian bytes as stored.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

fn chunks<T>(bytes: &[u8], width: usize, f: impl Fn(&[u8]) -> T) -> Vec<T> {
    bytes.chunks_exact(width).map(f).collect()
}

/// All tensors of one fixture `.safetensors` file.
pub struct TensorFile {
    path: PathBuf,
    data: Vec<u8>,
}

impl TensorFile {
    /// Reads a fixture file; panics with the path when it is missing or invalid (test helper).
    pub fn open(path: &Path) -> Self {
        let data = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        SafeTensors::deserialize(&data)
            .unwrap_or_else(|e| panic!("{}: not safetensors: {e}", path.display()));
        TensorFile {
            path: path.to_path_buf(),
            data,
        }
    }

    fn view(&self) -> SafeTensors<'_> {
        SafeTensors::deserialize(&self.data).expect("validated at open")
    }

    /// Names of the tensors in the file, sorted.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .view()
            .names()
            .into_iter()
            .map(str::to_string)
            .collect();
        names.sort();
        names
    }

    /// Whether the file holds a tensor of this name.
    pub fn has(&self, name: &str) -> bool {
        self.view().tensor(name).is_ok()
    }

    /// One tensor; panics naming the file when it is absent.
    pub fn get(&self, name: &str) -> FixtureTensor {
        let view = self.view();
        let t = view
            .tensor(name)
            .unwrap_or_else(|e| panic!("{}: tensor {name}: {e}", self.path.display()));
        FixtureTensor {
            shape: t.shape().to_vec(),
            dtype: t.dtype(),
            bytes: t.data().to_vec(),
        }
    }
}
