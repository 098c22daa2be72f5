//! Hostile venue text in log lines: control characters never reach the terminal raw, one record stays
//! one line, and lines written outside `tracing` are JSON in JSON mode.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};

use nl_telemetry::LogFormat;
use nl_telemetry::stderr::{Escaping, escape_controls, render};

#[derive(Clone, Default)]
struct Buf(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Buf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

const HOSTILE: &str = "PEPE\0\x1b[2J\x1b]0;owned\x07\rFAKE LINE\nINFO injected\x7f\u{9b}";

#[test]
fn text_log_records_escape_every_control_character_of_venue_text() {
    let buf = Buf::default();
    let sink = buf.clone();
    let subscriber = tracing_subscriber::fmt().with_ansi(false).with_writer(move || Escaping(sink.clone())).finish();
    tracing::subscriber::with_default(subscriber, || {
        tracing::warn!(symbol = %HOSTILE, debug = ?HOSTILE, "listing {HOSTILE} seen");
        tracing::info!("second record");
    });
    let out = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
    assert_eq!(out.lines().count(), 2, "one line per record: {out:?}");
    assert!(out.ends_with('\n'));
    for bad in ['\0', '\x1b', '\r', '\x07', '\x7f', '\u{9b}'] {
        assert!(!out.contains(bad), "{bad:?} in {out:?}");
    }
    assert!(out.contains("FAKE LINE") && out.contains("\\r") && out.contains("\\n"), "{out}");
}

#[test]
fn lines_outside_tracing_are_json_in_json_mode_and_escaped_in_text_mode() {
    let json = render(LogFormat::Json, tracing::Level::ERROR, &format!("error: venue said {HOSTILE}"));
    assert_eq!(json.matches('\n').count(), 1);
    let v: serde_json::Value = serde_json::from_str(json.trim_end()).unwrap();
    assert_eq!(v["level"], "ERROR");
    assert_eq!(v["fields"]["message"].as_str().unwrap(), format!("error: venue said {HOSTILE}"));
    let text = render(LogFormat::Text, tracing::Level::INFO, HOSTILE);
    assert_eq!(text.matches('\n').count(), 1);
    assert!(!text.trim_end().chars().any(|c| c.is_control() && c != '\t'), "{text:?}");
    assert_eq!(escape_controls("plain\ttext"), "plain\ttext");
}
