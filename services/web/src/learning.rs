//! The learning-book page (dashboard page 5; the paper side of issue #18): experiments and their status;
//! for a paper session or backtest, the profit book's PnL beside the learning book's, PnL per book over
//! time (an SVG chart), per-experiment results, blocks by reason and recent fills; and one experiment's
//! spec and results across runs (`/learning/{experiment_id}`). Read through the same [`PaperReader`] as the
//! `/v1` API (the ledger's DB when embedded, its gRPC when distributed); the figures are the paper
//! report's (`nl report`'s numbers). Paper only: nothing here places an order.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use maud::{Markup, html};
use nl_domain::paper_read::{ExperimentRecord, PaperReader, RunTrades, StrategyRunRecord};
use nl_domain::{Decimal, ExperimentSpec, OrderFilled, ReadError};
use nl_domain::paper_report::{self as report, GroupRow, Report};
use serde::Deserialize;

use crate::learning_chart::{self as chart, Line};
use crate::pages::{Nav, layout, svg, when};
use crate::server::{AppState, Failure};

/// Strategy runs listed on the overview.
const RUNS_SHOWN: usize = 20;
/// Fills listed (newest first).
const FILLS_SHOWN: usize = 25;
/// Newest runs an experiment's page looks through for its results.
const EXPERIMENT_RUNS: usize = 10;

type St = State<Arc<AppState>>;

#[derive(Debug, Default, Deserialize)]
pub(crate) struct RunParam {
    run: Option<String>,
}

fn page(s: &AppState, title: &str, body: &Markup) -> Response {
    s.stats.pages.fetch_add(1, Ordering::Relaxed);
    Html(layout(title, Nav::Learning, &html! { div.learning-page { (body) } }).into_string()).into_response()
}

/// One run with its two reports: by book (the side-by-side cards) and by book, experiment and reason.
struct RunView {
    run: StrategyRunRecord,
    trades: RunTrades,
    books: Report,
    detail: Report,
}

impl RunView {
    fn book(&self, name: &str) -> Option<&GroupRow> {
        self.books.groups.iter().find(|g| g.book == name)
    }
}

async fn run_view(s: &AppState, paper: &dyn PaperReader, run: StrategyRunRecord, specs: &BTreeMap<String, ExperimentSpec>) -> Result<RunView, Failure> {
    let trades = paper.run_trades(&run.run_id).await.map_err(|e| s.read_failed(&e))?;
    let seed = seed(&run);
    let by = |keys: &[&str]| keys.iter().map(|k| (*k).to_string()).collect::<Vec<_>>();
    let books = report::compute(&run.run_id, &trades, specs, &by(&["book"]), seed);
    let detail = report::compute(&run.run_id, &trades, specs, &by(&["book", "experiment_id", "reason_code"]), seed);
    Ok(RunView { run, trades, books, detail })
}

/// As `nl report`: the bootstrap's seed is the run's own.
fn seed(run: &StrategyRunRecord) -> u64 {
    run.settings.get("rng_seed").and_then(serde_json::Value::as_u64).unwrap_or(0)
}

fn specs(experiments: &[ExperimentRecord]) -> BTreeMap<String, ExperimentSpec> {
    experiments.iter().map(|e| (e.experiment_id.clone(), e.spec.clone())).collect()
}

fn paper(s: &AppState) -> Option<Arc<dyn PaperReader>> {
    s.paper.clone()
}

fn read<T>(s: &AppState, r: Result<T, ReadError>) -> Result<T, Failure> {
    r.map_err(|e| s.read_failed(&e))
}

/// `GET /learning[?run=RUN_ID]`: experiments, strategy runs, and one run (the newest by default).
pub(crate) async fn overview(State(s): St, Query(p): Query<RunParam>) -> Result<Response, Failure> {
    let Some(paper) = paper(&s) else { return Ok(page(&s, "Learning book", &not_connected())) };
    let experiments = read(&s, paper.experiments().await)?;
    let mut runs = read(&s, paper.strategy_runs(None).await)?;
    let selected = match &p.run {
        Some(id) => Some(read(&s, paper.strategy_run(id).await)?.ok_or_else(|| Failure(StatusCode::NOT_FOUND, format!("no paper session or backtest {id}")))?),
        None => runs.first().cloned(),
    };
    runs.truncate(RUNS_SHOWN);
    let view = match selected {
        Some(run) => Some(run_view(&s, paper.as_ref(), run, &specs(&experiments)).await?),
        None => None,
    };
    Ok(page(&s, "Learning book", &overview_body(&experiments, &runs, view.as_ref())))
}

/// `GET /learning/{experiment_id}`: the spec, its status, and its results in the newest runs.
pub(crate) async fn experiment(State(s): St, Path(id): Path<String>) -> Result<Response, Failure> {
    let Some(paper) = paper(&s) else { return Ok(page(&s, "Learning book", &not_connected())) };
    let experiments = read(&s, paper.experiments().await)?;
    let Some(rec) = experiments.iter().find(|e| e.experiment_id == id) else {
        return Err(Failure(StatusCode::NOT_FOUND, format!("no experiment {id}")));
    };
    let specs = specs(&experiments);
    let mut runs = read(&s, paper.strategy_runs(None).await)?;
    runs.truncate(EXPERIMENT_RUNS);
    let mut views = Vec::new();
    for run in runs {
        let v = run_view(&s, paper.as_ref(), run, &specs).await?;
        if v.detail.groups.iter().any(|g| g.experiment_id.as_deref() == Some(id.as_str())) {
            views.push(v);
        }
    }
    Ok(page(&s, &format!("Experiment {id}"), &experiment_body(rec, &views)))
}

/// The run `?run=` names (400 without one, 404 for an unknown one), and the paper side.
async fn named_run(s: &AppState, p: &RunParam) -> Result<(Arc<dyn PaperReader>, StrategyRunRecord), Failure> {
    let paper = paper(s).ok_or_else(|| Failure(StatusCode::NOT_FOUND, "the paper side is not connected to this dashboard".into()))?;
    let id = p.run.as_deref().ok_or_else(|| Failure(StatusCode::BAD_REQUEST, "run: a paper session or backtest id is required (?run=)".into()))?;
    let run = read(s, paper.strategy_run(id).await)?.ok_or_else(|| Failure(StatusCode::NOT_FOUND, format!("no paper session or backtest {id}")))?;
    Ok((paper, run))
}

fn csv_response(s: &AppState, name: &str, body: String) -> Response {
    s.stats.exports.fetch_add(1, Ordering::Relaxed);
    let disposition = format!("attachment; filename=\"{name}.csv\"");
    let disposition = HeaderValue::from_str(&disposition).unwrap_or(HeaderValue::from_static("attachment"));
    ([(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8")), (header::CONTENT_DISPOSITION, disposition)], body).into_response()
}

/// `GET /learning/report.csv?run=RUN_ID`: the run's report by book and experiment, as `nl report --format csv`.
pub(crate) async fn report_csv(State(s): St, Query(p): Query<RunParam>) -> Result<Response, Failure> {
    let (paper, run) = named_run(&s, &p).await?;
    let experiments = read(&s, paper.experiments().await)?;
    let trades = read(&s, paper.run_trades(&run.run_id).await)?;
    let by = ["book".to_string(), "experiment_id".to_string()];
    let r = report::compute(&run.run_id, &trades, &specs(&experiments), &by, seed(&run));
    Ok(csv_response(&s, &format!("report_{}", run.run_id), r.to_csv()))
}

/// Header of [`fills_csv`].
const FILL_COLUMNS: &str = "filled_at,fill_id,order_id,book,experiment_id,asset_id,side,mark_price,price,quantity,notional_usd,fee_usd,tax_usd,gas_usd,slippage_bps,fill_model,rng_seed";

/// A CSV cell, quoted when it holds a comma, quote or line break, and defused (a leading `'`) when a
/// spreadsheet would run it as a formula (ids come from venues).
fn cell(v: &str) -> String {
    let v = if v.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{v}") } else { v.to_string() };
    if v.contains([',', '"', '\n', '\r']) { format!("\"{}\"", v.replace('"', "\"\"")) } else { v }
}

/// `GET /learning/fills.csv?run=RUN_ID`: every fill of the run, in event order.
pub(crate) async fn fills_csv(State(s): St, Query(p): Query<RunParam>) -> Result<Response, Failure> {
    let (paper, run) = named_run(&s, &p).await?;
    let trades = read(&s, paper.run_trades(&run.run_id).await)?;
    let mut out = format!("{FILL_COLUMNS}\n");
    for f in &trades.fills {
        let row = [
            f.filled_at.to_rfc3339(),
            cell(&f.fill_id),
            cell(&f.order_id),
            f.tags.book().to_string(),
            cell(f.tags.experiment_id.as_deref().unwrap_or("")),
            cell(&f.asset_id),
            f.side.as_str().to_string(),
            f.mark_price.to_string(),
            f.price.to_string(),
            f.quantity.to_string(),
            f.notional_usd.to_string(),
            f.fee_usd.to_string(),
            f.tax_usd.to_string(),
            f.gas_usd.to_string(),
            f.slippage_bps.to_string(),
            cell(&f.fill_model),
            f.rng_seed.to_string(),
        ];
        out.push_str(&row.join(","));
        out.push('\n');
    }
    Ok(csv_response(&s, &format!("fills_{}", run.run_id), out))
}

fn not_connected() -> Markup {
    html! {
        h1 { "Learning book" }
        div.howto {
            p { "The paper side is not connected to this dashboard." }
            p.dim { "It is served with the " code { "/v1" } " ops API by " code { "nl web --out-dir DIR" } ", " code { "nl run --web ADDR" } " and " code { "nl serve web" } "." }
        }
    }
}

/// How to get something onto this page (the empty state).
fn how_to() -> Markup {
    html! {
        div.howto #howto {
            p { "No paper session or backtest yet. Everything here is paper: nothing reaches L6. To start one:" }
            pre {
                "nl experiment create --spec explore.yaml        # an ExperimentSpec, stored as a draft (schema: nl experiment schema)\n"
                "nl experiment set-status explore approved\n"
                "nl experiment set-status explore running\n"
                "nl backtest --from 2026-01-01T00:00:00Z --to 2027-01-01T00:00:00Z --learning-book-enabled\n"
                "                                                # replays stored snapshots and decisions, no look-ahead\n"
                "nl paper start --learning-book-enabled          # a live paper session ([bus] mode = \"nats\"); nl paper stop"
            }
            p.dim { "Or over the ops API: " code { "POST /v1/experiments" } ", " code { "POST /v1/backtests" } ", " code { "POST /v1/paper-sessions" } " (" a href="/v1/openapi.json" { "OpenAPI" } ")." }
        }
    }
}

/// Money with its sign and two decimals: `+$1.23`, `−$0.40`.
fn money(d: Decimal) -> String {
    let r = d.round_dp(2);
    if r.is_sign_negative() && !r.is_zero() {
        format!("−${}", r.abs())
    } else if r.is_zero() {
        "$0.00".into()
    } else {
        format!("+${r}")
    }
}

/// An amount with two decimals: `$0.00`, `$12.30`.
fn usd2(d: Decimal) -> String {
    format!("${:.2}", d.round_dp(2))
}

fn sign_class(d: Decimal) -> &'static str {
    let r = d.round_dp(2);
    if r.is_zero() {
        "num"
    } else if r.is_sign_negative() {
        "num neg"
    } else {
        "num pos"
    }
}

fn pct(v: Option<f64>) -> String {
    v.map_or_else(|| "—".into(), |v| format!("{:.1}%", v * 100.0))
}

fn opt_num(v: Option<f64>) -> String {
    v.map_or_else(|| "—".into(), |v| format!("{v}"))
}

fn status_badge(status: &str) -> Markup {
    html! { span class={"badge " (status)} { (status) } }
}

fn learning_enabled(run: &StrategyRunRecord) -> bool {
    run.settings.pointer("/learning_book/learning_book_enabled").and_then(serde_json::Value::as_bool).unwrap_or(false)
}

/// A stored time (RFC 3339) shown like the other pages' times.
fn stored_time(t: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(t).map_or_else(|_| t.to_string(), |d| when(&d.with_timezone(&chrono::Utc)))
}

fn overview_body(experiments: &[ExperimentRecord], runs: &[StrategyRunRecord], view: Option<&RunView>) -> Markup {
    html! {
        h1 { "Learning book" span.count { "paper only · profit book and learning book kept apart" } }
        @if experiments.is_empty() && runs.is_empty() {
            (how_to())
        } @else {
            h2 { "Experiments" span.count { (experiments.len()) } }
            (experiments_table(experiments))
            h2 { "Paper sessions and backtests" span.count { (runs.len()) } }
            @if runs.is_empty() { (how_to()) } @else { (runs_table(runs, view.map(|v| v.run.run_id.as_str()))) }
            @if let Some(v) = view { (run_section(v)) }
        }
    }
}

fn experiments_table(experiments: &[ExperimentRecord]) -> Markup {
    html! {
        @if experiments.is_empty() {
            p.empty { "No experiments: the learning book trades nothing without a running ExperimentSpec (" code { "nl experiment create --spec FILE" } ")." }
        } @else {
            table.listings.experiments {
                thead { tr { th { "experiment" } th { "status" } th { "question" } th { "primary metric" } th { "exposure" } th { "no-learn zones" } th { "spec sha256" } th { "updated (UTC)" } } }
                tbody {
                    @for e in experiments {
                        @let m = &e.spec.metrics;
                        @let x = &e.spec.exposure;
                        tr data-experiment=(e.experiment_id) {
                            td.sym { a href={"/learning/" (e.experiment_id)} { (e.experiment_id) } " " span.dim { "v" (e.spec.version) } }
                            td { (status_badge(e.status.as_str())) }
                            td.clip title=(e.spec.question) { (e.spec.question) }
                            td { (criterion(&e.spec)) span.dim { " · min " (m.min_trades) " trades" } }
                            td.dim { (decisions(&e.spec)) " · " (format!("{:.0}%", x.sample_rate * 100.0)) " · $" (x.notional_usd) }
                            td.num { (e.spec.no_learn_zones.len()) }
                            td { code title=(e.spec_sha256) { (e.spec_sha256.get(..12).unwrap_or(&e.spec_sha256)) } }
                            td.time { (stored_time(&e.updated_at)) }
                        }
                    }
                }
            }
        }
    }
}

fn wire(v: &impl serde::Serialize) -> String {
    serde_json::to_value(v).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default()
}

fn criterion(spec: &ExperimentSpec) -> String {
    let m = &spec.metrics;
    format!("{} {} {}", wire(&m.primary), wire(&m.success_criterion.op), m.success_criterion.threshold)
}

fn decisions(spec: &ExperimentSpec) -> String {
    spec.exposure.decisions.iter().map(wire).collect::<Vec<_>>().join(" + ")
}

fn runs_table(runs: &[StrategyRunRecord], selected: Option<&str>) -> Markup {
    html! {
        table.listings.runs {
            thead { tr { th { "run" } th { "mode" } th { "status" } th { "learning book" } th { "replayed" } th { "started (UTC)" } th { "ended (UTC)" } } }
            tbody {
                @for r in runs {
                    tr class=[(selected == Some(r.run_id.as_str())).then_some("sel")] data-run=(r.run_id) {
                        td { a href={"/learning?run=" (r.run_id)} { code { (r.run_id) } } }
                        td { span class={"kind " (r.mode)} { (r.mode) } }
                        td { (status_badge(&r.status)) }
                        td { @if learning_enabled(r) { span.on { "on" } " " span.dim { (experiment_ids(r)) } } @else { span.dim { "off" } } }
                        td.dim { (r.source_run_id.as_deref().unwrap_or("—")) }
                        td.time { (stored_time(&r.started_at)) }
                        td.time { (r.ended_at.as_deref().map(stored_time).unwrap_or_else(|| "—".into())) }
                    }
                }
            }
        }
    }
}

fn experiment_ids(run: &StrategyRunRecord) -> String {
    let ids: Vec<&str> = run
        .settings
        .pointer("/learning_book/experiment_ids")
        .and_then(serde_json::Value::as_array)
        .map(|a| a.iter().filter_map(serde_json::Value::as_str).collect())
        .unwrap_or_default();
    if ids.is_empty() { "running experiments".into() } else { ids.join(", ") }
}

/// The profit book's card or the learning book's.
fn book_card(name: &str, title: &str, g: Option<&GroupRow>) -> Markup {
    html! {
        div class={"book " (name)} data-book=(name) {
            h3 { (title) }
            @match g {
                None => { p.empty { "No trades." } }
                Some(g) => {
                    div class={"pnl " (sign_class(g.pnl_usd))} data-pnl=(g.pnl_usd) { (money(g.pnl_usd)) }
                    div.dim { "PnL: realized " (money(g.realized_pnl_usd)) " + unrealized " (money(g.unrealized_pnl_usd)) }
                    dl.figures {
                        dt { "orders / fills" } dd { (g.orders) " / " (g.fills) }
                        dt { "closed trades" } dd { (g.trades) @if g.open_positions > 0 { span.dim { " (" (g.open_positions) " open)" } } }
                        dt { "hit rate" } dd { (pct(g.hit_rate)) }
                        dt { "fees, tax, gas" } dd { (usd2(g.fees_usd)) }
                        dt { "avg slippage" } dd { (g.avg_slippage_bps.map_or_else(|| "—".into(), |b| format!("{} bps", b.round_dp(1)))) }
                        dt { "max drawdown" } dd { (usd2(g.max_drawdown_usd)) }
                        @if name == "learning" { dt { "budget used" } dd { (usd2(g.budget_used_usd)) } }
                        dt { "blocked signals" } dd { (g.blocks) }
                    }
                }
            }
        }
    }
}

fn run_section(v: &RunView) -> Markup {
    let lines = vec![
        Line { label: "profit book".into(), color: chart::PROFIT, points: chart::marked(&v.trades, |p| !p.tags.learning_book) },
        Line { label: "learning book".into(), color: chart::LEARNING, points: chart::marked(&v.trades, |p| p.tags.learning_book) },
    ];
    let learning: Vec<&GroupRow> = v.detail.groups.iter().filter(|g| g.book == "learning" && g.experiment_id.is_some()).collect();
    html! {
        section #run data-run=(v.run.run_id) {
            h2 {
                "Run " code { (v.run.run_id) } span.count { (v.run.mode) " · " (v.run.status) " · " (stored_time(&v.run.started_at)) }
                span.count { a.csv href={"/learning/report.csv?run=" (v.run.run_id)} { "report CSV" } " " a.csv href={"/learning/fills.csv?run=" (v.run.run_id)} { "fills CSV" } }
            }
            div.books {
                (book_card("profit", "Profit book", v.book("profit")))
                (book_card("learning", "Learning book", v.book("learning")))
            }
            div.grid {
                div {
                    (svg(chart::pnl_over_time("PnL by book, marked to market (USD)", &lines), "No positions yet: nothing to chart."))
                }
                div {
                    h3 { "Blocks by reason" }
                    (blocks_table(&v.detail.blocks_by_reason, None))
                }
            }
            h3 { "Learning book by experiment" }
            (experiment_rows(&learning, None))
            h3 { "Recent fills" span.count { (v.trades.fills.len()) " in this run" } }
            (fills_table(v.trades.fills.iter().rev().take(FILLS_SHOWN)))
        }
    }
}

fn blocks_table(blocks: &[(String, Option<String>, String, u64)], only: Option<&str>) -> Markup {
    let rows: Vec<_> = blocks.iter().filter(|b| only.is_none_or(|id| b.1.as_deref() == Some(id))).collect();
    html! {
        @if rows.is_empty() { p.empty { "No signal was blocked." } } @else {
            table.listings.blocks {
                thead { tr { th { "book" } th { "experiment" } th { "reason code" } th { "blocks" } } }
                tbody {
                    @for (book, exp, reason, n) in rows {
                        tr { td { span class={"book-tag " (book)} { (book) } } td { (exp.as_deref().unwrap_or("—")) } td { code { (reason) } } td.num { (n) } }
                    }
                }
            }
        }
    }
}

/// Per-experiment rows of the learning book; `runs` adds a run column (the experiment page).
fn experiment_rows(groups: &[&GroupRow], runs: Option<&[(&StrategyRunRecord, Option<Decimal>)]>) -> Markup {
    html! {
        @if groups.is_empty() { p.empty { "The learning book did not trade in this run." } } @else {
            table.listings.per-experiment {
                thead { tr {
                    @if runs.is_some() { th { "run" } th { "profit book PnL" } } @else { th { "experiment" } }
                    th { "orders" } th { "closed" } th { "hit rate" } th { "learning PnL" } th { "fees" } th { "slippage" }
                    th { "max drawdown" } th { "budget used" } th { "blocks" } th { "primary metric" } th { "95% CI" } th { "verdict" }
                } }
                tbody {
                    @for (i, g) in groups.iter().enumerate() {
                        tr {
                            @if let Some(runs) = runs {
                                @if let Some((r, profit)) = runs.get(i) {
                                    td { a href={"/learning?run=" (r.run_id)} { code { (r.run_id) } } " " span.dim { (r.mode) } }
                                    td class=(profit.map_or("num", sign_class)) { (profit.map_or_else(|| "—".into(), money)) }
                                }
                            } @else {
                                td.sym { @if let Some(id) = &g.experiment_id { a href={"/learning/" (id)} { (id) } } }
                            }
                            td.num { (g.orders) } td.num { (g.trades) } td.num { (pct(g.hit_rate)) }
                            td class=(sign_class(g.pnl_usd)) { (money(g.pnl_usd)) }
                            td.num { (usd2(g.fees_usd)) }
                            td.num { (g.avg_slippage_bps.map_or_else(|| "—".into(), |b| format!("{} bps", b.round_dp(1)))) }
                            td.num { (usd2(g.max_drawdown_usd)) }
                            td.num { (usd2(g.budget_used_usd)) }
                            td.num { (g.blocks) }
                            @match &g.primary {
                                Some(p) => {
                                    td { (p.metric) " = " (opt_num(p.value)) br; span.dim { (p.criterion) } }
                                    td.num { @match (p.ci95_low, p.ci95_high) { (Some(l), Some(h)) => { "[" (l) ", " (h) "]" } _ => { "—" } } }
                                    td { span class={"badge " (p.verdict.replace(' ', "-"))} { (p.verdict) } }
                                }
                                None => { td.dim { "spec not stored" } td.num { "—" } td { "—" } }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn fills_table<'a>(fills: impl Iterator<Item = &'a OrderFilled>) -> Markup {
    let fills: Vec<&OrderFilled> = fills.collect();
    html! {
        @if fills.is_empty() { p.empty { "No fills." } } @else {
            table.listings.fills {
                thead { tr {
                    th { "filled (UTC)" } th { "book" } th { "asset" } th { "side" } th { "price" } th { "quantity" } th { "notional" }
                    th title="fee + tax + gas" { "costs" } th { "slippage" } th { "fill model" }
                } }
                tbody {
                    @for f in fills {
                        tr data-fill=(f.fill_id) {
                            td.time { (when(&f.filled_at)) }
                            td { span class={"book-tag " (f.tags.book())} { (f.tags.book()) } @if let Some(id) = &f.tags.experiment_id { " " a href={"/learning/" (id)} { (id) } } }
                            td { a href={"/asset/" (f.asset_id)} { code { (f.asset_id) } } }
                            td { span class={"side " (f.side.as_str())} { (f.side.as_str()) } }
                            td.num { (f.price.round_dp(8).normalize()) }
                            td.num { (crate::charts::compact(crate::charts::float(f.quantity))) }
                            td.num { (usd2(f.notional_usd)) }
                            td.num { (usd2(f.fee_usd + f.tax_usd + f.gas_usd)) }
                            td.num { (f.slippage_bps.round_dp(1)) " bps" }
                            td.dim { (f.fill_model) " · seed " (f.rng_seed) }
                        }
                    }
                }
            }
        }
    }
}

fn experiment_body(e: &ExperimentRecord, views: &[RunView]) -> Markup {
    let id = e.experiment_id.as_str();
    let groups: Vec<&GroupRow> = views.iter().filter_map(|v| v.detail.groups.iter().find(|g| g.experiment_id.as_deref() == Some(id))).collect();
    let runs: Vec<(&StrategyRunRecord, Option<Decimal>)> = views.iter().map(|v| (&v.run, v.book("profit").map(|g| g.pnl_usd))).collect();
    let blocks: Vec<(String, Option<String>, String, u64)> = {
        let mut by: BTreeMap<String, u64> = BTreeMap::new();
        for g in &groups {
            for (reason, n) in &g.blocks_by_reason {
                *by.entry(reason.clone()).or_default() += n;
            }
        }
        by.into_iter().map(|(r, n)| ("learning".to_string(), Some(id.to_string()), r, n)).collect()
    };
    let newest = views.first();
    let lines = newest.map(|v| {
        vec![
            Line { label: "profit book".into(), color: chart::PROFIT, points: chart::marked(&v.trades, |p| !p.tags.learning_book) },
            Line {
                label: format!("learning: {id}"),
                color: chart::LEARNING,
                points: chart::marked(&v.trades, |p| p.tags.experiment_id.as_deref() == Some(id)),
            },
        ]
    });
    let fills = views.iter().flat_map(|v| v.trades.fills.iter().rev()).filter(|f| f.tags.experiment_id.as_deref() == Some(id)).take(FILLS_SHOWN);
    html! {
        h1 { "Experiment " (id) " " (status_badge(e.status.as_str())) span.count { a href="/learning" { "← learning book" } } }
        dl.identity {
            dt { "question" } dd { (e.spec.question) }
            dt { "hypothesis" } dd { (e.spec.hypothesis) }
            dt { "primary metric" } dd { (criterion(&e.spec)) span.dim { " · insufficient sample below " (e.spec.metrics.min_trades) " closed trades" } }
            dt { "exposure" } dd { (decisions(&e.spec)) " · sample " (format!("{:.0}%", e.spec.exposure.sample_rate * 100.0)) " · $" (e.spec.exposure.notional_usd) " a trade" }
            dt { "risk" } dd { "at most $" (e.spec.risk.max_notional_usd) " open over " (e.spec.risk.max_open_positions) " positions" }
            dt { "no-learn zones" } dd { @if e.spec.no_learn_zones.is_empty() { span.dim { "none" } } @for z in &e.spec.no_learn_zones { code { (z.reason_code()) } " " } }
            dt { "version" } dd { (e.spec.version) }
            dt { "spec sha256" } dd { code { (e.spec_sha256) } @if let Some(t) = &e.frozen_at { span.dim { " · frozen " (stored_time(t)) } } }
            dt { "created / updated" } dd.dim { (stored_time(&e.created_at)) " / " (stored_time(&e.updated_at)) }
        }
        details.run { summary { "the spec (JSON)" } pre { (serde_json::to_string_pretty(&e.spec).unwrap_or_default()) } }
        h2 { "Results by run" span.count { "its learning trades against the same run's profit book; the newest " (EXPERIMENT_RUNS) " runs" } }
        @if groups.is_empty() { p.empty { "No paper session or backtest traded this experiment yet (it needs status running, or "
            code { "--experiment-id " (id) } ")." } }
        @else { (experiment_rows(&groups, Some(&runs))) }
        div.grid {
            div { @if let Some(lines) = &lines { (svg(chart::pnl_over_time("PnL in the newest run, marked to market (USD)", lines), "No positions yet: nothing to chart.")) } }
            div { h3 { "Blocks by reason" } (blocks_table(&blocks, Some(id))) }
        }
        h3 { "Recent fills" }
        (fills_table(fills))
    }
}

#[cfg(test)]
#[path = "learning_tests.rs"]
mod tests;
