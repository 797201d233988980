//! CPU references for every benchmarked primitive: the checks the CUDA kernels must pass,
//! and the building blocks of the CPU backend.
//!
//! Formats: f16 and bf16 are carried as `u16` bit patterns; GGML q8_0 is `{f16 d; i8 q[32]}`
//! (34 bytes per 32 values), q4_0 is `{f16 d; u8 q[16]}` (18 bytes; value j < 16 in the low
//! nibble of byte j, value j ≥ 16 in the high nibble of byte j − 16; x = (q − 8)·d).
//! FP8 E4M3 is one byte `s eeee mmm` (bias 7, no infinities, `s 1111 111` is NaN, ±448 the
//! largest finite value, `e = 0` subnormal: m·2⁻⁹) as in the OCP FP8 spec and CUDA's
//! `__nv_fp8_e4m3`; int8 is two's complement.

use super::suite::{Gemm8Format, KvFormat};

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

/// f32 → bf16, round to nearest even (finite inputs; the `fill_bf16` kernel's rule).
pub fn f32_to_bf16(x: f32) -> u16 {
    let u = x.to_bits();
    ((u + 0x7fff + ((u >> 16) & 1)) >> 16) as u16
}

/// FP8 E4M3 → f32 (exact).
pub fn e4m3_to_f32(b: u8) -> f32 {
    let (e, m) = ((b >> 3) & 0xf, b & 7);
    if e == 0xf && m == 7 {
        return f32::NAN;
    }
    let magnitude = if e == 0 {
        m as f32 * 2f32.powi(-9)
    } else {
        (8 + m) as f32 * 2f32.powi(e as i32 - 10)
    };
    if b & 0x80 != 0 { -magnitude } else { magnitude }
}

/// f32 → FP8 E4M3, round to nearest even, saturating to ±448 (PTX `cvt.rn.satfinite`);
/// NaN → `0x7f`. The `fill_e4m3` kernel's `f2e4m3` is the same algorithm.
pub fn f32_to_e4m3(x: f32) -> u8 {
    if x.is_nan() {
        return 0x7f;
    }
    let bits = x.to_bits();
    let sign = ((bits >> 24) & 0x80) as u8;
    let a = x.abs();
    if a >= 448.0 {
        return sign | 0x7e;
    }
    if a < 2f32.powi(-6) {
        // Subnormal: a multiple of 2⁻⁹; 8·2⁻⁹ rounds up into the smallest normal, 0x08.
        return sign | (a * 512.0).round_ties_even() as u8;
    }
    let mut e = ((bits >> 23) & 0xff) as i32 - 127 + 7;
    let man = bits & 0x7f_ffff;
    let (mut r, rem) = (man >> 20, man & 0xf_ffff);
    if rem > 0x8_0000 || (rem == 0x8_0000 && (r & 1) == 1) {
        r += 1;
    }
    if r == 8 {
        r = 0;
        e += 1;
    }
    if e > 15 || (e == 15 && r == 7) {
        return sign | 0x7e;
    }
    sign | ((e as u8) << 3) | r as u8
}

/// One 8-bit input element as a number: E4M3 decoded, or the int8 value.
pub fn gemm8_input(format: Gemm8Format, b: u8) -> f64 {
    match format {
        Gemm8Format::Fp8E4m3 => e4m3_to_f32(b) as f64,
        Gemm8Format::Int8 => b as i8 as f64,
    }
}

/// Σ a[l]·w[l] of two rows stored in `format`, in f64: exact for int8 (|sum| < 2⁵³) and for
/// each fp8 product; the GEMM checks compare the device's output element with this.
pub fn dot8(format: Gemm8Format, a: &[u8], w: &[u8]) -> f64 {
    match format {
        Gemm8Format::Int8 => a
            .iter()
            .zip(w)
            .map(|(&x, &y)| x as i8 as i64 * y as i8 as i64)
            .sum::<i64>() as f64,
        Gemm8Format::Fp8E4m3 => a
            .iter()
            .zip(w)
            .map(|(&x, &y)| gemm8_input(format, x) * gemm8_input(format, y))
            .sum(),
    }
}

/// One output element of an 8-bit GEMM from its little-endian bytes: bf16 for fp8,
/// int32 for int8 (`format.output_bytes()` bytes).
pub fn gemm8_output(format: Gemm8Format, bytes: &[u8]) -> f64 {
    match format {
        Gemm8Format::Fp8E4m3 => bf16_to_f32(u16::from_le_bytes([bytes[0], bytes[1]])) as f64,
        Gemm8Format::Int8 => i32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as f64,
    }
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
    fn e4m3_round_trips_every_finite_code() {
        for b in 0..=255u8 {
            let x = e4m3_to_f32(b);
            if b & 0x7f == 0x7f {
                assert!(x.is_nan(), "{b:#04x}");
                continue;
            }
            assert_eq!(f32_to_e4m3(x), b, "{b:#04x} = {x}");
        }
        assert_eq!(e4m3_to_f32(0x7e), 448.0);
        assert_eq!(e4m3_to_f32(0x38), 1.0);
        assert_eq!(e4m3_to_f32(0x01), 2f32.powi(-9));
        assert_eq!(e4m3_to_f32(0x08), 2f32.powi(-6));
        assert_eq!(e4m3_to_f32(0xb8), -1.0);
    }

    #[test]
    fn e4m3_rounds_to_nearest_even_and_saturates() {
        // Halfway between 1.0 (0x38) and 1.125 (0x39): the even code; above it: up.
        assert_eq!(f32_to_e4m3(1.0625), 0x38);
        assert_eq!(f32_to_e4m3(1.0626), 0x39);
        // Halfway between 1.125 (0x39) and 1.25 (0x3a): the even code, 0x3a.
        assert_eq!(f32_to_e4m3(1.1875), 0x3a);
        // 1.9375 is halfway between 1.875 (odd code 0x3f) and 2.0: up across the exponent.
        assert_eq!(f32_to_e4m3(1.9375), 0x40);
        assert_eq!(f32_to_e4m3(1.9374), 0x3f);
        assert_eq!(f32_to_e4m3(1e6), 0x7e);
        assert_eq!(f32_to_e4m3(-460.0), 0xfe);
        assert_eq!(f32_to_e4m3(f32::NAN), 0x7f);
        // Subnormals: 2⁻¹⁰ is halfway between 0 and 2⁻⁹ → 0; 7.5·2⁻⁹ → 8·2⁻⁹ = 0x08.
        assert_eq!(f32_to_e4m3(2f32.powi(-10)), 0x00);
        assert_eq!(f32_to_e4m3(7.5 * 2f32.powi(-9)), 0x08);
        assert_eq!(f32_to_e4m3(-3.0 * 2f32.powi(-9)), 0x83);
        // Within half a step (2⁻⁴ relative) of the input across [-1, 1).
        for i in -1000..1000 {
            let x = i as f32 / 1000.0;
            let y = e4m3_to_f32(f32_to_e4m3(x));
            assert!(
                (x - y).abs() <= x.abs() / 16.0 + 2f32.powi(-10),
                "{x} -> {y}"
            );
        }
    }

    #[test]
    fn bf16_encoder_rounds_to_nearest_even() {
        assert_eq!(f32_to_bf16(1.0), 0x3f80);
        assert_eq!(bf16_to_f32(f32_to_bf16(-2.5)), -2.5);
        // 1 + 2⁻⁸ is halfway between 1 and 1 + 2⁻⁷: ties to even (1.0).
        assert_eq!(f32_to_bf16(1.0 + 2f32.powi(-8)), 0x3f80);
        assert_eq!(f32_to_bf16(1.0 + 3.0 * 2f32.powi(-8)), 0x3f82);
    }

    #[test]
    fn eight_bit_dots_and_outputs() {
        let int8 = Gemm8Format::Int8;
        let a = [127u8, 0x80, 0xff, 3]; // 127, -128, -1, 3
        let w = [0x80u8, 0x80, 2, 0xfd]; // -128, -128, 2, -3
        assert_eq!(dot8(int8, &a, &w), (-16256 + 16384 - 2 - 9) as f64);
        assert_eq!(gemm8_output(int8, &(-123_456i32).to_le_bytes()), -123_456.0);
        let fp8 = Gemm8Format::Fp8E4m3;
        let (one, half, neg2) = (0x38u8, 0x30u8, 0xc0u8);
        assert_eq!(
            dot8(fp8, &[one, half, neg2], &[half, neg2, neg2]),
            0.5 - 1.0 + 4.0
        );
        assert_eq!(gemm8_output(fp8, &f32_to_bf16(3.5).to_le_bytes()), 3.5);
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
