//! Connecting with secrets taken from the env variables the config names, against a real server.

use nl_testkit::NatsServer;
use nl_bus::{Bus, BusError, Message, NatsBus, NatsConfig};

const PASSWORD_VAR: &str = "NL_TEST_NATS_PASSWORD";
const TOKEN_VAR: &str = "NL_TEST_NATS_TOKEN";

fn env_with(var: &'static str, value: &'static str) -> impl Fn(&str) -> Option<String> {
    move |k| (k == var).then(|| value.to_owned())
}

#[tokio::test]
async fn user_password_from_named_env_var() {
    let server = NatsServer::start_with_config("authorization { user: nl, password: s3cret }").await;
    let cfg = NatsConfig { user: Some("nl".into()), password_env: Some(PASSWORD_VAR.into()), ..server.bus_config() };

    let bus = NatsBus::connect_with_env(&cfg, &env_with(PASSWORD_VAR, "s3cret")).await.expect("right password connects");
    let ack = bus.publish(Message::new("nl.auth.ok", "a1", "x")).await.expect("publish");
    assert!(!ack.duplicate);

    let wrong = NatsBus::connect_with_env(&cfg, &env_with(PASSWORD_VAR, "wrong")).await;
    assert!(matches!(wrong, Err(BusError::Connect(_))), "wrong password refused: {wrong:?}");

    let missing = NatsBus::connect_with_env(&cfg, &|_: &str| None).await;
    match missing {
        Err(BusError::Connect(msg)) => assert!(msg.contains(PASSWORD_VAR), "names the variable: {msg}"),
        other => panic!("missing env var must fail: {other:?}"),
    }

    let anonymous = NatsBus::connect(&server.bus_config()).await;
    assert!(matches!(anonymous, Err(BusError::Connect(_))), "no credentials refused");
}

#[tokio::test]
async fn token_from_named_env_var() {
    let server = NatsServer::start_with_config("authorization { token: t0ken-42 }").await;
    let cfg = NatsConfig { token_env: Some(TOKEN_VAR.into()), ..server.bus_config() };
    let bus = NatsBus::connect_with_env(&cfg, &env_with(TOKEN_VAR, "t0ken-42")).await.expect("token connects");
    bus.publish(Message::new("nl.auth.token", "t1", "x")).await.expect("publish");
    let wrong = NatsBus::connect_with_env(&cfg, &env_with(TOKEN_VAR, "nope")).await;
    assert!(matches!(wrong, Err(BusError::Connect(_))), "wrong token refused");
}

#[tokio::test]
async fn conflicting_auth_settings_are_rejected_before_connecting() {
    let cfg = NatsConfig { token_env: Some(TOKEN_VAR.into()), user: Some("u".into()), password_env: Some(PASSWORD_VAR.into()), ..NatsConfig::default() };
    let err = NatsBus::connect_with_env(&cfg, &|_: &str| Some("x".into())).await;
    assert!(matches!(err, Err(BusError::Connect(_))));
    let half = NatsConfig { user: Some("u".into()), ..NatsConfig::default() };
    assert!(matches!(NatsBus::connect_with_env(&half, &|_: &str| None).await, Err(BusError::Connect(_))));
}

#[test]
fn config_rejects_unknown_fields_and_has_defaults() {
    let cfg: NatsConfig = serde_json::from_str(r#"{"url": "nats://10.0.0.1:4222", "password_env": "P", "user": "nl"}"#).expect("parse");
    assert_eq!(cfg.stream, "NL");
    assert_eq!(cfg.subjects, vec!["nl.>".to_owned()]);
    assert_eq!(cfg.duplicate_window_secs, 120);
    assert_eq!(cfg.publish_window, 256);
    assert!(serde_json::from_str::<NatsConfig>(r#"{"pasword_env": "P"}"#).is_err(), "typo rejected");
    assert!(serde_json::from_str::<NatsConfig>(r#"{"password": "inline"}"#).is_err(), "inline secrets have no field");
}

#[test]
fn duplicate_window_is_clamped_to_max_age() {
    let cfg = NatsConfig { max_age_secs: 30, ..NatsConfig::default() };
    assert_eq!(cfg.stream_config().duplicate_window, std::time::Duration::from_secs(30));
}

/// A writer the test can read back: every log line of the connection attempts.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "current_thread")]
async fn credentials_in_the_url_authenticate_and_never_reach_errors_or_debug_logs() {
    let server = NatsServer::start_with_config("authorization { user: nl, password: CANARY-pw-7 }").await;
    let captured = Captured::default();
    let sink = captured.clone();
    let subscriber = tracing_subscriber::fmt().with_max_level(tracing::Level::TRACE).with_writer(move || sink.clone()).finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let with_creds = |host: &str| NatsConfig { url: format!("nats://nl:CANARY-pw-7@{host}"), ..server.bus_config() };
    let host = server.url().trim_start_matches("nats://").to_owned();
    let bus = NatsBus::connect_with_env(&with_creds(&host), &|_: &str| None).await.expect("URL credentials connect");
    bus.publish(Message::new("nl.auth.url", "u1", "x")).await.expect("publish");
    assert!(!format!("{bus:?}").contains("CANARY"), "{bus:?}");

    // A closed port: the error names the server, not the password.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr");
    let err = NatsBus::connect_with_env(&with_creds(&closed.to_string()), &|_: &str| None).await.expect_err("closed port");
    let msg = err.to_string();
    assert!(msg.contains(&closed.to_string()) && !msg.contains("CANARY"), "{msg}");

    let logs = String::from_utf8(captured.0.lock().expect("log buffer").clone()).expect("utf-8 logs");
    assert!(logs.contains("connect"), "debug logging was captured: {logs}");
    assert!(!logs.contains("CANARY"), "{logs}");

    let both = NatsConfig { token_env: Some(TOKEN_VAR.into()), ..with_creds(&host) };
    assert!(matches!(NatsBus::connect_with_env(&both, &|_: &str| Some("x".into())).await, Err(BusError::Connect(_))), "one auth method");
}
