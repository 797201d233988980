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
//! * GEMM C[m×n] = A[m×k]·Wᵀ: A and W read once, C written once, at each format's width —
//!   bf16 `2·(m·k + n·k + m·n)`; fp8 `m·k + n·k + 2·m·n` (bf16 out); int8 `m·k + n·k + 4·m·n`
//!   (int32 out). The 8-bit cases run at the bf16 cases' shapes, so the three line up.

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

/// Input formats of the 8-bit GEMM cases (cuBLASLt).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Gemm8Format {
    /// FP8 E4M3 × E4M3 → bf16, f32 accumulate, per-tensor scales 1.0.
    Fp8E4m3,
    /// INT8 × INT8 → int32, int32 accumulate (exact).
    Int8,
}

impl Gemm8Format {
    /// Name as written in reports (the measurement's variant).
    pub fn name(self) -> &'static str {
        match self {
            Gemm8Format::Fp8E4m3 => "fp8",
            Gemm8Format::Int8 => "int8",
        }
    }

    /// Bytes of one output element: bf16 for fp8, int32 for int8.
    pub fn output_bytes(self) -> u64 {
        match self {
            Gemm8Format::Fp8E4m3 => 2,
            Gemm8Format::Int8 => 4,
        }
    }

    /// Oldest compute capability whose tensor cores run this format: FP8 from Ada (8.9),
    /// INT8 (IMMA) from Turing (7.5).
    pub fn min_compute_capability(self) -> (u32, u32) {
        match self {
            Gemm8Format::Fp8E4m3 => (8, 9),
            Gemm8Format::Int8 => (7, 5),
        }
    }

    /// Whether a GPU of compute capability `cc` named `device` runs this format; if not,
    /// the sentence the measurement's status carries.
    pub fn supported_on(self, cc: (u32, u32), device: &str) -> Result<(), String> {
        let (major, minor) = self.min_compute_capability();
        if cc >= (major, minor) {
            return Ok(());
        }
        let what = match self {
            Gemm8Format::Fp8E4m3 => "FP8 GEMM needs compute capability 8.9+ (Ada/Hopper)",
            Gemm8Format::Int8 => {
                "INT8 tensor-core GEMM needs compute capability 7.5+ (Turing or later)"
            }
        };
        Err(format!(
            "{what}; this GPU is {device} (compute capability {}.{})",
            cc.0, cc.1
        ))
    }

    /// cuBLASLt's 8-bit kernels need the output-feature and inner dimensions (its `m` and
    /// `k` in the TN layout) to be multiples of this: 16 (16-byte rows) for FP8, 4 for INT8.
    pub fn dim_multiple(self) -> u64 {
        match self {
            Gemm8Format::Fp8E4m3 => 16,
            Gemm8Format::Int8 => 4,
        }
    }

    /// `Ok` when `n` (output features) and `k` (input features) meet [`Self::dim_multiple`].
    pub fn check_shape(self, n: u64, k: u64) -> Result<(), String> {
        let q = self.dim_multiple();
        if n.is_multiple_of(q) && k.is_multiple_of(q) {
            Ok(())
        } else {
            Err(format!(
                "{} GEMM needs n and k multiples of {q} (cuBLASLt TN layout); got n={n} k={k}",
                self.name()
            ))
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
    /// The same C[m×n] = A[m×k] · Wᵀ with 8-bit inputs (fp8 or int8), through cuBLASLt.
    Gemm8 {
        /// Input format (and with it the output and accumulate types).
        format: Gemm8Format,
        /// Tokens.
        m: u64,
        /// Output features.
        n: u64,
        /// Input features.
        k: u64,
        /// Which layer this shape is, for the report.
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
            Case::Gemm8 {
                format,
                m: mm,
                n,
                k,
                label,
            } => {
                m.primitive = "gemm".into();
                m.variant = format.name().into();
                m.shape = format!("m={mm} n={n} k={k} ({label})");
                m.m = *mm;
                m.n = *n;
                m.k = *k;
                // Integer multiply-adds for int8: reported as TOP/s in the TFLOP/s column.
                m.flops = 2.0 * (*mm * *n * *k) as f64;
                m.bytes = (*mm * *k + *n * *k + format.output_bytes() * *mm * *n) as f64;
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

/// The GPU suite's GEMM shapes `(m, n, k, label)`: one 8192³ square, then each Llama-3.1-8B
/// linear at decode-like (m ≤ 256) and prefill-like (m = 1024, 4096) token counts.
fn gpu_gemm_shapes() -> Vec<(u64, u64, u64, &'static str)> {
    let mut shapes = vec![(8192, 8192, 8192, "square")];
    for (label, n, k) in LLAMA8B_LINEARS {
        for m in [1, 8, 32, 64, 128, 256, 1024, 4096] {
            shapes.push((m, n, k, label));
        }
    }
    shapes
}

/// The bf16 GEMM cases at `shapes`, then the fp8 and int8 ones at the same shapes.
fn gemm_cases(shapes: &[(u64, u64, u64, &str)]) -> Vec<Case> {
    let bf16 = shapes.iter().map(|&(m, n, k, label)| Case::Gemm {
        m,
        n,
        k,
        label: label.to_string(),
    });
    bf16.chain(gemm8_cases(shapes)).collect()
}

/// The fp8 cases, then the int8 cases, at the bf16 cases' shapes.
fn gemm8_cases(shapes: &[(u64, u64, u64, &str)]) -> Vec<Case> {
    [Gemm8Format::Fp8E4m3, Gemm8Format::Int8]
        .into_iter()
        .flat_map(|format| {
            shapes.iter().map(move |&(m, n, k, label)| Case::Gemm8 {
                format,
                m,
                n,
                k,
                label: label.into(),
            })
        })
        .collect()
}

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
        let shapes = gpu_gemm_shapes();
        cases.extend(gemm_cases(&shapes));
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
        let shapes: Vec<_> = [1, 16, 64]
            .into_iter()
            .map(|m| (m, 1024, 1024, "square-ish"))
            .collect();
        cases.extend(gemm_cases(&shapes));
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

#[cfg(test)]
mod tests {
    use super::*;

    fn gemm_shapes(suite: &Suite, variant: &str) -> Vec<(u64, u64, u64, String)> {
        suite
            .cases
            .iter()
            .map(Case::describe)
            .filter(|m| m.primitive == "gemm" && m.variant == variant)
            .map(|m| (m.m, m.n, m.k, m.shape))
            .collect()
    }

    #[test]
    fn eight_bit_gemms_run_at_the_bf16_shapes() {
        for suite in [Suite::gpu(), Suite::cpu()] {
            let bf16 = gemm_shapes(&suite, "bf16");
            assert!(!bf16.is_empty());
            assert_eq!(gemm_shapes(&suite, "fp8"), bf16);
            assert_eq!(gemm_shapes(&suite, "int8"), bf16);
        }
        let gpu = gemm_shapes(&Suite::gpu(), "fp8");
        assert_eq!(gpu.len(), 1 + 4 * 8);
        assert!(gpu.iter().any(|s| (s.0, s.1, s.2) == (8192, 8192, 8192)));
        assert!(gpu.iter().any(|s| s.0 == 1 && s.3.contains("gate_up")));
    }

    #[test]
    fn only_gemm_keeps_all_three_formats() {
        let suite = Suite::gpu().filter(&["gemm".to_string()]);
        let variants: std::collections::BTreeSet<String> =
            suite.cases.iter().map(|c| c.describe().variant).collect();
        assert_eq!(
            variants.into_iter().collect::<Vec<_>>(),
            ["bf16", "fp8", "int8"]
        );
        assert_eq!(suite.cases.len(), 3 * 33);
    }

    #[test]
    fn eight_bit_bytes_count_each_format_width() {
        let case = |format| Case::Gemm8 {
            format,
            m: 2,
            n: 16,
            k: 32,
            label: "t".into(),
        };
        let fp8 = case(Gemm8Format::Fp8E4m3).describe();
        assert_eq!(fp8.variant, "fp8");
        assert_eq!(fp8.flops, 2.0 * 2.0 * 16.0 * 32.0);
        assert_eq!(fp8.bytes, (2 * 32 + 16 * 32 + 2 * 2 * 16) as f64);
        let int8 = case(Gemm8Format::Int8).describe();
        assert_eq!(int8.variant, "int8");
        assert_eq!(int8.bytes, (2 * 32 + 16 * 32 + 4 * 2 * 16) as f64);
        assert_eq!(int8.shape, "m=2 n=16 k=32 (t)");
    }

    #[test]
    fn fp8_needs_ada_or_hopper_and_says_which_gpu_this_is() {
        let fp8 = Gemm8Format::Fp8E4m3;
        let err = fp8
            .supported_on((8, 0), "NVIDIA A100-SXM4-80GB")
            .unwrap_err();
        assert_eq!(
            err,
            "FP8 GEMM needs compute capability 8.9+ (Ada/Hopper); this GPU is NVIDIA A100-SXM4-80GB (compute capability 8.0)"
        );
        assert!(fp8.supported_on((8, 6), "NVIDIA A10G").is_err());
        for cc in [(8, 9), (9, 0), (10, 0), (12, 0)] {
            assert!(fp8.supported_on(cc, "x").is_ok(), "{cc:?}");
        }
        let int8 = Gemm8Format::Int8;
        let err = int8.supported_on((7, 0), "Tesla V100").unwrap_err();
        assert!(
            err.starts_with("INT8 tensor-core GEMM needs compute capability 7.5+"),
            "{err}"
        );
        assert!(
            err.ends_with("this GPU is Tesla V100 (compute capability 7.0)"),
            "{err}"
        );
        assert!(int8.supported_on((7, 5), "T4").is_ok());
    }

    #[test]
    fn suite_shapes_meet_cublaslt_alignment() {
        for case in Suite::gpu().cases.iter().chain(&Suite::cpu().cases) {
            if let Case::Gemm8 { format, n, k, .. } = case {
                format.check_shape(*n, *k).unwrap();
            }
        }
        let err = Gemm8Format::Fp8E4m3.check_shape(4100, 4096).unwrap_err();
        assert!(
            err.contains("multiples of 16") && err.contains("n=4100"),
            "{err}"
        );
        assert!(Gemm8Format::Int8.check_shape(4100, 4096).is_ok());
        assert!(Gemm8Format::Int8.check_shape(4096, 4098).is_err());
    }
}
