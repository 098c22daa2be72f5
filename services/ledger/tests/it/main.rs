//! Integration tests of the ledger: migrations, store, views, gRPC and the service loop.
#![allow(clippy::unwrap_used)]

mod fixtures;
mod grpc;
mod listing_views;
mod migrations;
mod paper;
mod paper_grpc;
mod runbook;
mod rebuild;
mod service;
mod store;
mod views;
