//! End-to-end tests of the real `nl` binary and services, one binary: each file beside this one is a module (one
//! link instead of 29, which keeps CI's disk and link time small). Run one file's tests with
//! `cargo test -p nl --test e2e FILE::`.

mod golden_replay;
mod support;

mod ai_dispatch_nats;
mod ai_e2e;
mod alerts;
mod cex_link;
mod cli_views;
mod cli_p0;
mod crash_loop;
mod crash_recovery;
mod cycle_e2e;
mod enricher_resume;
mod gate_golden;
mod gate_golden_pipeline;
mod gate_grpc;
mod gate_properties;
mod hostile_venues;
mod ledger_grpc_clients;
mod ledger_nats;
mod listing_e2e;
mod listing_semantics;
mod orchestrator_nats;
mod paper_smoke;
mod recorder_nats;
mod rederive_e2e;
mod run_alerts;
mod run_e2e;
mod runbook_contract;
mod secrets_canary;
mod traces_nats;
mod watch;
mod web_browser;
mod web_learning;
