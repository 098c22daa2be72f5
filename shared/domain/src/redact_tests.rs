use super::*;

#[test]
fn user_info_is_redacted_in_running_text() {
    let text = "connecting to NATS at nats://alice:CANARY-pw@10.0.0.1:4222,nats://bob@h2: refused";
    assert_eq!(redact_urls(text), "connecting to NATS at nats://REDACTED@10.0.0.1:4222,nats://REDACTED@h2: refused");
}

#[test]
fn credential_query_values_are_redacted() {
    let text = r#"url "https://api.x/v1?instType=SPOT&apikey=CANARY1&access_token=CANARY2#f" then ?page=2&sig=abc"#;
    assert_eq!(redact_urls(text), r#"url "https://api.x/v1?instType=SPOT&apikey=REDACTED&access_token=REDACTED#f" then ?page=2&sig=REDACTED"#);
}

#[test]
fn plain_text_and_urls_are_unchanged() {
    for text in ["https://api.binance.com/api/v3/exchangeInfo?symbolStatus=TRADING", "user@example.com wrote a=b", "", "ünïcode://x", "a?b", "tail?token"] {
        assert_eq!(redact_urls(text), text);
    }
}

#[test]
fn an_at_sign_in_the_path_is_not_user_info() {
    assert_eq!(redact_urls("https://host/a@b?q=1"), "https://host/a@b?q=1");
}

#[test]
fn split_userinfo_takes_user_and_password() {
    assert_eq!(split_userinfo("nats://u:p@h:4222"), ("nats://h:4222".to_owned(), Some(("u".to_owned(), Some("p".to_owned())))));
    assert_eq!(split_userinfo("nats://tok@h"), ("nats://h".to_owned(), Some(("tok".to_owned(), None))));
    assert_eq!(split_userinfo("nats://h:4222"), ("nats://h:4222".to_owned(), None));
    assert_eq!(split_userinfo("h:4222"), ("h:4222".to_owned(), None));
}
