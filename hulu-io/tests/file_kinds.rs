//! Only regular files are read as files: `/dev/zero`, a FIFO with and without a writer, and a
//! Unix socket given to every loader (picture, NIfTI, DICOM, video, checkpoint, config) are
//! refused at once with [`Error::NotRegularFile`] naming the path, never read without end and
//! never blocked on.
#![cfg(unix)]

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use hulu_io::dicom::{load_dicom, DicomRender};
use hulu_io::nifti::{NiftiFile, NiftiVolume};
use hulu_io::video::{load_video, VideoOptions};
use hulu_io::{image::load_image, Checkpoint, Error, Limits};

/// A fresh directory under the system temp dir, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("hulu-kinds-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn mkfifo(path: &Path) {
    let c = CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: `c` is a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
}

/// Every loader, each given `path`.
type Loader = fn(&Path) -> Result<(), Error>;

fn loaders() -> Vec<(&'static str, Loader)> {
    vec![
        ("picture", |p| load_image(p).map(drop)),
        ("NIfTI header", |p| NiftiFile::open(p).map(drop)),
        ("NIfTI volume", |p| NiftiVolume::open(p).map(drop)),
        ("DICOM", |p| {
            load_dicom(p, &DicomRender::default(), &Limits::default()).map(drop)
        }),
        ("video", |p| {
            load_video(p, &VideoOptions::default()).map(drop)
        }),
        ("json", |p| {
            hulu_io::json::read_json::<serde_json::Value>(p).map(drop)
        }),
    ]
}

/// Runs `load(path)` on another thread and returns its error, failing the test if it takes
/// more than a few seconds (a blocked open or an endless read).
fn refused_in_time(what: &str, load: Loader, path: &Path) -> Error {
    let (tx, rx) = mpsc::channel();
    let owned = path.to_path_buf();
    std::thread::spawn(move || {
        let _ = tx.send(load(&owned));
    });
    match rx.recv_timeout(Duration::from_secs(10)) {
        Ok(Err(e)) => e,
        Ok(Ok(())) => panic!("{what}: {} was read as a file", path.display()),
        Err(_) => panic!("{what}: {} blocked or read without end", path.display()),
    }
}

fn assert_not_regular(path: &Path, expected_kind: &str) {
    for (what, load) in loaders() {
        match refused_in_time(what, load, path) {
            Error::NotRegularFile { path: p, kind } => {
                assert_eq!(p, path, "{what}");
                assert!(kind.contains(expected_kind), "{what}: {kind}");
            }
            other => panic!("{what}: unexpected {other:?}"),
        }
    }
}

#[test]
fn dev_zero_is_refused_by_every_loader() {
    let e = refused_in_time(
        "picture",
        |p| load_image(p).map(drop),
        Path::new("/dev/zero"),
    );
    assert!(e.to_string().contains("/dev/zero"), "{e}");
    assert_not_regular(Path::new("/dev/zero"), "character device");
}

#[test]
fn a_fifo_without_a_writer_is_refused_without_blocking() {
    let s = Scratch::new("fifo");
    let fifo = s.0.join("scan.nii");
    mkfifo(&fifo);
    assert_not_regular(&fifo, "FIFO");
}

#[test]
fn a_fifo_with_a_writer_is_refused_without_reading() {
    let s = Scratch::new("fed");
    let fifo = s.0.join("image.png");
    mkfifo(&fifo);
    // Opening read-write never blocks on Linux; the descriptor is the writer, and the pipe
    // holds data (a reader would see bytes, then block for more).
    let writer = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&fifo)
        .unwrap();
    std::io::Write::write_all(&mut &writer, b"\x89PNG\r\n\x1a\n").unwrap();
    assert_not_regular(&fifo, "FIFO");
    drop(writer);
}

#[test]
fn a_unix_socket_is_refused() {
    let s = Scratch::new("sock");
    let sock = s.0.join("frames.mp4");
    let _listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    assert_not_regular(&sock, "socket");
}

#[test]
fn a_checkpoint_whose_shard_or_index_is_a_fifo_is_refused() {
    for name in ["model.safetensors", "model.safetensors.index.json"] {
        let s = Scratch::new("ckpt");
        let fifo = s.0.join(name);
        mkfifo(&fifo);
        let dir = s.0.clone();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(Checkpoint::open(&dir).map(drop));
        });
        match rx.recv_timeout(Duration::from_secs(10)) {
            Ok(Err(Error::NotRegularFile { path, kind })) => {
                assert_eq!(path, fifo);
                assert!(kind.contains("FIFO"), "{kind}");
            }
            other => panic!("{name}: unexpected {other:?}"),
        }
    }
}

#[test]
fn a_directory_given_as_a_picture_is_refused_by_kind() {
    let s = Scratch::new("dir");
    match load_image(&s.0) {
        Err(Error::NotRegularFile { kind, .. }) => assert_eq!(kind, "directory"),
        other => panic!("unexpected {other:?}"),
    }
}
