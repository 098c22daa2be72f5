//! `nl-collector`: the distributed collector as its own process. Config from the TOML file given as the only
//! argument, else `$NL_CONFIG`, else `config/default.toml`, plus `NL_<SECTION>__<KEY>` env overrides. Stops
//! on SIGINT/SIGTERM, releasing its leases.

use std::path::PathBuf;

use anyhow::Context;
use nl_collector::serve::{ServeConfig, serve};
use nl_telemetry::shutdown_signal;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _telemetry = nl_telemetry::init("nl-collector");
    let path = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("NL_CONFIG").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from(nl_config::DEFAULT_CONFIG_PATH));
    let loaded = nl_config::load::<ServeConfig>(&path).with_context(|| format!("loading {}", path.display()))?;
    serve(loaded.config, loaded.config_hash, shutdown_signal()).await.context("collector")?;
    Ok(())
}
