#![allow(clippy::unwrap_used)]

use super::*;

fn registry(cfg: &SourcesConfig) -> BudgetRegistry {
    BudgetRegistry::new(cfg.budget_configs().unwrap(), BudgetConfig::new(1.0, 1.0)).unwrap()
}

fn no_env(_: &str) -> Option<String> {
    None
}

#[test]
fn defaults_cover_every_poll_kind_enabled_and_round_trip() {
    let d = SourcesConfig::defaults();
    assert_eq!(d.0.len(), 21);
    for (name, c) in &d.0 {
        assert!(c.enabled, "{name}");
        assert_eq!(&c.kind.as_str(), name, "names equal kinds");
        assert!(c.kind.poll_kind().is_some(), "{name}");
        assert!(c.base_url.starts_with("https://"), "{name}");
    }
    assert_eq!(d.get("okx_spot").unwrap().base_url, "https://www.okx.com");
    let text = toml::to_string(&d).unwrap();
    let back: SourcesConfig = toml::from_str(&text).unwrap();
    assert_eq!(back, d);
    let json: SourcesConfig = serde_json::from_value(serde_json::to_value(&d).unwrap()).unwrap();
    assert_eq!(json, d);
}

#[tokio::test]
async fn defaults_build() {
    let d = SourcesConfig::defaults();
    let budgets = d.budget_configs().unwrap();
    assert_eq!(budgets.len(), 12, "one bucket per venue");
    let sources = build_sources_for_run(&d, &registry(&d), &no_env, "run").unwrap();
    assert_eq!(sources.len(), 21);
    assert_eq!(sources.iter().find(|s| s.name() == "okx_spot").unwrap().interval(), Duration::from_secs(2));
}

#[test]
fn partial_entry_uses_defaults_and_rejects_unknown_fields() {
    let text = r#"
[okx_spot]
kind = "okx_spot"
base_url = "http://127.0.0.1:9000"
provider = "okx"
rate_per_sec = 2.0
burst = 1.0
"#;
    let c: SourcesConfig = toml::from_str(text).unwrap();
    let e = c.get("okx_spot").unwrap();
    assert!(e.enabled);
    assert_eq!((e.interval_secs, e.timeout_ms, e.lookback_minutes), (10, 10_000, None));
    let bad = format!("{text}base_ur = \"x\"\n");
    assert!(toml::from_str::<SourcesConfig>(&bad).unwrap_err().to_string().contains("base_ur"));
}

#[tokio::test]
async fn bad_base_url_names_source_and_field() {
    let mut d = SourcesConfig::defaults().only(&["gate_pairs"]);
    d.get_mut("gate_pairs").unwrap().base_url = "not a url".into();
    let err = build_sources(&d, &registry(&d), &no_env).err().unwrap().to_string();
    assert!(err.contains("gate_pairs") && err.contains("base_url"), "{err}");
}

#[tokio::test]
async fn field_checks() {
    let base = SourcesConfig::defaults().only(&["okx_spot", "okx_announcements", "binance_spot"]);
    let check = |edit: &dyn Fn(&mut SourcesConfig), want: &str| {
        let mut c = base.clone();
        edit(&mut c);
        let reg = BudgetRegistry::new(BTreeMap::new(), BudgetConfig::new(1.0, 1.0)).unwrap();
        let err = build_sources(&c, &reg, &|k| (k == "SET").then(|| "v".to_string())).err().unwrap().to_string();
        assert!(err.contains(want), "{want}: {err}");
    };
    check(&|c| c.get_mut("okx_spot").unwrap().interval_secs = 0, "`interval_secs`");
    check(&|c| c.get_mut("okx_spot").unwrap().ws_url = Some("wss://x".into()), "`ws_url`");
    check(&|c| c.get_mut("okx_spot").unwrap().lookback_minutes = Some(5), "`lookback_minutes`");
    check(&|c| c.get_mut("okx_spot").unwrap().api_key_env = Some("SET".into()), "takes no API key");
    check(&|c| c.get_mut("binance_spot").unwrap().api_key_env = Some("UNSET".into()), "`UNSET` is unset");
    check(&|c| c.get_mut("okx_spot").unwrap().burst = 3.0, "provider `okx`");
    check(&|c| c.get_mut("okx_spot").unwrap().provider = " ".into(), "`provider`");
    check(&|c| c.get_mut("okx_spot").unwrap().max_body_bytes = Some(0), "`max_body_bytes`");
    check(&|c| c.get_mut("okx_spot").unwrap().delist_after_polls = Some(0), "`delist_after_polls`");
    check(&|c| c.get_mut("okx_spot").unwrap().max_shrink_fraction = Some(1.5), "`max_shrink_fraction`");
    check(&|c| c.get_mut("okx_announcements").unwrap().delist_after_polls = Some(3), "only instrument-list kinds");
}

#[tokio::test]
async fn api_key_from_env_and_disabled_and_other_kinds_are_skipped() {
    let mut c = SourcesConfig::defaults().only(&["binance_spot", "okx_spot"]);
    c.get_mut("binance_spot").unwrap().api_key_env = Some("NL_TEST_KEY".into());
    c.get_mut("okx_spot").unwrap().enabled = false;
    let push: SourceConfig = toml::from_str(
        "kind = \"okx_instruments_ws\"\nbase_url = \"https://www.okx.com\"\nws_url = \"wss://ws.okx.com:8443/ws/v5/public\"\nprovider = \"okx\"\nrate_per_sec = 2.0\nburst = 1.0\n",
    )
    .unwrap();
    assert_eq!(push.kind, SourceKind::Other("okx_instruments_ws".into()));
    c.0.insert("okx_ws".into(), push);
    let env = |k: &str| (k == "NL_TEST_KEY").then(|| "k".to_string());
    let sources = build_sources(&c, &registry(&c), &env).unwrap();
    assert_eq!(sources.iter().map(|s| s.name()).collect::<Vec<_>>(), ["binance_spot"]);
    assert!(c.ensure_kinds_known(&["okx_instruments_ws"]).is_ok());
    let err = c.ensure_kinds_known(&[]).unwrap_err().to_string();
    assert!(err.contains("okx_ws") && err.contains("okx_instruments_ws"), "{err}");
}

#[test]
fn venue_base_urls_come_from_enabled_instrument_lists() {
    let mut d = SourcesConfig::defaults();
    d.get_mut("okx_spot").unwrap().base_url = "http://127.0.0.1:9/okx".into();
    d.get_mut("okx_announcements").unwrap().base_url = "http://127.0.0.1:9/ann".into();
    d.get_mut("gate_pairs").unwrap().enabled = false;
    let urls = d.venue_base_urls();
    assert_eq!(urls.get("okx").map(String::as_str), Some("http://127.0.0.1:9/okx"), "announcement feeds do not count");
    assert_eq!(urls.get("kucoin").map(String::as_str), Some(kucoin::client::BASE_URL));
    assert!(!urls.contains_key("gate"), "disabled entries do not count");
}
