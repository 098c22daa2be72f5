//! Views: one latest row per asset (ties by id), `v_assets_new` window, `v_assets_candidates`.

use nl_ledger::AssetFilter;
use nl_ledger::db::ts_str;

use crate::fixtures::*;

#[tokio::test]
async fn latest_views_return_one_row_per_asset() {
    let t = open().await;
    let (a, b) = ("cex:okx:AAA", "cex:okx:BBB");
    t.store
        .apply(vec![
            snapshot(a, at(1), Some("1"), "1"),
            snapshot(a, at(3), Some("3"), "3"),
            snapshot(a, at(2), Some("2"), "2"),
            snapshot(b, at(5), Some("5"), "5a"),
        ])
        .await
        .unwrap();
    // Same observed_at as b's latest: the later insert (higher id) wins.
    t.store.apply(vec![snapshot(b, at(5), Some("6"), "5b")]).await.unwrap();
    t.store.apply(vec![score(a, at(1), "1", "x"), score(a, at(2), "2", "y"), score(b, at(1), "9", "z")]).await.unwrap();
    t.store.apply(vec![risk(a, at(2), 10, "x"), risk(a, at(1), 99, "y")]).await.unwrap();

    let snaps: Vec<(String, Option<String>)> =
        sqlx::query_as("SELECT asset_id, liquidity_usd FROM v_latest_snapshot ORDER BY asset_id").fetch_all(t.store.reader().pool()).await.unwrap();
    assert_eq!(snaps, vec![(a.to_string(), Some("3".to_string())), (b.to_string(), Some("6".to_string()))]);
    let scores: Vec<(String, f64)> =
        sqlx::query_as("SELECT asset_id, score FROM v_latest_score ORDER BY asset_id").fetch_all(t.store.reader().pool()).await.unwrap();
    assert_eq!(scores, vec![(a.to_string(), 2.0), (b.to_string(), 9.0)]);
    let risks: Vec<(String, i64)> = sqlx::query_as("SELECT asset_id, severity FROM v_latest_risk").fetch_all(t.store.reader().pool()).await.unwrap();
    assert_eq!(risks, vec![(a.to_string(), 10)]);

    let latest = t.store.reader().latest(a).await.unwrap();
    let snap = latest.snapshot.unwrap();
    assert_eq!(snap.price.as_deref(), Some("0.000123456789012345678901"), "decimals stored exactly");
    assert_eq!(snap.holders, Some(42));
    assert!(latest.decision.is_none());
}

#[tokio::test]
async fn candidates_are_latest_promoted_above_min_liquidity() {
    let t = open_with(|c| c.candidate_min_liquidity_usd = "1000".into()).await;
    let assets = ["cex:okx:AAA", "cex:okx:BBB", "cex:okx:CCC", "cex:okx:DDD", "cex:okx:EEE"];
    t.store.apply(assets.iter().map(|a| upsert(a, "okx_instruments", &format!("{a}-USDT"), None, at(1))).collect()).await.unwrap();
    t.store
        .apply(vec![
            // AAA: promoted, then rejected: latest is rejected.
            decision(assets[0], at(2), true),
            decision(assets[0], at(3), false),
            snapshot(assets[0], at(2), Some("5000"), "a"),
            // BBB: rejected, then promoted, liquid: a candidate.
            decision(assets[1], at(2), false),
            decision(assets[1], at(3), true),
            snapshot(assets[1], at(2), Some("5000"), "b"),
            score(assets[1], at(2), "0.9", "b"),
            // CCC: promoted but below the minimum.
            decision(assets[2], at(2), true),
            snapshot(assets[2], at(2), Some("999.99"), "c"),
            // DDD: promoted, liquidity unknown: never qualifies.
            decision(assets[3], at(2), true),
            snapshot(assets[3], at(2), None, "d"),
            // EEE: promoted, liquid long ago, latest snapshot illiquid.
            decision(assets[4], at(2), true),
            snapshot(assets[4], at(1), Some("100000"), "e1"),
            snapshot(assets[4], at(4), Some("10"), "e2"),
        ])
        .await
        .unwrap();

    let ids = |page: nl_ledger::AssetPage| page.assets.into_iter().map(|a| a.asset_id).collect::<Vec<_>>();
    let r = t.store.reader();
    assert_eq!(ids(r.list_assets(AssetFilter::Candidates, 0, None).await.unwrap()), vec![assets[1].to_string()]);
    let (score, liq): (Option<f64>, String) =
        sqlx::query_as("SELECT latest_score, latest_liquidity_usd FROM v_assets_candidates").fetch_one(r.pool()).await.unwrap();
    assert_eq!((score, liq.as_str()), (Some(0.9), "5000"));

    t.store.set_setting("candidate_min_liquidity_usd", "500").await.unwrap();
    assert_eq!(ids(r.list_assets(AssetFilter::Candidates, 0, None).await.unwrap()), vec![assets[1].to_string(), assets[2].to_string()]);

    // Paging over all assets.
    let p1 = r.list_assets(AssetFilter::All, 2, None).await.unwrap();
    assert_eq!(ids(p1.clone()), vec![assets[0].to_string(), assets[1].to_string()]);
    let p2 = r.list_assets(AssetFilter::All, 2, p1.next_page_token.as_deref()).await.unwrap();
    let p3 = r.list_assets(AssetFilter::All, 2, p2.next_page_token.as_deref()).await.unwrap();
    assert_eq!(ids(p3.clone()), vec![assets[4].to_string()]);
    assert_eq!(p3.next_page_token, None);
}

#[tokio::test]
async fn new_view_uses_window_setting_and_review_state() {
    let t = open_with(|c| c.new_window_minutes = 60).await;
    let now = chrono::Utc::now();
    let recent = now - chrono::Duration::minutes(10);
    let old = now - chrono::Duration::days(3);
    t.store
        .apply(vec![
            upsert("cex:okx:RECENT", "s", "R", None, recent),
            upsert("cex:okx:OLDREV", "s", "O", None, old),
            upsert("cex:okx:OLDNEW", "s", "N", None, old),
        ])
        .await
        .unwrap();
    let ids = |page: nl_ledger::AssetPage| page.assets.into_iter().map(|a| a.asset_id).collect::<Vec<_>>();
    let r = t.store.reader();
    assert_eq!(ids(r.list_assets(AssetFilter::New, 0, None).await.unwrap()).len(), 3, "not reviewed: new whatever their age");
    // Reviewing is an `asset.reviewed` event the ledger applies (`nl review` emits it).
    let out = t.store.apply(vec![review("cex:okx:RECENT", now), review("cex:okx:OLDREV", now)]).await.unwrap();
    assert!(out.invalid.is_empty(), "{:?}", out.invalid);
    let reviewed = r.get_asset("cex:okx:OLDREV").await.unwrap().unwrap().reviewed_at;
    assert_eq!(reviewed, Some(ts_str(&now)));
    // An older review never moves reviewed_at back.
    t.store.apply(vec![review("cex:okx:OLDREV", old)]).await.unwrap();
    assert_eq!(r.get_asset("cex:okx:OLDREV").await.unwrap().unwrap().reviewed_at, reviewed);
    // A review of an unknown asset is kept in events and creates no asset.
    let out = t.store.apply(vec![review("cex:okx:NOPE", now)]).await.unwrap();
    assert!(out.invalid.is_empty() && out.new.len() == 1);
    assert!(r.get_asset("cex:okx:NOPE").await.unwrap().is_none());

    assert_eq!(ids(r.list_assets(AssetFilter::New, 0, None).await.unwrap()), vec!["cex:okx:OLDNEW".to_string(), "cex:okx:RECENT".to_string()]);
    t.store.set_setting("new_window_minutes", "5").await.unwrap();
    assert_eq!(ids(r.list_assets(AssetFilter::New, 0, None).await.unwrap()), vec!["cex:okx:OLDNEW".to_string()], "RECENT is reviewed and now outside the window");
    assert_eq!(r.get_setting("new_window_minutes").await.unwrap().as_deref(), Some("5"));
}

#[tokio::test]
async fn scores_are_numbers_so_order_by_score_is_numeric() {
    let t = open().await;
    let (a, b, c) = ("cex:okx:AAA", "cex:okx:BBB", "cex:okx:CCC");
    t.store.apply(vec![score(a, at(1), "9.5", "a"), score(b, at(1), "59.93", "b"), score(c, at(1), "100", "c")]).await.unwrap();
    let pool = t.store.reader().pool();
    let order: Vec<(String,)> = sqlx::query_as("SELECT asset_id FROM v_latest_score ORDER BY score DESC").fetch_all(pool).await.unwrap();
    assert_eq!(order, vec![(c.to_string(),), (b.to_string(),), (a.to_string(),)], "as TEXT, '9.5' > '59.93' > '100'");
    let kind: String = sqlx::query_scalar("SELECT DISTINCT typeof(score) FROM listing_scores").fetch_one(pool).await.unwrap();
    assert_eq!(kind, "real");
    let above: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM listing_scores WHERE score > 50").fetch_one(pool).await.unwrap();
    assert_eq!(above, 2);
}
