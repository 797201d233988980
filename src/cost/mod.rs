//! The cost model: how long an operation takes on a GPU, from first principles.
//!
//! Each op costs `max(FLOPs / (peak × eff_compute), bytes / (bandwidth × eff_memory)) +
//! overhead` ([`roofline`]); attention's bytes follow the FlashAttention IO model or the
//! standard N² traffic ([`attention`]); efficiencies are fitted by least squares to measured
//! op times ([`calibrate`]): our own `planner bench` files ([`predict`]) and the published
//! Vidur profiles ([`vidur`], [`vidur_ops`]).

pub mod attention;
pub mod calibrate;
pub mod iteration;
pub mod lora;
pub mod network;
pub mod precision;
pub mod predict;
pub mod roofline;
pub mod vidur;
pub mod vidur_ops;

pub use calibrate::{Efficiency, Sample};
