//! `nl`: the new-listings radar's command line. Thin: parse arguments, load config, start telemetry,
//! call into the service crates. Read-only research tooling; nothing here places an order.
#![forbid(unsafe_code)]

mod bench;
mod cli;
mod cmd_cycle;
mod cmd_db;
mod cmd_demo;
mod cmd_events;
mod cmd_preflight;
mod cmd_rederive;
mod cmd_serve;
mod cmd_status;
mod config;
mod shutdown;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand) {
                let _ = e.print();
                return ExitCode::SUCCESS;
            }
            // One line: clap's first line says what is wrong; `--help` has the rest.
            let text = e.render().to_string();
            let first = text.lines().next().unwrap_or("invalid arguments");
            eprintln!("{first} (see `nl --help`)");
            return ExitCode::from(2);
        }
    };
    nl_telemetry::init("nl");
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    // Preflight loads the config itself, so a config that does not load still gets a PASS/FAIL report.
    if let Command::Preflight { readme } = &cli.command {
        return cmd_preflight::preflight(&cli.config, readme).await;
    }
    let loaded = config::load(&cli.config)?;
    match cli.command {
        Command::RunCycle { dry_run, drain_timeout_secs } => cmd_cycle::run_cycle(&loaded, dry_run, drain_timeout_secs).await,
        Command::Rederive { from_raw: _, run, out, drain_timeout_secs } => cmd_rederive::rederive(&loaded, run, out, drain_timeout_secs).await,
        Command::DiffRuns { a, b, db_a, db_b } => cmd_rederive::diff_runs(&loaded, &a, &b, db_a, db_b).await,
        Command::DbInit { down_to } => cmd_db::db_init(&loaded, down_to).await,
        Command::Events { command } => cmd_events::events(&loaded, command).await,
        Command::ReplayEvents(args) => cmd_events::replay(&loaded, args).await,
        Command::Serve { service } => cmd_serve::serve(&loaded, service).await,
        Command::MockVenue { dir, port } => cmd_serve::mock_venue(dir, port).await,
        Command::Status => cmd_status::status(&loaded).await,
        Command::Demo { cycles, out_dir } => cmd_demo::demo(&loaded, cycles, out_dir).await,
        Command::Preflight { .. } => Ok(ExitCode::SUCCESS),
        Command::Bench { target, events } => bench::run(&loaded, target, events).await,
    }
}
