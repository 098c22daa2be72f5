//! `nl`: the new-listings radar's command line. Thin: parse arguments, load config, start telemetry,
//! call into the service crates. Read-only research tooling; nothing here places an order.
#![forbid(unsafe_code)]

mod bench;
mod bench_ai;
mod bench_bytes;
mod bench_enrich;
mod bench_kernel;
mod bench_pipeline;
mod bench_run;
mod bench_web;
mod bench_paper;
mod cli;
mod cmd_alerts;
mod cmd_orchestrator;
mod cmd_ai;
mod cmd_cycle;
mod cmd_db;
mod cmd_demo;
mod cmd_events;
mod cmd_paper;
mod ops_backend;
mod cmd_preflight;
mod cmd_run;
mod cmd_rederive;
mod cmd_serve;
mod cmd_status;
mod cmd_views;
mod cmd_watch;
mod config;

use std::process::ExitCode;

/// mimalloc: the services allocate and free many small buffers per event (payloads, envelopes,
/// SQLite bind values) across threads, where glibc's malloc spent a measurable share of the CPU.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::Parser;

use crate::cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind;
            return match e.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
                    let _ = e.print();
                    ExitCode::SUCCESS
                }
                // Bare `nl` (or a command group without its subcommand): the help, as a usage error.
                ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
                    usage_error(&e, true);
                    ExitCode::from(2)
                }
                // clap's whole message: what is wrong, "did you mean", possible values, usage.
                _ => {
                    usage_error(&e, false);
                    ExitCode::from(2)
                }
            };
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            nl_telemetry::stderr::line(tracing::Level::ERROR, &format!("error: cannot start the async runtime: {e}"));
            return ExitCode::from(1);
        }
    };
    // Inside the runtime: the OTLP exporter's gRPC channel lives on it.
    let telemetry = {
        let _rt = runtime.enter();
        nl_telemetry::init(&trace_service(&cli.command))
    };
    let code = match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            print_error(&e);
            ExitCode::from(1)
        }
    };
    // Flushes queued spans while the runtime still runs.
    telemetry.shutdown();
    code
}

/// clap's message on stderr: as clap renders it in text mode (`plain`: without colours), one JSON line in
/// JSON mode.
fn usage_error(e: &clap::Error, plain: bool) {
    match nl_telemetry::LogFormat::from_env() {
        nl_telemetry::LogFormat::Text if plain => eprint!("{}", e.render()),
        nl_telemetry::LogFormat::Text => {
            let _ = e.print();
        }
        nl_telemetry::LogFormat::Json => nl_telemetry::stderr::line(tracing::Level::ERROR, e.render().to_string().trim_end()),
    }
}

/// `error: ` and the error chain on stderr. A config error is printed on as many lines as it is rendered
/// with (TOML parse errors point at the column on the line below the quoted one), each line escaped; any
/// other error, whose text may quote a venue, stays on one escaped line.
fn print_error(e: &anyhow::Error) {
    let text = format!("error: {}", error_chain(e));
    let config = e.chain().any(|c| c.downcast_ref::<nl_config::ConfigError>().is_some());
    if config && matches!(nl_telemetry::LogFormat::from_env(), nl_telemetry::LogFormat::Text) {
        for line in text.lines() {
            nl_telemetry::stderr::line(tracing::Level::ERROR, line);
        }
    } else {
        nl_telemetry::stderr::line(tracing::Level::ERROR, &text);
    }
}

/// The error and its causes on one line, `: `-separated. A cause whose text its parent's message already
/// ends with (library errors often print their source) is not repeated.
fn error_chain(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if !line.ends_with(&text) {
            if !line.is_empty() {
                line.push_str(": ");
            }
            line.push_str(&text);
        }
    }
    line
}

/// The default `service.name` of this process's spans (`OTEL_SERVICE_NAME` overrides it).
fn trace_service(command: &Command) -> String {
    match command {
        Command::Serve { service } => format!("nl-{}", cmd_serve::service_label(*service)),
        _ => "nl".to_string(),
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    // Preflight loads the config itself, so a config that does not load still gets a PASS/FAIL report.
    if let Command::Preflight { readme } = &cli.command {
        return cmd_preflight::preflight(&cli.config, readme).await;
    }
    let loaded = config::load(&cli.config)?;
    if !matches!(cli.command, Command::MockVenue { .. } | Command::Demo { .. }) {
        config::adopt_legacy_db(&loaded.config)?;
    }
    match cli.command {
        Command::RunCycle { dry_run, drain_timeout_secs } => cmd_cycle::run_cycle(&loaded, dry_run, drain_timeout_secs).await,
        Command::Run { checkpoint_secs, drain_timeout_secs, web } => cmd_run::run(&loaded, checkpoint_secs, drain_timeout_secs, web).await,
        Command::Rederive { from_raw: _, run, out, drain_timeout_secs } => cmd_rederive::rederive(&loaded, run, out, drain_timeout_secs).await,
        Command::DiffRuns { a, b, db_a, db_b } => cmd_rederive::diff_runs(&loaded, &a, &b, db_a, db_b).await,
        Command::DbInit { down_to } => cmd_db::db_init(&loaded, down_to).await,
        Command::Rebuild { from_events: _ } => cmd_db::rebuild(&loaded).await,
        Command::Events { command } => cmd_events::events(&loaded, command).await,
        Command::Review { asset_id, by, note } => cmd_events::review(&loaded, &asset_id, by, note).await,
        Command::ReplayEvents(args) => cmd_events::replay(&loaded, args).await,
        Command::Serve { service } => cmd_serve::serve(&loaded, service).await,
        Command::MockVenue { dir, port } => cmd_serve::mock_venue(dir, port).await,
        Command::Status => cmd_status::status(&loaded).await,
        Command::Backtest(args) => cmd_paper::backtest(&loaded, args).await,
        Command::Experiment { command } => cmd_paper::experiment(&loaded, command).await,
        Command::Report(args) => cmd_paper::report_cmd(&loaded, args).await,
        Command::Paper { command } => cmd_paper::paper(&loaded, command).await,
        Command::Demo { cycles, out_dir } => cmd_demo::demo(&loaded, cycles, out_dir).await,
        Command::List(args) => cmd_views::list(&loaded, &args, false).await,
        Command::Candidates(args) => cmd_views::list(&loaded, &args, true).await,
        Command::Show { asset_id, json, from } => cmd_views::show(&loaded, &asset_id, json, &from).await,
        Command::Web { addr, from } => cmd_views::web(&loaded, addr, &from).await,
        Command::Watch(args) => cmd_watch::watch(&loaded, args).await,
        Command::Preflight { .. } => Ok(ExitCode::SUCCESS),
        Command::Ai { command } => cmd_ai::ai(&loaded, command).await,
        Command::Bench { target, events, runs } => bench::run(&loaded, target, events, runs).await,
    }
}

#[cfg(test)]
mod tests {
    use super::error_chain;

    #[test]
    fn a_cause_its_parent_already_prints_is_not_repeated() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "No such file or directory (os error 2)");
        let e = anyhow::Error::new(io).context("cannot read config file c.toml: No such file or directory (os error 2)").context("loading config c.toml");
        assert_eq!(error_chain(&e), "loading config c.toml: cannot read config file c.toml: No such file or directory (os error 2)");
        assert_eq!(error_chain(&anyhow::anyhow!("inner").context("outer")), "outer: inner");
    }
}
