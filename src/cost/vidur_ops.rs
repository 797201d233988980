//! FLOPs and bytes of each Vidur-profiled operator (one transformer layer on one GPU of a
//! tensor-parallel group, bf16/fp16 activations and weights), so the cost model can be
//! calibrated and validated against the published measurements.
//!
//! With `T` tokens, hidden `H`, `h` query heads and `h_kv` KV heads of size `d = H/h`,
//! MLP width `I`, TP degree `p`:
//!
//! | op | shape | FLOPs | bytes (×2 per value) |
//! |---|---|---|---|
//! | attn_pre_proj | T×H · H×(h+2h_kv)d/p | 2·T·H·n | T·H + H·n + T·n |
//! | attn_post_proj | T×(h·d/p) · (h·d/p)×H | 2·T·k·H | T·k + k·H + T·H |
//! | mlp_up_proj | T×H · H×(g·I/p), g = 2 if gated | 2·T·H·n | … |
//! | mlp_down_proj | T×(I/p) · (I/p)×H | 2·T·k·H | … |
//! | input/post_attention_layernorm | read T·H, write T·H | 5·T·H | 2·T·H (+H) |
//! | attn_rope | read and write q and k: T·(h+h_kv)·d/p each | 6·T·(h+h_kv)·d/p | 2·T·(h+h_kv)·d/p |
//! | mlp_act | gated: read 2·T·I/p, write T·I/p | 4·T·I/p | 3·T·I/p |
//! | add | read 2·T·H, write T·H | T·H | 3·T·H |
//! | emb | gather T rows of H, write them | 0 | 2·T·H |

use super::roofline::gemm;
use super::vidur::{VidurOp, VidurRow};

/// Whether an op is a matrix multiply (priced on tensor-core FLOP/s).
pub fn is_gemm(op: VidurOp) -> bool {
    matches!(
        op,
        VidurOp::AttnPreProj | VidurOp::AttnPostProj | VidurOp::MlpUpProj | VidurOp::MlpDownProj
    )
}

/// (FLOPs, bytes) of `op` for a Vidur row.
pub fn op_cost(row: &VidurRow, op: VidurOp) -> (f64, f64) {
    let t = row.num_tokens as f64;
    let h = row.n_embd as f64;
    let heads = row.n_head as f64;
    let kv = row.n_kv_head as f64;
    let d = h / heads;
    let p = row.tp as f64;
    let i = row.n_expanded_embd as f64;
    let e = 2.0;
    match op {
        VidurOp::AttnPreProj => gemm(t, (heads + 2.0 * kv) * d / p, h, e),
        VidurOp::AttnPostProj => gemm(t, h, heads * d / p, e),
        VidurOp::MlpUpProj => gemm(t, if row.gated_mlp { 2.0 } else { 1.0 } * i / p, h, e),
        VidurOp::MlpDownProj => gemm(t, h, i / p, e),
        VidurOp::InputLayernorm | VidurOp::PostAttentionLayernorm => {
            (5.0 * t * h, e * (2.0 * t * h + h))
        }
        VidurOp::AttnRope => {
            let n = t * (heads + kv) * d / p;
            (6.0 * n, e * 2.0 * n)
        }
        VidurOp::MlpAct => {
            let n = t * i / p;
            if row.gated_mlp {
                (4.0 * n, e * 3.0 * n)
            } else {
                (4.0 * n, e * 2.0 * n)
            }
        }
        VidurOp::Add => (t * h, e * 3.0 * t * h),
        VidurOp::Emb => (0.0, e * 2.0 * t * h),
    }
}
