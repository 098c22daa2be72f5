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
        let dir = path.parent().context("manifest path has no parent")?;
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        anyhow::ensure!(!path.exists(), "run {} already has a manifest at {}", self.run_id, path.display());
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
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let s = usize::try_from(start).unwrap_or(usize::MAX).min(bytes.len());
    let e = usize::try_from(end).unwrap_or(usize::MAX).min(bytes.len());
    Ok(bytes[s..e].iter().filter(|b| **b == b'\n').count() as u64)
}
