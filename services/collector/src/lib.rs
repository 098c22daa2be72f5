//! placeholder

pub mod sources;
