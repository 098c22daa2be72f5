//! Source adapters of the collector: pure parsers and diff logic per source family.

pub mod cex;
pub mod dex;
