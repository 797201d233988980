//! The cases a bench suite runs, and the bytes and FLOPs each must move.
//!
//! Byte counts are the compulsory device-memory traffic of each kernel's design (each input
//! read and each output written the number of times the algorithm requires), so achieved
//! GB/s is comparable with the cost model's roofline:
//!
//! * standard attention (per head, f16 Q/K/V/O, f32 S and P): Q, K read (2·N·d·2), S written
//!   (4·N²), read twice by softmax and P written (12·N²), P read with V by P·V (4·N² + 2·N·d),
//!   O written (2·N·d): `8·N·d + 20·N²` bytes. Θ(N·d + N²).
//! * tiled (FlashAttention) attention: Q read and O written once, K and V read once per block
//!   of `BR` query rows: `4·N·d + 4·N·d·⌈N/BR⌉` bytes. Θ(N²·d/BR); with BR sized from SRAM
//!   (`cost::attention`) that is the paper's Θ(N²·d²/M).

use super::Measurement;
use serde::{Deserialize, Serialize};

/// Query rows per block of the CUDA tiled attention kernel (`FA_BR` in kernels.cu).
pub const CUDA_TILED_BR: u64 = 128;
/// Key rows per shared-memory tile of the CUDA tiled attention kernel (`FA_BC`).
pub const CUDA_TILED_BC: u64 = 32;

/// Stream variants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum StreamOp {
    /// Read every byte once (reduced to a checksum).
    Read,
    /// Write every byte once.
    Write,
    /// Read one buffer, write another (kernel).
    Copy,
    /// Device-to-device copy by the driver (cuMemcpyDtoD) or `copy_from_slice`.
    Memcpy,
}

/// Attention kernel variants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AttnKind {
    /// S = QKᵀ and P = softmax(S) materialized in device memory.
    Standard,
    /// Fused, tiled, online softmax (FlashAttention).
    Tiled,
}

/// KV-cache element formats the paged decode and quantize kernels support.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum KvFormat {
    /// IEEE half.
    F16,
    /// GGML q8_0: f16 scale + 32 × i8 = 34 bytes per 32 values.
    Q8_0,
    /// GGML q4_0: f16 scale + 32 × 4-bit = 18 bytes per 32 values.
    Q4_0,
}

impl KvFormat {
    /// Name as written in reports.
    pub fn name(self) -> &'static str {
        match self {
            KvFormat::F16 => "f16",
            KvFormat::Q8_0 => "q8_0",
            KvFormat::Q4_0 => "q4_0",
        }
    }
    /// Bytes for `d` values (d a multiple of 32 for the block formats).
    pub fn row_bytes(self, d: u64) -> u64 {
        match self {
            KvFormat::F16 => 2 * d,
            KvFormat::Q8_0 => d / 32 * 34,
            KvFormat::Q4_0 => d / 32 * 18,
        }
    }
}

/// One benchmark case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Case {
    /// Stream `bytes` through device memory.
    Stream {
        /// Which access pattern.
        op: StreamOp,
        /// Buffer size in bytes (each buffer, for copies).
        bytes: u64,
    },
    /// C[m×n] = A[m×k] · Wᵀ (W is n×k, as a linear layer stores it), bf16 in, f32 accumulate.
    Gemm {
        /// Tokens.
        m: u64,
        /// Output features.
        n: u64,
        /// Input features.
        k: u64,
        /// Which layer this shape is (e.g. "llama-3.1-8b qkv"), for the report.
        label: String,
    },
    /// Non-causal prefill attention over `heads` independent heads.
    Attention {
        /// Which kernel.
        kind: AttnKind,
        /// Sequence length N.
        seq_len: u64,
        /// Head dimension d.
        head_dim: u64,
        /// Independent heads (batch × heads).
        heads: u64,
    },
    /// One decode step's attention over a paged KV cache.
    PagedDecode {
        /// Cache element format.
        format: KvFormat,
        /// Sequences.
        batch: u64,
        /// Tokens of context per sequence.
        context: u64,
        /// KV heads (one query head each).
        heads: u64,
        /// Head dimension.
        head_dim: u64,
        /// Tokens per KV block.
        block_size: u64,
    },
    /// Quantize `values` f16 values to a GGML block format.
    Quantize {
        /// Target format (q8_0 or q4_0).
        format: KvFormat,
        /// Number of values (multiple of 32).
        values: u64,
    },
}

impl Case {
    /// The measurement row for this case, with shape, bytes and FLOPs filled in.
    pub fn describe(&self) -> Measurement {
        let mut m = Measurement::default();
        match self {
            Case::Stream { op, bytes } => {
                m.primitive = "stream".into();
                m.variant = match op {
                    StreamOp::Read => "read",
                    StreamOp::Write => "write",
                    StreamOp::Copy => "copy",
                    StreamOp::Memcpy => "memcpy",
                }
                .into();
                m.shape = format!("bytes={bytes}");
                m.n = *bytes;
                m.bytes = match op {
                    StreamOp::Read | StreamOp::Write => *bytes as f64,
                    StreamOp::Copy | StreamOp::Memcpy => 2.0 * *bytes as f64,
                };
            }
            Case::Gemm { m: mm, n, k, label } => {
                m.primitive = "gemm".into();
                m.variant = "bf16".into();
                m.shape = format!("m={mm} n={n} k={k} ({label})");
                m.m = *mm;
                m.n = *n;
                m.k = *k;
                m.flops = 2.0 * (*mm * *n * *k) as f64;
                m.bytes = 2.0 * (*mm * *k + *n * *k + *mm * *n) as f64;
            }
            Case::Attention {
                kind,
                seq_len,
                head_dim,
                heads,
            } => {
                let (nn, d, h) = (*seq_len as f64, *head_dim as f64, *heads as f64);
                m.primitive = "attention".into();
                m.variant = match kind {
                    AttnKind::Standard => "standard",
                    AttnKind::Tiled => "tiled",
                }
                .into();
                m.shape = format!("N={seq_len} d={head_dim} heads={heads}");
                m.n = *seq_len;
                m.k = *head_dim;
                m.batch = *heads;
                m.flops = h * 4.0 * nn * nn * d;
                m.bytes = h * match kind {
                    AttnKind::Standard => standard_attention_bytes(nn, d, 2.0),
                    AttnKind::Tiled => tiled_attention_bytes(nn, d, 2.0, CUDA_TILED_BR as f64),
                };
            }
            Case::PagedDecode {
                format,
                batch,
                context,
                heads,
                head_dim,
                block_size,
            } => {
                m.primitive = "paged_decode".into();
                m.variant = format.name().into();
                m.shape = format!(
                    "batch={batch} ctx={context} heads={heads} d={head_dim} block={block_size}"
                );
                m.batch = *batch;
                m.context = *context;
                m.k = *head_dim;
                m.n = *heads;
                let kv =
                    (*batch * *context * *heads) as f64 * 2.0 * format.row_bytes(*head_dim) as f64;
                let qo = (*batch * *heads * *head_dim) as f64 * 4.0 * 2.0;
                m.bytes = kv + qo;
                m.flops = (*batch * *heads * *context * *head_dim) as f64 * 4.0;
            }
            Case::Quantize { format, values } => {
                m.primitive = "kv_quantize".into();
                m.variant = format.name().into();
                m.shape = format!("values={values}");
                m.n = *values;
                m.bytes = 2.0 * *values as f64 + (*values / 32 * format.row_bytes(32)) as f64;
            }
        }
        m.status = super::Status::Pending;
        m
    }
}

/// Bytes of the unfused kernels for one head: Q/K/V/O of `e` bytes, S and P in f32 (S read
/// twice by the two-pass softmax); see [`crate::cost::attention::standard_bytes`].
pub fn standard_attention_bytes(n: f64, d: f64, e: f64) -> f64 {
    crate::cost::attention::standard_bytes(n, d, e, 4.0)
}

/// Bytes of tiled attention for one head with `br` query rows per block; see
/// [`crate::cost::attention::flash_bytes`].
pub fn tiled_attention_bytes(n: f64, d: f64, e: f64, br: f64) -> f64 {
    crate::cost::attention::flash_bytes(n, d, e, br)
}

/// An ordered list of cases.
#[derive(Debug, Clone)]
pub struct Suite {
    /// Cases, run in this order.
    pub cases: Vec<Case>,
}

/// Linear-layer shapes (n = out features, k = in features) of Llama-3.1-8B, per GPU at TP=1.
const LLAMA8B_LINEARS: [(&str, u64, u64); 4] = [
    ("llama-3.1-8b qkv", 6144, 4096),
    ("llama-3.1-8b o", 4096, 4096),
    ("llama-3.1-8b gate_up", 28672, 4096),
    ("llama-3.1-8b down", 4096, 14336),
];

impl Suite {
    /// The full GPU suite (sizes well above an H100's 50 MB L2).
    pub fn gpu() -> Self {
        let mut cases = Vec::new();
        for op in [
            StreamOp::Read,
            StreamOp::Write,
            StreamOp::Copy,
            StreamOp::Memcpy,
        ] {
            cases.push(Case::Stream { op, bytes: 1 << 30 });
        }
        cases.push(Case::Gemm {
            m: 8192,
            n: 8192,
            k: 8192,
            label: "square".into(),
        });
        for (label, n, k) in LLAMA8B_LINEARS {
            for m in [1, 8, 32, 64, 128, 256, 1024, 4096] {
                cases.push(Case::Gemm {
                    m,
                    n,
                    k,
                    label: label.into(),
                });
            }
        }
        for head_dim in [64, 128] {
            for seq_len in [512u64, 1024, 2048, 4096, 8192, 16384] {
                // Keep the standard kernel's N×N f32 scores at most 4 GiB.
                let heads = ((4u64 << 30) / (seq_len * seq_len * 4)).clamp(1, 32);
                for kind in [AttnKind::Standard, AttnKind::Tiled] {
                    cases.push(Case::Attention {
                        kind,
                        seq_len,
                        head_dim,
                        heads,
                    });
                }
            }
        }
        for format in [KvFormat::F16, KvFormat::Q8_0, KvFormat::Q4_0] {
            for batch in [1, 16, 64] {
                for context in [1024, 4096, 16384] {
                    cases.push(Case::PagedDecode {
                        format,
                        batch,
                        context,
                        heads: 8,
                        head_dim: 128,
                        block_size: 16,
                    });
                }
            }
        }
        for format in [KvFormat::Q8_0, KvFormat::Q4_0] {
            cases.push(Case::Quantize {
                format,
                values: 1 << 26,
            });
        }
        Suite { cases }
    }

    /// A host-sized suite: same primitives, shapes small enough for a 2-core CI machine.
    pub fn cpu() -> Self {
        let mut cases = Vec::new();
        for op in [
            StreamOp::Read,
            StreamOp::Write,
            StreamOp::Copy,
            StreamOp::Memcpy,
        ] {
            cases.push(Case::Stream {
                op,
                bytes: 64 << 20,
            });
        }
        for m in [1, 16, 64] {
            cases.push(Case::Gemm {
                m,
                n: 1024,
                k: 1024,
                label: "square-ish".into(),
            });
        }
        for seq_len in [256u64, 512, 1024, 2048] {
            for kind in [AttnKind::Standard, AttnKind::Tiled] {
                cases.push(Case::Attention {
                    kind,
                    seq_len,
                    head_dim: 64,
                    heads: 1,
                });
            }
        }
        for format in [KvFormat::F16, KvFormat::Q8_0, KvFormat::Q4_0] {
            cases.push(Case::PagedDecode {
                format,
                batch: 4,
                context: 2048,
                heads: 2,
                head_dim: 128,
                block_size: 16,
            });
        }
        for format in [KvFormat::Q8_0, KvFormat::Q4_0] {
            cases.push(Case::Quantize {
                format,
                values: 1 << 20,
            });
        }
        Suite { cases }
    }

    /// Keep only the cases whose primitive name is in `only` (empty = all).
    pub fn filter(mut self, only: &[String]) -> Self {
        if !only.is_empty() {
            self.cases
                .retain(|c| only.iter().any(|o| *o == c.describe().primitive));
        }
        self
    }
}
