//! Engine settings, with vLLM's names and defaults.

pub use crate::cost::attention::AttentionKernel;
use crate::kv::CacheDtype;
use serde::{Deserialize, Serialize};

/// How the scheduler forms batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SchedulerKind {
    /// Static batching: a batch of up to `max_num_seqs` requests runs to completion before the
    /// next batch is admitted (the pre-Orca baseline).
    Static,
    /// Continuous (iteration-level) batching: running decodes first, then whole prefills of
    /// waiting requests within the token budget (vLLM without chunked prefill).
    Continuous,
    /// Chunked prefill (Sarathi-Serve, vLLM's default in V1): decodes first, then prompt chunks
    /// filling the remaining token budget; a long prompt spans several iterations.
    ChunkedPrefill,
}

/// What happens to a request preempted for lack of KV blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Preemption {
    /// Free its blocks; recompute its prompt and generated tokens when readmitted.
    Recompute,
    /// Copy its blocks to host memory over PCIe and back when resumed.
    Swap,
}

/// TensorRT-LLM's capacity scheduler (`CapacitySchedulerPolicy`,
/// `cpp/tensorrt_llm/batch_manager/capacityScheduler.cpp`, v0.17–1.0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CapacityPolicy {
    /// The default: a request is admitted only when the free blocks cover what every running
    /// request still needs to finish (prompt + max output) and its own whole need; nothing is
    /// ever evicted.
    #[default]
    GuaranteedNoEvict,
    /// Admit while blocks last; pause (evict) the newest when they run out.
    MaxUtilization,
}

/// How arrivals are spread over replicas.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Router {
    /// In turn.
    #[default]
    RoundRobin,
    /// To the replica with the fewest requests waiting or running.
    LeastOutstanding,
    /// To the replica whose prefix cache holds the longest prefix of the request, among those
    /// whose load is within `max(4, min/4)` requests of the least loaded (so affinity cannot
    /// pile everything on one replica).
    PrefixAffinity,
}

impl Router {
    /// Name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Router::RoundRobin => "round_robin",
            Router::LeastOutstanding => "least_outstanding",
            Router::PrefixAffinity => "prefix_affinity",
        }
    }
}

/// A replica's engine configuration.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EngineConfig {
    /// Whose memory (and cost) rules apply.
    pub kind: crate::kv::EngineKind,
    /// SGLang's `mem_fraction_static` (`None`: SGLang's default for the GPU).
    pub mem_fraction_static: Option<f64>,
    /// TensorRT-LLM's `kv_cache_free_gpu_mem_fraction`.
    pub kv_cache_free_gpu_mem_fraction: f64,
    /// TensorRT-LLM's capacity scheduler policy.
    pub capacity_scheduler_policy: CapacityPolicy,
    /// SGLang's `--schedule-conservativeness` (scales its initial new-token ratio).
    pub schedule_conservativeness: f64,
    /// Batching policy.
    pub scheduler: SchedulerKind,
    /// Most sequences running at once.
    pub max_num_seqs: u32,
    /// Most tokens (prefill + decode) in one iteration.
    pub max_num_batched_tokens: u32,
    /// Tokens per KV block.
    pub block_size: u32,
    /// Fraction of GPU memory the engine may use.
    pub gpu_memory_utilization: f64,
    /// K cache element type.
    pub cache_type_k: CacheDtype,
    /// V cache element type.
    pub cache_type_v: CacheDtype,
    /// Preemption mode.
    pub preemption: Preemption,
    /// Prefill attention kernel.
    pub attention: AttentionKernel,
    /// Requests allowed to wait in the queue; arrivals beyond it are rejected (0 = unbounded).
    pub max_queue: u32,
    /// The longest prompt + output the engine serves (vLLM's `--max-model-len`, SGLang's
    /// `--context-length`, TensorRT-LLM's `--max_seq_len`; llama.cpp's `-c`, which is also
    /// its whole KV cache, split over the `-np` slots): longer requests are refused.
    /// `None`: the model's `max_position_embeddings`.
    pub max_model_len: Option<u32>,
    /// Speculative decoding, if on.
    pub speculative: Option<super::spec::Speculative>,
    /// Automatic prefix caching (vLLM's `enable_prefix_caching`, on by default in V1).
    pub prefix_caching: bool,
    /// Who may share cached blocks: per tenant (the default; `cache_salt`) or everyone.
    pub prefix_isolation: crate::kv::Isolation,
    /// The scheduler runs one step ahead of the GPU: step N + 1 is scheduled while step N
    /// executes, so a request that arrives during step N can join step N + 2 at the
    /// earliest (an idle engine schedules it at once). vLLM V1's `async_scheduling`, on by
    /// default since v0.14 (`vllm/config/vllm.py`, PR #27614); SGLang's overlap scheduler
    /// (`event_loop_overlap`, default since v0.4); TensorRT-LLM's PyTorch-backend overlap
    /// scheduler (`disable_overlap_scheduler = False`, 1.0). Not vLLM V0 or llama.cpp.
    pub async_scheduling: bool,
    /// The API server's time, in seconds, before the scheduler sees a request (HTTP,
    /// tokenization, IPC to the engine) and after a token is sampled before the client has
    /// it (IPC back, detokenization, the streamed event). TTFT and E2E are the client's:
    /// they include both; the engine's own timestamps (vLLM's `queued_ts` →
    /// `first_token_ts`) are these with both at 0. This is the way in.
    pub api_in_s: f64,
    /// The API server's time after a token is sampled (seconds); see `api_in_s`.
    pub api_out_s: f64,
    /// Tenants' limits and the order across them.
    pub tenancy: super::tenancy::Tenancy,
    /// A request not yet scheduled this long after it reached the scheduler is shed
    /// (seconds; a gateway's queue timeout). `None`: never.
    pub max_queue_wait_s: Option<f64>,
    /// Clear a KV block (a memset at memory bandwidth, charged to the step) before it is
    /// handed to a tenant other than the one whose data it last held.
    pub scrub_freed_blocks: bool,
    /// LoRA adapters (`--enable-lora`): the slots' settings; `None`: off.
    pub lora: Option<super::lora::LoraEngine>,
}

/// The default API-server time each way (seconds). inference-sim's journey traces of vLLM's
/// OpenAI server on H100 (github.com/inference-sim/training, `output/fit/coefficients.json`,
/// Feb 2026) put the last sampled token → response complete at 1.85 ms; the way in is taken
/// to be the same (their arrival → queued figure, 9.3 ms, also holds the wait for the
/// engine's step under way to end, which the simulator models itself). Measured for vLLM
/// only; SGLang's and TensorRT-LLM's Python servers and llama.cpp's C++ one are given the
/// same figure, unmeasured.
pub const API_SERVER_S: f64 = 1.85e-3;

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            kind: crate::kv::EngineKind::Vllm,
            mem_fraction_static: None,
            kv_cache_free_gpu_mem_fraction: 0.9,
            capacity_scheduler_policy: CapacityPolicy::GuaranteedNoEvict,
            schedule_conservativeness: 1.0,
            scheduler: SchedulerKind::ChunkedPrefill,
            max_num_seqs: 256,
            max_num_batched_tokens: 8192,
            block_size: 16,
            gpu_memory_utilization: 0.9,
            cache_type_k: CacheDtype::Bf16,
            cache_type_v: CacheDtype::Bf16,
            preemption: Preemption::Recompute,
            attention: AttentionKernel::Flash,
            max_queue: 0,
            max_model_len: None,
            speculative: None,
            prefix_caching: true,
            prefix_isolation: crate::kv::Isolation::PerTenant,
            async_scheduling: true,
            api_in_s: API_SERVER_S,
            api_out_s: API_SERVER_S,
            tenancy: super::tenancy::Tenancy::default(),
            max_queue_wait_s: None,
            scrub_freed_blocks: false,
            lora: None,
        }
    }
}
