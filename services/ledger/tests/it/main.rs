//! Integration tests of the ledger: migrations, store, views, gRPC and the service loop.
#![allow(clippy::unwrap_used)]

mod fixtures;
mod grpc;
mod migrations;
mod runbook;
mod rebuild;
mod service;
mod store;
mod views;
