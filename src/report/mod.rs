//! Renderers of results: pure functions from computed data to files (PNG charts, and the
//! CSV / Parquet tables written through polars).
//! Nothing in `report` computes physics.

pub mod charts;
pub mod png;
pub mod table;
