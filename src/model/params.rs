//! Parameter counts, weight bytes and FLOPs per token, from the shape alone.
//!
//! Counted like Hugging Face counts a checkpoint's tensors, except that **norm weights and
//! biases are not counted** (under 0.05% of every catalog model; e.g. 0.27M of Llama-3.1-8B's
//! 8.03B). Router weights are counted. DeepSeek-V3's multi-token-prediction layer
//! (`num_nextn_predict_layers`) is **not** counted: the 61 main layers give the 671B the
//! paper reports, against the 685B of the Hugging Face checkpoint, which includes the ~14B MTP
//! module.
//!
//! Layers without a KV cache count their own token mixer ([`Model::mixer_params`]): Gated
//! DeltaNet or Mamba projections when the config gives their widths ([`RecurrentMixer`]);
//! otherwise (a mixer the planner does not know) they are priced as if it were the model's
//! attention projections, an approximation.
//!
//! A multimodal checkpoint's vision tower ([`Model::vision_params`]) is **not** in these
//! counts: it is held in memory (`Model::weight_bytes`) but does not run per text token.

use super::{AttentionKind, LayerKind, MlpKind, Model, Precision, RecurrentMixer, Role};

impl Model {
    /// Input embedding plus lm_head: `vocab_size · hidden_size`, × 2 unless
    /// `tie_word_embeddings`.
    pub fn embedding_params(&self) -> u64 {
        let matrices = if self.tie_word_embeddings { 1 } else { 2 };
        matrices * self.lm_head_params()
    }

    /// The lm_head matmul, `vocab_size · hidden_size`: run for every token even when its
    /// matrix is tied to the embedding.
    pub fn lm_head_params(&self) -> u64 {
        self.vocab_size * self.hidden_size
    }

    /// Attention projections of one layer (`h` = hidden_size, `n` = heads, `d` = head_dim,
    /// `k` = K/V heads):
    ///
    /// - MHA/GQA/MQA: `h·n·d` (Q) + `2·h·k·d` (K, V) + `n·d·h` (O).
    /// - MLA: queries `h·q_lora_rank + q_lora_rank·n·(qk_nope + qk_rope)` when `q_lora_rank`
    ///   is set, else `h·n·(qk_nope + qk_rope)`; keys/values `h·(kv_lora_rank + qk_rope)` +
    ///   `kv_lora_rank·n·(qk_nope + v_head_dim)`; output `n·v_head_dim·h`.
    pub fn attention_params(&self) -> u64 {
        let (h, n) = (self.hidden_size, self.num_attention_heads);
        match self.attention {
            AttentionKind::Mla(mla) => {
                let qk = mla.qk_nope_head_dim + mla.qk_rope_head_dim;
                let q = match mla.q_lora_rank {
                    Some(r) => h * r + r * n * qk,
                    None => h * n * qk,
                };
                let kv = h * (mla.kv_lora_rank + mla.qk_rope_head_dim)
                    + mla.kv_lora_rank * n * (mla.qk_nope_head_dim + mla.v_head_dim);
                let o = n * mla.v_head_dim * h;
                q + kv + o
            }
            _ => {
                let (d, k) = (self.head_dim, self.num_key_value_heads);
                h * n * d + 2 * h * k * d + n * d * h
            }
        }
    }

    /// Whether `layer` keeps no KV and runs a recurrent mixer whose widths are known.
    /// Panics if `layer >= n_layers()`.
    pub fn has_recurrent_mixer(&self, layer: usize) -> bool {
        self.layers[layer] == LayerKind::NoKv && self.recurrent.is_some()
    }

    /// Token-mixer parameters of `layer`: [`attention_params`](Self::attention_params) for a
    /// layer with attention (or a recurrent layer whose mixer is unknown), else the recurrent
    /// mixer's projections, with `h` = hidden_size:
    ///
    /// - Gated DeltaNet (`Qwen3NextGatedDeltaNet` in transformers): `in_proj_qkvz`
    ///   `h·(2·K + 2·V)`, `in_proj_ba` `h·2·value_heads`, the depthwise convolution
    ///   `(2·K + V)·conv_kernel` and `out_proj` `V·h`, with `K = key_heads·key_head_dim`,
    ///   `V = value_heads·value_head_dim`;
    /// - Mamba-1 (Jamba): `in_proj` `h·2·inner`, convolution `inner·conv_kernel`, `x_proj`
    ///   `inner·(dt_rank + 2·state_size)`, `dt_proj` `dt_rank·inner`, `A` `inner·state_size`,
    ///   `out_proj` `inner·h`;
    /// - Mamba-2: `in_proj` `h·(2·inner + 2·groups·state_size + heads)`, convolution
    ///   `(inner + 2·groups·state_size)·conv_kernel`, `out_proj` `inner·h`.
    ///
    /// Norms, biases and per-head scalars (`A_log`, `dt_bias`, `D`) are not counted.
    /// Panics if `layer >= n_layers()`.
    pub fn mixer_params(&self, layer: usize) -> u64 {
        let (Some(mixer), LayerKind::NoKv) = (self.recurrent, self.layers[layer]) else {
            return self.attention_params();
        };
        let h = self.hidden_size;
        match mixer {
            RecurrentMixer::GatedDeltaNet(d) => {
                let keys = d.key_heads * d.key_head_dim;
                let values = d.value_heads * d.value_head_dim;
                h * (2 * keys + 2 * values)
                    + h * 2 * d.value_heads
                    + (2 * keys + values) * d.conv_kernel
                    + values * h
            }
            RecurrentMixer::Mamba1(m) => {
                h * 2 * m.inner
                    + m.inner * m.conv_kernel
                    + m.inner * (m.dt_rank + 2 * m.state_size)
                    + m.dt_rank * m.inner
                    + m.inner * m.state_size
                    + m.inner * h
            }
            RecurrentMixer::Mamba2(m) => {
                let conv_dim = m.inner + 2 * m.groups * m.state_size;
                h * (m.inner + conv_dim + m.heads) + conv_dim * m.conv_kernel + m.inner * h
            }
        }
    }

    /// Matrices per MLP: 3 when gated (gate, up, down: Llama, Mistral, Qwen, DeepSeek), 2
    /// otherwise (up, down: GPT-NeoX).
    pub fn mlp_matrices(&self) -> u64 {
        if self.gated_mlp { 3 } else { 2 }
    }

    /// One dense MLP: `mlp_matrices · hidden_size · intermediate_size`.
    pub fn dense_mlp_params(&self) -> u64 {
        self.mlp_matrices() * self.hidden_size * self.intermediate_size
    }

    /// One routed expert: `mlp_matrices · hidden_size · expert_intermediate_size`; 0 if dense.
    pub fn expert_params(&self) -> u64 {
        self.moe.map_or(0, |moe| {
            self.mlp_matrices() * self.hidden_size * moe.expert_intermediate_size
        })
    }

    /// The shared expert(s) of one MoE layer: `mlp_matrices · hidden_size ·
    /// shared_intermediate_size`; 0 if none.
    pub fn shared_expert_params(&self) -> u64 {
        self.moe.map_or(0, |moe| {
            self.mlp_matrices() * self.hidden_size * moe.shared_intermediate_size
        })
    }

    /// The router of one MoE layer: `hidden_size · num_experts`; 0 if dense.
    pub fn router_params(&self) -> u64 {
        self.moe.map_or(0, |moe| self.hidden_size * moe.num_experts)
    }

    /// Feed-forward parameters of `layer`, all stored: a dense MLP, or router + every routed
    /// expert + shared expert(s). Panics if `layer >= n_layers()`.
    pub fn mlp_params(&self, layer: usize) -> u64 {
        self.mlp_params_used(layer, self.moe.map_or(0, |m| m.num_experts))
    }

    /// Feed-forward parameters of `layer` one token runs through: a dense MLP, or router +
    /// `num_experts_per_tok` routed experts + shared expert(s). Panics if `layer >= n_layers()`.
    pub fn mlp_active_params(&self, layer: usize) -> u64 {
        self.mlp_params_used(layer, self.moe.map_or(0, |m| m.experts_per_token))
    }

    fn mlp_params_used(&self, layer: usize, routed_experts: u64) -> u64 {
        match self.mlp_layers[layer] {
            MlpKind::Dense => self.dense_mlp_params(),
            MlpKind::Moe => {
                self.router_params()
                    + routed_experts * self.expert_params()
                    + self.shared_expert_params()
            }
        }
    }

    /// All stored parameters of the text model: `embedding_params + Σ_layers (mixer_params +
    /// mlp_params)` (no norms, biases, MTP layers or vision tower; see the module docs).
    pub fn params_total(&self) -> u64 {
        let layers: u64 = (0..self.n_layers())
            .map(|l| self.mixer_params(l) + self.mlp_params(l))
            .sum();
        self.embedding_params() + layers
    }

    /// Parameters one token uses: `embedding_params + Σ_layers (mixer_params +
    /// mlp_active_params)`; equals [`params_total`](Self::params_total) for a dense model.
    pub fn params_active(&self) -> u64 {
        let layers: u64 = (0..self.n_layers())
            .map(|l| self.mixer_params(l) + self.mlp_active_params(l))
            .sum();
        self.embedding_params() + layers
    }

    /// Matmul parameters one token runs through: `params_active − embedding_params +
    /// lm_head_params` (the embedding lookup is a gather, not a matmul; the lm_head is one).
    pub fn matmul_params_active(&self) -> u64 {
        self.params_active() - self.embedding_params() + self.lm_head_params()
    }

    /// FLOPs of attention scores and values for one token attending to a `context`-token
    /// sequence (including itself): `Σ_layers 2 · heads · (d_qk + d_v) · kv_tokens_held`,
    /// i.e. `4 · heads · head_dim · held` per layer with KV (MHA/GQA/MQA), and for MLA
    /// `d_qk = qk_nope + qk_rope`, `d_v = v_head_dim` (the unabsorbed form). Layers without KV
    /// add nothing.
    pub fn attention_flops_per_token(&self, context: u64) -> u64 {
        let (d_qk, d_v) = match self.attention {
            AttentionKind::Mla(mla) => {
                (mla.qk_nope_head_dim + mla.qk_rope_head_dim, mla.v_head_dim)
            }
            _ => (self.head_dim, self.head_dim),
        };
        let per_token_held = 2 * self.num_attention_heads * (d_qk + d_v);
        (0..self.n_layers())
            .map(|l| per_token_held * self.kv_tokens_held(l, context))
            .sum()
    }

    /// FLOPs to process one token at `context`: `2 · matmul_params_active` (one multiply-add
    /// per weight, lm_head included, embedding lookup excluded) +
    /// [`attention_flops_per_token`](Self::attention_flops_per_token).
    pub fn flops_per_token(&self, context: u64) -> u64 {
        2 * self.matmul_params_active() + self.attention_flops_per_token(context)
    }

    /// Device-memory bytes read per generated token in decode, with `batch` sequences
    /// sharing one step: every text weight is read once per step (the vision tower is not run) (MoE: the experts a step's tokens
    /// route to, at most all of them; estimated as `min(batch × top_k, experts)` experts per
    /// layer), and each sequence reads its whole KV cache, `kv_bytes_per_seq`.
    pub fn decode_bytes_per_token(&self, p: &Precision, batch: u64, kv_bytes_per_seq: u64) -> f64 {
        let batch = batch.max(1);
        let weights = match &self.moe {
            Some(moe) if moe.num_experts > 0 => {
                let all = self.text_weight_bytes(p) as f64;
                let experts = (self.expert_params() * moe.num_experts * self.moe_layer_count())
                    as f64
                    * p.bytes_per_param(self, Role::Expert);
                let touched = ((batch * moe.experts_per_token).min(moe.num_experts)) as f64
                    / moe.num_experts as f64;
                all - experts + experts * touched
            }
            _ => self.text_weight_bytes(p) as f64,
        };
        weights / batch as f64 + kv_bytes_per_seq as f64
    }

    /// Device-memory bytes per prompt token in a prefill of `tokens` tokens: the text weights
    /// read once for the whole pass, plus the token's KV written, `kv_bytes_per_token`.
    pub fn prefill_bytes_per_token(
        &self,
        p: &Precision,
        tokens: u64,
        kv_bytes_per_token: u64,
    ) -> f64 {
        self.text_weight_bytes(p) as f64 / tokens.max(1) as f64 + kv_bytes_per_token as f64
    }

    /// Number of layers whose MLP is a mixture of experts.
    pub fn moe_layer_count(&self) -> u64 {
        self.mlp_layers
            .iter()
            .filter(|k| matches!(k, super::MlpKind::Moe))
            .count() as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::catalog::tests::builtin_model as catalog;
    use crate::model::WeightDtype;

    fn assert_near(name: &str, what: &str, got: u64, want: f64) {
        let rel = (got as f64 - want).abs() / want;
        assert!(
            rel < 0.015,
            "{name} {what}: {got} vs {want:e} ({:.2}% off)",
            rel * 100.0
        );
    }

    #[test]
    fn total_params_match_published_sizes() {
        let targets = [
            ("llama-3.1-8b", 8.03e9),
            ("llama-3.1-70b", 70.6e9),
            ("llama-3.2-1b", 1.24e9),
            ("qwen2.5-7b", 7.6e9),
            ("gemma-2-9b", 9.24e9),
            ("pythia-1.4b", 1.41e9),
            ("mixtral-8x7b", 46.7e9),
            ("qwen3-30b-a3b", 30.5e9),
            ("deepseek-v3", 671e9),
        ];
        for (name, want) in targets {
            assert_near(name, "total", catalog(name).params_total(), want);
        }
    }

    #[test]
    fn active_params_match_published_sizes() {
        // Qwen's model card says "3.3B activated"; the count is 3.353B (embeddings 0.622B,
        // attention 0.906B, 8 of 128 experts 1.812B, routers 0.013B), 1.6% above 3.3B, so the
        // card rounds down: the target is 3.35e9, and the exact sum is checked below.
        let targets = [
            ("mixtral-8x7b", 12.9e9),
            ("qwen3-30b-a3b", 3.35e9),
            ("deepseek-v3", 37e9),
        ];
        for (name, want) in targets {
            assert_near(name, "active", catalog(name).params_active(), want);
        }
        let qwen = catalog("qwen3-30b-a3b");
        let (h, experts) = (2048, 48 * (8 * 3 * 2048 * 768 + 2048 * 128));
        let attention = 48 * (2 * h * 32 * 128 + 2 * h * 4 * 128);
        assert_eq!(qwen.params_active(), 2 * 151_936 * h + attention + experts);

        let dense = catalog("llama-3.1-8b");
        assert_eq!(dense.params_active(), dense.params_total());
    }

    #[test]
    fn llama_3_1_8b_counts_by_hand() {
        let m = catalog("llama-3.1-8b");
        assert_eq!(m.embedding_params(), 2 * 128_256 * 4096);
        assert_eq!(m.attention_params(), 4096 * 4096 * 2 + 2 * 4096 * 1024);
        assert_eq!(m.mlp_params(0), 3 * 4096 * 14_336);
        assert_eq!(
            m.params_total(),
            2 * 128_256 * 4096 + 32 * (41_943_040 + 176_160_768)
        );
    }

    #[test]
    fn pythia_mlp_is_not_gated() {
        let m = catalog("pythia-1.4b");
        assert!(!m.gated_mlp);
        assert_eq!(m.mlp_params(0), 2 * 2048 * 8192);
    }

    #[test]
    fn deepseek_v3_dense_then_moe_layers_and_mla_params() {
        let m = catalog("deepseek-v3");
        assert_eq!(m.mlp_layers[..3], [MlpKind::Dense; 3]);
        assert!(m.mlp_layers[3..].iter().all(|k| *k == MlpKind::Moe));
        let (h, n) = (7168, 128);
        let q = h * 1536 + 1536 * n * 192;
        let kv = h * 576 + 512 * n * 256;
        assert_eq!(m.attention_params(), q + kv + n * 128 * h);
        // 8 routed + 1 shared expert, 3 · 7168 · 2048 each, plus the router
        assert_eq!(m.mlp_active_params(3), 9 * 3 * h * 2048 + h * 256);
    }

    #[test]
    fn weight_bytes_keep_embeddings_at_two_bytes() {
        let m = catalog("llama-3.1-8b");
        let (total, embedding) = (m.params_total(), m.embedding_params());
        assert_eq!(
            m.weight_bytes(&Precision::uniform(WeightDtype::Bf16)),
            2 * total
        );
        assert_eq!(
            m.weight_bytes(&Precision::uniform(WeightDtype::Fp8)),
            total - embedding + 2 * embedding
        );
        let int4 = m.weight_bytes(&Precision::uniform(WeightDtype::Int4 { group: 128 }));
        let want = (total - embedding) as f64 * (0.5 + 2.0 / 128.0) + 2.0 * embedding as f64;
        assert_eq!(int4, want.ceil() as u64);
    }

    #[test]
    fn flops_per_token_grows_with_held_context() {
        let m = catalog("llama-3.1-8b");
        let matmul = 2 * (m.params_total() - 128_256 * 4096);
        assert_eq!(m.flops_per_token(0), matmul);
        assert_eq!(m.flops_per_token(1000) - matmul, 4 * 32 * 32 * 128 * 1000);

        let tied = catalog("llama-3.2-1b");
        assert_eq!(tied.matmul_params_active(), tied.params_total());

        // Gemma-2: sliding layers stop growing at 4096 tokens, full ones do not.
        let g = catalog("gemma-2-9b");
        let per_layer_token = 4 * 16 * 256;
        assert_eq!(
            g.attention_flops_per_token(10_000),
            per_layer_token * 21 * (10_000 + 4096)
        );

        let ds = catalog("deepseek-v3");
        assert_eq!(
            ds.attention_flops_per_token(100),
            61 * 2 * 128 * (192 + 128) * 100
        );
    }

    #[test]
    fn decode_and_prefill_bytes() {
        let m = catalog("llama-3.1-8b");
        let w = m.weight_bytes(&Precision::uniform(WeightDtype::Bf16)) as f64;
        // One sequence: all weights plus its KV; eight sequences share the weight read.
        assert_eq!(
            m.decode_bytes_per_token(&Precision::uniform(WeightDtype::Bf16), 1, 1000),
            w + 1000.0
        );
        assert_eq!(
            m.decode_bytes_per_token(&Precision::uniform(WeightDtype::Bf16), 8, 1000),
            w / 8.0 + 1000.0
        );
        assert_eq!(
            m.prefill_bytes_per_token(&Precision::uniform(WeightDtype::Bf16), 1000, 131_072),
            w / 1000.0 + 131_072.0
        );
        // Mixtral at batch 1 touches 2 of 8 experts per layer: far less than all weights.
        let x = catalog("mixtral-8x7b");
        let all = x.weight_bytes(&Precision::uniform(WeightDtype::Bf16)) as f64;
        let one = x.decode_bytes_per_token(&Precision::uniform(WeightDtype::Bf16), 1, 0);
        assert!(one < 0.35 * all && one > 0.25 * all, "{one} vs {all}");
        assert_eq!(
            x.decode_bytes_per_token(&Precision::uniform(WeightDtype::Bf16), 64, 0),
            all / 64.0
        );
    }
}
