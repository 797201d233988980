//! The LoRA kernels' physics: the shapes of a model's LoRA-capable linear modules on one GPU,
//! what an adapter slot and an adapter weigh, and the FLOPs and bytes of the shrink and
//! expand kernels a step launches. How engines load, batch and schedule adapters is in
//! `serving::lora`; the pricing is [`super::iteration::IterationCost::lora_seconds`].

use crate::model::Model;
use serde::Serialize;

/// The modules an adapter may target, in vLLM's names.
pub const MODULES: [&str; 7] = [
    "q_proj",
    "k_proj",
    "v_proj",
    "o_proj",
    "gate_proj",
    "up_proj",
    "down_proj",
];

/// The kernels a layer launches: shrink and expand over each fused group of [`MODULES`]
/// (`qkv`, `o`, `gate_up`, `down`).
const GROUPS: [&[usize]; 4] = [&[0, 1, 2], &[3], &[4, 5], &[6]];

/// Which of [`MODULES`] an adapter targets (bit `i` for `MODULES[i]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Targets(pub u8);

impl Targets {
    /// Every module.
    pub const ALL: Targets = Targets(0x7f);
    /// The attention projections (`q/k/v/o_proj`), PEFT's usual choice.
    pub const ATTENTION: Targets = Targets(0x0f);

    /// Targets named as in a PEFT `adapter_config.json`; `"all-linear"` for every module.
    pub fn parse<S: AsRef<str>>(names: &[S]) -> Result<Targets, String> {
        let mut bits = 0u8;
        for n in names {
            let n = n.as_ref();
            if n == "all-linear" {
                bits |= Self::ALL.0;
                continue;
            }
            match MODULES.iter().position(|m| *m == n) {
                Some(i) => bits |= 1 << i,
                None => {
                    return Err(format!(
                        "unknown target module \"{n}\": expected \"all-linear\" or any of {}",
                        MODULES.join(", ")
                    ));
                }
            }
        }
        if bits == 0 {
            return Err(format!(
                "names no module: list any of {}",
                MODULES.join(", ")
            ));
        }
        Ok(Targets(bits))
    }

    fn has(self, i: usize) -> bool {
        self.0 & (1 << i) != 0
    }
}

/// How an engine launches a layer's LoRA kernels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum LoraKernels {
    /// vLLM V1 (`lora/ops/triton_ops/lora_shrink_op.py`, `lora_expand_op.py`, 0.8+): one
    /// zero-fill, shrink and expand per fused module group (qkv, o, gate_up, down), 12 per
    /// layer; a launch reads each distinct adapter's weights once (SGMV). Also taken for
    /// SGLang, TensorRT-LLM and llama.cpp, whose kernels batch by adapter likewise.
    Fused,
    /// vLLM V0 (`lora/punica_wrapper/punica_gpu.py` ≤ 0.6: "TODO fuse these kernels";
    /// `lora/ops/bgmv_shrink.py`): a zero-filled buffer, shrink and expand per slice, 21 per
    /// layer; the decode kernels (BGMV) give each token a program that reads its adapter's
    /// whole slice, so the weights are read once per token.
    PerSlice,
}

impl LoraKernels {
    /// The launch pattern of `engine`'s LoRA path.
    pub fn of(engine: crate::kv::EngineKind) -> LoraKernels {
        match engine {
            crate::kv::EngineKind::VllmV0 => LoraKernels::PerSlice,
            _ => LoraKernels::Fused,
        }
    }
}

/// One GPU's share of a layer's LoRA-capable modules: `(A's input width, B's output width)`
/// per module of [`MODULES`], and the layer count.
#[derive(Debug, Clone, PartialEq)]
pub struct LoraShapes {
    layers: f64,
    modules: [(f64, f64); 7],
    /// Distinct input widths read per group (a fused group reads its input once).
    group_in: [f64; 4],
}

/// LoRA weights' bytes per element (the model's 16-bit dtype).
const LORA_BYTES: f64 = 2.0;
/// The shrink kernel's fp32 intermediate.
const SHRINK_OUT_BYTES: f64 = 4.0;

impl LoraShapes {
    /// The shapes of `model`'s dense layers at tensor parallelism `tp`.
    pub fn new(model: &Model, tp: u64) -> LoraShapes {
        let tp = tp as f64;
        let h = model.hidden_size as f64;
        let q = (model.num_attention_heads * model.head_dim) as f64;
        let kv = (model.num_key_value_heads * model.head_dim) as f64;
        let i = model.intermediate_size as f64;
        LoraShapes {
            layers: model.layers.len() as f64,
            modules: [
                (h, q / tp),
                (h, kv / tp),
                (h, kv / tp),
                (q / tp, h),
                (h, i / tp),
                (h, i / tp),
                (i / tp, h),
            ],
            group_in: [h, q / tp, h, i / tp],
        }
    }

    /// Bytes per GPU of one adapter slot at `rank` over every module: what each of
    /// `max_loras` slots reserves.
    pub fn slot_bytes(&self, rank: u32) -> f64 {
        self.adapter_bytes(rank, Targets::ALL)
    }

    /// Bytes per GPU of an adapter of `rank` adapting `targets`: what loading it copies.
    pub fn adapter_bytes(&self, rank: u32, targets: Targets) -> f64 {
        let per_layer: f64 = self
            .modules
            .iter()
            .enumerate()
            .filter(|(i, _)| targets.has(*i))
            .map(|(_, (a, b))| a + b)
            .sum();
        self.layers * rank as f64 * per_layer * LORA_BYTES
    }

    /// Calls `kernel(flops, bytes)` for each of a layer's LoRA kernels for `tokens` LoRA
    /// tokens over `adapters` distinct adapters at `rank`, as `kind` launches them.
    pub fn kernels(
        &self,
        kind: LoraKernels,
        tokens: f64,
        adapters: f64,
        rank: f64,
        mut kernel: impl FnMut(f64, f64),
    ) {
        // Adapter weights: once per distinct adapter (SGMV), or once per token (BGMV).
        let weights = match kind {
            LoraKernels::Fused => adapters,
            LoraKernels::PerSlice => tokens,
        };
        let mut launch = |members: &[usize], input: f64| {
            let ins: f64 = members.iter().map(|&m| self.modules[m].0).sum();
            let outs: f64 = members.iter().map(|&m| self.modules[m].1).sum();
            let mid = tokens * rank * members.len() as f64 * SHRINK_OUT_BYTES;
            // The fp32 intermediate zeroed, the shrink into it, the expand added to y.
            kernel(0.0, mid);
            kernel(
                2.0 * tokens * rank * ins,
                LORA_BYTES * (tokens * input + weights * rank * ins) + mid,
            );
            kernel(
                2.0 * tokens * rank * outs,
                LORA_BYTES * (weights * rank * outs + 2.0 * tokens * outs) + mid,
            );
        };
        for (g, members) in GROUPS.iter().enumerate() {
            match kind {
                LoraKernels::Fused => launch(members, self.group_in[g]),
                LoraKernels::PerSlice => {
                    for &m in *members {
                        launch(&[m], self.modules[m].0);
                    }
                }
            }
        }
    }

    /// Layers the kernels run in.
    pub fn layers(&self) -> f64 {
        self.layers
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;

    fn llama8b() -> Model {
        Catalog::builtin().model("llama-3.1-8b").unwrap()
    }

    #[test]
    fn slot_bytes_in_closed_form() {
        // Llama-3.1-8B: h 4096, q 4096, kv 1024, i 14336, 32 layers; rank 16, TP 1:
        // per layer (4096+4096) + 2·(4096+1024) + (4096+4096) + 2·(4096+14336) + (14336+4096)
        // = 8192 + 10240 + 8192 + 36864 + 18432 = 81,920 → × 16 × 32 × 2 B = 80 MiB.
        let s = LoraShapes::new(&llama8b(), 1);
        assert_eq!(s.slot_bytes(16), 81_920.0 * 16.0 * 32.0 * 2.0);
        assert_eq!(s.slot_bytes(16), 80.0 * 1024.0 * 1024.0);
        // Attention only: 8192 + 10240 + 8192 = 26,624 per layer per rank.
        assert_eq!(
            s.adapter_bytes(8, Targets::ATTENTION),
            26_624.0 * 8.0 * 32.0 * 2.0
        );
        // TP 2 halves B of the column-parallel and A of the row-parallel modules only.
        let s2 = LoraShapes::new(&llama8b(), 2);
        let per_layer = (4096.0 + 2048.0)
            + 2.0 * (4096.0 + 512.0)
            + (2048.0 + 4096.0)
            + 2.0 * (4096.0 + 7168.0)
            + (7168.0 + 4096.0);
        assert_eq!(s2.slot_bytes(16), per_layer * 16.0 * 32.0 * 2.0);
    }

    #[test]
    fn targets_parse_with_errors_that_list_the_modules() {
        assert_eq!(Targets::parse(&["all-linear"]), Ok(Targets::ALL));
        assert_eq!(
            Targets::parse(&["q_proj", "k_proj", "v_proj", "o_proj"]),
            Ok(Targets::ATTENTION)
        );
        let e = Targets::parse(&["qkv"]).unwrap_err();
        assert!(e.contains("\"qkv\"") && e.contains("down_proj"), "{e}");
        assert!(Targets::parse::<&str>(&[]).is_err());
    }

    #[test]
    fn v1_fuses_module_groups_and_v0_reads_weights_per_token() {
        let s = LoraShapes::new(&llama8b(), 1);
        let count = |kind| {
            let (mut n, mut flops, mut bytes) = (0, 0.0, 0.0);
            s.kernels(kind, 1.0, 1.0, 16.0, |f, b| {
                n += 1;
                flops += f;
                bytes += b;
            });
            (n, flops, bytes)
        };
        let (fused, per_slice) = (count(LoraKernels::Fused), count(LoraKernels::PerSlice));
        assert_eq!((fused.0, per_slice.0), (12, 21));
        // The same arithmetic either way: 2 · T · r · Σ(in + out) per layer.
        assert_eq!(fused.1, 2.0 * 16.0 * 81_920.0);
        assert_eq!(per_slice.1, fused.1);
        let bytes = |kind, t: f64, d: f64| {
            let mut b = 0.0;
            s.kernels(kind, t, d, 16.0, |_, x| b += x);
            b
        };
        // V1 reads each distinct adapter's weights once: one slot's bytes per layer each.
        let slot = s.slot_bytes(16) / 32.0;
        let fused = LoraKernels::Fused;
        assert_eq!(bytes(fused, 8.0, 2.0) - bytes(fused, 8.0, 0.0), 2.0 * slot);
        // V0 reads them once per token, however many adapters.
        let v0 = LoraKernels::PerSlice;
        assert_eq!(bytes(v0, 8.0, 1.0), bytes(v0, 8.0, 8.0));
        assert!(bytes(v0, 2.0, 1.0) - bytes(v0, 1.0, 1.0) > slot);
        assert_eq!(
            LoraKernels::of(crate::kv::EngineKind::VllmV0),
            LoraKernels::PerSlice
        );
        assert_eq!(
            LoraKernels::of(crate::kv::EngineKind::Vllm),
            LoraKernels::Fused
        );
    }
}
