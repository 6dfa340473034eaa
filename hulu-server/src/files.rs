//! Uploaded files (`POST /v1/files`): each kept under its own random id in the upload folder,
//! within a total size quota, and deleted when its time is up (a sweeper, and every lookup
//! checks the expiry too).
//!
//! An upload is stored as `<upload dir>/<id>/data` whatever name the client gave: hulu tells a
//! file's kind by content (a `.zip` export, a NIfTI, a DICOM file), and a client's name never
//! reaches the file system.

use crate::error::ApiError;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// One stored upload.
#[derive(Debug, Clone)]
pub struct StoredFile {
    /// `file-` and 24 random hex digits.
    pub id: String,
    /// Where the bytes are.
    pub path: PathBuf,
    /// Size in bytes.
    pub bytes: u64,
    /// The client's file name (shown back, never used as a path).
    pub filename: String,
    /// The client's `purpose`.
    pub purpose: String,
    /// Unix seconds at upload.
    pub created_at: u64,
    /// Unix seconds when it is deleted.
    pub expires_at: u64,
    expires: Instant,
}

impl StoredFile {
    /// OpenAI's file object.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "id": self.id,
            "object": "file",
            "bytes": self.bytes,
            "created_at": self.created_at,
            "expires_at": self.expires_at,
            "filename": self.filename,
            "purpose": self.purpose,
            "status": "processed",
        })
    }
}

/// The upload store.
#[derive(Debug)]
pub struct FileStore {
    dir: PathBuf,
    owned: bool,
    /// Largest single upload.
    pub max_bytes: u64,
    quota: u64,
    ttl: Duration,
    files: Mutex<HashMap<String, StoredFile>>,
}

/// Unix seconds now.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A random id: `prefix` and 24 hex digits from the OS's generator.
pub fn random_id(prefix: &str) -> String {
    let mut bytes = [0u8; 12];
    // The OS generator does not fail on the platforms libtorch runs on; a zero id would
    // still be unique per process by the map check of the caller.
    let _ = getrandom::getrandom(&mut bytes);
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{prefix}{hex}")
}

impl FileStore {
    /// A store in `dir` (created), or in a fresh folder under the system temp dir that is
    /// removed when the store is dropped.
    ///
    /// # Errors
    ///
    /// The I/O error of creating the folder.
    pub fn new(
        dir: Option<PathBuf>,
        max_bytes: u64,
        quota: u64,
        ttl: Duration,
    ) -> std::io::Result<Self> {
        let (dir, owned) = match dir {
            Some(d) => (d, false),
            None => (
                std::env::temp_dir()
                    .join(random_id(&format!("hulu-uploads-{}-", std::process::id()))),
                true,
            ),
        };
        std::fs::create_dir_all(&dir)?;
        Ok(FileStore {
            dir,
            owned,
            max_bytes,
            quota,
            ttl,
            files: Mutex::new(HashMap::new()),
        })
    }

    /// A new empty folder for an upload, and its id.
    ///
    /// # Errors
    ///
    /// [`ApiError::Internal`] when the folder cannot be made.
    pub fn new_slot(&self) -> Result<(String, PathBuf), ApiError> {
        let id = random_id("file-");
        let folder = self.dir.join(&id);
        std::fs::create_dir(&folder)
            .map_err(|e| ApiError::Internal(format!("upload folder: {e}")))?;
        Ok((id, folder.join("data")))
    }

    /// Records an upload written to its slot, within the quota.
    ///
    /// # Errors
    ///
    /// [`ApiError::TooLarge`] when the stored files and this one exceed the quota (the upload
    /// is deleted).
    pub fn commit(
        &self,
        id: String,
        path: PathBuf,
        bytes: u64,
        filename: String,
        purpose: String,
    ) -> Result<StoredFile, ApiError> {
        let mut files = self.files.lock().unwrap_or_else(|e| e.into_inner());
        let used: u64 = files.values().map(|f| f.bytes).sum();
        if used + bytes > self.quota {
            drop(files);
            self.remove_slot(&id);
            return Err(ApiError::TooLarge {
                what: "the upload quota".into(),
                limit: self.quota,
            });
        }
        let now = unix_now();
        let file = StoredFile {
            id: id.clone(),
            path,
            bytes,
            filename,
            purpose,
            created_at: now,
            expires_at: now + self.ttl.as_secs(),
            expires: Instant::now() + self.ttl,
        };
        files.insert(id, file.clone());
        Ok(file)
    }

    /// Deletes a slot's folder (a failed or expired upload).
    pub fn remove_slot(&self, id: &str) {
        // The id came from `random_id`, so it is one path component.
        let _ = std::fs::remove_dir_all(self.dir.join(id));
    }

    /// The stored file `id`, unless unknown or expired.
    ///
    /// # Errors
    ///
    /// [`ApiError::UnknownFile`].
    pub fn get(&self, id: &str) -> Result<StoredFile, ApiError> {
        let files = self.files.lock().unwrap_or_else(|e| e.into_inner());
        match files.get(id) {
            Some(f) if f.expires > Instant::now() => Ok(f.clone()),
            _ => Err(ApiError::UnknownFile(id.to_string())),
        }
    }

    /// Deletes `id`.
    ///
    /// # Errors
    ///
    /// [`ApiError::UnknownFile`].
    pub fn delete(&self, id: &str) -> Result<(), ApiError> {
        let removed = self
            .files
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id);
        match removed {
            Some(_) => {
                self.remove_slot(id);
                Ok(())
            }
            None => Err(ApiError::UnknownFile(id.to_string())),
        }
    }

    /// Deletes every expired upload; returns how many.
    pub fn sweep(&self) -> usize {
        let now = Instant::now();
        let expired: Vec<String> = {
            let mut files = self.files.lock().unwrap_or_else(|e| e.into_inner());
            let ids: Vec<String> = files
                .values()
                .filter(|f| f.expires <= now)
                .map(|f| f.id.clone())
                .collect();
            for id in &ids {
                files.remove(id);
            }
            ids
        };
        for id in &expired {
            self.remove_slot(id);
        }
        expired.len()
    }

    /// The upload folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// How often the sweeper runs: a quarter of the time to live, between 1 and 60 s.
    pub fn sweep_interval(&self) -> Duration {
        (self.ttl / 4).clamp(Duration::from_secs(1), Duration::from_secs(60))
    }
}

impl Drop for FileStore {
    fn drop(&mut self) {
        if self.owned {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quota_expiry_and_delete() {
        let store = FileStore::new(None, 100, 10, Duration::from_millis(300)).unwrap();
        let (id, path) = store.new_slot().unwrap();
        std::fs::write(&path, b"12345678").unwrap();
        let file = store
            .commit(id.clone(), path, 8, "a.nii".into(), "user_data".into())
            .unwrap();
        assert_eq!(store.get(&id).unwrap().bytes, 8);
        let (id2, path2) = store.new_slot().unwrap();
        std::fs::write(&path2, b"123").unwrap();
        let over = store.commit(id2.clone(), path2.clone(), 3, "b".into(), "x".into());
        assert!(matches!(over, Err(ApiError::TooLarge { .. })));
        assert!(!path2.exists(), "a refused upload is deleted");
        std::thread::sleep(Duration::from_millis(350));
        assert!(matches!(store.get(&id), Err(ApiError::UnknownFile(_))));
        assert_eq!(store.sweep(), 1);
        assert!(!file.path.exists(), "an expired upload is deleted");
        assert!(store.delete(&id).is_err());
    }
}
