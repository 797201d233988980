//! The CUDA backend: cudarc with libraries loaded at run time, kernels from `kernels.cu`
//! compiled by NVRTC for the device's architecture, bf16 GEMM through cuBLAS
//! (`cublasGemmEx`), fp8 and int8 GEMM through cuBLASLt ([`super::lt`]), every launch timed
//! with CUDA events.
//!
//! Method (see `BENCHMARKS.md`): random inputs generated on the device; each kernel's output
//! poisoned, then checked against [`super::reference`] before timing; warm-up launches for
//! about 100 ms;
//! repetitions chosen to fill about 200 ms (5 to 200), each timed with its own event pair;
//! median and minimum reported; inputs rotated over enough copies to exceed 4 × L2.

use super::lt::Lt;
use super::reference::{self, rel_error};
use super::suite::{AttnKind, Case, Gemm8Format, KvFormat, StreamOp};
use super::{BenchError, DeviceInfo, Measurement};
use cudarc::cublas::{CudaBlas, result as blas, sys as blas_sys};
use cudarc::driver::{
    CudaContext, CudaFunction, CudaSlice, CudaStream, DevicePtr, DevicePtrMut, LaunchConfig,
    PushKernelArg, sys,
};
use cudarc::nvrtc::{CompileOptions, compile_ptx_with_opts};
use std::collections::HashMap;
use std::sync::Arc;

/// The CUDA C source of every kernel.
pub const KERNELS: &str = include_str!("kernels.cu");

/// Kernel entry points in `kernels.cu`.
pub const KERNEL_NAMES: [&str; 19] = [
    "fill_f32",
    "fill_f16",
    "fill_bf16",
    "fill_e4m3",
    "fill_i8",
    "stream_read",
    "stream_write",
    "stream_copy",
    "attn_std_scores",
    "attn_std_softmax",
    "attn_std_pv",
    "attn_flash_d64",
    "attn_flash_d128",
    "paged_decode_f16",
    "paged_decode_q8_0",
    "paged_decode_q4_0",
    "paged_decode_reduce",
    "quantize_q8_0",
    "quantize_q4_0",
];

/// Whether NVRTC can be loaded on this machine.
pub fn nvrtc_available() -> bool {
    // SAFETY: only tries to dlopen the library.
    unsafe { cudarc::nvrtc::sys::is_culib_present() }
}

/// Compile `kernels.cu` to PTX for a virtual architecture such as `compute_90`.
/// Needs only libnvrtc (no GPU, no driver): CI runs this for every kernel.
pub fn compile_kernels(arch: &str) -> Result<String, BenchError> {
    if !nvrtc_available() {
        return Err(BenchError::Unavailable(
            "libnvrtc not found: install CUDA's NVRTC (e.g. `pip install nvidia-cuda-nvrtc`) and add its lib folder to LD_LIBRARY_PATH".into(),
        ));
    }
    let opts = CompileOptions {
        options: vec![
            format!("--gpu-architecture={arch}"),
            "-std=c++17".into(),
            "-lineinfo".into(),
        ],
        ..Default::default()
    };
    let ptx = compile_ptx_with_opts(KERNELS, opts).map_err(|e| match e {
        cudarc::nvrtc::CompileError::CompileError { log, .. } => BenchError::Device {
            primitive: "nvrtc".into(),
            shape: arch.into(),
            message: format!("kernels.cu failed to compile:\n{}", log.to_string_lossy()),
        },
        other => BenchError::Device {
            primitive: "nvrtc".into(),
            shape: arch.into(),
            message: format!("{other}"),
        },
    })?;
    Ok(ptx.to_src())
}

fn dev_err(primitive: &str, shape: &str, e: impl std::fmt::Debug) -> BenchError {
    BenchError::Device {
        primitive: primitive.into(),
        shape: shape.into(),
        message: format!("{e:?}"),
    }
}

/// The CUDA backend, holding one context, stream, module, cuBLAS and cuBLASLt handle.
pub struct CudaBackend {
    ctx: Arc<CudaContext>,
    stream: Arc<CudaStream>,
    blas: CudaBlas,
    /// cuBLASLt for the 8-bit GEMMs, or why it could not start (those cases then fail
    /// with this message; the rest of the suite still runs).
    lt: Result<Lt, String>,
    funcs: HashMap<&'static str, CudaFunction>,
    info: DeviceInfo,
    /// Compute capability (major, minor).
    cc: (u32, u32),
    sms: u32,
}

const TARGET_MS: f64 = 200.0;
const WARMUP_MS: f64 = 100.0;

/// Context tokens per block of the split-context paged decode kernel.
pub const PAGED_SPLIT_TOKENS: u64 = 512;

impl CudaBackend {
    /// Open device 0. A missing driver, GPU, NVRTC or cuBLAS is a clean error, never a panic.
    pub fn new() -> Result<Self, BenchError> {
        // SAFETY: each only tries to dlopen its library.
        let (cuda, nvrtc, cublas) = unsafe {
            (
                sys::is_culib_present(),
                cudarc::nvrtc::sys::is_culib_present(),
                blas_sys::is_culib_present(),
            )
        };
        if !cuda {
            return Err(BenchError::Unavailable(
                "no CUDA driver (libcuda.so) on this machine: use `--backend cpu`, or run on a machine with an NVIDIA GPU".into(),
            ));
        }
        if !nvrtc || !cublas {
            return Err(BenchError::Unavailable(format!(
                "CUDA driver found but {} missing: add the CUDA toolkit's lib64 folder (or the pip packages nvidia-cuda-nvrtc / nvidia-cublas) to LD_LIBRARY_PATH",
                match (nvrtc, cublas) {
                    (false, false) => "libnvrtc and libcublas are",
                    (false, true) => "libnvrtc is",
                    _ => "libcublas is",
                }
            )));
        }
        let n = CudaContext::device_count()
            .map_err(|e| BenchError::Unavailable(format!("CUDA driver error: {e:?}")))?;
        if n < 1 {
            return Err(BenchError::Unavailable(
                "CUDA driver found but no GPU is visible".into(),
            ));
        }
        let ctx = CudaContext::new(0)
            .map_err(|e| BenchError::Unavailable(format!("cannot open GPU 0: {e:?}")))?;
        // One stream only: cudarc's cross-stream event tracking would add work to every launch.
        // SAFETY: nothing uses a second stream.
        unsafe { ctx.disable_event_tracking() };
        let stream = ctx.default_stream();
        let err = |e| dev_err("device", "init", e);
        let (major, minor) = ctx.compute_capability().map_err(err)?;
        let attr = |a| {
            ctx.attribute(a)
                .map_err(|e| dev_err("device", "attributes", e))
        };
        let sms = attr(sys::CUdevice_attribute::CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT)? as u32;
        let l2 = attr(sys::CUdevice_attribute::CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE)? as u64;
        let mut drv = 0i32;
        // SAFETY: writes one int.
        unsafe { sys::cuDriverGetVersion(&mut drv) };
        let (mut nv_major, mut nv_minor) = (0i32, 0i32);
        // SAFETY: writes two ints.
        unsafe { cudarc::nvrtc::sys::nvrtcVersion(&mut nv_major, &mut nv_minor) };
        let info = DeviceInfo {
            name: ctx.name().map_err(err)?,
            backend: "cuda".into(),
            driver: kernel_driver_version(),
            cuda: format!(
                "driver API {}.{}, NVRTC {nv_major}.{nv_minor}",
                drv / 1000,
                (drv % 1000) / 10
            ),
            arch: format!("{major}.{minor}"),
            units: sms,
            l2_bytes: l2,
            memory_bytes: ctx.total_mem().map_err(err)? as u64,
            date: super::utc_date(),
        };
        let ptx = compile_kernels(&format!("compute_{major}{minor}"))?;
        let module = ctx
            .load_module(cudarc::nvrtc::Ptx::from_src(ptx))
            .map_err(|e| dev_err("module", "load", e))?;
        let mut funcs = HashMap::new();
        for name in KERNEL_NAMES {
            let f = module
                .load_function(name)
                .map_err(|e| dev_err("module", name, e))?;
            funcs.insert(name, f);
        }
        let blas = CudaBlas::new(stream.clone()).map_err(|e| dev_err("cublas", "init", e))?;
        let lt = Lt::new(&stream);
        Ok(CudaBackend {
            ctx,
            stream,
            blas,
            lt,
            funcs,
            info,
            cc: (major.max(0) as u32, minor.max(0) as u32),
            sms,
        })
    }

    fn f(&self, name: &str) -> &CudaFunction {
        &self.funcs[name]
    }

    fn grid_stride(&self) -> LaunchConfig {
        LaunchConfig {
            grid_dim: (self.sms * 8, 1, 1),
            block_dim: (256, 1, 1),
            shared_mem_bytes: 0,
        }
    }

    fn alloc<T: cudarc::driver::DeviceRepr>(
        &self,
        len: usize,
        what: &Measurement,
    ) -> Result<CudaSlice<T>, BenchError> {
        // SAFETY: every buffer is filled or written before it is read.
        unsafe { self.stream.alloc::<T>(len) }.map_err(|e| dev_err(&what.primitive, &what.shape, e))
    }

    fn fill<T>(&self, kernel: &str, buf: &mut CudaSlice<T>, seed: u64) -> Result<(), String> {
        let n = buf.len() as u64;
        let mut b = self.stream.launch_builder(self.f(kernel));
        b.arg(buf).arg(&n).arg(&seed);
        // SAFETY: the fill kernels write exactly n elements of their type.
        unsafe { b.launch(self.grid_stride()) }
            .map(|_| ())
            .map_err(|e| format!("{e:?}"))
    }

    fn sync(&self) -> Result<(), String> {
        self.stream.synchronize().map_err(|e| format!("{e:?}"))
    }

    /// Warm up, pick a repetition count, time each launch with its own event pair.
    fn time(
        &self,
        mut launch: impl FnMut(usize) -> Result<(), String>,
    ) -> Result<(f64, f64, u32), String> {
        launch(0)?;
        launch(1)?;
        self.sync()?;
        let ev = || {
            self.ctx
                .new_event(Some(sys::CUevent_flags::CU_EVENT_DEFAULT))
                .map_err(|e| format!("{e:?}"))
        };
        let (s, e) = (ev()?, ev()?);
        s.record(&self.stream).map_err(|e| format!("{e:?}"))?;
        launch(2)?;
        e.record(&self.stream).map_err(|e| format!("{e:?}"))?;
        let est_ms = s.elapsed_ms(&e).map_err(|e| format!("{e:?}"))? as f64;
        // Keep the GPU busy for ~100 ms more before timing, so clocks settle (the first heavy
        // case after light ones otherwise runs measurably slower).
        let warm = ((WARMUP_MS / est_ms.max(1e-3)) as usize).min(500);
        for i in 0..warm {
            launch(3 + i)?;
        }
        self.sync()?;
        let reps = ((TARGET_MS / est_ms.max(1e-3)) as usize).clamp(5, 200);
        let mut pairs = Vec::with_capacity(reps);
        for i in 0..reps {
            let (a, b) = (ev()?, ev()?);
            a.record(&self.stream).map_err(|e| format!("{e:?}"))?;
            launch(3 + i)?;
            b.record(&self.stream).map_err(|e| format!("{e:?}"))?;
            pairs.push((a, b));
        }
        self.sync()?;
        let mut t: Vec<f64> = pairs
            .iter()
            .map(|(a, b)| a.elapsed_ms(b).map(|ms| ms as f64 * 1e3))
            .collect::<Result<_, _>>()
            .map_err(|e| format!("{e:?}"))?;
        let min = t.iter().cloned().fold(f64::INFINITY, f64::min);
        Ok((super::median(&mut t), min, reps as u32))
    }

    fn copies(&self, working_bytes: u64) -> usize {
        (4 * self.info.l2_bytes)
            .div_ceil(working_bytes.max(1))
            .clamp(1, 8) as usize
    }

    fn stream_case(&self, op: StreamOp, bytes: u64, m: &mut Measurement) -> Result<(), String> {
        let n = (bytes / 4) as usize;
        let n4 = bytes / 16;
        let mut a = self.alloc::<f32>(n, m).map_err(|e| e.to_string())?;
        self.fill("fill_f32", &mut a, 1)?;
        let cfg = self.grid_stride();
        let check_len = n.min(16 << 20);
        match op {
            StreamOp::Read => {
                let blocks = cfg.grid_dim.0 as usize;
                let mut partial = self.alloc::<f32>(blocks, m).map_err(|e| e.to_string())?;
                // Check on a 64 MB prefix: the checksum against the host's.
                let cn4 = (check_len / 4) as u64;
                let mut b = self.stream.launch_builder(self.f("stream_read"));
                b.arg(&a).arg(&cn4).arg(&mut partial);
                unsafe { b.launch(cfg) }.map_err(|e| format!("{e:?}"))?;
                let parts = self
                    .stream
                    .clone_dtoh(&partial)
                    .map_err(|e| format!("{e:?}"))?;
                let host = self
                    .stream
                    .clone_dtoh(&a.slice(0..check_len))
                    .map_err(|e| format!("{e:?}"))?;
                let gpu: f64 = parts.iter().map(|&x| x as f64).sum();
                let cpu: f64 = host.iter().map(|&x| x as f64).sum();
                let l1: f64 = host.iter().map(|&x| (x as f64).abs()).sum();
                m.check_error = (gpu - cpu).abs() / l1;
                m.check(1e-5).map_err(|e| e.to_string())?;
                let (t, mn, r) = self.time(|_| {
                    let mut b = self.stream.launch_builder(self.f("stream_read"));
                    b.arg(&a).arg(&n4).arg(&mut partial);
                    unsafe { b.launch(cfg) }
                        .map(|_| ())
                        .map_err(|e| format!("{e:?}"))
                })?;
                (m.time_us, m.min_us, m.reps) = (t, mn, r);
            }
            StreamOp::Write => {
                let run = |a: &mut CudaSlice<f32>| {
                    let mut b = self.stream.launch_builder(self.f("stream_write"));
                    b.arg(a).arg(&n4).arg(&0.5f32);
                    unsafe { b.launch(cfg) }
                        .map(|_| ())
                        .map_err(|e| format!("{e:?}"))
                };
                run(&mut a)?;
                m.check_error = self.max_abs_diff_ends(&a, None, 0.5, check_len)?;
                m.check(0.0).map_err(|e| e.to_string())?;
                let (t, mn, r) = self.time(|_| run(&mut a))?;
                (m.time_us, m.min_us, m.reps) = (t, mn, r);
            }
            StreamOp::Copy | StreamOp::Memcpy => {
                let mut b = self.alloc::<f32>(n, m).map_err(|e| e.to_string())?;
                self.fill("fill_f32", &mut b, 2)?; // poison
                let kernel = op == StreamOp::Copy;
                let run = |b: &mut CudaSlice<f32>| -> Result<(), String> {
                    if kernel {
                        let mut l = self.stream.launch_builder(self.f("stream_copy"));
                        l.arg(&a).arg(b).arg(&n4);
                        unsafe { l.launch(cfg) }
                            .map(|_| ())
                            .map_err(|e| format!("{e:?}"))
                    } else {
                        self.stream.memcpy_dtod(&a, b).map_err(|e| format!("{e:?}"))
                    }
                };
                run(&mut b)?;
                m.check_error = self.max_abs_diff_ends(&b, Some(&a), 0.0, check_len)?;
                m.check(0.0).map_err(|e| e.to_string())?;
                let (t, mn, r) = self.time(|_| run(&mut b))?;
                (m.time_us, m.min_us, m.reps) = (t, mn, r);
            }
        }
        Ok(())
    }

    /// Max |x − expected| over the first and last `len` elements, where expected is the
    /// same element of `reference` or the constant `value`.
    fn max_abs_diff_ends(
        &self,
        x: &CudaSlice<f32>,
        reference: Option<&CudaSlice<f32>>,
        value: f32,
        len: usize,
    ) -> Result<f64, String> {
        let n = x.len();
        let mut worst = 0f64;
        for range in [0..len.min(n), n.saturating_sub(len)..n] {
            let got = self
                .stream
                .clone_dtoh(&x.slice(range.clone()))
                .map_err(|e| format!("{e:?}"))?;
            let want = match reference {
                Some(r) => self
                    .stream
                    .clone_dtoh(&r.slice(range))
                    .map_err(|e| format!("{e:?}"))?,
                None => vec![value; got.len()],
            };
            for (g, w) in got.iter().zip(&want) {
                let d = if g.is_finite() {
                    (g - w).abs() as f64
                } else {
                    f64::INFINITY
                };
                worst = worst.max(d);
            }
        }
        Ok(worst)
    }

    fn gemm_case(&self, mm: u64, n: u64, k: u64, m: &mut Measurement) -> Result<(), String> {
        let (mu, nu, ku) = (mm as usize, n as usize, k as usize);
        let nb = self.copies(2 * (mm * k + n * k));
        let mut a_bufs = Vec::new();
        let mut w_bufs = Vec::new();
        for i in 0..nb {
            let mut a = self.alloc::<u16>(mu * ku, m).map_err(|e| e.to_string())?;
            let mut w = self.alloc::<u16>(nu * ku, m).map_err(|e| e.to_string())?;
            self.fill("fill_bf16", &mut a, 10 + 2 * i as u64)?;
            self.fill("fill_bf16", &mut w, 11 + 2 * i as u64)?;
            a_bufs.push(a);
            w_bufs.push(w);
        }
        let mut c = self.alloc::<u16>(mu * nu, m).map_err(|e| e.to_string())?;
        self.fill("fill_bf16", &mut c, 99)?; // poison
        let alpha = 1.0f32;
        let beta = 0.0f32;
        let run = |i: usize, c: &mut CudaSlice<u16>| -> Result<(), String> {
            let (a, w) = (&a_bufs[i % nb], &w_bufs[i % nb]);
            let (ap, _ga) = a.device_ptr(&self.stream);
            let (wp, _gw) = w.device_ptr(&self.stream);
            let (cp, _gc) = c.device_ptr_mut(&self.stream);
            // Row-major C[m×n] = A[m×k]·Wᵀ is column-major Cᵀ[n×m] = W·Aᵀ: op(W) = T, op(A) = N.
            // SAFETY: pointers and leading dimensions describe the buffers allocated above.
            unsafe {
                blas::gemm_ex(
                    *self.blas.handle(),
                    blas_sys::cublasOperation_t::CUBLAS_OP_T,
                    blas_sys::cublasOperation_t::CUBLAS_OP_N,
                    n as i32,
                    mm as i32,
                    k as i32,
                    (&alpha) as *const f32 as *const _,
                    wp as *const _,
                    blas_sys::cudaDataType_t::CUDA_R_16BF,
                    k as i32,
                    ap as *const _,
                    blas_sys::cudaDataType_t::CUDA_R_16BF,
                    k as i32,
                    (&beta) as *const f32 as *const _,
                    cp as *mut _,
                    blas_sys::cudaDataType_t::CUDA_R_16BF,
                    n as i32,
                    blas_sys::cublasComputeType_t::CUBLAS_COMPUTE_32F,
                    blas_sys::cublasGemmAlgo_t::CUBLAS_GEMM_DEFAULT,
                )
            }
            .map_err(|e| format!("cublasGemmEx: {e:?}"))
        };
        run(0, &mut c)?;
        self.sync()?;
        // Check 64 sampled entries against f64 dot products on the host.
        let mut got = Vec::new();
        let mut want = Vec::new();
        for s in 0..64u64 {
            let i = ((s * 2_654_435_761) % mm) as usize;
            let j = ((s * 40_503 + 7) % n) as usize;
            let arow = self
                .stream
                .clone_dtoh(&a_bufs[0].slice(i * ku..(i + 1) * ku))
                .map_err(|e| format!("{e:?}"))?;
            let wrow = self
                .stream
                .clone_dtoh(&w_bufs[0].slice(j * ku..(j + 1) * ku))
                .map_err(|e| format!("{e:?}"))?;
            let cij = self
                .stream
                .clone_dtoh(&c.slice(i * nu + j..i * nu + j + 1))
                .map_err(|e| format!("{e:?}"))?;
            want.push(
                arow.iter()
                    .zip(&wrow)
                    .map(|(&x, &y)| {
                        reference::bf16_to_f32(x) as f64 * reference::bf16_to_f32(y) as f64
                    })
                    .sum::<f64>(),
            );
            got.push(reference::bf16_to_f32(cij[0]) as f64);
        }
        m.check_error = rel_error(&got, &want);
        m.check(1e-2).map_err(|e| e.to_string())?;
        let (t, mn, r) = self.time(|i| run(i, &mut c))?;
        (m.time_us, m.min_us, m.reps) = (t, mn, r);
        Ok(())
    }

    /// An 8-bit GEMM through cuBLASLt: inputs from `fill_e4m3` / `fill_i8`, output poisoned,
    /// 64 sampled entries checked against f64 dot products of the inputs copied back (fp8:
    /// relative error ≤ 1e-2, the bf16 output's rounding with room; int8: exact).
    fn gemm8_case(
        &self,
        format: Gemm8Format,
        mm: u64,
        n: u64,
        k: u64,
        m: &mut Measurement,
    ) -> Result<(), String> {
        format.supported_on(self.cc, &self.info.name)?;
        format.check_shape(n, k)?;
        let lt = self.lt.as_ref().map_err(Clone::clone)?;
        let (mu, nu, ku) = (mm as usize, n as usize, k as usize);
        let ob = format.output_bytes() as usize;
        let fill = match format {
            Gemm8Format::Fp8E4m3 => "fill_e4m3",
            Gemm8Format::Int8 => "fill_i8",
        };
        let nb = self.copies(mm * k + n * k);
        let mut a_bufs = Vec::new();
        let mut w_bufs = Vec::new();
        for i in 0..nb {
            let mut a = self.alloc::<u8>(mu * ku, m).map_err(|e| e.to_string())?;
            let mut w = self.alloc::<u8>(nu * ku, m).map_err(|e| e.to_string())?;
            self.fill(fill, &mut a, 20 + 2 * i as u64)?;
            self.fill(fill, &mut w, 21 + 2 * i as u64)?;
            a_bufs.push(a);
            w_bufs.push(w);
        }
        let mut c = self
            .alloc::<u8>(mu * nu * ob, m)
            .map_err(|e| e.to_string())?;
        self.fill("fill_i8", &mut c, 98)?; // poison: random bytes
        let plan = lt.plan(&self.stream, format, mm, n, k)?;
        let run = |i: usize, c: &mut CudaSlice<u8>| -> Result<(), String> {
            let (ap, _ga) = a_bufs[i % nb].device_ptr(&self.stream);
            let (wp, _gw) = w_bufs[i % nb].device_ptr(&self.stream);
            let (cp, _gc) = c.device_ptr_mut(&self.stream);
            // SAFETY: the buffers were allocated above at the plan's shape and format.
            unsafe { lt.matmul(&plan, &self.stream, wp, ap, cp) }
        };
        run(0, &mut c)?;
        self.sync()?;
        let mut got = Vec::new();
        let mut want = Vec::new();
        let dtoh = |b: &CudaSlice<u8>, r: std::ops::Range<usize>| {
            self.stream
                .clone_dtoh(&b.slice(r))
                .map_err(|e| format!("{e:?}"))
        };
        for s in 0..64u64 {
            let i = ((s * 2_654_435_761) % mm) as usize;
            let j = ((s * 40_503 + 7) % n) as usize;
            let arow = dtoh(&a_bufs[0], i * ku..(i + 1) * ku)?;
            let wrow = dtoh(&w_bufs[0], j * ku..(j + 1) * ku)?;
            let cij = dtoh(&c, (i * nu + j) * ob..(i * nu + j + 1) * ob)?;
            want.push(reference::dot8(format, &arow, &wrow));
            got.push(reference::gemm8_output(format, &cij));
        }
        m.check_error = rel_error(&got, &want);
        m.check(match format {
            Gemm8Format::Fp8E4m3 => 1e-2,
            Gemm8Format::Int8 => 0.0,
        })
        .map_err(|e| e.to_string())?;
        let (t, mn, r) = self.time(|i| run(i, &mut c))?;
        (m.time_us, m.min_us, m.reps) = (t, mn, r);
        Ok(())
    }

    fn attention_case(
        &self,
        kind: AttnKind,
        n: u64,
        d: u64,
        heads: u64,
        m: &mut Measurement,
    ) -> Result<(), String> {
        if !n.is_multiple_of(128) || !(d == 64 || d == 128) {
            return Err("needs N a multiple of 128 and d = 64 or 128".into());
        }
        let per = (heads * n * d) as usize;
        let nb = self.copies(3 * 2 * per as u64);
        let mut qkv = Vec::new();
        for i in 0..nb {
            let mut t = Vec::new();
            for j in 0..3 {
                let mut b = self.alloc::<u16>(per, m).map_err(|e| e.to_string())?;
                self.fill("fill_f16", &mut b, 100 + 3 * i as u64 + j)?;
                t.push(b);
            }
            qkv.push(t);
        }
        let mut o = self.alloc::<u16>(per, m).map_err(|e| e.to_string())?;
        self.fill("fill_f16", &mut o, 77)?; // poison
        let mut s = match kind {
            AttnKind::Standard => Some(
                self.alloc::<f32>((heads * n * n) as usize, m)
                    .map_err(|e| e.to_string())?,
            ),
            AttnKind::Tiled => None,
        };
        let (ni, di) = (n as i32, d as i32);
        let scale = 1.0f32 / (d as f32).sqrt();
        let flash = if d == 64 {
            "attn_flash_d64"
        } else {
            "attn_flash_d128"
        };
        let block = (256u32, 1u32, 1u32);
        let run = |i: usize,
                   o: &mut CudaSlice<u16>,
                   s: &mut Option<CudaSlice<f32>>|
         -> Result<(), String> {
            let t = &qkv[i % nb];
            let e = |e| format!("{e:?}");
            match s {
                Some(s) => {
                    let g1 = LaunchConfig {
                        grid_dim: ((n / 64) as u32, (n / 64) as u32, heads as u32),
                        block_dim: block,
                        shared_mem_bytes: 0,
                    };
                    let mut b = self.stream.launch_builder(self.f("attn_std_scores"));
                    b.arg(&t[0])
                        .arg(&t[1])
                        .arg(&mut *s)
                        .arg(&ni)
                        .arg(&di)
                        .arg(&scale);
                    unsafe { b.launch(g1) }.map_err(e)?;
                    let g2 = LaunchConfig {
                        grid_dim: (n as u32, heads as u32, 1),
                        block_dim: block,
                        shared_mem_bytes: 0,
                    };
                    let mut b = self.stream.launch_builder(self.f("attn_std_softmax"));
                    b.arg(&mut *s).arg(&ni);
                    unsafe { b.launch(g2) }.map_err(e)?;
                    let g3 = LaunchConfig {
                        grid_dim: ((d / 64) as u32, (n / 64) as u32, heads as u32),
                        block_dim: block,
                        shared_mem_bytes: 0,
                    };
                    let mut b = self.stream.launch_builder(self.f("attn_std_pv"));
                    b.arg(&*s).arg(&t[2]).arg(o).arg(&ni).arg(&di);
                    unsafe { b.launch(g3) }.map(|_| ()).map_err(e)
                }
                None => {
                    let br = super::suite::CUDA_TILED_BR;
                    let threads = (128 * d / 64) as u32;
                    let g = LaunchConfig {
                        grid_dim: ((n / br) as u32, heads as u32, 1),
                        block_dim: (threads, 1, 1),
                        shared_mem_bytes: 0,
                    };
                    let mut b = self.stream.launch_builder(self.f(flash));
                    b.arg(&t[0])
                        .arg(&t[1])
                        .arg(&t[2])
                        .arg(o)
                        .arg(&ni)
                        .arg(&scale);
                    unsafe { b.launch(g) }.map(|_| ()).map_err(e)
                }
            }
        };
        run(0, &mut o, &mut s)?;
        self.sync()?;
        // Check rows of the first and last head against f64 attention on the host.
        let (nu, du) = (n as usize, d as usize);
        let mut got = Vec::new();
        let mut want = Vec::new();
        for h in [0usize, heads as usize - 1] {
            let base = h * nu * du;
            let dl = |b: &CudaSlice<u16>| -> Result<Vec<f32>, String> {
                Ok(self
                    .stream
                    .clone_dtoh(&b.slice(base..base + nu * du))
                    .map_err(|e| format!("{e:?}"))?
                    .into_iter()
                    .map(reference::f16_to_f32)
                    .collect())
            };
            let (q, k, v, out) = (dl(&qkv[0][0])?, dl(&qkv[0][1])?, dl(&qkv[0][2])?, dl(&o)?);
            for r in [0, nu / 3, nu - 1] {
                want.extend(reference::attention_row(
                    &q[r * du..(r + 1) * du],
                    &k,
                    &v,
                    du,
                    scale as f64,
                ));
                got.extend(out[r * du..(r + 1) * du].iter().map(|&x| x as f64));
            }
        }
        m.check_error = rel_error(&got, &want);
        m.check(2e-3).map_err(|e| e.to_string())?;
        let (t, mn, r) = self.time(|i| run(i, &mut o, &mut s))?;
        (m.time_us, m.min_us, m.reps) = (t, mn, r);
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn paged_case(
        &self,
        format: KvFormat,
        batch: u64,
        ctx: u64,
        heads: u64,
        d: u64,
        bs: u64,
        m: &mut Measurement,
    ) -> Result<(), String> {
        if d != 128 {
            return Err("the paged decode kernel is built for head_dim 128".into());
        }
        let rb = format.row_bytes(d);
        let bps = ctx.div_ceil(bs);
        let set_blocks = batch * bps;
        let nb = self.copies(2 * set_blocks * bs * heads * rb) as u64;
        let total_blocks = nb * set_blocks;
        let pool_rows = (total_blocks * bs * heads) as usize;
        let mut pools = Vec::new();
        for seed in [200u64, 201] {
            let mut pool = self
                .alloc::<u8>(pool_rows * rb as usize, m)
                .map_err(|e| e.to_string())?;
            let mut vals = self
                .alloc::<u16>(pool_rows * d as usize, m)
                .map_err(|e| e.to_string())?;
            self.fill("fill_f16", &mut vals, seed)?;
            match format {
                KvFormat::F16 => self
                    .stream
                    .memcpy_dtod(&vals, &mut unsafe_view_u16(&mut pool)?)
                    .map_err(|e| format!("{e:?}"))?,
                _ => {
                    let nblocks = (pool_rows as u64 * d) / 32;
                    let kname = if format == KvFormat::Q8_0 {
                        "quantize_q8_0"
                    } else {
                        "quantize_q4_0"
                    };
                    let mut b = self.stream.launch_builder(self.f(kname));
                    b.arg(&vals).arg(&mut pool).arg(&nblocks);
                    unsafe { b.launch(self.grid_stride()) }.map_err(|e| format!("{e:?}"))?;
                }
            }
            self.sync()?;
            drop(vals);
            pools.push(pool);
        }
        // Block tables: each set's blocks in a shuffled order, as a long-running allocator leaves them.
        let mut tables = Vec::new();
        let mut host_tables = Vec::new();
        let mut rng = 0x9E37_79B9_7F4A_7C15u64;
        for set in 0..nb {
            let mut ids: Vec<i32> =
                ((set * set_blocks) as i32..((set + 1) * set_blocks) as i32).collect();
            for i in (1..ids.len()).rev() {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                ids.swap(i, (rng % (i as u64 + 1)) as usize);
            }
            tables.push(self.stream.clone_htod(&ids).map_err(|e| format!("{e:?}"))?);
            host_tables.push(ids);
        }
        let lens = self
            .stream
            .clone_htod(&vec![ctx as i32; batch as usize])
            .map_err(|e| format!("{e:?}"))?;
        let mut q = self
            .alloc::<f32>((batch * heads * d) as usize, m)
            .map_err(|e| e.to_string())?;
        self.fill("fill_f32", &mut q, 300)?;
        let mut out = self
            .alloc::<f32>((batch * heads * d) as usize, m)
            .map_err(|e| e.to_string())?;
        self.fill("fill_f32", &mut out, 301)?; // poison
        let splits = ctx.div_ceil(PAGED_SPLIT_TOKENS);
        let mut part_ml = self
            .alloc::<f32>((batch * heads * splits * 2) as usize, m)
            .map_err(|e| e.to_string())?;
        let mut part_acc = self
            .alloc::<f32>((batch * heads * splits * d) as usize, m)
            .map_err(|e| e.to_string())?;
        let kname = match format {
            KvFormat::F16 => "paged_decode_f16",
            KvFormat::Q8_0 => "paged_decode_q8_0",
            KvFormat::Q4_0 => "paged_decode_q4_0",
        };
        let scale = 1.0f32 / (d as f32).sqrt();
        let (hi, mbi, bsi, rbi) = (heads as i32, bps as i32, bs as i32, rb as i32);
        let (sti, msi) = (PAGED_SPLIT_TOKENS as i32, splits as i32);
        let cfg = LaunchConfig {
            grid_dim: (batch as u32, heads as u32, splits as u32),
            block_dim: (128, 1, 1),
            shared_mem_bytes: 0,
        };
        let cfg2 = LaunchConfig {
            grid_dim: (batch as u32, heads as u32, 1),
            block_dim: (d as u32, 1, 1),
            shared_mem_bytes: 0,
        };
        let mut run = |i: usize, out: &mut CudaSlice<f32>| -> Result<(), String> {
            let mut b = self.stream.launch_builder(self.f(kname));
            b.arg(&q)
                .arg(&pools[0])
                .arg(&pools[1])
                .arg(&tables[i % nb as usize])
                .arg(&lens);
            b.arg(&mut part_ml).arg(&mut part_acc);
            b.arg(&hi)
                .arg(&mbi)
                .arg(&bsi)
                .arg(&rbi)
                .arg(&scale)
                .arg(&sti)
                .arg(&msi);
            unsafe { b.launch(cfg) }.map_err(|e| format!("{e:?}"))?;
            let mut b = self.stream.launch_builder(self.f("paged_decode_reduce"));
            b.arg(&part_ml)
                .arg(&part_acc)
                .arg(&lens)
                .arg(out)
                .arg(&hi)
                .arg(&sti)
                .arg(&msi);
            unsafe { b.launch(cfg2) }
                .map(|_| ())
                .map_err(|e| format!("{e:?}"))
        };
        run(0, &mut out)?;
        self.sync()?;
        let host_q = self.stream.clone_dtoh(&q).map_err(|e| format!("{e:?}"))?;
        let host_out = self.stream.clone_dtoh(&out).map_err(|e| format!("{e:?}"))?;
        let (du, hu, rbu, bsu) = (d as usize, heads as usize, rb as usize, bs as usize);
        let mut got = Vec::new();
        let mut want = Vec::new();
        for (seq, h) in [(0usize, 0usize), (batch as usize - 1, hu - 1)] {
            let mut kf = vec![0f32; ctx as usize * du];
            let mut vf = vec![0f32; ctx as usize * du];
            for blk_i in 0..bps as usize {
                let blk = host_tables[0][seq * bps as usize + blk_i] as usize;
                let span = blk * bsu * hu * rbu..(blk + 1) * bsu * hu * rbu;
                let kb = self
                    .stream
                    .clone_dtoh(&pools[0].slice(span.clone()))
                    .map_err(|e| format!("{e:?}"))?;
                let vb = self
                    .stream
                    .clone_dtoh(&pools[1].slice(span))
                    .map_err(|e| format!("{e:?}"))?;
                for p in 0..bsu {
                    let t = blk_i * bsu + p;
                    if t >= ctx as usize {
                        break;
                    }
                    let row = (p * hu + h) * rbu;
                    reference::dequantize_row(
                        format,
                        &kb[row..row + rbu],
                        du,
                        &mut kf[t * du..(t + 1) * du],
                    );
                    reference::dequantize_row(
                        format,
                        &vb[row..row + rbu],
                        du,
                        &mut vf[t * du..(t + 1) * du],
                    );
                }
            }
            let qrow = &host_q[(seq * hu + h) * du..(seq * hu + h + 1) * du];
            want.extend(reference::attention_row(qrow, &kf, &vf, du, scale as f64));
            got.extend(
                host_out[(seq * hu + h) * du..(seq * hu + h + 1) * du]
                    .iter()
                    .map(|&x| x as f64),
            );
        }
        m.check_error = rel_error(&got, &want);
        m.check(1e-3).map_err(|e| e.to_string())?;
        let (t, mn, r) = self.time(|i| run(i, &mut out))?;
        (m.time_us, m.min_us, m.reps) = (t, mn, r);
        Ok(())
    }

    fn quantize_case(
        &self,
        format: KvFormat,
        values: u64,
        m: &mut Measurement,
    ) -> Result<(), String> {
        let rb = format.row_bytes(32);
        let nblocks = values / 32;
        let mut x = self
            .alloc::<u16>(values as usize, m)
            .map_err(|e| e.to_string())?;
        self.fill("fill_f16", &mut x, 400)?;
        let mut y = self
            .alloc::<u8>((nblocks * rb) as usize, m)
            .map_err(|e| e.to_string())?;
        self.stream
            .memset_zeros(&mut y)
            .map_err(|e| format!("{e:?}"))?;
        let kname = if format == KvFormat::Q8_0 {
            "quantize_q8_0"
        } else {
            "quantize_q4_0"
        };
        let cfg = self.grid_stride();
        let run = |y: &mut CudaSlice<u8>| -> Result<(), String> {
            let mut b = self.stream.launch_builder(self.f(kname));
            b.arg(&x).arg(y).arg(&nblocks);
            unsafe { b.launch(cfg) }
                .map(|_| ())
                .map_err(|e| format!("{e:?}"))
        };
        run(&mut y)?;
        self.sync()?;
        let cv = (values as usize).min(1 << 20);
        let hx = self
            .stream
            .clone_dtoh(&x.slice(0..cv))
            .map_err(|e| format!("{e:?}"))?;
        let hy = self
            .stream
            .clone_dtoh(&y.slice(0..cv / 32 * rb as usize))
            .map_err(|e| format!("{e:?}"))?;
        let want_q = reference::quantize(format, &hx);
        let mut a = vec![0f32; cv];
        let mut b = vec![0f32; cv];
        reference::dequantize_row(format, &hy, cv, &mut a);
        reference::dequantize_row(format, &want_q, cv, &mut b);
        let a64: Vec<f64> = a.iter().map(|&v| v as f64).collect();
        let b64: Vec<f64> = b.iter().map(|&v| v as f64).collect();
        m.check_error = rel_error(&a64, &b64);
        if let Err(e) = m.check(1e-3).map_err(|e| e.to_string()) {
            // Show the first block that differs, to find the disagreement.
            let blk = (0..cv / 32)
                .find(|&bi| (0..32).any(|j| a[bi * 32 + j] != b[bi * 32 + j]))
                .unwrap_or(0);
            let rbu = rb as usize;
            return Err(format!(
                "{e}; first differing block {blk}: x = {:?}; gpu = {:?}; cpu = {:?}",
                &hx[blk * 32..blk * 32 + 32],
                &hy[blk * rbu..(blk + 1) * rbu],
                &want_q[blk * rbu..(blk + 1) * rbu]
            ));
        }
        let (t, mn, r) = self.time(|_| run(&mut y))?;
        (m.time_us, m.min_us, m.reps) = (t, mn, r);
        Ok(())
    }
}

/// The same device buffer seen as u16 (for copying f16 values into a byte pool).
fn unsafe_view_u16(
    pool: &mut CudaSlice<u8>,
) -> Result<cudarc::driver::CudaViewMut<'_, u16>, String> {
    let len = pool.len() / 2;
    // SAFETY: u8 → u16 reinterpretation of a buffer whose length is even; alignment of
    // device allocations is 256 bytes.
    unsafe { pool.transmute_mut::<u16>(len) }.ok_or_else(|| "pool size is odd".to_string())
}

/// The kernel module's version from /proc/driver/nvidia/version, e.g. "580.159.04".
fn kernel_driver_version() -> String {
    std::fs::read_to_string("/proc/driver/nvidia/version")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .find(|w| {
                    w.chars().next().is_some_and(|c| c.is_ascii_digit())
                        && w.matches('.').count() >= 1
                })
                .map(str::to_string)
        })
        .unwrap_or_else(|| "unknown".into())
}

impl super::Backend for CudaBackend {
    fn device(&self) -> &DeviceInfo {
        &self.info
    }

    fn run(&mut self, case: &Case) -> Result<Measurement, BenchError> {
        let mut m = case.describe();
        let r = match case {
            Case::Stream { op, bytes } => self.stream_case(*op, *bytes, &mut m),
            Case::Gemm { m: mm, n, k, .. } => self.gemm_case(*mm, *n, *k, &mut m),
            Case::Gemm8 {
                format,
                m: mm,
                n,
                k,
                ..
            } => self.gemm8_case(*format, *mm, *n, *k, &mut m),
            Case::Attention {
                kind,
                seq_len,
                head_dim,
                heads,
            } => self.attention_case(*kind, *seq_len, *head_dim, *heads, &mut m),
            Case::PagedDecode {
                format,
                batch,
                context,
                heads,
                head_dim,
                block_size,
            } => self.paged_case(
                *format,
                *batch,
                *context,
                *heads,
                *head_dim,
                *block_size,
                &mut m,
            ),
            Case::Quantize { format, values } => self.quantize_case(*format, *values, &mut m),
        };
        // Free this case's memory and surface asynchronous errors before the next case.
        let sync = self.sync();
        match r.and(sync) {
            Ok(()) => {
                m.gb_per_s = m.bytes / (m.time_us * 1e3);
                m.tflop_per_s = m.flops / (m.time_us * 1e6);
                m.status = super::Status::Ok;
                Ok(m)
            }
            Err(msg) => Err(BenchError::Device {
                primitive: m.primitive.clone(),
                shape: m.shape.clone(),
                message: msg,
            }),
        }
    }
}
