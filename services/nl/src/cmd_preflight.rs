//! `nl preflight`: go/no-go checks before a run, each printed as PASS or FAIL; exits 1 when any fails.
//!
//! 1. config recorded: the config file is tracked by git (`git ls-files --error-unmatch`), or its SHA-256
//!    (or its effective `config_hash`) is listed in `<out_dir>/config_hashes.txt`;
//! 2. L6 blocked: `gate.execution.enabled == false` or not armed;
//! 3. no secret values in the config file (`nl_config::find_inline_secrets` on the raw TOML);
//! 4. the DB and events.jsonl are writable: their folders are created, existing files are opened for
//!    append (nothing is written), missing ones are probed with a temp file in their folder;
//! 5. `run_id` and `config_hash` are documented: the README mentions both;
//! 6. the DB, when it exists, passes `PRAGMA quick_check`;
//! 7. every enabled source builds as `run-cycle` and `run` build it (nothing is polled).
//!
//! The config is loaded here (not before dispatch) so a config that fails to load, e.g. because it holds
//! a secret, still gets a report.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use sha2::Digest;

use crate::config::{self, NlConfig};

/// One check's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub name: &'static str,
    pub ok: bool,
    /// Passes, but the operator should look (printed as WARN; the exit code stays 0).
    pub warn: bool,
    pub detail: String,
}

impl Check {
    fn new(name: &'static str, ok: bool, detail: impl Into<String>) -> Self {
        Self { name, ok, warn: false, detail: detail.into() }
    }
}

/// Runs every check, prints them, and returns 0 when all pass, 1 otherwise.
///
/// # Errors
/// None in practice: every failure is a FAIL line.
pub async fn preflight(config_path: &Path, readme: &Path) -> anyhow::Result<ExitCode> {
    let mut checks = run_checks(config_path, readme);
    if let Ok(l) = config::load(config_path) {
        checks.push(check_db_integrity(&l.config.ledger.db_path).await);
        checks.push(check_sources(&l));
    }
    for c in &checks {
        println!("{} {:<22} {}", if !c.ok { "FAIL" } else if c.warn { "WARN" } else { "PASS" }, c.name, c.detail);
    }
    let failed = checks.iter().filter(|c| !c.ok).count();
    if failed == 0 {
        println!("preflight: all {} checks passed", checks.len());
        Ok(ExitCode::SUCCESS)
    } else {
        println!("preflight: {failed} of {} checks failed", checks.len());
        Ok(ExitCode::from(1))
    }
}

/// Every check, in order.
#[must_use]
pub fn run_checks(config_path: &Path, readme: &Path) -> Vec<Check> {
    let raw = std::fs::read_to_string(config_path);
    let secrets = match &raw {
        Ok(text) => check_secrets(text),
        Err(_) => Check::new("no secrets in config", false, "not checked: the config file cannot be read"),
    };
    let loaded = config::load(config_path);
    let mut checks = Vec::new();
    match &loaded {
        Ok(l) => {
            let mut recorded = check_config_recorded(config_path, raw.as_deref().unwrap_or_default(), &l.config_hash, &l.config.storage.out_dir);
            warn_on_overrides(&mut recorded, &l.overrides, &l.config_hash, &l.config.storage.out_dir);
            checks.push(recorded);
            checks.push(check_l6_blocked(&l.config));
            checks.push(secrets);
            checks.push(check_writable("db writable", &l.config.ledger.db_path));
            checks.push(check_writable("events writable", &l.config.recorder.path));
        }
        Err(e) => {
            // Said once, by the first check; the checks that need the config say they did not run.
            checks.push(Check::new("config recorded", false, format!("config does not load: {e:#}")));
            let skipped = "not checked: the config does not load";
            checks.push(Check::new("L6 blocked", false, skipped));
            checks.push(secrets);
            for name in ["db writable", "events writable"] {
                checks.push(Check::new(name, false, skipped));
            }
        }
    }
    checks.push(check_readme(readme));
    checks
}

/// Every enabled source built (not polled) as `run-cycle` and `run` build them, so a setting they would
/// refuse (a zero `max_body_bytes`, a bad URL, a missing key variable) fails here, before a run.
pub fn check_sources(loaded: &nl_config::Loaded<NlConfig>) -> Check {
    const NAME: &str = "sources build";
    let cycle = crate::cmd_cycle::cycle_config(loaded);
    let names = match nl_runtime::build_cycle_sources(&cycle) {
        Ok(names) => names,
        Err(e) => return Check::new(NAME, false, format!("run-cycle would refuse: {e:#}")),
    };
    let run = nl_runtime::ContinuousConfig { cycle, push: loaded.config.push.clone(), paper: loaded.config.paper.clone() };
    match nl_runtime::build_run_sources(&run) {
        Ok(n) => Check::new(NAME, true, format!("{} polled by run-cycle, {n} started by run", names.len())),
        Err(e) => Check::new(NAME, false, format!("run would refuse: {e:#}")),
    }
}

/// `PRAGMA quick_check` on the DB when it exists (a missing DB is created by the first run).
pub async fn check_db_integrity(db: &Path) -> Check {
    const NAME: &str = "db integrity";
    if !db.exists() {
        return Check::new(NAME, true, format!("{} does not exist yet", db.display()));
    }
    let damage = match nl_ledger::SqliteReader::open(db, 1).await {
        Ok(reader) => {
            let r = nl_ledger::db::damage(reader.pool()).await;
            reader.pool().close().await;
            r
        }
        Err(e) if nl_ledger::db::is_damage(&e) => Ok(Some(e.to_string())),
        Err(e) => Err(e),
    };
    match damage {
        Ok(None) => Check::new(NAME, true, format!("{}: PRAGMA quick_check ok", db.display())),
        Ok(Some(problem)) => Check::new(NAME, false, nl_ledger::db::damaged_advice(db, &problem)),
        Err(e) => Check::new(NAME, false, format!("{}: {e}", db.display())),
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(bytes))
}

/// Tracked by git, or the file's SHA-256 / effective config hash listed in `<out_dir>/config_hashes.txt`.
#[must_use]
pub fn check_config_recorded(config_path: &Path, raw: &str, config_hash: &str, out_dir: &Path) -> Check {
    const NAME: &str = "config recorded";
    let dir = config_path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let file = config_path.file_name().map(PathBuf::from).unwrap_or_default();
    let tracked = std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["ls-files", "--error-unmatch", "--"])
        .arg(&file)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if tracked {
        return Check::new(NAME, true, format!("{} is tracked by git", config_path.display()));
    }
    let file_hash = sha256_hex(raw.as_bytes());
    let hashes = out_dir.join("config_hashes.txt");
    let listed = std::fs::read_to_string(&hashes).is_ok_and(|t| t.lines().filter_map(|l| l.split_whitespace().next()).any(|h| h == file_hash || h == config_hash));
    if listed {
        Check::new(NAME, true, format!("hash listed in {}", hashes.display()))
    } else {
        Check::new(NAME, false, format!("{} is not tracked by git and neither its sha256 {file_hash} nor config_hash {config_hash} is in {}", config_path.display(), hashes.display()))
    }
}

/// A passing "config recorded" warns when env overrides make the effective config differ from the
/// recorded file and its `config_hash` is not listed in `config_hashes.txt`: it names the overrides.
pub fn warn_on_overrides(check: &mut Check, overrides: &[String], config_hash: &str, out_dir: &Path) {
    if !check.ok || overrides.is_empty() {
        return;
    }
    let hashes = out_dir.join("config_hashes.txt");
    let listed = std::fs::read_to_string(&hashes).is_ok_and(|t| t.lines().filter_map(|l| l.split_whitespace().next()).any(|h| h == config_hash));
    if listed {
        return;
    }
    check.warn = true;
    check.detail = format!(
        "{}; but env overrides change the effective config (config_hash {config_hash}), which is not recorded: {} (add the hash to {} to record it)",
        check.detail,
        overrides.join(", "),
        hashes.display()
    );
}

/// L6 (execution) is blocked unless explicitly enabled *and* armed.
#[must_use]
pub fn check_l6_blocked(c: &NlConfig) -> Check {
    let e = &c.gate.execution;
    let blocked = !e.enabled || !e.armed;
    Check::new("L6 blocked", blocked, format!("gate.execution.enabled = {}, armed = {}", e.enabled, e.armed))
}

/// No secret-looking key with a value in the raw TOML.
#[must_use]
pub fn check_secrets(raw: &str) -> Check {
    const NAME: &str = "no secrets in config";
    match raw.parse::<toml::Table>() {
        Ok(t) => {
            let found = nl_config::find_inline_secrets(&t);
            if found.is_empty() { Check::new(NAME, true, "no inline secret values") } else { Check::new(NAME, false, format!("secret values at: {}", found.join(", "))) }
        }
        Err(e) => Check::new(NAME, false, format!("not valid TOML: {e}")),
    }
}

/// `path`'s folder exists (created if needed) and `path` can be opened for append; nothing is written.
#[must_use]
pub fn check_writable(name: &'static str, path: &Path) -> Check {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    if let Err(e) = std::fs::create_dir_all(dir) {
        return Check::new(name, false, format!("cannot create {}: {e}", dir.display()));
    }
    let res = if path.exists() { std::fs::OpenOptions::new().append(true).open(path).map(drop) } else { tempfile::NamedTempFile::new_in(dir).map(drop) };
    match res {
        Ok(()) => Check::new(name, true, format!("{} is writable", path.display())),
        Err(e) => Check::new(name, false, format!("{} is not writable: {e}", path.display())),
    }
}

/// The README documents both `run_id` and `config_hash`.
#[must_use]
pub fn check_readme(readme: &Path) -> Check {
    const NAME: &str = "ids documented";
    match std::fs::read_to_string(readme) {
        Ok(t) => {
            let missing: Vec<&str> = ["run_id", "config_hash"].into_iter().filter(|w| !t.contains(w)).collect();
            if missing.is_empty() { Check::new(NAME, true, format!("{} documents run_id and config_hash", readme.display())) } else { Check::new(NAME, false, format!("{} does not mention {}", readme.display(), missing.join(", "))) }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Check::new(NAME, false, format!("{} not found: run nl from the repository root, or name the README with --readme PATH", readme.display()))
        }
        Err(e) => Check::new(NAME, false, format!("cannot read {}: {e}", readme.display())),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn default_config() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/default.toml")
    }

    #[test]
    fn untracked_config_fails_until_its_hash_is_recorded() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("nl.toml");
        std::fs::write(&cfg, "[storage]\nout_dir = \"x\"\n").unwrap();
        let out = dir.path().join("out");
        let c = check_config_recorded(&cfg, "[storage]\nout_dir = \"x\"\n", "abc", &out);
        assert!(!c.ok, "{c:?}");
        std::fs::create_dir_all(&out).unwrap();
        std::fs::write(out.join("config_hashes.txt"), format!("{}  nl.toml\n", sha256_hex(b"[storage]\nout_dir = \"x\"\n"))).unwrap();
        assert!(check_config_recorded(&cfg, "[storage]\nout_dir = \"x\"\n", "abc", &out).ok);
        std::fs::write(out.join("config_hashes.txt"), "abc\n").unwrap();
        assert!(check_config_recorded(&cfg, "", "abc", &out).ok, "the effective config_hash counts too");
    }

    #[test]
    fn tracked_default_config_passes() {
        let c = check_config_recorded(&default_config(), "", "none", Path::new("/nonexistent"));
        assert!(c.ok, "{c:?}");
    }

    #[test]
    fn armed_execution_fails_l6() {
        let mut c = NlConfig::default();
        assert!(check_l6_blocked(&c).ok);
        c.gate.execution.enabled = true;
        assert!(check_l6_blocked(&c).ok, "enabled but not armed is still blocked");
        c.gate.execution.armed = true;
        assert!(!check_l6_blocked(&c).ok);
    }

    #[test]
    fn inline_secret_fails() {
        assert!(check_secrets("[nats]\ntoken_env = \"NL_NATS_TOKEN\"\n").ok);
        let tmp = tempfile::tempdir().unwrap();
        let mut c = Check::new("config recorded", true, "config/default.toml is tracked by git");
        warn_on_overrides(&mut c, &["NL_SOURCES__OKX_SPOT__ENABLED".into()], "abc123", tmp.path());
        assert!(c.ok && c.warn && c.detail.contains("NL_SOURCES__OKX_SPOT__ENABLED") && c.detail.contains("abc123"), "{}", c.detail);
        std::fs::write(tmp.path().join("config_hashes.txt"), "abc123 effective\n").unwrap();
        let mut c = Check::new("config recorded", true, "tracked");
        warn_on_overrides(&mut c, &["NL_X".into()], "abc123", tmp.path());
        assert!(!c.warn, "the effective hash is recorded");
        let mut c = Check::new("config recorded", true, "tracked");
        warn_on_overrides(&mut c, &[], "abc123", tmp.path());
        assert!(!c.warn, "no overrides");
        let c = check_secrets("[nats]\ntoken = \"hunter2\"\n");
        assert!(!c.ok && c.detail.contains("nats.token") && !c.detail.contains("hunter2"), "{c:?}");
    }

    #[test]
    fn unwritable_path_fails() {
        let dir = tempfile::tempdir().unwrap();
        let ok = check_writable("db writable", &dir.path().join("a/b/nl.db"));
        assert!(ok.ok && !dir.path().join("a/b/nl.db").exists(), "probing creates the folder, not the file: {ok:?}");
        let blocker = dir.path().join("file");
        std::fs::write(&blocker, "x").unwrap();
        assert!(!check_writable("db writable", &blocker.join("nl.db")).ok, "a file where the folder should be");
    }

    #[test]
    fn readme_without_ids_fails() {
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path().join("README.md");
        std::fs::write(&r, "run_id only").unwrap();
        let c = check_readme(&r);
        assert!(!c.ok && c.detail.contains("config_hash"), "{c:?}");
        std::fs::write(&r, "run_id and config_hash").unwrap();
        assert!(check_readme(&r).ok);
        assert!(!check_readme(&dir.path().join("missing.md")).ok);
    }

    #[test]
    fn repo_config_and_readme_pass_the_static_checks() {
        let readme = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md");
        let checks = run_checks(&default_config(), &readme);
        let failed: Vec<_> = checks.iter().filter(|c| !c.ok && !c.name.ends_with("writable")).collect();
        assert!(failed.is_empty(), "{failed:?}");
    }
}
