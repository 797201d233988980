//! Renderers of results: pure functions from computed data to files (PNG charts here).
//! Nothing in `report` computes physics.

pub mod png;
