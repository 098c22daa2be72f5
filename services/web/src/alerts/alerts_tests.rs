//! The documented answer shapes (sources-2.md §7), the escapers, and config validation.

use std::time::Duration;

use reqwest::StatusCode;

use crate::alerts::config::{AlertSinkConfig, SinkKind};
use crate::alerts::deliver::{Outcome, classify};
use crate::alerts::message::{discord, html, plain, slack};

#[test]
fn telegram_429_waits_come_from_parameters_then_the_description() {
    let body = r#"{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 2282","parameters":{"retry_after":2282}}"#;
    assert_eq!(classify(SinkKind::Telegram, StatusCode::TOO_MANY_REQUESTS, Some(Duration::from_secs(5)), body), Outcome::RateLimited(Some(Duration::from_secs(2282))));
    let old = r#"{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 3"}"#;
    assert_eq!(classify(SinkKind::Telegram, StatusCode::TOO_MANY_REQUESTS, None, old), Outcome::RateLimited(Some(Duration::from_secs(3))));
    assert_eq!(classify(SinkKind::Telegram, StatusCode::OK, None, r#"{"ok":true,"result":{}}"#), Outcome::Sent);
    assert!(matches!(classify(SinkKind::Telegram, StatusCode::OK, None, r#"{"ok":false,"description":"x"}"#), Outcome::Failed(_)));
    assert!(matches!(classify(SinkKind::Telegram, StatusCode::BAD_REQUEST, None, r#"{"ok":false,"error_code":400,"description":"Bad Request: chat not found"}"#), Outcome::Gone(m) if m.contains("chat not found")));
}

#[test]
fn discord_and_slack_429_and_errors() {
    let body = r#"{"message":"You are being rate limited.","retry_after":64.57,"global":false}"#;
    assert_eq!(classify(SinkKind::Discord, StatusCode::TOO_MANY_REQUESTS, Some(Duration::from_secs(65)), body), Outcome::RateLimited(Some(Duration::from_secs(65))));
    assert_eq!(classify(SinkKind::Discord, StatusCode::TOO_MANY_REQUESTS, None, body), Outcome::RateLimited(Some(Duration::from_secs_f64(64.57))));
    assert_eq!(classify(SinkKind::Discord, StatusCode::NO_CONTENT, None, ""), Outcome::Sent);
    assert!(matches!(classify(SinkKind::Discord, StatusCode::NOT_FOUND, None, r#"{"message":"Unknown Webhook","code":10015}"#), Outcome::Gone(_)));
    assert_eq!(classify(SinkKind::Slack, StatusCode::TOO_MANY_REQUESTS, Some(Duration::from_secs(1)), ""), Outcome::RateLimited(Some(Duration::from_secs(1))));
    assert!(matches!(classify(SinkKind::Slack, StatusCode::GONE, None, "channel_is_archived"), Outcome::Gone(m) if m.contains("channel_is_archived")));
    assert!(matches!(classify(SinkKind::Slack, StatusCode::INTERNAL_SERVER_ERROR, None, "rollup_error"), Outcome::Failed(_)));
    assert_eq!(classify(SinkKind::Webhook, StatusCode::TOO_MANY_REQUESTS, None, ""), Outcome::RateLimited(None));
}

#[test]
fn escapers_neutralise_markup_and_forged_lines() {
    assert_eq!(html("<script>a&\"</script>"), "&lt;script&gt;a&amp;&quot;&lt;/script&gt;");
    assert_eq!(slack("<!channel> *b* `x`"), "`&lt;!channel&gt; *b* 'x'`");
    assert_eq!(discord("@everyone [x](http://e)"), r"\@everyone \[x\]\(http\://e\)");
    assert_eq!(plain("a\nb"), "a\u{fffd}b");
    assert!(plain(&"x".repeat(500)).chars().count() <= 121);
}

fn cfg(toml_text: &str) -> AlertSinkConfig {
    toml::from_str(toml_text).expect("toml")
}

#[test]
fn config_names_what_to_fix() {
    let err = |c: &AlertSinkConfig| c.validate("s").expect_err("invalid").to_string();
    assert!(err(&cfg("kind = \"telegram\"\nchat_id = \"1\"")).contains("bot_token_env"));
    assert!(err(&cfg("kind = \"telegram\"\nbot_token_env = \"T\"")).contains("chat_id"));
    assert!(err(&cfg("kind = \"slack\"")).contains("url_env"));
    assert!(err(&cfg("kind = \"slack\"\nurl_env = \"U\"\nevents = [\"score.computed\"]")).contains("score.computed"));
    assert!(cfg("kind = \"discord\"\nurl_env = \"U\"").validate("s").is_ok());
    assert!(toml::from_str::<AlertSinkConfig>("kind = \"slack\"\nurl = \"https://hooks.slack.com/x\"").is_err(), "an inline URL is refused");
    let c = cfg("kind = \"webhook\"\nurl_env = \"HOOK\"");
    let env: nl_bus::EnvLookup = std::sync::Arc::new(|_| None);
    assert!(c.endpoint("s", &env).expect_err("unset").to_string().contains("HOOK"));
    let env: nl_bus::EnvLookup = std::sync::Arc::new(|_| Some("ftp://secret@x".into()));
    let e = c.endpoint("s", &env).expect_err("bad scheme").to_string();
    assert!(!e.contains("secret"), "the value is never quoted: {e}");
}
