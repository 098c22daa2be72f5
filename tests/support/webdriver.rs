//! A minimal W3C WebDriver client for the browser tests: headless Chromium through `chromedriver` on
//! loopback, spoken over plain HTTP/1.1 (no client crate). Chromium and its driver are the Debian
//! packages `chromium` and `chromium-driver`; [`ensure_chromium`] installs them when missing and panics
//! when it cannot, so a browser test never passes without a browser.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::Spawned;

const CHROMIUM: &str = "/usr/bin/chromium";
const DRIVER: &str = "/usr/bin/chromedriver";

/// Installs `chromium` and `chromium-driver` with apt-get when either is missing; panics if they are
/// still missing afterwards.
pub fn ensure_chromium() {
    if Path::new(CHROMIUM).exists() && Path::new(DRIVER).exists() {
        return;
    }
    let apt = |args: &[&str]| Command::new("apt-get").args(args).env("DEBIAN_FRONTEND", "noninteractive").status();
    let _ = apt(&["update", "-qq"]);
    let installed = apt(&["install", "-y", "-qq", "chromium", "chromium-driver"]);
    assert!(
        Path::new(CHROMIUM).exists() && Path::new(DRIVER).exists(),
        "the browser tests need Debian's chromium and chromium-driver; apt-get install failed ({installed:?})"
    );
}

/// One HTTP/1.1 request to `addr`; returns the status and the body.
pub fn http(addr: &str, method: &str, path: &str, headers: &[(&str, &str)], body: Option<&str>) -> (u16, String) {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(60))).expect("timeout");
    let body = body.unwrap_or("");
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
    if !body.is_empty() {
        req.push_str("Content-Type: application/json\r\n");
    }
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).expect("write");
    // Read the head, then exactly Content-Length bytes (chromedriver keeps connections open), or to the end.
    let mut raw = Vec::new();
    let mut buf = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = s.read(&mut buf).expect("read");
        assert!(n > 0, "connection closed before the response head");
        raw.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8_lossy(&raw[..head_end]).to_ascii_lowercase();
    let status = head.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let length = head.lines().find_map(|l| l.strip_prefix("content-length:")).and_then(|v| v.trim().parse::<usize>().ok());
    match length {
        Some(len) => {
            while raw.len() < head_end + len {
                let n = s.read(&mut buf).expect("read");
                assert!(n > 0, "connection closed before the whole body");
                raw.extend_from_slice(&buf[..n]);
            }
        }
        None => {
            s.read_to_end(&mut raw).expect("read");
        }
    }
    let body = String::from_utf8_lossy(&raw[head_end..]).into_owned();
    (status, if head.contains("transfer-encoding: chunked") { dechunk(&body) } else { body })
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// A chromedriver process and one headless Chromium session.
pub struct Browser {
    addr: String,
    session: String,
    _driver: Spawned,
}

impl Browser {
    /// Starts chromedriver on a free loopback port and opens a headless session `width`x`height`.
    pub fn start(width: u32, height: u32) -> Self {
        ensure_chromium();
        let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port").port();
        let driver = Spawned(Command::new(DRIVER).arg(format!("--port={port}")).stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("spawn chromedriver"));
        let addr = format!("127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if TcpStream::connect(&addr).is_ok() && http(&addr, "GET", "/status", &[], None).1.contains("\"ready\":true") {
                break;
            }
            assert!(Instant::now() < deadline, "chromedriver did not become ready on {addr}");
            std::thread::sleep(Duration::from_millis(50));
        }
        let caps = json!({"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {
            "binary": CHROMIUM,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars", format!("--window-size={width},{height}")]
        }}}});
        let (status, body) = http(&addr, "POST", "/session", &[], Some(&caps.to_string()));
        let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
        let session = v["value"]["sessionId"].as_str().unwrap_or_else(|| panic!("new session failed ({status}): {body}")).to_string();
        Self { addr, session, _driver: driver }
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, Value> {
        let path = format!("/session/{}{path}", self.session);
        let (status, text) = http(&self.addr, method, &path, &[], body.map(|b| b.to_string()).as_deref());
        let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if status == 200 { Ok(v["value"].clone()) } else { Err(v["value"].clone()) }
    }

    /// Navigates and waits for the load.
    pub fn goto(&self, url: &str) {
        self.call("POST", "/url", Some(json!({"url": url}))).unwrap_or_else(|e| panic!("navigate {url}: {e}"));
    }

    /// Runs `script` (a function body; `return` gives the value) in the page.
    pub fn js(&self, script: &str) -> Value {
        self.call("POST", "/execute/sync", Some(json!({"script": script, "args": []}))).unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    /// Waits until `script` returns something truthy, at most `timeout`; returns that value.
    pub fn wait_for(&self, script: &str, timeout: Duration) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let v = self.js(script);
            if !(v.is_null() || v == Value::Bool(false)) {
                return v;
            }
            assert!(Instant::now() < deadline, "condition not met within {timeout:?}: {script}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The text of an open alert, `None` when there is none.
    pub fn alert_text(&self) -> Option<String> {
        self.call("GET", "/alert/text", None).ok().map(|v| v.as_str().unwrap_or_default().to_string())
    }

    /// Saves a PNG screenshot of the viewport to `path`.
    pub fn screenshot(&self, path: &Path) {
        use base64::Engine as _;
        let v = self.call("GET", "/screenshot", None).unwrap_or_else(|e| panic!("screenshot: {e}"));
        let png = base64::engine::general_purpose::STANDARD.decode(v.as_str().unwrap_or_default()).expect("base64 screenshot");
        assert!(png.starts_with(b"\x89PNG"), "not a PNG");
        std::fs::write(path, png).expect("write screenshot");
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = http(&self.addr, "DELETE", &format!("/session/{}", self.session), &[], None);
    }
}
