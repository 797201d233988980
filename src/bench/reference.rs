//! CPU references for every benchmarked primitive: the checks the CUDA kernels must pass,
//! and the building blocks of the CPU backend.
//!
//! Formats: f16 and bf16 are carried as `u16` bit patterns; GGML q8_0 is `{f16 d; i8 q[32]}`
//! (34 bytes per 32 values), q4_0 is `{f16 d; u8 q[16]}` (18 bytes; value j < 16 in the low
//! nibble of byte j, value j ≥ 16 in the high nibble of byte j − 16; x = (q − 8)·d).

use super::suite::KvFormat;

/// IEEE half → f32.
pub fn f16_to_f32(h: u16) -> f32 {
    let sign = ((h >> 15) as u32) << 31;
    let exp = ((h >> 10) & 0x1f) as u32;
    let man = (h & 0x3ff) as u32;
    let bits = match (exp, man) {
        (0, 0) => sign,
        (0, _) => {
            // Subnormal: normalize.
            let shift = man.leading_zeros() - 21;
            let man = (man << shift) & 0x3ff;
            sign | ((127 - 15 + 1 - shift) << 23) | (man << 13)
        }
        (0x1f, 0) => sign | 0x7f80_0000,
        (0x1f, _) => sign | 0x7fc0_0000,
        _ => sign | ((exp + 127 - 15) << 23) | (man << 13),
    };
    f32::from_bits(bits)
}

/// f32 → IEEE half, round to nearest even.
pub fn f32_to_f16(x: f32) -> u16 {
    let bits = x.to_bits();
    let sign = ((bits >> 16) & 0x8000) as u16;
    let exp = ((bits >> 23) & 0xff) as i32;
    let man = bits & 0x7f_ffff;
    if exp == 0xff {
        return sign | 0x7c00 | if man != 0 { 0x200 } else { 0 };
    }
    let e = exp - 127 + 15;
    if e >= 0x1f {
        return sign | 0x7c00;
    }
    if e <= 0 {
        if e < -10 {
            return sign;
        }
        let m = man | 0x80_0000;
        let shift = (14 - e) as u32;
        let half = 1u32 << (shift - 1);
        let rem = m & ((1 << shift) - 1);
        let mut r = m >> shift;
        if rem > half || (rem == half && (r & 1) == 1) {
            r += 1;
        }
        return sign | r as u16;
    }
    let rem = man & 0x1fff;
    let mut r = ((e as u32) << 10) | (man >> 13);
    if rem > 0x1000 || (rem == 0x1000 && (r & 1) == 1) {
        r += 1;
    }
    sign | r as u16
}

/// bf16 → f32.
pub fn bf16_to_f32(h: u16) -> f32 {
    f32::from_bits((h as u32) << 16)
}

/// Relative L2 error ‖out − ref‖ / ‖ref‖ (NaN anywhere gives infinity).
pub fn rel_error(out: &[f64], reference: &[f64]) -> f64 {
    let mut num = 0.0;
    let mut den = 0.0;
    for (o, r) in out.iter().zip(reference) {
        if !o.is_finite() {
            return f64::INFINITY;
        }
        num += (o - r) * (o - r);
        den += r * r;
    }
    if den == 0.0 {
        num.sqrt()
    } else {
        (num / den).sqrt()
    }
}

/// ggml's reference q8_0 quantizer for one 32-value block.
pub fn quantize_block_q8_0(x: &[f32; 32], out: &mut [u8]) {
    let amax = x.iter().fold(0f32, |a, v| a.max(v.abs()));
    let d = amax / 127.0;
    let id = if d != 0.0 { 1.0 / d } else { 0.0 };
    out[..2].copy_from_slice(&f32_to_f16(d).to_le_bytes());
    for j in 0..32 {
        out[2 + j] = ((x[j] * id).round() as i8) as u8;
    }
}

/// ggml's reference q4_0 quantizer for one 32-value block.
pub fn quantize_block_q4_0(x: &[f32; 32], out: &mut [u8]) {
    let mut amax = 0f32;
    let mut max = 0f32;
    for &v in x {
        if v.abs() > amax {
            amax = v.abs();
            max = v;
        }
    }
    let d = max / -8.0;
    let id = if d != 0.0 { 1.0 / d } else { 0.0 };
    out[..2].copy_from_slice(&f32_to_f16(d).to_le_bytes());
    for j in 0..16 {
        let q0 = ((x[j] * id + 8.5) as i32).min(15) as u8;
        let q1 = ((x[j + 16] * id + 8.5) as i32).min(15) as u8;
        out[2 + j] = q0 | (q1 << 4);
    }
}

/// Quantize f16 values (a multiple of 32) to `format`.
pub fn quantize(format: KvFormat, x: &[u16]) -> Vec<u8> {
    let rb = format.row_bytes(32) as usize;
    let mut out = vec![0u8; x.len() / 32 * rb];
    for (b, chunk) in x.chunks_exact(32).enumerate() {
        let mut v = [0f32; 32];
        for (dst, &h) in v.iter_mut().zip(chunk) {
            *dst = f16_to_f32(h);
        }
        let dst = &mut out[b * rb..(b + 1) * rb];
        match format {
            KvFormat::F16 => {
                for (j, &h) in chunk.iter().enumerate() {
                    dst[2 * j..2 * j + 2].copy_from_slice(&h.to_le_bytes());
                }
            }
            KvFormat::Q8_0 => quantize_block_q8_0(&v, dst),
            KvFormat::Q4_0 => quantize_block_q4_0(&v, dst),
        }
    }
    out
}

/// Dequantize one row of `d` values stored in `format`.
pub fn dequantize_row(format: KvFormat, row: &[u8], d: usize, out: &mut [f32]) {
    match format {
        KvFormat::F16 => {
            for j in 0..d {
                out[j] = f16_to_f32(u16::from_le_bytes([row[2 * j], row[2 * j + 1]]));
            }
        }
        KvFormat::Q8_0 => {
            for b in 0..d / 32 {
                let blk = &row[b * 34..(b + 1) * 34];
                let s = f16_to_f32(u16::from_le_bytes([blk[0], blk[1]]));
                for j in 0..32 {
                    out[b * 32 + j] = s * (blk[2 + j] as i8) as f32;
                }
            }
        }
        KvFormat::Q4_0 => {
            for b in 0..d / 32 {
                let blk = &row[b * 18..(b + 1) * 18];
                let s = f16_to_f32(u16::from_le_bytes([blk[0], blk[1]]));
                for j in 0..16 {
                    out[b * 32 + j] = s * ((blk[2 + j] & 0xf) as i32 - 8) as f32;
                    out[b * 32 + j + 16] = s * ((blk[2 + j] >> 4) as i32 - 8) as f32;
                }
            }
        }
    }
}

/// One output row of softmax(q·Kᵀ·scale)·V in f64: `k` and `v` are N×d row-major f32.
pub fn attention_row(q: &[f32], k: &[f32], v: &[f32], d: usize, scale: f64) -> Vec<f64> {
    let n = k.len() / d;
    let mut s: Vec<f64> = (0..n)
        .map(|j| {
            (0..d)
                .map(|c| q[c] as f64 * k[j * d + c] as f64)
                .sum::<f64>()
                * scale
        })
        .collect();
    let m = s.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let mut sum = 0.0;
    for x in s.iter_mut() {
        *x = (*x - m).exp();
        sum += *x;
    }
    let mut o = vec![0.0; d];
    for j in 0..n {
        let p = s[j] / sum;
        for c in 0..d {
            o[c] += p * v[j * d + c] as f64;
        }
    }
    o
}

/// Standard (unfused) attention for one head, f32: materializes the N×N score matrix.
pub fn attention_standard(q: &[f32], k: &[f32], v: &[f32], d: usize, out: &mut [f32]) {
    let n = q.len() / d;
    let scale = 1.0 / (d as f32).sqrt();
    let mut s = vec![0f32; n * n];
    for i in 0..n {
        let qi = &q[i * d..(i + 1) * d];
        for j in 0..n {
            let kj = &k[j * d..(j + 1) * d];
            s[i * n + j] = qi.iter().zip(kj).map(|(a, b)| a * b).sum::<f32>() * scale;
        }
    }
    for row in s.chunks_exact_mut(n) {
        let m = row.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
        let mut sum = 0.0;
        for x in row.iter_mut() {
            *x = (*x - m).exp();
            sum += *x;
        }
        for x in row.iter_mut() {
            *x /= sum;
        }
    }
    out.fill(0.0);
    for i in 0..n {
        let oi = &mut out[i * d..(i + 1) * d];
        for j in 0..n {
            let p = s[i * n + j];
            for (o, &vv) in oi.iter_mut().zip(&v[j * d..(j + 1) * d]) {
                *o += p * vv;
            }
        }
    }
}

/// Tiled attention (FlashAttention's loop order) for one head, f32: blocks of `br` query
/// rows, K/V tiles of `bc` keys, online softmax; never holds more than br×bc scores.
pub fn attention_tiled(
    q: &[f32],
    k: &[f32],
    v: &[f32],
    d: usize,
    br: usize,
    bc: usize,
    out: &mut [f32],
) {
    let n = q.len() / d;
    let scale = 1.0 / (d as f32).sqrt();
    let mut s = vec![0f32; br * bc];
    let mut m = vec![0f32; br];
    let mut l = vec![0f32; br];
    for i0 in (0..n).step_by(br) {
        let rows = br.min(n - i0);
        m[..rows].fill(f32::NEG_INFINITY);
        l[..rows].fill(0.0);
        out[i0 * d..(i0 + rows) * d].fill(0.0);
        for j0 in (0..n).step_by(bc) {
            let cols = bc.min(n - j0);
            for r in 0..rows {
                let qi = &q[(i0 + r) * d..(i0 + r + 1) * d];
                let mut tmax = f32::NEG_INFINITY;
                for c in 0..cols {
                    let kj = &k[(j0 + c) * d..(j0 + c + 1) * d];
                    let x = qi.iter().zip(kj).map(|(a, b)| a * b).sum::<f32>() * scale;
                    s[r * bc + c] = x;
                    tmax = tmax.max(x);
                }
                let mn = m[r].max(tmax);
                let corr = (m[r] - mn).exp();
                let oi = &mut out[(i0 + r) * d..(i0 + r + 1) * d];
                for o in oi.iter_mut() {
                    *o *= corr;
                }
                l[r] *= corr;
                for c in 0..cols {
                    let p = (s[r * bc + c] - mn).exp();
                    l[r] += p;
                    for (o, &vv) in oi.iter_mut().zip(&v[(j0 + c) * d..(j0 + c + 1) * d]) {
                        *o += p * vv;
                    }
                }
                m[r] = mn;
            }
        }
        for r in 0..rows {
            let inv = 1.0 / l[r];
            for o in &mut out[(i0 + r) * d..(i0 + r + 1) * d] {
                *o *= inv;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f16_round_trips_and_rounds() {
        for &x in &[0.0f32, 1.0, -2.5, 65504.0, 6.1035156e-5, 5.9604645e-8, 0.1] {
            let h = f32_to_f16(x);
            let back = f16_to_f32(h);
            assert!(
                (back - x).abs() <= x.abs() * 1e-3 + 6e-8,
                "{x} -> {h:#x} -> {back}"
            );
        }
        assert_eq!(f32_to_f16(1.0), 0x3c00);
        assert_eq!(f32_to_f16(-2.0), 0xc000);
        assert_eq!(f16_to_f32(0x7bff), 65504.0);
        assert_eq!(f32_to_f16(1e6), 0x7c00);
    }

    #[test]
    fn q8_0_and_q4_0_round_trip_within_one_step() {
        let x: Vec<u16> = (0..64)
            .map(|i| f32_to_f16(((i * 37 % 64) as f32 - 31.5) / 16.0))
            .collect();
        for fmt in [KvFormat::Q8_0, KvFormat::Q4_0] {
            let q = quantize(fmt, &x);
            assert_eq!(q.len() as u64, 2 * fmt.row_bytes(32));
            let mut back = vec![0f32; 64];
            dequantize_row(fmt, &q, 64, &mut back);
            // Largest magnitude 31.5/16: q8_0 rounds to half a step of amax/127; q4_0's
            // range is [-8d, 7d] with d = amax/8, so the far end may clip by a whole step.
            let amax = 31.5f32 / 16.0;
            let tol = match fmt {
                KvFormat::Q8_0 => amax / 127.0 * 0.51,
                _ => amax / 8.0 * 1.01,
            };
            for (h, b) in x.iter().zip(&back) {
                assert!(
                    (f16_to_f32(*h) - b).abs() <= tol + 1e-3,
                    "{fmt:?}: {} vs {b}",
                    f16_to_f32(*h)
                );
            }
        }
    }

    #[test]
    fn tiled_equals_standard() {
        let d = 16;
        let n = 70;
        let make = |s: u32| -> Vec<f32> {
            (0..n * d)
                .map(|i| (((i as u32).wrapping_mul(2654435761u32) ^ s) % 1000) as f32 / 500.0 - 1.0)
                .collect()
        };
        let (q, k, v) = (make(1), make(2), make(3));
        let mut a = vec![0f32; n * d];
        let mut b = vec![0f32; n * d];
        attention_standard(&q, &k, &v, d, &mut a);
        attention_tiled(&q, &k, &v, d, 16, 8, &mut b);
        let a64: Vec<f64> = a.iter().map(|&x| x as f64).collect();
        let b64: Vec<f64> = b.iter().map(|&x| x as f64).collect();
        assert!(rel_error(&b64, &a64) < 1e-5);
        let row = attention_row(&q[5 * d..6 * d], &k, &v, d, 1.0 / (d as f64).sqrt());
        assert!(rel_error(&a64[5 * d..6 * d], &row) < 1e-5);
    }
}
