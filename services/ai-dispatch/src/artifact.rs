//! Content-addressed artifacts: `<out_dir>/ai/<layer>/<sha256>.json`, where the name is the SHA-256 of
//! the file's bytes (canonical JSON). A cache index `<out_dir>/ai/<layer>/by-key/<key>` maps the call's
//! identity (input, prompt, schema, model) to the artifact, so the same call is never made twice.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::canonical;

/// The artifact store under one out dir.
#[derive(Debug, Clone)]
pub struct Artifacts {
    root: PathBuf,
}

/// A stored artifact.
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    pub sha256: String,
    pub path: PathBuf,
    pub body: Value,
}

impl Artifacts {
    /// The store under `<out_dir>/ai`.
    #[must_use]
    pub fn new(out_dir: &Path) -> Self {
        Self { root: out_dir.join("ai") }
    }

    /// The cache key of a call.
    #[must_use]
    pub fn key(input_sha256: &str, prompt_sha256: &str, model: &str) -> String {
        canonical::sha256_hex(format!("{input_sha256}\u{1f}{prompt_sha256}\u{1f}{model}").as_bytes())
    }

    fn index(&self, layer: &str, key: &str) -> PathBuf {
        self.root.join(layer).join("by-key").join(key)
    }

    /// The artifact stored for `key`, if any (a missing or damaged file is a miss).
    #[must_use]
    pub fn lookup(&self, layer: &str, key: &str) -> Option<Stored> {
        let sha = std::fs::read_to_string(self.index(layer, key)).ok()?;
        self.read(layer, sha.trim())
    }

    /// Reads and verifies the artifact `sha256` of `layer`.
    #[must_use]
    pub fn read(&self, layer: &str, sha256: &str) -> Option<Stored> {
        let path = self.root.join(layer).join(format!("{sha256}.json"));
        let bytes = std::fs::read(&path).ok()?;
        if canonical::sha256_hex(&bytes) != sha256 {
            return None;
        }
        let body = serde_json::from_slice(&bytes).ok()?;
        Some(Stored { sha256: sha256.to_owned(), path, body })
    }

    /// Writes `body` (atomically, by rename) and indexes it under `key`.
    ///
    /// # Errors
    /// The file system refused.
    pub fn store(&self, layer: &str, key: &str, body: &Value) -> std::io::Result<Stored> {
        let text = canonical::to_string(body);
        let sha256 = canonical::sha256_hex(text.as_bytes());
        let dir = self.root.join(layer);
        std::fs::create_dir_all(dir.join("by-key"))?;
        let path = dir.join(format!("{sha256}.json"));
        if !path.exists() {
            write_atomic(&path, text.as_bytes())?;
        }
        write_atomic(&self.index(layer, key), sha256.as_bytes())?;
        Ok(Stored { sha256, path, body: body.clone() })
    }
}

fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = path.with_extension(format!("tmp{}.{n}", std::process::id()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}
