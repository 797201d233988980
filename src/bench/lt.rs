//! cuBLASLt for the 8-bit GEMM cases (`gemm/fp8`, `gemm/int8`): a handle with its own
//! workspace, and a [`Gemm8Plan`] — descriptors, layouts and the heuristic's algorithm for
//! one shape — built once per case and launched for every timed repetition.
//!
//! Requirements followed (cuBLAS documentation, section "cublasLtMatmul()", its FP8 and
//! IMMA (INT8) requirement lists, and the table of supported type combinations):
//!
//! * FP8: A and B `CUDA_R_8F_E4M3`, C and D `CUDA_R_16BF`, `CUBLAS_COMPUTE_32F`, scale type
//!   `CUDA_R_32F`; "TN" only (A transposed, B not); every pointer, leading dimension and the
//!   `m`/`k` dimensions 16-byte aligned (multiples of 16 elements); per-tensor scales through
//!   `CUBLASLT_MATMUL_DESC_A_SCALE_POINTER` / `B_SCALE_POINTER`, device pointers to one f32
//!   each (here 1.0, so D = A·B exactly as the reference computes it). Fast accumulation
//!   (`CUBLASLT_MATMUL_DESC_FAST_ACCUM`) is left off: cuBLAS's default, the precise mode.
//!   Needs compute capability 8.9+ (Ada, Hopper and later).
//! * INT8: A and B `CUDA_R_8I`, C and D `CUDA_R_32I`, `CUBLAS_COMPUTE_32I`, scale type
//!   `CUDA_R_32I`; with the regular column-major order, "TN" only, leading dimensions and
//!   `m`/`k` multiples of 4, pointers 4-byte aligned (16 for the fastest kernels; device
//!   allocations are 256-byte aligned).
//!
//! Row-major C[m×n] = A[m×k]·Wᵀ (W is n×k, as a linear layer stores it) is column-major
//! Cᵀ[n×m] = W·Aᵀ, so cuBLASLt's A is the weight (k×n column-major, ld k, transposed), its
//! B the activations (k×m, ld k, not transposed) and its D the output (n×m, ld n): the TN
//! layout both formats require, with K contiguous in both inputs, and no copies.
//! Workspace: 32 MiB, NVIDIA's recommendation for Hopper (cudarc's `Workspace` uses the same).

use super::suite::Gemm8Format;
use cudarc::cublas::sys::cublasOperation_t;
use cudarc::cublaslt::{result as lt, sys};
use cudarc::driver::{CudaSlice, CudaStream, DevicePtr};
use std::ffi::c_void;
use std::sync::Arc;

/// Bytes of cuBLASLt workspace.
pub const WORKSPACE_BYTES: usize = 32 << 20;

/// Whether libcublasLt can be loaded (cudarc panics on a call into a missing library).
pub fn available() -> bool {
    // SAFETY: only tries to dlopen the library.
    unsafe { sys::is_culib_present() }
}

/// A cuBLASLt handle and its workspace.
pub struct Lt {
    handle: sys::cublasLtHandle_t,
    workspace: CudaSlice<u8>,
}

impl Lt {
    /// Create a handle for `stream`'s context and allocate the workspace.
    pub fn new(stream: &Arc<CudaStream>) -> Result<Self, String> {
        if !available() {
            return Err("libcublasLt not found: add the CUDA toolkit's lib64 folder (or the pip package nvidia-cublas) to LD_LIBRARY_PATH".into());
        }
        stream
            .context()
            .bind_to_thread()
            .map_err(|e| format!("{e:?}"))?;
        let handle = lt::create_handle().map_err(|e| format!("cublasLtCreate: {e:?}"))?;
        // SAFETY: the workspace is scratch memory cuBLASLt writes before it reads.
        let workspace = match unsafe { stream.alloc::<u8>(WORKSPACE_BYTES) } {
            Ok(w) => w,
            Err(e) => {
                // SAFETY: created just above, destroyed once.
                let _ = unsafe { lt::destroy_handle(handle) };
                return Err(format!("cuBLASLt workspace: {e:?}"));
            }
        };
        Ok(Lt { handle, workspace })
    }

    /// Describe C[m×n] = A[m×k]·Wᵀ in `format` and ask the heuristic for its best algorithm.
    pub fn plan(
        &self,
        stream: &Arc<CudaStream>,
        format: Gemm8Format,
        m: u64,
        n: u64,
        k: u64,
    ) -> Result<Gemm8Plan, String> {
        let err = |what: &str| {
            let what = what.to_string();
            move |e: lt::CublasError| format!("{what}: {e:?}")
        };
        let (input, output, compute, scale) = match format {
            Gemm8Format::Fp8E4m3 => (
                sys::cudaDataType::CUDA_R_8F_E4M3,
                sys::cudaDataType::CUDA_R_16BF,
                sys::cublasComputeType_t::CUBLAS_COMPUTE_32F,
                sys::cudaDataType::CUDA_R_32F,
            ),
            Gemm8Format::Int8 => (
                sys::cudaDataType::CUDA_R_8I,
                sys::cudaDataType::CUDA_R_32I,
                sys::cublasComputeType_t::CUBLAS_COMPUTE_32I,
                sys::cudaDataType::CUDA_R_32I,
            ),
        };
        let desc =
            Desc(lt::create_matmul_desc(compute, scale).map_err(err("cublasLtMatmulDescCreate"))?);
        let (ta, tb) = (
            cublasOperation_t::CUBLAS_OP_T as i32,
            cublasOperation_t::CUBLAS_OP_N as i32,
        );
        desc.set(
            sys::cublasLtMatmulDescAttributes_t::CUBLASLT_MATMUL_DESC_TRANSA,
            &ta,
        )
        .map_err(err("TRANSA"))?;
        desc.set(
            sys::cublasLtMatmulDescAttributes_t::CUBLASLT_MATMUL_DESC_TRANSB,
            &tb,
        )
        .map_err(err("TRANSB"))?;
        let scales = match format {
            Gemm8Format::Fp8E4m3 => {
                let one = stream.clone_htod(&[1.0f32]).map_err(|e| format!("{e:?}"))?;
                let (scale, guard) = one.device_ptr(stream);
                for attr in [
                    sys::cublasLtMatmulDescAttributes_t::CUBLASLT_MATMUL_DESC_A_SCALE_POINTER,
                    sys::cublasLtMatmulDescAttributes_t::CUBLASLT_MATMUL_DESC_B_SCALE_POINTER,
                ] {
                    desc.set(attr, &scale).map_err(err("A/B_SCALE_POINTER"))?;
                }
                drop(guard);
                Some(one)
            }
            Gemm8Format::Int8 => None,
        };
        let layout = |ty, rows: u64, cols: u64, ld: u64| {
            lt::create_matrix_layout(ty, rows, cols, ld as i64)
                .map(Layout)
                .map_err(err("cublasLtMatrixLayoutCreate"))
        };
        let w = layout(input, k, n, k)?;
        let a = layout(input, k, m, k)?;
        let c = layout(output, n, m, n)?;
        let pref = Pref(lt::create_matmul_pref().map_err(err("cublasLtMatmulPreferenceCreate"))?);
        let ws = WORKSPACE_BYTES;
        // SAFETY: the preference is live; the value is one usize, as the attribute expects.
        unsafe {
            lt::set_matmul_pref_attribute(
                pref.0,
                sys::cublasLtMatmulPreferenceAttributes_t::CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                (&ws) as *const usize as *const c_void,
                std::mem::size_of::<usize>(),
            )
        }
        .map_err(err("MAX_WORKSPACE_BYTES"))?;
        // SAFETY: every descriptor is live and describes this problem.
        let heuristic = unsafe {
            lt::get_matmul_algo_heuristic(self.handle, desc.0, w.0, a.0, c.0, c.0, pref.0)
        }
        .map_err(|e| {
            format!(
                "cuBLASLt has no {} kernel for this shape on this GPU ({e:?})",
                format.name()
            )
        })?;
        Ok(Gemm8Plan {
            format,
            desc,
            w,
            a,
            c,
            algo: heuristic.algo,
            workspace_bytes: heuristic.workspaceSize.min(WORKSPACE_BYTES),
            _scales: scales,
        })
    }

    /// Launch one planned GEMM on `stream`: `w`, `a`, `c` are device addresses of the
    /// weight (n×k), activations (m×k) and output (m×n), all row-major.
    ///
    /// # Safety
    /// The three addresses must point to live buffers of the plan's shape and format.
    pub unsafe fn matmul(
        &self,
        plan: &Gemm8Plan,
        stream: &Arc<CudaStream>,
        w: u64,
        a: u64,
        c: u64,
    ) -> Result<(), String> {
        let (one_f, zero_f) = (1.0f32, 0.0f32);
        let (one_i, zero_i) = (1i32, 0i32);
        let (alpha, beta): (*const c_void, *const c_void) = match plan.format {
            Gemm8Format::Fp8E4m3 => ((&one_f) as *const f32 as _, (&zero_f) as *const f32 as _),
            Gemm8Format::Int8 => ((&one_i) as *const i32 as _, (&zero_i) as *const i32 as _),
        };
        let (ws, _guard) = self.workspace.device_ptr(stream);
        // SAFETY: descriptors live in `plan`; buffers as the caller guarantees; alpha and
        // beta are host scalars of the plan's scale type (pointer mode host, the default).
        unsafe {
            lt::matmul(
                self.handle,
                plan.desc.0,
                alpha,
                beta,
                w as *const c_void,
                plan.w.0,
                a as *const c_void,
                plan.a.0,
                c as *const c_void,
                plan.c.0,
                c as *mut c_void,
                plan.c.0,
                &plan.algo,
                ws as *mut c_void,
                plan.workspace_bytes,
                stream.cu_stream() as sys::cudaStream_t,
            )
        }
        .map_err(|e| format!("cublasLtMatmul: {e:?}"))
    }
}

impl Drop for Lt {
    fn drop(&mut self) {
        // SAFETY: created in `new`, destroyed once; a failure here has nowhere to go.
        let _ = unsafe { lt::destroy_handle(self.handle) };
    }
}

/// One shape's cuBLASLt descriptors and chosen algorithm.
pub struct Gemm8Plan {
    format: Gemm8Format,
    desc: Desc,
    w: Layout,
    a: Layout,
    c: Layout,
    algo: sys::cublasLtMatmulAlgo_t,
    workspace_bytes: usize,
    /// The per-tensor scale (1.0, for A and B) the descriptor points at, kept alive with it.
    _scales: Option<CudaSlice<f32>>,
}

struct Desc(sys::cublasLtMatmulDesc_t);

impl Desc {
    fn set<T>(
        &self,
        attr: sys::cublasLtMatmulDescAttributes_t,
        value: &T,
    ) -> Result<(), lt::CublasError> {
        // SAFETY: the descriptor is live; `value` is the attribute's type (i32 for TRANSA/B,
        // a device pointer for the scale pointers), read during the call only.
        unsafe {
            lt::set_matmul_desc_attribute(
                self.0,
                attr,
                value as *const T as *const c_void,
                std::mem::size_of::<T>(),
            )
        }
    }
}

impl Drop for Desc {
    fn drop(&mut self) {
        // SAFETY: created once, destroyed once.
        let _ = unsafe { lt::destroy_matmul_desc(self.0) };
    }
}

struct Layout(sys::cublasLtMatrixLayout_t);

impl Drop for Layout {
    fn drop(&mut self) {
        // SAFETY: created once, destroyed once.
        let _ = unsafe { lt::destroy_matrix_layout(self.0) };
    }
}

struct Pref(sys::cublasLtMatmulPreference_t);

impl Drop for Pref {
    fn drop(&mut self) {
        // SAFETY: created once, destroyed once.
        let _ = unsafe { lt::destroy_matmul_pref(self.0) };
    }
}
