//! A throughput helper for the decision pipeline (not a test): evaluate → score → decide over the golden
//! scenarios' parsed inputs, timing each iteration.

use std::time::Instant;

use crate::golden::GoldenFile;

/// The golden scenarios, embedded so the bench needs no files at run time.
const GOLDEN: &str = include_str!("../tests/golden_scenarios.json");

/// Runs evaluate + score + decide `n` times, cycling through every golden step (payload parsing is done
/// once, up front). Returns `(decisions per second, p99 latency in microseconds)`; `(0.0, 0.0)` when
/// `n == 0` or the embedded golden file is unusable (the golden test reports why).
#[must_use]
pub fn bench_pipeline(n: usize) -> (f64, f64) {
    let Ok(file) = GoldenFile::from_json(GOLDEN) else { return (0.0, 0.0) };
    let steps: Vec<_> = file.scenarios.iter().flat_map(|s| (0..s.steps.len()).map(move |i| GoldenFile::step_inputs(s, i))).collect();
    if n == 0 || steps.is_empty() {
        return (0.0, 0.0);
    }
    let mut micros = Vec::with_capacity(n);
    let start = Instant::now();
    for k in 0..n {
        let t = Instant::now();
        let out = file.run_inputs(&steps[k % steps.len()]);
        std::hint::black_box(&out);
        micros.push(t.elapsed().as_secs_f64() * 1e6);
    }
    let total = start.elapsed().as_secs_f64();
    micros.sort_by(f64::total_cmp);
    let idx = ((micros.len() as f64 * 0.99).ceil() as usize).saturating_sub(1).min(micros.len() - 1);
    let per_sec = if total > 0.0 { n as f64 / total } else { f64::INFINITY };
    (per_sec, micros[idx])
}
