//! The run manifest, `runs/<run_id>/manifest.json`: everything needed to say which config and code
//! produced a run and where its output lives.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use nl_domain::Ts;
use serde::{Deserialize, Serialize};

/// Crate version plus the git commit baked in at build.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeVersion {
    pub crate_version: String,
    pub git_commit: String,
}

/// This build's code version.
#[must_use]
pub fn code_version() -> CodeVersion {
    CodeVersion { crate_version: env!("CARGO_PKG_VERSION").to_string(), git_commit: env!("NL_GIT_COMMIT").to_string() }
}

/// The run's slice of events.jsonl: bytes `[start, end)` and how many events they hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventsRange {
    pub path: PathBuf,
    pub start: u64,
    pub end: u64,
    pub count: u64,
}

/// The manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunManifest {
    pub run_id: String,
    pub config_hash: String,
    /// The effective config, secret-looking keys removed.
    pub effective_config: serde_json::Value,
    pub started_at: Ts,
    pub finished_at: Ts,
    pub code_version: CodeVersion,
    /// Per source: the cursor it left (announcement ids, known instruments count, block, ETag...).
    pub source_versions: BTreeMap<String, serde_json::Value>,
    pub db_path: PathBuf,
    pub events: EventsRange,
    pub row_counts: BTreeMap<String, i64>,
    /// Events of this run per type (from the ledger's `events` table).
    pub events_per_type: BTreeMap<String, i64>,
    pub dry_run: bool,
    pub errors: Vec<String>,
    /// The cycle's printed summary, as data.
    pub summary: serde_json::Value,
}

impl RunManifest {
    /// `<runs_dir>/<run_id>/manifest.json`.
    #[must_use]
    pub fn path_in(runs_dir: &Path, run_id: &str) -> PathBuf {
        runs_dir.join(run_id).join("manifest.json")
    }

    /// Writes the manifest (pretty JSON), creating the run folder, via a temp file and rename so a
    /// crash never leaves half a manifest.
    ///
    /// # Errors
    /// When the folder or file cannot be written, or the run folder already has a manifest (run ids
    /// are never reused).
    pub fn write(&self, runs_dir: &Path) -> anyhow::Result<PathBuf> {
        let path = Self::path_in(runs_dir, &self.run_id);
        anyhow::ensure!(!path.exists(), "run {} already has a manifest at {}", self.run_id, path.display());
        self.rewrite(runs_dir)
    }

    /// Records the manifest on the run's row of the ledger (`runs.run_manifest_json`), so readers that
    /// never see the out dir (the dashboard over gRPC) show its events.jsonl range and code version. Call
    /// it after writing the file; a run whose `run.started` the ledger has not applied yet gets nothing
    /// (the next write records it).
    ///
    /// # Errors
    /// The ledger's writer failed or is gone.
    pub async fn record_in(&self, store: &nl_ledger::LedgerStore) -> anyhow::Result<()> {
        let json = serde_json::to_value(self).context("encoding the run manifest")?;
        store.record_run_manifest(&self.run_id, &json).await.with_context(|| format!("recording the manifest of run {} in the ledger", self.run_id))?;
        Ok(())
    }

    /// Replaces the manifest of a run still in progress (`nl run` checkpoints), atomically like
    /// [`RunManifest::write`], which must have written it first.
    ///
    /// # Errors
    /// When the folder or file cannot be written.
    pub fn rewrite(&self, runs_dir: &Path) -> anyhow::Result<PathBuf> {
        let path = Self::path_in(runs_dir, &self.run_id);
        let dir = path.parent().context("manifest path has no parent")?;
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let tmp = dir.join("manifest.json.tmp");
        std::fs::write(&tmp, serde_json::to_vec_pretty(self)?).with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, &path).with_context(|| format!("renaming to {}", path.display()))?;
        Ok(path)
    }
}

/// Counts `\n`-terminated lines in `path` between byte offsets.
///
/// # Errors
/// When the file cannot be read.
pub fn count_lines(path: &Path, start: u64, end: u64) -> anyhow::Result<u64> {
    if end <= start {
        return Ok(0);
    }
    Ok(scan_lines(path, start, end)?.1)
}

/// The complete lines from `start` to the current end of `path` (a writer may be mid-line): the offset
/// just past the last `\n` (`start` when there is none) and how many lines end in between. A missing
/// file has none.
///
/// # Errors
/// When the file exists but cannot be read.
pub fn complete_lines_from(path: &Path, start: u64) -> anyhow::Result<(u64, u64)> {
    if !path.exists() {
        return Ok((start, 0));
    }
    scan_lines(path, start, u64::MAX)
}

/// Reads `[start, end)` of `path` (clamped to its length) in chunks: `(offset past the last \n, lines)`.
fn scan_lines(path: &Path, start: u64, end: u64) -> anyhow::Result<(u64, u64)> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = std::fs::File::open(path).with_context(|| format!("reading {}", path.display()))?;
    file.seek(SeekFrom::Start(start)).with_context(|| format!("seeking in {}", path.display()))?;
    let mut reader = file.take(end.saturating_sub(start));
    let mut buf = vec![0u8; 64 * 1024];
    let (mut pos, mut last_end, mut lines) = (start, start, 0u64);
    loop {
        let n = reader.read(&mut buf).with_context(|| format!("reading {}", path.display()))?;
        if n == 0 {
            return Ok((last_end, lines));
        }
        for (i, b) in buf[..n].iter().enumerate() {
            if *b == b'\n' {
                lines += 1;
                last_end = pos + i as u64 + 1;
            }
        }
        pos += n as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn complete_lines_stop_at_the_last_newline_and_count_incrementally() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("events.jsonl");
        assert_eq!(complete_lines_from(&path, 0)?, (0, 0), "no file, no lines");
        std::fs::write(&path, b"{\"a\":1}\n{\"b\":2}\n{\"c\":")?;
        assert_eq!(complete_lines_from(&path, 0)?, (16, 2), "the torn tail is not counted");
        assert_eq!(complete_lines_from(&path, 8)?, (16, 1));
        assert_eq!(complete_lines_from(&path, 16)?, (16, 0));
        assert_eq!(count_lines(&path, 0, 8)?, 1);
        assert_eq!(count_lines(&path, 0, 1000)?, 2, "a range past the end is clamped");
        Ok(())
    }

    #[test]
    fn write_refuses_a_reused_run_id_and_rewrite_replaces() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let now = chrono::Utc::now();
        let mut m = RunManifest {
            run_id: "nl_20261121_000000Z_00000000".into(),
            config_hash: "h".into(),
            effective_config: serde_json::json!({}),
            started_at: now,
            finished_at: now,
            code_version: code_version(),
            source_versions: BTreeMap::new(),
            db_path: dir.path().join("nl.db"),
            events: EventsRange { path: dir.path().join("events.jsonl"), start: 0, end: 0, count: 0 },
            row_counts: BTreeMap::new(),
            events_per_type: BTreeMap::new(),
            dry_run: false,
            errors: Vec::new(),
            summary: serde_json::json!({"status": "running"}),
        };
        let path = m.write(dir.path())?;
        assert!(m.write(dir.path()).is_err(), "a second write of the same run id is refused");
        m.summary = serde_json::json!({"status": "completed"});
        assert_eq!(m.rewrite(dir.path())?, path);
        let back: RunManifest = serde_json::from_slice(&std::fs::read(&path)?)?;
        assert_eq!(back, m);
        assert!(!path.with_file_name("manifest.json.tmp").exists());
        Ok(())
    }
}
