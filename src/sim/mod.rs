//! A generic discrete-event kernel: integer nanosecond time, an event queue with an explicit
//! total order, and seeded random streams. It knows nothing of LLMs.

pub mod queue;
pub mod rng;
pub mod time;

pub use queue::{EventQueue, Ranked};
pub use rng::RngStreams;
pub use time::Nanos;
