//! KV cache: element types, bytes per token, and the memory budget that decides how many
//! tokens fit.
//!
//! Per token and layer, a model caches `n_kv_heads × head_dim` values of K and as many of V
//! (GQA shrinks this by the group size, MQA has one head; MLA caches one latent of
//! `kv_lora_rank + qk_rope_head_dim` values and no separate V). Sliding-window layers hold at
//! most `window` tokens; layers without attention hold none. K and V may use different
//! element types ([`CacheDtype`]), as llama.cpp's `--cache-type-k/-v` allow.

pub mod budget;
pub mod dtype;
pub mod engine;
pub mod paged;
pub mod prefix;
pub mod sizing;

pub use budget::{Budget, EngineMemory, Stage};
pub use dtype::CacheDtype;
pub use engine::{EngineKind, Offload};
pub use prefix::{Isolation, PrefixCache};
pub use sizing::{KvError, KvSpec};
