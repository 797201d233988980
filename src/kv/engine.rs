//! Which serving engine's memory rules apply ([`EngineKind`]), and the settings those rules
//! read, under each engine's own names ([`EngineMemory`]).
//!
//! The four engines size their KV cache differently (the arithmetic is in [`super::budget`]):
//!
//! | engine | KV bytes per GPU | source followed |
//! |---|---|---|
//! | vLLM V1 | `total × gpu_memory_utilization − weights − activation peak − non-torch` | `v1/worker/gpu_worker.py: determine_available_memory` + `utils: memory_profiling`, 0.9.2 – 0.16 |
//! | vLLM V0 | the same; the profiled batch differs | `worker/worker.py: determine_num_available_blocks`, 0.6.6 |
//! | SGLang | `free_after_init × mem_fraction_static − weights` | `model_executor/model_runner.py: profile_max_num_token`, 0.5.2 |
//! | TensorRT-LLM | `kv_cache_free_gpu_mem_fraction × (total − peak of a dummy run)` | `_torch/pyexecutor/_util.py: KvCacheCreator`, PyTorch backend |
//! | llama.cpp | `-c` cells over `-np` slots, no fraction | `src/llama-context.cpp`, `src/llama-kv-cache.cpp` @63d93d173 |

use serde::Serialize;
use std::fmt;
use std::str::FromStr;

/// A serving engine, for its memory (and later scheduling) rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Default)]
#[serde(into = "String")]
pub enum EngineKind {
    /// vLLM's V1 engine (0.9.2 and later; the default since 0.8).
    #[default]
    Vllm,
    /// vLLM's V0 engine (0.6.x).
    VllmV0,
    /// SGLang.
    Sglang,
    /// TensorRT-LLM (`trtllm-serve`, PyTorch backend).
    Trtllm,
    /// llama.cpp (`llama-server`).
    LlamaCpp,
}

impl EngineKind {
    /// Every engine, in the order reports list them.
    pub const ALL: [EngineKind; 5] = [
        EngineKind::Vllm,
        EngineKind::VllmV0,
        EngineKind::Sglang,
        EngineKind::Trtllm,
        EngineKind::LlamaCpp,
    ];

    /// The name used in scenarios and flags.
    pub fn as_str(self) -> &'static str {
        match self {
            EngineKind::Vllm => "vllm",
            EngineKind::VllmV0 => "vllm-v0",
            EngineKind::Sglang => "sglang",
            EngineKind::Trtllm => "trtllm",
            EngineKind::LlamaCpp => "llama.cpp",
        }
    }

    /// Whether this is one of vLLM's engines.
    pub fn is_vllm(self) -> bool {
        matches!(self, EngineKind::Vllm | EngineKind::VllmV0)
    }

    /// Tokens per KV block (page) by default: vLLM 16 (`platforms/cuda.py`), SGLang 1
    /// (`page_size`), TensorRT-LLM 32 (`KvCacheConfig.tokens_per_block`), llama.cpp 1 (cells).
    pub fn default_block_size(self) -> u64 {
        match self {
            EngineKind::Vllm | EngineKind::VllmV0 => 16,
            EngineKind::Sglang | EngineKind::LlamaCpp => 1,
            EngineKind::Trtllm => 32,
        }
    }
}

impl fmt::Display for EngineKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<EngineKind> for String {
    fn from(k: EngineKind) -> String {
        k.as_str().to_string()
    }
}

/// An engine name no rule knows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown engine `{0}`: expected vllm, vllm-v0, sglang, trtllm or llama.cpp")]
pub struct UnknownEngine(pub String);

impl FromStr for EngineKind {
    type Err = UnknownEngine;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "vllm" | "vllm-v1" => Ok(EngineKind::Vllm),
            "vllm-v0" => Ok(EngineKind::VllmV0),
            "sglang" => Ok(EngineKind::Sglang),
            "trtllm" | "tensorrt-llm" | "trt-llm" => Ok(EngineKind::Trtllm),
            "llama.cpp" | "llamacpp" | "llama-cpp" => Ok(EngineKind::LlamaCpp),
            _ => Err(UnknownEngine(s.to_string())),
        }
    }
}

/// llama.cpp's placement flags: which layers and tensors live in GPU memory.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Offload {
    /// `-ngl`: the last `n` repeating layers on the GPU (`None` = all, and the output layer).
    pub n_gpu_layers: Option<u64>,
    /// `--n-cpu-moe`: the routed experts of the first `n` layers stay in host memory.
    pub n_cpu_moe: u64,
    /// `-ub`: the physical batch the compute buffer is sized for (default 512).
    pub n_ubatch: u64,
}

impl Default for Offload {
    fn default() -> Self {
        Offload {
            n_gpu_layers: None,
            n_cpu_moe: 0,
            n_ubatch: 512,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_list_the_known() {
        for k in EngineKind::ALL {
            assert_eq!(k.as_str().parse::<EngineKind>().unwrap(), k);
        }
        assert_eq!("TensorRT-LLM".parse::<EngineKind>(), Ok(EngineKind::Trtllm));
        let e = "tgi".parse::<EngineKind>().unwrap_err().to_string();
        assert!(e.contains("`tgi`") && e.contains("llama.cpp"), "{e}");
    }
}
