//! Published `config.json` files (tests/fixtures/configs, sources in its README) load as the
//! checkpoints are published: the precision from `quantization_config` (or NVIDIA's
//! `hf_quant_config.json`), a multimodal wrapper's `text_config` with its vision tower held in
//! memory, hybrid models with KV only in their attention layers and a fixed recurrent state
//! per sequence elsewhere. Weight bytes are checked against published checkpoint sizes where
//! one is known (the source is beside each figure).

use planner::catalog::Catalog;
use planner::model::{
    ActQuant, LayerKind, Model, RawConfig, RecurrentMixer, Role, WeightDtype, load_model_file,
};
use std::path::{Path, PathBuf};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/configs")
        .join(name)
}

fn load(name: &str) -> Model {
    load_model_file(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// `got` within `tolerance` (relative) of `want`.
fn assert_near(what: &str, got: f64, want: f64, tolerance: f64) {
    let off = (got - want).abs() / want;
    assert!(
        off < tolerance,
        "{what}: {got:.4e} vs published {want:.4e} ({:.2}% off)",
        off * 100.0
    );
}

fn weight_bytes(m: &Model) -> f64 {
    m.weight_bytes(&m.default_precision()) as f64
}

fn full_layers(m: &Model) -> usize {
    m.layers.iter().filter(|l| **l == LayerKind::Full).count()
}

#[test]
fn redhat_llama_3_8b_fp8_sizes_as_its_published_checkpoint() {
    let m = load("RedHatAI--Meta-Llama-3-8B-Instruct-FP8.json");
    let p = m.default_precision();
    assert_eq!((p.format, p.activations), (WeightDtype::Fp8, ActQuant::Fp8));
    assert_eq!(p.format_of(Role::LmHead), WeightDtype::Bf16);
    assert_eq!(
        p.source,
        "RedHatAI--Meta-Llama-3-8B-Instruct-FP8.json quantization_config (fp8, W8A8 static)"
    );
    // model.safetensors.index.json metadata.total_size = 9081202432 bytes (weights, scales
    // and norms), as copied in github.com/llm-d/llm-d-kv-cache-manager @ eea3a35,
    // tests/e2e/redis_mock/testdata/local-llama3/model.safetensors.index.json.
    assert_near("weights", weight_bytes(&m), 9_081_202_432.0, 0.01);
}

#[test]
fn amd_llama_3_1_8b_fp8_keeps_its_ignored_lm_head_in_16_bits() {
    let m = load("amd--Llama-3.1-8B-Instruct-FP8-KV.json");
    let p = m.default_precision();
    assert_eq!(p.format, WeightDtype::Fp8);
    assert!(!p.scope.lm_head && p.scope.attention && p.scope.dense_mlp);
    // Same shapes as Llama-3-8B: the same bytes.
    let llama3 = load("RedHatAI--Meta-Llama-3-8B-Instruct-FP8.json");
    assert_eq!(weight_bytes(&m), weight_bytes(&llama3));
    assert_eq!(m.max_position_embeddings, 131_072);
}

#[test]
fn qwen3_32b_fp8_is_block_fp8_on_every_linear_layer() {
    let m = load("Qwen--Qwen3-32B-FP8.json");
    let p = m.default_precision();
    assert_eq!((p.format, p.activations), (WeightDtype::Fp8, ActQuant::Fp8));
    assert!(
        p.source.contains("fp8, W8A8 dynamic, block 128×128"),
        "{}",
        p.source
    );
    assert!(p.kept.is_empty());
    let (total, embedding) = (m.params_total(), m.embedding_params());
    assert_eq!(m.weight_bytes(&p), total - embedding + 2 * embedding);
    assert_eq!(m.kv_layers(), 64);
}

#[test]
fn qwen3_30b_a3b_fp8_moe_quantizes_experts_not_routers_or_norms() {
    let m = load("Qwen--Qwen3-30B-A3B-FP8.json");
    let p = m.default_precision();
    // modules_to_not_convert lists lm_head, every layer's norms and router (`mlp.gate`):
    // none of them a quantized role, so the scope stays every linear layer.
    assert_eq!(p.format, WeightDtype::Fp8);
    assert!(p.scope.experts && p.scope.attention && p.kept.is_empty());
    assert_eq!(p.format_of(Role::Router), WeightDtype::Bf16);
    assert_eq!(m.moe_layer_count(), 48);
    // 30.5 B parameters (Qwen's model card), 0.62 B of them embeddings kept at 2 bytes.
    assert_near("weights", weight_bytes(&m), 30.5e9 + 0.62e9, 0.02);
}

#[test]
fn gpt_oss_20b_mxfp4_experts_match_the_published_files() {
    let m = load("openai--gpt-oss-20b.json");
    let p = m.default_precision();
    assert_eq!(
        (p.format, p.activations),
        (WeightDtype::Mxfp4, ActQuant::None)
    );
    assert!(p.scope.experts && !p.scope.attention && !p.scope.dense_mlp);
    assert_eq!(p.format_of(Role::Attention), WeightDtype::Bf16);
    // huggingface.co/openai/gpt-oss-20b/tree (refs/pr/109): model-00000-of-00002 4.79 GB,
    // model-00001-of-00002 4.8 GB, model-00002-of-00002 4.17 GB = 13.76 GB.
    assert_near("weights", weight_bytes(&m), 13.76e9, 0.02);
    // layer_types alternates sliding (128) and full attention.
    assert_eq!(full_layers(&m), 12);
    assert_eq!(m.layers[0], LayerKind::Sliding { window: 128 });
}

#[test]
fn awq_int4_is_weight_only_with_its_group_and_fp16_base() {
    let m = load("PatronusAI--Llama-3.1-70B-Instruct-AWQ-INT4.json");
    let p = m.default_precision();
    assert_eq!(
        (p.format, p.activations, p.base),
        (
            WeightDtype::Int4 { group: 128 },
            ActQuant::None,
            WeightDtype::Fp16
        )
    );
    assert!(p.source.contains("awq, int4 weight-only"), "{}", p.source);
    // The same block on Llama-3.1-8B: hugging-quants/Meta-Llama-3.1-8B-Instruct-AWQ-INT4
    // lists model-00001-of-00002 4.68 GB + model-00002-of-00002 1.05 GB = 5.73 GB
    // (huggingface.co/hugging-quants/Meta-Llama-3.1-8B-Instruct-AWQ-INT4/tree/261cc46).
    let small = Catalog::builtin().model("llama-3.1-8b").unwrap();
    assert_near(
        "8B AWQ weights",
        small.weight_bytes(&p) as f64,
        5.73e9,
        0.02,
    );
}

#[test]
fn nvidia_modelopt_checkpoints_read_hf_quant_config_json() {
    let fp8 = load("nvidia--Llama-3.1-70B-Instruct-FP8");
    let p = fp8.default_precision();
    assert_eq!((p.format, p.activations), (WeightDtype::Fp8, ActQuant::Fp8));
    assert_eq!(p.source, "hf_quant_config.json (modelopt FP8, W8A8)");

    let fp4 = load("nvidia--Qwen3-235B-A22B-NVFP4");
    let p = fp4.default_precision();
    assert_eq!(
        (p.format, p.activations),
        (WeightDtype::Nvfp4, ActQuant::Fp4)
    );
    assert!(p.scope.experts && p.scope.attention && p.kept.is_empty());
    // NVFP4 holds 4.5 bits per weight: the experts (~96% of 235 B) take ~0.56 byte each.
    let bytes = weight_bytes(&fp4);
    assert!(bytes > 0.55 * 235e9 && bytes < 0.65 * 235e9, "{bytes:e}");
}

#[test]
fn deepseek_v3_is_block_fp8_mla_moe() {
    let m = load("deepseek-ai--DeepSeek-V3.json");
    let p = m.default_precision();
    assert_eq!((p.format, p.activations), (WeightDtype::Fp8, ActQuant::Fp8));
    assert_near("params", m.params_total() as f64, 671e9, 0.015);
    assert_eq!(m.kv_values_per_token(0), (576, 0));
    // 1 byte a weight, but embeddings, lm_head and routers at 2.
    let routers = m.moe_layer_count() * m.router_params();
    let sixteen_bit = m.embedding_params() + routers;
    assert_eq!(weight_bytes(&m) as u64, m.params_total() + sixteen_bit);
}

#[test]
fn qwen3_next_keeps_kv_in_12_of_48_layers_and_counts_its_deltanet() {
    let m = load("Qwen--Qwen3-Next-80B-A3B.json");
    assert_eq!(m.kv_layers(), 12);
    assert_eq!(m.layers[3], LayerKind::Full);
    let Some(RecurrentMixer::GatedDeltaNet(d)) = m.recurrent else {
        panic!("{:?}", m.recurrent)
    };
    assert_eq!((d.key_heads, d.value_heads, d.conv_kernel), (16, 32, 4));
    // Model card: "80B in total and 3B activated" (the active count without embeddings).
    assert_near("params", m.params_total() as f64, 80e9, 0.02);
    let active = m.params_active() - m.embedding_params();
    assert_near("active", active as f64, 3e9, 0.06);
    // Per linear-attention layer: conv (4 − 1) × (2·16·128 + 32·128) and state 32 × 128 × 128,
    // both bf16; 36 such layers.
    let per_layer = 3 * 8192 * 2 + 32 * 128 * 128 * 2;
    assert_eq!(m.recurrent_state_bytes_per_seq(), 36 * per_layer);
    assert_eq!(m.vision_params, 0);
}

#[test]
fn qwen3_5_35b_reads_text_config_counts_vision_and_fp32_state() {
    let m = load("Qwen--Qwen3.5-35B-A3B.json");
    assert_eq!(m.architectures, ["Qwen3_5MoeForConditionalGeneration"]);
    assert_eq!(m.model_type.as_deref(), Some("qwen3_5_moe_text"));
    assert_eq!(m.torch_dtype.as_deref(), Some("bfloat16"));
    assert_eq!((m.n_layers(), m.kv_layers()), (40, 10));
    assert!(m.vision_params > 400_000_000, "{}", m.vision_params);
    // Model card: 35B in total, vision encoder included.
    let total = (m.params_total() + m.vision_params) as f64;
    assert_near("params", total, 35e9, 0.02);
    // `mamba_ssm_dtype: float32`: the recurrent state at 4 bytes, the conv window at 2.
    let per_layer = 3 * 8192 * 2 + 32 * 128 * 128 * 4;
    assert_eq!(m.recurrent_state_bytes_per_seq(), 30 * per_layer);
    // The vision tower is memory, not per-token work.
    let p = m.default_precision();
    assert_eq!(
        m.weight_bytes(&p) - m.text_weight_bytes(&p),
        2 * m.vision_params
    );
}

#[test]
fn qwen3_5_122b_fp8_applies_the_top_level_block_to_its_text_model() {
    let m = load("Qwen--Qwen3.5-122B-A10B-FP8.json");
    let p = m.default_precision();
    assert_eq!((p.format, p.activations), (WeightDtype::Fp8, ActQuant::Fp8));
    // Its modules_to_not_convert lists the visual tower, routers, MTP and the small
    // linear-attention tensors (conv1d, in_proj_a/b): nothing of the counted roles.
    assert!(p.kept.is_empty() && p.scope.attention && p.scope.experts);
    assert_eq!((m.n_layers(), m.kv_layers()), (48, 12));
    assert_eq!(
        m.weight_bytes(&p) - m.text_weight_bytes(&p),
        2 * m.vision_params
    );
    assert!(m.recurrent_state_bytes_per_seq() > 0);
}

#[test]
fn gemma_3_text_config_takes_the_class_defaults() {
    let m = load("mlx-community--gemma-3-4b-it-bf16.json");
    // Gemma3TextConfig defaults the config leaves out.
    assert_eq!(
        (m.num_attention_heads, m.num_key_value_heads, m.head_dim),
        (8, 4, 256)
    );
    assert_eq!(
        (m.vocab_size, m.max_position_embeddings),
        (262_208, 131_072)
    );
    assert!(m.tie_word_embeddings);
    // Five sliding (1024) layers to one full: layers 5, 11, 17, 23, 29 are full.
    assert_eq!(full_layers(&m), 5);
    assert_eq!(m.layers[0], LayerKind::Sliding { window: 1024 });
    // SigLIP-so400m (≈0.4 B) and its projector.
    assert!(
        (400e6..440e6).contains(&(m.vision_params as f64)),
        "{}",
        m.vision_params
    );
    // google/gemma-3-4b-it: 4.3 B parameters with the vision tower (Hugging Face model size).
    assert_near(
        "params",
        (m.params_total() + m.vision_params) as f64,
        4.3e9,
        0.02,
    );
}

#[test]
fn nemotron_h_pattern_is_refused_with_the_key() {
    let err = load_model_file(&fixture(
        "nvidia--NVIDIA-Nemotron-3-Nano-30B-A3B-NVFP4.json",
    ))
    .unwrap_err()
    .to_string();
    assert!(
        err.contains(
            "NVIDIA-Nemotron-3-Nano-30B-A3B-NVFP4.json: invalid `hybrid_override_pattern`"
        ),
        "{err}"
    );
}

#[test]
fn unknown_quant_method_is_an_error_naming_file_key_and_methods() {
    let path = fixture("openai--gpt-oss-20b.json");
    let text = std::fs::read_to_string(&path).unwrap();
    let text = text.replace("\"quant_method\": \"mxfp4\"", "\"quant_method\": \"hqq\"");
    let raw = RawConfig::from_json_str(&text, &path).unwrap();
    let err = Model::from_raw("gpt-oss-20b", &raw, &path)
        .unwrap_err()
        .to_string();
    assert!(err.contains("openai--gpt-oss-20b.json: unknown"), "{err}");
    assert!(
        err.contains("`quantization_config.quant_method` = \"hqq\" (known: fp8, fbgemm_fp8"),
        "{err}"
    );
    assert!(err.contains("--weight-dtype"), "{err}");
}
