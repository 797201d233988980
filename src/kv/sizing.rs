//! Bytes of KV cache per token, per layer and per GPU, for a model, a K/V dtype pair and a
//! tensor-parallel degree; and llama.cpp's own accounting of the same cache.

use super::CacheDtype;
use crate::model::{AttentionKind, LayerKind, Model};

/// Why a KV layout is impossible.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum KvError {
    /// The tensor-parallel degree does not split the attention heads evenly.
    #[error(
        "tensor parallel degree {tp} does not divide {model}'s {heads} attention heads; use one of {options}"
    )]
    TpHeads {
        /// The TP degree asked for.
        tp: u64,
        /// Model name.
        model: String,
        /// Its attention heads.
        heads: u64,
        /// Degrees that would work.
        options: String,
    },
    /// KV heads neither divide by nor divide the TP degree (vLLM's rule for replication).
    #[error(
        "tensor parallel degree {tp} and {model}'s {kv_heads} KV heads: one must divide the other (vLLM replicates KV heads only when TP is a multiple of them)"
    )]
    TpKvHeads {
        /// The TP degree.
        tp: u64,
        /// Model name.
        model: String,
        /// Its KV heads.
        kv_heads: u64,
    },
    /// A block-quantized type does not fit the row length.
    #[error("{which} cache type: {reason}")]
    Row {
        /// "K" or "V".
        which: &'static str,
        /// What does not fit.
        reason: String,
    },
    /// TP degree 0.
    #[error("tensor parallel degree must be at least 1")]
    ZeroTp,
}

/// A model's KV cache at given K/V element types, as one GPU of a TP group holds it.
#[derive(Debug, Clone)]
pub struct KvSpec<'a> {
    /// The model.
    pub model: &'a Model,
    /// K element type.
    pub k: CacheDtype,
    /// V element type.
    pub v: CacheDtype,
    /// Tensor-parallel degree.
    pub tp: u64,
    /// (K, V) bytes per token for each layer, on one GPU.
    layer_bytes: Vec<(u64, u64)>,
}

impl<'a> KvSpec<'a> {
    /// Check the TP degree against the heads and the dtypes against the row lengths, then
    /// compute each layer's bytes per token on one GPU.
    ///
    /// Under TP, attention heads split evenly; KV heads split too, and when there are fewer
    /// KV heads than GPUs each GPU holds one replicated head (vLLM:
    /// `max(1, n_kv_heads / tp)`). MLA's latent is not split by head: every GPU holds it whole.
    pub fn new(model: &'a Model, k: CacheDtype, v: CacheDtype, tp: u64) -> Result<Self, KvError> {
        if tp == 0 {
            return Err(KvError::ZeroTp);
        }
        let heads = model.num_attention_heads;
        if !heads.is_multiple_of(tp) {
            let options: Vec<String> = (1..=heads)
                .filter(|d| heads.is_multiple_of(*d) && *d <= 16)
                .map(|d| d.to_string())
                .collect();
            return Err(KvError::TpHeads {
                tp,
                model: model.name.clone(),
                heads,
                options: options.join(", "),
            });
        }
        let kv_heads = model.kv_heads();
        let is_mla = matches!(model.attention, AttentionKind::Mla(_));
        if !is_mla && !kv_heads.is_multiple_of(tp) && !tp.is_multiple_of(kv_heads) {
            return Err(KvError::TpKvHeads {
                tp,
                model: model.name.clone(),
                kv_heads,
            });
        }
        let share = |values: u64| -> u64 {
            if is_mla || values == 0 {
                values
            } else {
                // values = kv_heads × head_dim on one GPU: keep max(1, kv_heads/tp) heads.
                let per_head = values / kv_heads;
                per_head * (kv_heads / tp).max(1)
            }
        };
        let mut layer_bytes = Vec::with_capacity(model.n_layers());
        for layer in 0..model.n_layers() {
            let (kv, vv) = model.kv_values_per_token(layer);
            let kb = k
                .row_bytes(share(kv))
                .map_err(|reason| KvError::Row { which: "K", reason })?;
            let vb = v
                .row_bytes(share(vv))
                .map_err(|reason| KvError::Row { which: "V", reason })?;
            layer_bytes.push((kb, vb));
        }
        Ok(KvSpec {
            model,
            k,
            v,
            tp,
            layer_bytes,
        })
    }

    /// (K, V) bytes one GPU holds per token of one layer.
    pub fn layer_bytes(&self, layer: usize) -> (u64, u64) {
        self.layer_bytes[layer]
    }

    /// (K, V) bytes per token summed over every layer that holds KV, as if each holds the
    /// token (what vLLM divides its KV budget by: the "per token" cost of a block).
    pub fn bytes_per_token(&self) -> (u64, u64) {
        self.layer_bytes
            .iter()
            .fold((0, 0), |(a, b), (k, v)| (a + k, b + v))
    }

    /// Total bytes per token (K + V), on one GPU.
    pub fn total_bytes_per_token(&self) -> u64 {
        let (k, v) = self.bytes_per_token();
        k + v
    }

    /// (K, V) bytes one sequence of `context` tokens holds on one GPU, with sliding-window
    /// layers capped at their window.
    pub fn bytes_for_context(&self, context: u64) -> (u64, u64) {
        let mut kv = (0, 0);
        for (layer, (k, v)) in self.layer_bytes.iter().enumerate() {
            let held = self.model.kv_tokens_held(layer, context);
            kv.0 = (k.saturating_mul(held)).saturating_add(kv.0);
            kv.1 = (v.saturating_mul(held)).saturating_add(kv.1);
        }
        kv
    }

    /// Largest context one of `parallel` sequences can have within `kv_bytes`, capped at the
    /// model's `max_position_embeddings` (returned with `true` when that cap binds).
    pub fn max_context(&self, kv_bytes: u64, parallel: u64) -> (u64, bool) {
        let cap = self.model.max_position_embeddings.max(1);
        let fits = |ctx: u64| {
            let (k, v) = self.bytes_for_context(ctx);
            (k + v).saturating_mul(parallel) <= kv_bytes
        };
        if fits(cap) {
            return (cap, true);
        }
        // Bytes grow monotonically with context: bisect.
        let (mut lo, mut hi) = (0u64, cap);
        while lo + 1 < hi {
            let mid = lo + (hi - lo) / 2;
            if fits(mid) { lo = mid } else { hi = mid }
        }
        (lo, false)
    }

    /// Largest number of sequences of `context` tokens that fit in `kv_bytes`.
    pub fn max_parallel(&self, kv_bytes: u64, context: u64) -> u64 {
        let (k, v) = self.bytes_for_context(context);
        kv_bytes.checked_div(k + v).unwrap_or(u64::MAX)
    }
}

/// llama.cpp pads its cache to a multiple of this many cells (256 with flash attention,
/// the default on GPUs; `llama_kv_cache` `get_padding`).
pub const LLAMA_CPP_PAD: u64 = 256;
/// llama.cpp's default micro-batch (`n_ubatch`), which its sliding-window cache adds room for.
pub const LLAMA_CPP_UBATCH: u64 = 512;

/// llama.cpp's KV cache for `-c (ctx × parallel) -np parallel`, per layer in cells: full
/// layers hold `pad(ctx·parallel, 256)` cells; sliding-window layers (the iSWA cache) hold
/// `min(that, pad(window·parallel + n_ubatch, 256))`; layers without attention hold none.
pub fn llama_cpp_cells(model: &Model, layer: usize, ctx: u64, parallel: u64) -> u64 {
    let pad = |x: u64| x.div_ceil(LLAMA_CPP_PAD) * LLAMA_CPP_PAD;
    let base = pad(ctx.saturating_mul(parallel).min(u64::MAX - LLAMA_CPP_PAD));
    match model.layers[layer] {
        LayerKind::Full => base,
        LayerKind::Sliding { window } => base.min(pad(window
            .saturating_mul(parallel)
            .saturating_add(LLAMA_CPP_UBATCH)
            .min(u64::MAX - LLAMA_CPP_PAD))),
        LayerKind::NoKv => 0,
    }
}

/// (K, V) bytes of llama.cpp's KV cache over `layers` (all of a model's layers, or one
/// device's share under `--tensor-split`), at TP 1.
pub fn llama_cpp_bytes(
    kv: &KvSpec,
    layers: std::ops::Range<usize>,
    ctx: u64,
    parallel: u64,
) -> (u64, u64) {
    layers.fold((0, 0), |(a, b), l| {
        let cells = llama_cpp_cells(kv.model, l, ctx, parallel);
        let (k, v) = kv.layer_bytes(l);
        (
            a.saturating_add(k.saturating_mul(cells)),
            b.saturating_add(v.saturating_mul(cells)),
        )
    })
}

/// How llama.cpp assigns layers to devices for `--tensor-split` proportions (with all layers
/// offloaded, the output layer counting as one more): device `i` gets the layers `l` with
/// `l / (n_layers + 1)` below the cumulative share of devices `0..=i`. Returns each device's
/// layer range.
pub fn llama_cpp_layer_split(n_layers: usize, split: &[f64]) -> Vec<std::ops::Range<usize>> {
    let total: f64 = split.iter().sum();
    let mut cum = Vec::with_capacity(split.len());
    let mut acc = 0.0;
    for s in split {
        acc += s / total;
        cum.push(acc);
    }
    let act = (n_layers + 1) as f64;
    let mut device_of = Vec::with_capacity(n_layers);
    for l in 0..n_layers {
        let x = l as f64 / act;
        let d = cum.iter().position(|&c| x < c).unwrap_or(split.len() - 1);
        device_of.push(d);
    }
    (0..split.len())
        .map(|d| {
            let start = device_of.iter().position(|&x| x == d).unwrap_or(n_layers);
            let end = device_of
                .iter()
                .rposition(|&x| x == d)
                .map(|e| e + 1)
                .unwrap_or(start);
            start..end
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;

    use crate::units::MIB;

    fn model(name: &str) -> Model {
        Catalog::builtin().model(name).expect(name)
    }

    #[test]
    fn gqa_mqa_mla_bytes_per_token() {
        // Llama-3.1-8B: 32 layers × 8 KV heads × 128 × 2 bytes × (K + V) = 128 KiB.
        let m = model("llama-3.1-8b");
        let kv = KvSpec::new(&m, CacheDtype::F16, CacheDtype::F16, 1).unwrap();
        assert_eq!(kv.total_bytes_per_token(), 131_072);
        // TP 2 halves it; TP 16 (> 8 KV heads) replicates one head per GPU: 1/8.
        assert_eq!(
            KvSpec::new(&m, CacheDtype::F16, CacheDtype::F16, 2)
                .unwrap()
                .total_bytes_per_token(),
            65_536
        );
        assert_eq!(
            KvSpec::new(&m, CacheDtype::F16, CacheDtype::F16, 16)
                .unwrap()
                .total_bytes_per_token(),
            16_384
        );
        // q8_0 K + q4_0 V: 32 × 1024 × (34 + 18) / 32.
        let q = KvSpec::new(&m, CacheDtype::Q8_0, CacheDtype::Q4_0, 1).unwrap();
        assert_eq!(q.bytes_per_token(), (34_816, 18_432));
        // DeepSeek-V3 (MLA): 61 layers × (512 + 64) latent values, no V, not split by TP.
        let ds = model("deepseek-v3");
        let kv = KvSpec::new(&ds, CacheDtype::Bf16, CacheDtype::Bf16, 8).unwrap();
        assert_eq!(kv.bytes_per_token(), (61 * 576 * 2, 0));
    }

    #[test]
    fn sliding_window_caps_context() {
        let m = model("mistral-7b-v0.1"); // every layer slides over 4096 tokens
        let kv = KvSpec::new(&m, CacheDtype::F16, CacheDtype::F16, 1).unwrap();
        assert_eq!(kv.bytes_for_context(32_768), kv.bytes_for_context(4096));
        let g = model("gemma-2-9b"); // half the layers slide over 4096
        let kv = KvSpec::new(&g, CacheDtype::F16, CacheDtype::F16, 1).unwrap();
        let (k8, _) = kv.bytes_for_context(8192);
        let (k4, _) = kv.bytes_for_context(4096);
        assert_eq!(
            k8,
            k4 * 3 / 2,
            "only the 21 global layers grow past the window"
        );
    }

    #[test]
    fn impossible_tp_names_the_fix() {
        let m = model("llama-3.1-8b");
        let e = KvSpec::new(&m, CacheDtype::F16, CacheDtype::F16, 3).unwrap_err();
        assert!(
            e.to_string().contains("does not divide") && e.to_string().contains("1, 2, 4, 8, 16"),
            "{e}"
        );
    }

    #[test]
    fn block_dtype_must_fit_rows() {
        // head_dim 80 with 2 KV heads: at TP 2 each GPU's row is 80 values, not a whole
        // number of q4_0's 32-value blocks (llama.cpp refuses such a cache type too).
        let json = r#"{"num_hidden_layers": 4, "num_attention_heads": 32, "num_key_value_heads": 2,
            "head_dim": 80, "hidden_size": 2560, "intermediate_size": 10240, "vocab_size": 51200,
            "max_position_embeddings": 2048}"#;
        let path = std::path::Path::new("test.json");
        let raw = crate::model::RawConfig::from_json_str(json, path).unwrap();
        let m = Model::from_raw("test", &raw, path).unwrap();
        assert!(KvSpec::new(&m, CacheDtype::Q4_0, CacheDtype::Q4_0, 1).is_ok());
        let e = KvSpec::new(&m, CacheDtype::Q4_0, CacheDtype::F16, 2).unwrap_err();
        assert!(
            e.to_string().contains("K cache type") && e.to_string().contains("80 values"),
            "{e}"
        );
    }

    /// data/sizing_cases.md, llama.cpp rows: reproduced to the MiB.
    #[test]
    fn llama_cpp_reference_logs() {
        let case = |name: &str, ctx, k, v| {
            let m = model(name);
            let kv = KvSpec::new(&m, k, v, 1).unwrap();
            let (kb, vb) = llama_cpp_bytes(&kv, 0..m.n_layers(), ctx, 1);
            (kb / MIB, vb / MIB, (kb + vb) % MIB)
        };
        // Pythia-1.4B, n_ctx 2048, f16: KV self size = 384.00 MiB, K 192.00, V 192.00.
        assert_eq!(
            case("pythia-1.4b", 2048, CacheDtype::F16, CacheDtype::F16),
            (192, 192, 0)
        );
        // Llama-3.1-8B, n_ctx 4096, f16: 512.00 MiB, K 256.00, V 256.00.
        assert_eq!(
            case("llama-3.1-8b", 4096, CacheDtype::F16, CacheDtype::F16),
            (256, 256, 0)
        );
        // Qwen2.5-Coder-32B (same attention shape as Qwen2.5-32B: 64 layers, 8 × 128), n_ctx
        // 32768, q8_0/q8_0: 4352.00 MiB, K 2176.00, V 2176.00.
        assert_eq!(
            case("qwen2.5-32b", 32_768, CacheDtype::Q8_0, CacheDtype::Q8_0),
            (2176, 2176, 0)
        );
    }

    /// The same Qwen case split over two GPUs with `-ts 10,6`: CUDA0 2788.00 MiB, CUDA1 1564.00 MiB.
    #[test]
    fn llama_cpp_tensor_split() {
        let m = model("qwen2.5-32b");
        let kv = KvSpec::new(&m, CacheDtype::Q8_0, CacheDtype::Q8_0, 1).unwrap();
        let split = llama_cpp_layer_split(m.n_layers(), &[10.0, 6.0]);
        let mib: Vec<u64> = split
            .into_iter()
            .map(|r| {
                let (k, v) = llama_cpp_bytes(&kv, r, 32_768, 1);
                (k + v) / MIB
            })
            .collect();
        assert_eq!(mib, vec![2788, 1564]);
    }
}
