use std::path::Path;

use serde::{Deserialize, Serialize};

use super::*;

#[derive(Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct Cfg {
    #[serde(default)]
    storage: StorageConfig,
    #[serde(default)]
    sources: std::collections::BTreeMap<String, Src>,
    #[serde(default)]
    nats: Nats,
}

#[derive(Debug, Deserialize, Serialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
struct Src {
    enabled: bool,
    base_url: String,
    interval_secs: u64,
}

#[derive(Debug, Deserialize, Serialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
struct Nats {
    url: String,
    password_env: String,
    password: String,
}

const FILE: &str = r#"
[storage]
out_dir = "out/x"

[sources.binance]
enabled = true
base_url = "https://api.binance.com"
interval_secs = 30

[nats]
url = "nats://127.0.0.1:4222"
password_env = "NL_NATS_PASSWORD"
"#;

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
}

#[test]
fn env_overrides_apply_typed() {
    let l: Loaded<Cfg> = load_str(
        Path::new("cfg.toml"),
        FILE,
        env(&[("NL_SOURCES__BINANCE__BASE_URL", "http://127.0.0.1:9000"), ("NL_SOURCES__BINANCE__INTERVAL_SECS", "5"), ("NL_LOG_FORMAT", "json")]),
    )
    .unwrap();
    assert_eq!(l.config.sources["binance"].base_url, "http://127.0.0.1:9000");
    assert_eq!(l.config.sources["binance"].interval_secs, 5);
    assert_eq!(l.overrides, vec!["NL_SOURCES__BINANCE__BASE_URL", "NL_SOURCES__BINANCE__INTERVAL_SECS"]);
}

#[test]
fn unknown_key_in_file_names_key_and_file() {
    let text = FILE.replace("interval_secs = 30", "interval_secs = 30\nintervall = 3");
    let e = load_str::<Cfg, _>(Path::new("conf/bad.toml"), &text, env(&[])).unwrap_err().to_string();
    assert!(e.contains("conf/bad.toml"), "{e}");
    assert!(e.contains("intervall"), "{e}");
}

#[test]
fn unknown_key_from_env_names_the_variable() {
    let vars = env(&[("NL_SOURCES__BINANCE__BASEURL", "x"), ("NL_SOURCES__BINANCE__INTERVAL_SECS", "5")]);
    let e = load_str::<Cfg, _>(Path::new("c.toml"), FILE, vars).unwrap_err().to_string();
    assert!(e.contains("NL_SOURCES__BINANCE__BASEURL"), "{e}");
    assert!(!e.contains("INTERVAL_SECS"), "only the offending variable is named: {e}");
    assert!(e.contains("baseurl"), "{e}");
}

#[test]
fn inline_secret_is_rejected() {
    let text = FILE.replace("password_env = \"NL_NATS_PASSWORD\"", "password = \"hunter2hunter2\"");
    let e = load_str::<Cfg, _>(Path::new("c.toml"), &text, env(&[])).unwrap_err().to_string();
    assert!(e.contains("nats.password"), "{e}");
    assert!(!e.contains("hunter2"), "secret value must not be echoed: {e}");
}

#[test]
fn hash_is_stable_and_sensitive() {
    let a: Loaded<Cfg> = load_str(Path::new("a.toml"), FILE, env(&[])).unwrap();
    let reordered = "[nats]\npassword_env = \"NL_NATS_PASSWORD\"\nurl = \"nats://127.0.0.1:4222\"\n[sources.binance]\ninterval_secs = 30\nbase_url = \"https://api.binance.com\"\nenabled = true\n[storage]\nout_dir = \"out/x\"\n";
    let b: Loaded<Cfg> = load_str(Path::new("b.toml"), reordered, env(&[])).unwrap();
    assert_eq!(a.config_hash, b.config_hash, "key order must not matter");
    let c: Loaded<Cfg> = load_str(Path::new("a.toml"), FILE, env(&[("NL_SOURCES__BINANCE__INTERVAL_SECS", "31")])).unwrap();
    assert_ne!(a.config_hash, c.config_hash);
    assert_eq!(a.config_hash.len(), 64);
    assert!(a.effective_json["nats"].get("password").is_none(), "secret keys are redacted from the effective config");
}

#[test]
fn run_ids_have_the_form_and_differ() {
    let now = chrono::Utc::now();
    let a = new_run_id(now);
    let b = new_run_id(now);
    assert!(is_valid_run_id(&a), "{a}");
    assert_ne!(a, b);
    assert!(!is_valid_run_id("nl_2026_bad"));
}

#[test]
fn an_override_naming_a_missing_table_says_so_and_lists_the_near_names() {
    #[derive(Debug, Deserialize, Serialize)]
    #[serde(deny_unknown_fields)]
    struct Kinded {
        kind: String,
        #[serde(default)]
        enabled: bool,
    }
    #[derive(Debug, Deserialize, Serialize)]
    struct WithSources {
        sources: std::collections::BTreeMap<String, Kinded>,
    }
    let file = "[sources.binance_spot]\nkind = \"binance\"\n[sources.okx_spot]\nkind = \"okx\"\n";
    let e = load_str::<WithSources, _>(Path::new("c.toml"), file, env(&[("NL_SOURCES__BINANCE__ENABLED", "false")])).unwrap_err().to_string();
    assert!(e.contains("NL_SOURCES__BINANCE__ENABLED"), "{e}");
    assert!(e.contains("there is no [sources.binance]"), "{e}");
    assert!(e.contains("binance_spot, okx_spot") && e.contains("did you mean `binance_spot`"), "{e}");
    let ok = load_str::<WithSources, _>(Path::new("c.toml"), file, env(&[("NL_SOURCES__BINANCE_SPOT__ENABLED", "true")])).unwrap();
    assert!(ok.config.sources["binance_spot"].enabled);
}

#[test]
fn url_credentials_are_redacted_from_the_effective_config() {
    let vars = env(&[("NL_NATS__URL", "nats://nl:CANARY-pw@10.0.0.1:4222"), ("NL_SOURCES__BINANCE__BASE_URL", "https://h/api?apikey=CANARY-key&page=1")]);
    let l: Loaded<Cfg> = load_str(Path::new("c.toml"), FILE, vars).unwrap();
    let json = l.effective_json.to_string();
    assert!(!json.contains("CANARY"), "{json}");
    assert_eq!(l.effective_json["nats"]["url"], "nats://REDACTED@10.0.0.1:4222");
    assert_eq!(l.effective_json["sources"]["binance"]["base_url"], "https://h/api?apikey=REDACTED&page=1");
    assert_eq!(l.config.nats.url, "nats://nl:CANARY-pw@10.0.0.1:4222", "the config itself keeps what it was given");
}

#[test]
fn config_errors_at_secret_looking_keys_do_not_echo_the_value() {
    // A syntax error on a secret line: toml quotes the line.
    let text = FILE.replace("password_env = \"NL_NATS_PASSWORD\"", "password = CANARY-bare");
    let e = load_str::<Cfg, _>(Path::new("c.toml"), &text, env(&[])).unwrap_err().to_string();
    assert!(!e.contains("CANARY"), "{e}");
    assert!(e.contains("c.toml"), "{e}");
    // An unknown secret-looking key: the unknown-field error also quotes the line.
    let text = FILE.replace("[storage]", "[storage]\napi_token = \"CANARY-tok\"");
    let e = load_str::<Cfg, _>(Path::new("c.toml"), &text, env(&[])).unwrap_err().to_string();
    assert!(!e.contains("CANARY"), "{e}");
    assert!(e.contains("storage.api_token"), "{e}");
    // A secret-looking key set from the environment is kept out of the effective config.
    let l: Loaded<Cfg> = load_str(Path::new("c.toml"), FILE, env(&[("NL_NATS__PASSWORD", "[CANARY-env")])).unwrap();
    assert!(!l.effective_json.to_string().contains("CANARY"), "{}", l.effective_json);
    // A URL with credentials in a bad override.
    let e = load_str::<Cfg, _>(Path::new("c.toml"), FILE, env(&[("NL_SOURCES__BINANCE__INTERVAL_SECS", "\"https://u:CANARY@h\"")])).unwrap_err().to_string();
    assert!(!e.contains("CANARY"), "{e}");
}
