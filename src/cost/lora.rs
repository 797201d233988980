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

    /// FLOPs and bytes of each of a layer's 8 kernels for `tokens` LoRA tokens over
    /// `adapters` distinct adapters at `rank`, in launch order (shrink, expand per group).
    pub fn kernels(&self, tokens: f64, adapters: f64, rank: f64) -> [(f64, f64); 8] {
        let mut out = [(0.0, 0.0); 8];
        for (g, members) in GROUPS.iter().enumerate() {
            let ins: f64 = members.iter().map(|&m| self.modules[m].0).sum();
            let outs: f64 = members.iter().map(|&m| self.modules[m].1).sum();
            let slices = members.len() as f64;
            let mid = tokens * rank * slices * SHRINK_OUT_BYTES;
            out[2 * g] = (
                2.0 * tokens * rank * ins,
                LORA_BYTES * (tokens * self.group_in[g] + adapters * rank * ins) + mid,
            );
            out[2 * g + 1] = (
                2.0 * tokens * rank * outs,
                LORA_BYTES * (adapters * rank * outs + 2.0 * tokens * outs) + mid,
            );
        }
        out
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
}
