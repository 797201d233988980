//! The CPU backend: the suite's primitives in plain Rust on the host, single-threaded, so
//! CI exercises the whole bench → measured file → validate pipeline without a GPU, and the
//! standard-vs-tiled attention claim is tested on a real memory hierarchy (the host's caches
//! play the role of SRAM, its DRAM the role of HBM).

use super::reference::{self, rel_error};
use super::suite::{AttnKind, Case, Gemm8Format, KvFormat, StreamOp};
use super::{BenchError, DeviceInfo, Measurement};
use std::hint::black_box;
use std::time::Instant;

/// Host backend.
pub struct CpuBackend {
    info: DeviceInfo,
}

/// Query rows per tile of the host's tiled attention.
pub const CPU_TILED_BR: usize = 64;
/// Keys per tile of the host's tiled attention (K and V tiles of 64 × d f32 fit in L2).
pub const CPU_TILED_BC: usize = 64;

impl CpuBackend {
    /// Describe the host.
    pub fn new() -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let name = cpuinfo
            .lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split(':').nth(1))
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|| std::env::consts::ARCH.to_string());
        let mem_kib: u64 = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|s| {
                s.lines()
                    .next()
                    .and_then(|l| l.split_whitespace().nth(1))
                    .and_then(|v| v.parse().ok())
            })
            .unwrap_or(0);
        CpuBackend {
            info: DeviceInfo {
                name,
                backend: "cpu".into(),
                driver: "n/a".into(),
                cuda: "n/a".into(),
                arch: std::env::consts::ARCH.into(),
                units: std::thread::available_parallelism()
                    .map(|n| n.get() as u32)
                    .unwrap_or(1),
                l2_bytes: 0,
                memory_bytes: mem_kib * 1024,
                date: super::utc_date(),
            },
        }
    }
}

impl Default for CpuBackend {
    fn default() -> Self {
        Self::new()
    }
}

/// Deterministic values in [-1, 1).
fn values(n: usize, seed: u64) -> Vec<f32> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        })
        .collect()
}

/// Time `f`: one warm-up, then repetitions until ~100 ms (3 to 50); median and min in µs.
fn time(mut f: impl FnMut()) -> (f64, f64, u32) {
    f();
    let mut t = Vec::new();
    let start = Instant::now();
    while t.len() < 3 || (t.len() < 50 && start.elapsed().as_secs_f64() < 0.1) {
        let s = Instant::now();
        f();
        t.push(s.elapsed().as_secs_f64() * 1e6);
    }
    let min = t.iter().cloned().fold(f64::INFINITY, f64::min);
    let n = t.len() as u32;
    (super::median(&mut t), min, n)
}

impl super::Backend for CpuBackend {
    fn device(&self) -> &DeviceInfo {
        &self.info
    }

    fn run(&mut self, case: &Case) -> Result<Measurement, BenchError> {
        let mut m = case.describe();
        let timing = match case {
            Case::Stream { .. } => stream(&mut m, case)?,
            Case::Gemm { .. } => gemm(&mut m, case)?,
            Case::Gemm8 { .. } => gemm8(&mut m, case)?,
            Case::Attention { .. } => attention(&mut m, case)?,
            Case::PagedDecode { .. } => paged_decode(&mut m, case)?,
            Case::Quantize { .. } => quantize(&mut m, case)?,
        };
        (m.time_us, m.min_us, m.reps) = timing;
        m.gb_per_s = m.bytes / (m.time_us * 1e3);
        m.tflop_per_s = m.flops / (m.time_us * 1e6);
        m.status = super::Status::Ok;
        Ok(m)
    }
}

/// Measure a `stream` case.
fn stream(m: &mut Measurement, case: &Case) -> Result<(f64, f64, u32), BenchError> {
    let Case::Stream { op, bytes } = case else {
        unreachable!("dispatched by kind")
    };
    Ok({
        let n = (*bytes / 4) as usize;
        let a = values(n, 1);
        let mut b = vec![0f32; n];
        match op {
            StreamOp::Read => {
                let sum = |a: &[f32]| {
                    let mut acc = [0f32; 8];
                    for c in a.chunks_exact(8) {
                        for i in 0..8 {
                            acc[i] += c[i];
                        }
                    }
                    acc.iter().map(|&x| x as f64).sum::<f64>()
                };
                let want: f64 = a.iter().map(|&x| x as f64).sum();
                let l1: f64 = a.iter().map(|&x| (x as f64).abs()).sum();
                m.check_error = (sum(&a) - want).abs() / l1;
                m.check(1e-5)?;
                time(|| {
                    black_box(sum(black_box(&a)));
                })
            }
            StreamOp::Write => {
                b.fill(0.5);
                m.check_error = b
                    .iter()
                    .map(|&x| (x - 0.5).abs() as f64)
                    .fold(0.0, f64::max);
                m.check(0.0)?;
                time(|| black_box(&mut b).fill(0.5))
            }
            StreamOp::Copy | StreamOp::Memcpy => {
                let kernel = *op == StreamOp::Copy;
                let run = |b: &mut [f32]| {
                    if kernel {
                        for (d, s) in b.iter_mut().zip(black_box(&a)) {
                            *d = *s;
                        }
                    } else {
                        b.copy_from_slice(black_box(&a));
                    }
                };
                run(&mut b);
                m.check_error = a
                    .iter()
                    .zip(&b)
                    .map(|(x, y)| (x - y).abs() as f64)
                    .fold(0.0, f64::max);
                m.check(0.0)?;
                time(|| run(black_box(&mut b)))
            }
        }
    })
}

/// Measure a `gemm` case.
fn gemm(m: &mut Measurement, case: &Case) -> Result<(f64, f64, u32), BenchError> {
    let Case::Gemm { m: mm, n, k, .. } = case else {
        unreachable!("dispatched by kind")
    };
    Ok({
        let (mu, nu, ku) = (*mm as usize, *n as usize, *k as usize);
        let a = values(mu * ku, 2);
        let w = values(nu * ku, 3);
        let mut c = vec![0f32; mu * nu];
        let gemm = |c: &mut [f32]| {
            for i in 0..mu {
                let ar = &a[i * ku..(i + 1) * ku];
                for j in 0..nu {
                    let wr = &w[j * ku..(j + 1) * ku];
                    let mut acc = [0f32; 8];
                    for (x, y) in ar.chunks_exact(8).zip(wr.chunks_exact(8)) {
                        for l in 0..8 {
                            acc[l] += x[l] * y[l];
                        }
                    }
                    c[i * nu + j] = acc.iter().sum();
                }
            }
        };
        gemm(&mut c);
        let mut got = Vec::new();
        let mut want = Vec::new();
        for s in 0..32usize {
            let (i, j) = (s * 7919 % mu, s * 104_729 % nu);
            want.push(
                (0..ku)
                    .map(|l| a[i * ku + l] as f64 * w[j * ku + l] as f64)
                    .sum::<f64>(),
            );
            got.push(c[i * nu + j] as f64);
        }
        m.check_error = rel_error(&got, &want);
        m.check(1e-4)?;
        time(|| gemm(black_box(&mut c)))
    })
}

/// Measure an 8-bit `gemm` case: the GPU's formats emulated on the host — fp8 inputs
/// decoded through a 256-entry table, f32 accumulate, bf16 out; int8 inputs, i32
/// accumulate, i32 out — and checked against [`reference::dot8`] like the CUDA case.
fn gemm8(m: &mut Measurement, case: &Case) -> Result<(f64, f64, u32), BenchError> {
    let Case::Gemm8 {
        format,
        m: mm,
        n,
        k,
        ..
    } = case
    else {
        unreachable!("dispatched by kind")
    };
    let (mu, nu, ku) = (*mm as usize, *n as usize, *k as usize);
    let encode = |x: f32| match format {
        Gemm8Format::Fp8E4m3 => reference::f32_to_e4m3(x),
        Gemm8Format::Int8 => (x * 128.0).floor().clamp(-128.0, 127.0) as i8 as u8,
    };
    let a: Vec<u8> = values(mu * ku, 11).into_iter().map(encode).collect();
    let w: Vec<u8> = values(nu * ku, 12).into_iter().map(encode).collect();
    let ob = format.output_bytes() as usize;
    let mut c = vec![0u8; mu * nu * ob];
    let table: Vec<f32> = (0..=255u8).map(reference::e4m3_to_f32).collect();
    let gemm = |c: &mut [u8]| {
        for i in 0..mu {
            let ar = &a[i * ku..(i + 1) * ku];
            for j in 0..nu {
                let wr = &w[j * ku..(j + 1) * ku];
                let out = &mut c[(i * nu + j) * ob..(i * nu + j + 1) * ob];
                match format {
                    Gemm8Format::Fp8E4m3 => {
                        let mut acc = [0f32; 8];
                        for (x, y) in ar.chunks_exact(8).zip(wr.chunks_exact(8)) {
                            for l in 0..8 {
                                acc[l] += table[x[l] as usize] * table[y[l] as usize];
                            }
                        }
                        let sum: f32 = acc.iter().sum();
                        out.copy_from_slice(&reference::f32_to_bf16(sum).to_le_bytes());
                    }
                    Gemm8Format::Int8 => {
                        let mut acc = [0i32; 8];
                        for (x, y) in ar.chunks_exact(8).zip(wr.chunks_exact(8)) {
                            for l in 0..8 {
                                acc[l] += x[l] as i8 as i32 * y[l] as i8 as i32;
                            }
                        }
                        let sum: i32 = acc.iter().sum();
                        out.copy_from_slice(&sum.to_le_bytes());
                    }
                }
            }
        }
    };
    gemm(&mut c);
    let mut got = Vec::new();
    let mut want = Vec::new();
    for s in 0..32usize {
        let (i, j) = (s * 7919 % mu, s * 104_729 % nu);
        want.push(reference::dot8(
            *format,
            &a[i * ku..(i + 1) * ku],
            &w[j * ku..(j + 1) * ku],
        ));
        got.push(reference::gemm8_output(
            *format,
            &c[(i * nu + j) * ob..(i * nu + j + 1) * ob],
        ));
    }
    m.check_error = rel_error(&got, &want);
    m.check(match format {
        Gemm8Format::Fp8E4m3 => 1e-2,
        Gemm8Format::Int8 => 0.0,
    })?;
    Ok(time(|| gemm(black_box(&mut c))))
}

/// Measure a `attention` case.
fn attention(m: &mut Measurement, case: &Case) -> Result<(f64, f64, u32), BenchError> {
    let Case::Attention {
        kind,
        seq_len,
        head_dim,
        heads,
    } = case
    else {
        unreachable!("dispatched by kind")
    };
    Ok({
        let (n, d) = (*seq_len as usize, *head_dim as usize);
        let per = n * d;
        let (q, k, v) = (
            values(per * *heads as usize, 4),
            values(per * *heads as usize, 5),
            values(per * *heads as usize, 6),
        );
        let mut o = vec![f32::NAN; per * *heads as usize];
        let run = |o: &mut [f32]| {
            for h in 0..*heads as usize {
                let s = h * per..(h + 1) * per;
                match kind {
                    AttnKind::Standard => reference::attention_standard(
                        &q[s.clone()],
                        &k[s.clone()],
                        &v[s.clone()],
                        d,
                        &mut o[s],
                    ),
                    AttnKind::Tiled => reference::attention_tiled(
                        &q[s.clone()],
                        &k[s.clone()],
                        &v[s.clone()],
                        d,
                        CPU_TILED_BR,
                        CPU_TILED_BC,
                        &mut o[s],
                    ),
                }
            }
        };
        run(&mut o);
        let mut got = Vec::new();
        let mut want = Vec::new();
        for r in [0, n / 3, n - 1] {
            want.extend(reference::attention_row(
                &q[r * d..(r + 1) * d],
                &k[..per],
                &v[..per],
                d,
                1.0 / (d as f64).sqrt(),
            ));
            got.extend(o[r * d..(r + 1) * d].iter().map(|&x| x as f64));
        }
        m.check_error = rel_error(&got, &want);
        m.check(1e-4)?;
        if *kind == AttnKind::Tiled {
            m.bytes = *heads as f64
                * super::suite::tiled_attention_bytes(n as f64, d as f64, 4.0, CPU_TILED_BR as f64);
        } else {
            m.bytes =
                *heads as f64 * super::suite::standard_attention_bytes(n as f64, d as f64, 4.0);
        }
        time(|| run(black_box(&mut o)))
    })
}

/// Measure a `paged_decode` case.
fn paged_decode(m: &mut Measurement, case: &Case) -> Result<(f64, f64, u32), BenchError> {
    let Case::PagedDecode {
        format,
        batch,
        context,
        heads,
        head_dim,
        block_size,
    } = case
    else {
        unreachable!("dispatched by kind")
    };
    Ok({
        let (b, ctx, h, d, bs) = (
            *batch as usize,
            *context as usize,
            *heads as usize,
            *head_dim as usize,
            *block_size as usize,
        );
        let rb = format.row_bytes(*head_dim) as usize;
        let bps = ctx.div_ceil(bs);
        let rows = b * bps * bs * h;
        let to_pool = |seed| {
            let f: Vec<u16> = values(rows * d, seed)
                .into_iter()
                .map(reference::f32_to_f16)
                .collect();
            reference::quantize(*format, &f)
        };
        let (kp, vp) = (to_pool(7), to_pool(8));
        // Interleave sequences' blocks, as a shared allocator would.
        let table: Vec<usize> = (0..b * bps).map(|i| (i % bps) * b + i / bps).collect();
        let q = values(b * h * d, 9);
        let mut out = vec![f32::NAN; b * h * d];
        let scale = 1.0 / (d as f32).sqrt();
        let run = |out: &mut [f32]| {
            let mut kr = vec![0f32; d];
            let mut vr = vec![0f32; d];
            for s in 0..b {
                for hh in 0..h {
                    let qv = &q[(s * h + hh) * d..(s * h + hh + 1) * d];
                    let (mut mx, mut l) = (f32::NEG_INFINITY, 0f32);
                    let o = &mut out[(s * h + hh) * d..(s * h + hh + 1) * d];
                    o.fill(0.0);
                    for t in 0..ctx {
                        let blk = table[s * bps + t / bs];
                        let off = ((blk * bs + t % bs) * h + hh) * rb;
                        reference::dequantize_row(*format, &kp[off..off + rb], d, &mut kr);
                        reference::dequantize_row(*format, &vp[off..off + rb], d, &mut vr);
                        let x = qv.iter().zip(&kr).map(|(a, b)| a * b).sum::<f32>() * scale;
                        let mn = mx.max(x);
                        let (corr, p) = ((mx - mn).exp(), (x - mn).exp());
                        l = l * corr + p;
                        for (oo, vv) in o.iter_mut().zip(&vr) {
                            *oo = *oo * corr + p * vv;
                        }
                        mx = mn;
                    }
                    for oo in o.iter_mut() {
                        *oo /= l;
                    }
                }
            }
        };
        run(&mut out);
        // Reference for sequence 0, head 0 from the dequantized cache.
        let mut kf = vec![0f32; ctx * d];
        let mut vf = vec![0f32; ctx * d];
        for t in 0..ctx {
            let off = ((table[t / bs] * bs + t % bs) * h) * rb;
            reference::dequantize_row(*format, &kp[off..off + rb], d, &mut kf[t * d..(t + 1) * d]);
            reference::dequantize_row(*format, &vp[off..off + rb], d, &mut vf[t * d..(t + 1) * d]);
        }
        let want = reference::attention_row(&q[..d], &kf, &vf, d, scale as f64);
        let got: Vec<f64> = out[..d].iter().map(|&x| x as f64).collect();
        m.check_error = rel_error(&got, &want);
        m.check(1e-4)?;
        time(|| run(black_box(&mut out)))
    })
}

/// Measure a `quantize` case.
fn quantize(m: &mut Measurement, case: &Case) -> Result<(f64, f64, u32), BenchError> {
    let Case::Quantize { format, values: nv } = case else {
        unreachable!("dispatched by kind")
    };
    Ok({
        if *format == KvFormat::F16 {
            return Err(BenchError::Device {
                primitive: m.primitive.clone(),
                shape: m.shape.clone(),
                message: "f16 is not a quantized format".into(),
            });
        }
        let x: Vec<u16> = values(*nv as usize, 10)
            .into_iter()
            .map(reference::f32_to_f16)
            .collect();
        let y = reference::quantize(*format, &x);
        let mut back = vec![0f32; x.len()];
        reference::dequantize_row(*format, &y, x.len(), &mut back);
        let got: Vec<f64> = back.iter().map(|&v| v as f64).collect();
        let want: Vec<f64> = x.iter().map(|&h| reference::f16_to_f32(h) as f64).collect();
        // Quantization error itself: q8_0 ~0.5%, q4_0 ~10% of the signal.
        m.check_error = rel_error(&got, &want);
        m.check(if *format == KvFormat::Q8_0 { 0.02 } else { 0.2 })?;
        time(|| {
            black_box(reference::quantize(*format, black_box(&x)));
        })
    })
}

#[cfg(test)]
mod tests {
    use super::super::Backend;
    use super::*;

    #[test]
    fn eight_bit_gemms_run_and_check_on_the_host() {
        let mut backend = CpuBackend::new();
        for format in [Gemm8Format::Fp8E4m3, Gemm8Format::Int8] {
            let case = Case::Gemm8 {
                format,
                m: 3,
                n: 48,
                k: 64,
                label: "tiny".into(),
            };
            let m = backend.run(&case).unwrap();
            assert_eq!(
                (m.primitive.as_str(), m.variant.as_str()),
                ("gemm", format.name())
            );
            assert!(
                m.status.is_ok() && m.time_us > 0.0 && m.tflop_per_s > 0.0,
                "{m:?}"
            );
            match format {
                // bf16 output: rounded, so off the f64 reference, by at most ~2⁻⁹.
                Gemm8Format::Fp8E4m3 => {
                    assert!(m.check_error > 0.0 && m.check_error < 4e-3, "{m:?}")
                }
                Gemm8Format::Int8 => assert_eq!(m.check_error, 0.0),
            }
        }
    }
}
