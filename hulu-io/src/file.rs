//! The one way `hulu-io` opens an input file: only regular files are read.
//!
//! Every loader (pictures, NIfTI, DICOM, video, checkpoint shards and their index, JSON
//! configs) opens its files here. A path naming a FIFO, a socket or a device (`/dev/zero`,
//! `/dev/urandom`) is refused before anything is read: opening a FIFO that has no writer
//! blocks forever, and a device or a FIFO fed forever never ends. The rule is enforced three
//! times, because the path can change between the checks:
//!
//! 1. `stat` the path (following links) and refuse anything but a regular file, without
//!    opening it;
//! 2. open it with `O_NONBLOCK`, so a FIFO swapped in after the check cannot block the open
//!    (the flag does nothing for a regular file, POSIX `open(2)`);
//! 3. `fstat` the open descriptor and refuse again if it is not a regular file.
//!
//! Whole-file reads stop at the byte budget plus one byte (`take(budget + 1)`), so a file that
//! grows while it is read is refused too instead of being read without end.

use std::fs::{File, Metadata};
use std::io::Read;
use std::path::Path;

use crate::{Error, Result};

/// Budget for a JSON or text file read whole (`config.json`, a shard index): 64 MiB, far
/// above any real one (a Qwen2 `tokenizer.json` is 7 MB, a 70B shard index 100 KB).
pub const TEXT_BUDGET: usize = 64 << 20;

/// What a non-regular file is, in the words `ls -l` and `stat(1)` use.
fn kind_of(meta: &Metadata) -> &'static str {
    let ty = meta.file_type();
    if ty.is_dir() {
        return "directory";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if ty.is_fifo() {
            return "FIFO (named pipe)";
        }
        if ty.is_socket() {
            return "socket";
        }
        if ty.is_char_device() {
            return "character device";
        }
        if ty.is_block_device() {
            return "block device";
        }
    }
    "special file"
}

fn refuse_unless_regular(path: &Path, meta: &Metadata) -> Result<()> {
    if meta.is_file() {
        Ok(())
    } else {
        Err(Error::NotRegularFile {
            path: path.into(),
            kind: kind_of(meta),
        })
    }
}

/// Opens `path` for reading if, and only if, it is a regular file.
///
/// # Errors
///
/// [`Error::NotRegularFile`] for a directory, FIFO, socket or device (checked before the open
/// and again on the open descriptor); [`Error::Io`] when `stat` or `open` fails.
pub fn open_regular(path: &Path) -> Result<File> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    refuse_unless_regular(path, &meta)?;
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK);
    }
    let file = options.open(path).map_err(|e| Error::io(path, e))?;
    let meta = file.metadata().map_err(|e| Error::io(path, e))?;
    refuse_unless_regular(path, &meta)?;
    Ok(file)
}

/// Reads a whole regular file of at most `max_bytes` bytes: the size is checked before
/// reading, and the read stops one byte past the budget.
///
/// # Errors
///
/// Those of [`open_regular`]; [`Error::TooLarge`] when the file is (or grows) larger than
/// `max_bytes`; [`Error::Io`] when reading fails.
pub fn read_regular(path: &Path, max_bytes: usize) -> Result<Vec<u8>> {
    let file = open_regular(path)?;
    let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
    let too_large = |len: u64| Error::TooLarge {
        what: path.display().to_string(),
        reason: format!("file of {len} bytes exceeds the {max_bytes} byte budget"),
    };
    if len > max_bytes as u64 {
        return Err(too_large(len));
    }
    let mut bytes = Vec::with_capacity(len as usize);
    file.take(max_bytes as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(path, e))?;
    if bytes.len() > max_bytes {
        return Err(too_large(bytes.len() as u64));
    }
    Ok(bytes)
}

/// Reads a whole regular UTF-8 text file of at most `max_bytes` bytes.
///
/// # Errors
///
/// Those of [`read_regular`]; [`Error::Io`] (kind `InvalidData`) when the text is not UTF-8.
pub fn read_text(path: &Path, max_bytes: usize) -> Result<String> {
    let bytes = read_regular(path, max_bytes)?;
    String::from_utf8(bytes).map_err(|e| {
        Error::io(
            path,
            std::io::Error::new(std::io::ErrorKind::InvalidData, e.utf8_error()),
        )
    })
}

/// Fills `buf` from `file` at byte `offset` without moving its cursor (`pread`).
///
/// # Errors
///
/// [`Error::Truncated`] naming `path`, the offset and the length when the file ends first;
/// [`Error::Io`] for any other read error.
pub fn read_exact_at(file: &File, path: &Path, offset: u64, buf: &mut [u8]) -> Result<()> {
    let mut done = 0usize;
    while done < buf.len() {
        let at = offset + done as u64;
        match pread(file, &mut buf[done..], at) {
            Ok(0) => {
                return Err(Error::Truncated {
                    path: path.into(),
                    offset,
                    needed: buf.len() as u64,
                    got: done as u64,
                })
            }
            Ok(n) => done += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::io(path, e)),
        }
    }
    Ok(())
}

#[cfg(unix)]
fn pread(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
    std::os::unix::fs::FileExt::read_at(file, buf, offset)
}

#[cfg(windows)]
fn pread(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
    std::os::windows::fs::FileExt::seek_read(file, buf, offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_is_refused_by_kind() {
        let dir = std::env::temp_dir();
        match open_regular(&dir) {
            Err(Error::NotRegularFile { kind, .. }) => assert_eq!(kind, "directory"),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn a_file_over_the_budget_is_too_large_and_one_within_is_read() {
        let path = std::env::temp_dir().join(format!("hulu-file-{}.bin", std::process::id()));
        std::fs::write(&path, [7u8; 100]).unwrap();
        assert!(matches!(
            read_regular(&path, 99),
            Err(Error::TooLarge { .. })
        ));
        assert_eq!(read_regular(&path, 100).unwrap(), [7u8; 100]);
        let file = open_regular(&path).unwrap();
        let mut buf = [0u8; 10];
        match read_exact_at(&file, &path, 95, &mut buf) {
            Err(e @ Error::Truncated { .. }) => {
                let text = e.to_string();
                assert!(
                    text.contains("byte 95") && text.contains("5 of 10"),
                    "{text}"
                );
            }
            other => panic!("unexpected {other:?}"),
        }
        std::fs::remove_file(&path).unwrap();
    }
}
