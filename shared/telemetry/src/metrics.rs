//! A tiny Prometheus registry: counters, gauges and histograms with labels, rendered in the text
//! exposition format (version 0.0.4). Services either update it as things happen or register a
//! scrape hook that copies their stats structs in just before rendering.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// Label pairs, sorted by name so one series has one key.
type Labels = Vec<(String, String)>;

/// Default histogram buckets (seconds), as in the Prometheus client libraries.
pub const DEFAULT_BUCKETS: [f64; 11] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// The type line of a family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    Counter,
    Gauge,
    Histogram,
}

impl MetricKind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Counter => "counter",
            Self::Gauge => "gauge",
            Self::Histogram => "histogram",
        }
    }
}

#[derive(Debug, Clone)]
struct Histogram {
    bounds: Vec<f64>,
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

#[derive(Debug, Clone)]
enum Series {
    Value(f64),
    Histogram(Histogram),
}

#[derive(Debug, Clone)]
struct Family {
    help: String,
    kind: MetricKind,
    series: BTreeMap<Labels, Series>,
}

type Hook = Arc<dyn Fn(&Registry) + Send + Sync>;

/// A set of metric families. Cheap to share (`Arc<Registry>`); every method takes `&self`.
#[derive(Default)]
pub struct Registry {
    families: Mutex<BTreeMap<String, Family>>,
    hooks: Mutex<Vec<Hook>>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry").field("families", &lock(&self.families).len()).finish_non_exhaustive()
    }
}

/// A poisoned lock only means another thread panicked mid-update; the numbers are still usable.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn labels(pairs: &[(&str, &str)]) -> Labels {
    let mut v: Labels = pairs.iter().map(|(k, v)| ((*k).to_string(), (*v).to_string())).collect();
    v.sort();
    v
}

impl Registry {
    /// An empty registry.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Runs `hook` before every [`render`](Self::render), so it can copy live stats in.
    pub fn on_scrape(&self, hook: impl Fn(&Registry) + Send + Sync + 'static) {
        lock(&self.hooks).push(Arc::new(hook));
    }

    fn with_series(&self, name: &str, help: &str, kind: MetricKind, pairs: &[(&str, &str)], f: impl FnOnce(&mut Series)) {
        let mut families = lock(&self.families);
        let family = families.entry(name.to_string()).or_insert_with(|| Family { help: help.to_string(), kind, series: BTreeMap::new() });
        let series = family.series.entry(labels(pairs)).or_insert_with(|| match kind {
            MetricKind::Histogram => Series::Histogram(Histogram { bounds: Vec::new(), counts: Vec::new(), sum: 0.0, count: 0 }),
            MetricKind::Counter | MetricKind::Gauge => Series::Value(0.0),
        });
        f(series);
    }

    /// Adds `by` to a counter.
    pub fn counter_add(&self, name: &str, help: &str, pairs: &[(&str, &str)], by: f64) {
        self.with_series(name, help, MetricKind::Counter, pairs, |s| {
            if let Series::Value(v) = s {
                *v += by;
            }
        });
    }

    /// Sets a counter to a total kept elsewhere (a stats struct's monotonic `AtomicU64`).
    pub fn counter_set(&self, name: &str, help: &str, pairs: &[(&str, &str)], total: f64) {
        self.with_series(name, help, MetricKind::Counter, pairs, |s| *s = Series::Value(total));
    }

    /// Sets a gauge.
    pub fn gauge_set(&self, name: &str, help: &str, pairs: &[(&str, &str)], value: f64) {
        self.with_series(name, help, MetricKind::Gauge, pairs, |s| *s = Series::Value(value));
    }

    /// Records one observation in a histogram with upper bounds `buckets` (fixed by the first call).
    pub fn histogram_observe(&self, name: &str, help: &str, pairs: &[(&str, &str)], buckets: &[f64], value: f64) {
        self.with_series(name, help, MetricKind::Histogram, pairs, |s| {
            if let Series::Histogram(h) = s {
                if h.bounds.is_empty() {
                    h.bounds = buckets.to_vec();
                    h.counts = vec![0; buckets.len()];
                }
                for (bound, count) in h.bounds.iter().zip(h.counts.iter_mut()) {
                    if value <= *bound {
                        *count += 1;
                    }
                }
                h.sum += value;
                h.count += 1;
            }
        });
    }

    /// The current value of a counter or gauge series (tests, health logic).
    #[must_use]
    pub fn value(&self, name: &str, pairs: &[(&str, &str)]) -> Option<f64> {
        match lock(&self.families).get(name)?.series.get(&labels(pairs))? {
            Series::Value(v) => Some(*v),
            Series::Histogram(_) => None,
        }
    }

    /// Runs the scrape hooks, then renders every family in the text exposition format.
    #[must_use]
    pub fn render(&self) -> String {
        let hooks: Vec<Hook> = lock(&self.hooks).clone();
        for hook in hooks {
            hook(self);
        }
        let families = lock(&self.families);
        let mut out = String::new();
        for (name, family) in families.iter() {
            let _ = writeln!(out, "# HELP {name} {}", escape_help(&family.help));
            let _ = writeln!(out, "# TYPE {name} {}", family.kind.as_str());
            for (labels, series) in &family.series {
                match series {
                    Series::Value(v) => {
                        let _ = writeln!(out, "{name}{} {}", render_labels(labels, None), number(*v));
                    }
                    Series::Histogram(h) => render_histogram(&mut out, name, labels, h),
                }
            }
        }
        out
    }
}

fn render_histogram(out: &mut String, name: &str, labels: &Labels, h: &Histogram) {
    for (bound, count) in h.bounds.iter().zip(&h.counts) {
        let _ = writeln!(out, "{name}_bucket{} {count}", render_labels(labels, Some(&number(*bound))));
    }
    let _ = writeln!(out, "{name}_bucket{} {}", render_labels(labels, Some("+Inf")), h.count);
    let _ = writeln!(out, "{name}_sum{} {}", render_labels(labels, None), number(h.sum));
    let _ = writeln!(out, "{name}_count{} {}", render_labels(labels, None), h.count);
}

fn render_labels(labels: &Labels, le: Option<&str>) -> String {
    if labels.is_empty() && le.is_none() {
        return String::new();
    }
    let mut parts: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{}\"", escape_value(v))).collect();
    if let Some(le) = le {
        parts.push(format!("le=\"{le}\""));
    }
    format!("{{{}}}", parts.join(","))
}

fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf".into() } else { "-Inf".into() }
    } else {
        format!("{v}")
    }
}

fn escape_help(s: &str) -> String {
    s.replace('\\', "\\\\").replace('\n', "\\n")
}

fn escape_value(s: &str) -> String {
    s.replace('\\', "\\\\").replace('\n', "\\n").replace('"', "\\\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_gauges_and_histograms() {
        let r = Registry::new();
        r.counter_add("nl_errors_total", "Errors.", &[("stage", "fetch")], 2.0);
        r.counter_add("nl_errors_total", "Errors.", &[("stage", "fetch")], 1.0);
        r.counter_set("nl_received_total", "Received.", &[], 7.0);
        r.gauge_set("nl_consumer_pending", "Pending.", &[("durable", "a\"b")], 3.0);
        r.histogram_observe("nl_lag_seconds", "Lag.", &[], &[1.0, 5.0], 2.0);
        let text = r.render();
        assert!(text.contains("# TYPE nl_errors_total counter\nnl_errors_total{stage=\"fetch\"} 3\n"), "{text}");
        assert!(text.contains("nl_received_total 7\n"), "{text}");
        assert!(text.contains("nl_consumer_pending{durable=\"a\\\"b\"} 3\n"), "{text}");
        assert!(text.contains("nl_lag_seconds_bucket{le=\"1\"} 0\nnl_lag_seconds_bucket{le=\"5\"} 1\nnl_lag_seconds_bucket{le=\"+Inf\"} 1\n"), "{text}");
        assert!(text.contains("nl_lag_seconds_sum 2\nnl_lag_seconds_count 1\n"), "{text}");
    }

    #[test]
    fn scrape_hooks_run_before_render() {
        let r = Registry::new();
        r.on_scrape(|r| r.counter_set("nl_published_total", "Published.", &[], 5.0));
        assert!(r.render().contains("nl_published_total 5\n"));
        assert_eq!(r.value("nl_published_total", &[]), Some(5.0));
    }
}
