// CUDA C kernels for `planner bench --backend cuda`, compiled at run time by NVRTC.
//
// No headers: f16 is carried as `unsigned short` and converted with PTX `cvt`, so the
// source compiles with a bare NVRTC (CI compiles it to PTX without a GPU).
//
// Layouts (all row-major):
//   attention  Q, K, V, O: [heads][N][D] f16;  S/P: [heads][N][N] f32
//   paged KV   pool: [num_blocks][block_size][heads][row_bytes], row_bytes per dtype:
//              f16 = 2*D, q8_0 = D/32*34 ({f16 d; i8 q[32]}), q4_0 = D/32*18 ({f16 d; u8 q[16]})
//   quantize   x: [nblocks*32] f16 -> y: nblocks * (34 | 18) bytes, GGML block layouts.
//   8-bit GEMM inputs: one byte per value, FP8 E4M3 bits (s eeee mmm, bias 7) or int8.

typedef unsigned short f16_t;
typedef unsigned char u8;

__device__ __forceinline__ float h2f(f16_t h) {
    float f;
    asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h));
    return f;
}
__device__ __forceinline__ f16_t f2h(float f) {
    f16_t h;
    asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(f));
    return h;
}

// ---------------------------------------------------------------- fill (random data)

__device__ __forceinline__ unsigned int hash_u32(unsigned long long x) {
    x ^= x >> 33; x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33; x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return (unsigned int)x;
}
// Uniform in [-1, 1) from (seed, index).
__device__ __forceinline__ float uniform_pm1(unsigned long long seed, unsigned long long i) {
    return (float)(hash_u32(seed * 0x9E3779B97F4A7C15ULL + i) >> 8) * (2.0f / 16777216.0f) - 1.0f;
}

extern "C" __global__ void fill_f32(float* __restrict__ x, unsigned long long n, unsigned long long seed) {
    for (unsigned long long i = blockIdx.x * (unsigned long long)blockDim.x + threadIdx.x; i < n;
         i += (unsigned long long)gridDim.x * blockDim.x)
        x[i] = uniform_pm1(seed, i);
}

extern "C" __global__ void fill_f16(f16_t* __restrict__ x, unsigned long long n, unsigned long long seed) {
    for (unsigned long long i = blockIdx.x * (unsigned long long)blockDim.x + threadIdx.x; i < n;
         i += (unsigned long long)gridDim.x * blockDim.x)
        x[i] = f2h(uniform_pm1(seed, i));
}

// bf16 = the high half of an f32 (round to nearest even).
extern "C" __global__ void fill_bf16(f16_t* __restrict__ x, unsigned long long n, unsigned long long seed) {
    for (unsigned long long i = blockIdx.x * (unsigned long long)blockDim.x + threadIdx.x; i < n;
         i += (unsigned long long)gridDim.x * blockDim.x) {
        unsigned int u = __float_as_uint(uniform_pm1(seed, i));
        u += 0x7FFFu + ((u >> 16) & 1u);
        x[i] = (f16_t)(u >> 16);
    }
}

// f32 -> FP8 E4M3 bits, round to nearest even, saturating to +-448 (as PTX
// cvt.rn.satfinite.e4m3x2.f32, which only sm_89+ has; this runs everywhere). Same algorithm
// as reference.rs `f32_to_e4m3`.
__device__ __forceinline__ u8 f2e4m3(float x) {
    unsigned int u = __float_as_uint(x);
    u8 sign = (u8)((u >> 24) & 0x80u);
    float a = fabsf(x);
    if (a != a) return 0x7f;
    if (a >= 448.0f) return sign | 0x7e;
    if (a < 0.015625f)  // below 2^-6: subnormal, a multiple of 2^-9 (8 * 2^-9 is 0x08)
        return sign | (u8)__float2int_rn(a * 512.0f);
    int e = (int)((u >> 23) & 0xffu) - 127 + 7;
    unsigned int man = u & 0x7fffffu, r = man >> 20, rem = man & 0xfffffu;
    if (rem > 0x80000u || (rem == 0x80000u && (r & 1u))) r++;
    if (r == 8u) { r = 0u; e++; }
    if (e > 15 || (e == 15 && r == 7u)) return sign | 0x7e;
    return sign | (u8)(e << 3) | (u8)r;
}

// Uniform in [-1, 1), rounded to E4M3.
extern "C" __global__ void fill_e4m3(u8* __restrict__ x, unsigned long long n, unsigned long long seed) {
    for (unsigned long long i = blockIdx.x * (unsigned long long)blockDim.x + threadIdx.x; i < n;
         i += (unsigned long long)gridDim.x * blockDim.x)
        x[i] = f2e4m3(uniform_pm1(seed, i));
}

// Uniform int8 in [-128, 127].
extern "C" __global__ void fill_i8(u8* __restrict__ x, unsigned long long n, unsigned long long seed) {
    for (unsigned long long i = blockIdx.x * (unsigned long long)blockDim.x + threadIdx.x; i < n;
         i += (unsigned long long)gridDim.x * blockDim.x)
        x[i] = (u8)(hash_u32(seed * 0x9E3779B97F4A7C15ULL + i) >> 24);
}

// ---------------------------------------------------------------- HBM stream

// Each thread keeps four independent 16-byte loads in flight per loop trip.
extern "C" __global__ void stream_read(const float4* __restrict__ a, unsigned long long n4,
                                       float* __restrict__ partial) {
    __shared__ float red[32];
    float acc0 = 0.f, acc1 = 0.f, acc2 = 0.f, acc3 = 0.f;
    const unsigned long long stride = (unsigned long long)gridDim.x * blockDim.x;
    unsigned long long i = blockIdx.x * (unsigned long long)blockDim.x + threadIdx.x;
    for (; i + 3 * stride < n4; i += 4 * stride) {
        float4 v0 = a[i], v1 = a[i + stride], v2 = a[i + 2 * stride], v3 = a[i + 3 * stride];
        acc0 += (v0.x + v0.y) + (v0.z + v0.w);
        acc1 += (v1.x + v1.y) + (v1.z + v1.w);
        acc2 += (v2.x + v2.y) + (v2.z + v2.w);
        acc3 += (v3.x + v3.y) + (v3.z + v3.w);
    }
    for (; i < n4; i += stride) {
        float4 v = a[i];
        acc0 += (v.x + v.y) + (v.z + v.w);
    }
    float acc = (acc0 + acc1) + (acc2 + acc3);
    for (int o = 16; o > 0; o >>= 1) acc += __shfl_xor_sync(0xffffffffu, acc, o);
    if ((threadIdx.x & 31) == 0) red[threadIdx.x >> 5] = acc;
    __syncthreads();
    if (threadIdx.x < 32) {
        float v = threadIdx.x < (blockDim.x >> 5) ? red[threadIdx.x] : 0.f;
        for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
        if (threadIdx.x == 0) partial[blockIdx.x] = v;
    }
}

extern "C" __global__ void stream_write(float4* __restrict__ a, unsigned long long n4, float value) {
    const float4 v = make_float4(value, value, value, value);
    const unsigned long long stride = (unsigned long long)gridDim.x * blockDim.x;
    for (unsigned long long i = blockIdx.x * (unsigned long long)blockDim.x + threadIdx.x; i < n4; i += stride)
        a[i] = v;
}

extern "C" __global__ void stream_copy(const float4* __restrict__ a, float4* __restrict__ b,
                                       unsigned long long n4) {
    const unsigned long long stride = (unsigned long long)gridDim.x * blockDim.x;
    unsigned long long i = blockIdx.x * (unsigned long long)blockDim.x + threadIdx.x;
    for (; i + stride < n4; i += 2 * stride) {
        float4 v0 = a[i], v1 = a[i + stride];
        b[i] = v0;
        b[i + stride] = v1;
    }
    for (; i < n4; i += stride) b[i] = a[i];
}

// ---------------------------------------------------------------- standard attention
// Three kernels, as an unfused implementation runs them: S = scale * Q K^T (written to HBM),
// P = softmax(S) (read twice, written once, in place), O = P V (P read from HBM).
// 64x64 output tile per block, 256 threads, 4x4 outputs per thread, CUDA cores (FFMA).

#define TS 64
#define TK 16

extern "C" __global__ void __launch_bounds__(256) attn_std_scores(
    const f16_t* __restrict__ Q, const f16_t* __restrict__ K, float* __restrict__ S,
    int N, int D, float scale) {
    __shared__ float Qs[TK][TS + 4];
    __shared__ float Ks[TK][TS + 4];
    const size_t h = blockIdx.z;
    const f16_t* q = Q + h * (size_t)N * D;
    const f16_t* k = K + h * (size_t)N * D;
    float* s = S + h * (size_t)N * N;
    const int row0 = blockIdx.y * TS, col0 = blockIdx.x * TS;
    const int tx = threadIdx.x & 15, ty = threadIdx.x >> 4;
    float acc[4][4] = {};
    for (int k0 = 0; k0 < D; k0 += TK) {
        for (int e = threadIdx.x; e < TS * TK; e += 256) {
            int r = e / TK, c = e % TK;
            Qs[c][r] = h2f(q[(size_t)(row0 + r) * D + k0 + c]);
            Ks[c][r] = h2f(k[(size_t)(col0 + r) * D + k0 + c]);
        }
        __syncthreads();
#pragma unroll
        for (int kk = 0; kk < TK; ++kk) {
            float a[4], b[4];
#pragma unroll
            for (int i = 0; i < 4; ++i) { a[i] = Qs[kk][ty * 4 + i]; b[i] = Ks[kk][tx * 4 + i]; }
#pragma unroll
            for (int i = 0; i < 4; ++i)
#pragma unroll
                for (int j = 0; j < 4; ++j) acc[i][j] += a[i] * b[j];
        }
        __syncthreads();
    }
#pragma unroll
    for (int i = 0; i < 4; ++i) {
        float4 v = make_float4(acc[i][0] * scale, acc[i][1] * scale, acc[i][2] * scale, acc[i][3] * scale);
        *(float4*)&s[(size_t)(row0 + ty * 4 + i) * N + col0 + tx * 4] = v;
    }
}

// One block per row: pass 1 reads the row for its max and sum of exponentials (online),
// pass 2 reads it again and writes the probabilities in place.
extern "C" __global__ void __launch_bounds__(256) attn_std_softmax(float* __restrict__ S, int N) {
    __shared__ float sm[8], sl[8];
    float* row = S + ((size_t)blockIdx.y * N + blockIdx.x) * N;
    float m = -1e30f, l = 0.f;
    for (int j = threadIdx.x; j < N; j += 256) {
        float x = row[j];
        float mn = fmaxf(m, x);
        l = l * __expf(m - mn) + __expf(x - mn);
        m = mn;
    }
    for (int o = 16; o > 0; o >>= 1) {
        float m2 = __shfl_xor_sync(0xffffffffu, m, o), l2 = __shfl_xor_sync(0xffffffffu, l, o);
        float mn = fmaxf(m, m2);
        l = l * __expf(m - mn) + l2 * __expf(m2 - mn);
        m = mn;
    }
    if ((threadIdx.x & 31) == 0) { sm[threadIdx.x >> 5] = m; sl[threadIdx.x >> 5] = l; }
    __syncthreads();
    m = sm[0]; l = sl[0];
    for (int w = 1; w < 8; ++w) {
        float mn = fmaxf(m, sm[w]);
        l = l * __expf(m - mn) + sl[w] * __expf(sm[w] - mn);
        m = mn;
    }
    const float inv = 1.f / l;
    for (int j = threadIdx.x; j < N; j += 256) row[j] = __expf(row[j] - m) * inv;
}

extern "C" __global__ void __launch_bounds__(256) attn_std_pv(
    const float* __restrict__ P, const f16_t* __restrict__ V, f16_t* __restrict__ O, int N, int D) {
    __shared__ float Ps[TK][TS + 4];
    __shared__ float Vs[TK][TS + 4];
    const size_t h = blockIdx.z;
    const float* p = P + h * (size_t)N * N;
    const f16_t* v = V + h * (size_t)N * D;
    f16_t* o = O + h * (size_t)N * D;
    const int row0 = blockIdx.y * TS, col0 = blockIdx.x * TS;
    const int tx = threadIdx.x & 15, ty = threadIdx.x >> 4;
    float acc[4][4] = {};
    for (int k0 = 0; k0 < N; k0 += TK) {
        for (int e = threadIdx.x; e < TS * TK; e += 256) {
            int r = e / TK, c = e % TK;
            Ps[c][r] = p[(size_t)(row0 + r) * N + k0 + c];
            int vr = e / TS, vc = e % TS;
            Vs[vr][vc] = h2f(v[(size_t)(k0 + vr) * D + col0 + vc]);
        }
        __syncthreads();
#pragma unroll
        for (int kk = 0; kk < TK; ++kk) {
            float a[4], b[4];
#pragma unroll
            for (int i = 0; i < 4; ++i) { a[i] = Ps[kk][ty * 4 + i]; b[i] = Vs[kk][tx * 4 + i]; }
#pragma unroll
            for (int i = 0; i < 4; ++i)
#pragma unroll
                for (int j = 0; j < 4; ++j) acc[i][j] += a[i] * b[j];
        }
        __syncthreads();
    }
#pragma unroll
    for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int j = 0; j < 4; ++j)
            o[(size_t)(row0 + ty * 4 + i) * D + col0 + tx * 4 + j] = f2h(acc[i][j]);
}

// ---------------------------------------------------------------- tiled (flash) attention
// One fused kernel: a block owns BR = 128 query rows (D/64 threads per row, each holding 64
// dims of q and of the output accumulator in registers), streams K and V through shared
// memory in tiles of BC = 32 keys, and keeps a running max and sum (online softmax), so S
// and P never leave the chip. HBM traffic: Q and O once, K and V once per query block, i.e.
// 2*N*D*e + 2*N*D*e*ceil(N/BR) bytes per head for element size e.

#define FA_BR 128
#define FA_BC 32

__device__ __forceinline__ uint2 ld_cg_u2(const f16_t* p) {
    uint2 r;
    asm volatile("ld.global.cg.v2.u32 {%0, %1}, [%2];" : "=r"(r.x), "=r"(r.y) : "l"(p));
    return r;
}

__device__ __forceinline__ float fast_exp2(float x) {
    float y;
    asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
    return y;
}

template <int D>
__device__ __forceinline__ void attn_flash(const f16_t* __restrict__ Q, const f16_t* __restrict__ K,
                                           const f16_t* __restrict__ V, f16_t* __restrict__ O,
                                           int N, float scale) {
    constexpr int TPR = D / 64;      // threads per query row
    constexpr int NT = FA_BR * TPR;  // threads per block
    constexpr int NC = 16;           // 16 chunks of 4 dims = 64 dims per thread
    __shared__ __align__(16) float Ks[FA_BC][D];
    __shared__ __align__(16) float Vs[FA_BC][D];
    const size_t h = blockIdx.y;
    const int row = blockIdx.x * FA_BR + threadIdx.x / TPR;
    const int part = threadIdx.x % TPR;
    const f16_t* q = Q + (h * N + row) * (size_t)D;
    const f16_t* k = K + h * (size_t)N * D;
    const f16_t* v = V + h * (size_t)N * D;
    // This thread's dims: chunks of 4 at 4*TPR*c + 4*part, so the TPR threads of a row read
    // adjacent 16-byte words and all rows of a warp read the same ones (broadcast).
    const float qscale = scale * 1.4426950408889634f;  // exp2 domain
    float qr[4 * NC], acc[4 * NC];
#pragma unroll
    for (int c = 0; c < NC; ++c) {
        // One 8-byte load per chunk of 4 values (scalar 2-byte loads touched a 32-byte
        // sector per value and inflated Q's global-load traffic up to 16×).
        const uint2 qq = ld_cg_u2(q + 4 * TPR * c + 4 * part);
        qr[c * 4 + 0] = h2f((f16_t)(qq.x & 0xffff)) * qscale;
        qr[c * 4 + 1] = h2f((f16_t)(qq.x >> 16)) * qscale;
        qr[c * 4 + 2] = h2f((f16_t)(qq.y & 0xffff)) * qscale;
        qr[c * 4 + 3] = h2f((f16_t)(qq.y >> 16)) * qscale;
#pragma unroll
        for (int e = 0; e < 4; ++e) acc[c * 4 + e] = 0.f;
    }
    float m = -1e30f, l = 0.f;
    for (int t0 = 0; t0 < N; t0 += FA_BC) {
        __syncthreads();
        for (int e = threadIdx.x; e < FA_BC * D / 4; e += NT) {
            int r = e / (D / 4), c = (e % (D / 4)) * 4;
            const size_t off = (size_t)(t0 + r) * D + c;
            // ld.global.cg: cached in L2 only, not L1, so each block's K/V tile reads reach
            // L2 as the IO model counts them (co-resident blocks do not share tiles via L1).
            const uint2 kk = ld_cg_u2(k + off);
            const uint2 vv = ld_cg_u2(v + off);
            *(float4*)&Ks[r][c] = make_float4(h2f((f16_t)(kk.x & 0xffff)), h2f((f16_t)(kk.x >> 16)),
                                              h2f((f16_t)(kk.y & 0xffff)), h2f((f16_t)(kk.y >> 16)));
            *(float4*)&Vs[r][c] = make_float4(h2f((f16_t)(vv.x & 0xffff)), h2f((f16_t)(vv.x >> 16)),
                                              h2f((f16_t)(vv.y & 0xffff)), h2f((f16_t)(vv.y >> 16)));
        }
        __syncthreads();
        float s[FA_BC];
        float tmax = -1e30f;
#pragma unroll
        for (int j = 0; j < FA_BC; ++j) {
            float d0 = 0.f, d1 = 0.f;
#pragma unroll
            for (int c = 0; c < NC; c += 2) {
                float4 ka = *(const float4*)&Ks[j][4 * TPR * c + 4 * part];
                float4 kb = *(const float4*)&Ks[j][4 * TPR * (c + 1) + 4 * part];
                d0 += qr[c * 4 + 0] * ka.x + qr[c * 4 + 1] * ka.y + qr[c * 4 + 2] * ka.z + qr[c * 4 + 3] * ka.w;
                d1 += qr[c * 4 + 4] * kb.x + qr[c * 4 + 5] * kb.y + qr[c * 4 + 6] * kb.z + qr[c * 4 + 7] * kb.w;
            }
            float d = d0 + d1;
            if (TPR == 2) d += __shfl_xor_sync(0xffffffffu, d, 1);
            s[j] = d;
            tmax = fmaxf(tmax, d);
        }
        const float mn = fmaxf(m, tmax);
        const float corr = fast_exp2(m - mn);
        l *= corr;
#pragma unroll
        for (int i = 0; i < 4 * NC; ++i) acc[i] *= corr;
#pragma unroll
        for (int j = 0; j < FA_BC; ++j) {
            const float p = fast_exp2(s[j] - mn);
            l += p;
#pragma unroll
            for (int c = 0; c < NC; ++c) {
                float4 vv = *(const float4*)&Vs[j][4 * TPR * c + 4 * part];
                acc[c * 4 + 0] += p * vv.x; acc[c * 4 + 1] += p * vv.y;
                acc[c * 4 + 2] += p * vv.z; acc[c * 4 + 3] += p * vv.w;
            }
        }
        m = mn;
    }
    const float inv = 1.f / l;
    f16_t* o = O + (h * N + row) * (size_t)D;
#pragma unroll
    for (int c = 0; c < NC; ++c)
#pragma unroll
        for (int e = 0; e < 4; ++e) o[4 * TPR * c + 4 * part + e] = f2h(acc[c * 4 + e] * inv);
}

extern "C" __global__ void __launch_bounds__(128) attn_flash_d64(
    const f16_t* Q, const f16_t* K, const f16_t* V, f16_t* O, int N, float scale) {
    attn_flash<64>(Q, K, V, O, N, scale);
}
extern "C" __global__ void __launch_bounds__(256) attn_flash_d128(
    const f16_t* Q, const f16_t* K, const f16_t* V, f16_t* O, int N, float scale) {
    attn_flash<128>(Q, K, V, O, N, scale);
}

// ---------------------------------------------------------------- paged decode attention
// Split-context ("flash-decoding") over a paged cache: one block of 4 warps per (sequence,
// head, split of SPLIT tokens); D = 128, each lane owns 4 consecutive dims; each warp keeps an
// online softmax, warps merge in shared memory, and a second kernel merges the splits.
// The token's K and V rows are found through the sequence's block table and dequantized in
// registers, so HBM traffic is the cache's bytes at its own dtype.

#define PD_D 128

template <int KIND>  // 0 = f16, 1 = q8_0, 2 = q4_0
__device__ __forceinline__ void load4(const u8* __restrict__ rowp, int lane, float out[4]) {
    if (KIND == 0) {
        uint2 u = *(const uint2*)(rowp + lane * 8);
        out[0] = h2f((f16_t)(u.x & 0xffff)); out[1] = h2f((f16_t)(u.x >> 16));
        out[2] = h2f((f16_t)(u.y & 0xffff)); out[3] = h2f((f16_t)(u.y >> 16));
    } else if (KIND == 1) {
        const u8* blk = rowp + (lane >> 3) * 34;
        const float d = h2f(*(const f16_t*)blk);
        const int j0 = (lane & 7) * 4;
        const unsigned short lo = *(const unsigned short*)(blk + 2 + j0);
        const unsigned short hi = *(const unsigned short*)(blk + 2 + j0 + 2);
        out[0] = d * (float)(signed char)(lo & 0xff); out[1] = d * (float)(signed char)(lo >> 8);
        out[2] = d * (float)(signed char)(hi & 0xff); out[3] = d * (float)(signed char)(hi >> 8);
    } else {
        const u8* blk = rowp + (lane >> 3) * 18;
        const float d = h2f(*(const f16_t*)blk);
        const int j0 = (lane & 7) * 4;  // element index within the 32-block
        const int b0 = j0 & 15;         // byte holding it
        const int shift = j0 < 16 ? 0 : 4;
        const unsigned short lo = *(const unsigned short*)(blk + 2 + b0);
        const unsigned short hi = *(const unsigned short*)(blk + 2 + b0 + 2);
        out[0] = d * (float)((int)(((lo & 0xff) >> shift) & 0xf) - 8);
        out[1] = d * (float)((int)(((lo >> 8) >> shift) & 0xf) - 8);
        out[2] = d * (float)((int)(((hi & 0xff) >> shift) & 0xf) - 8);
        out[3] = d * (float)((int)(((hi >> 8) >> shift) & 0xf) - 8);
    }
}

template <int KIND>
__device__ __forceinline__ void paged_decode(const float* __restrict__ q, const u8* __restrict__ kc,
                                             const u8* __restrict__ vc, const int* __restrict__ tables,
                                             const int* __restrict__ ctx_lens, float* __restrict__ part_ml,
                                             float* __restrict__ part_acc, int H, int max_blocks,
                                             int block_size, int row_bytes, float scale, int split_tokens,
                                             int max_splits) {
    __shared__ float wm[4], wl[4];
    __shared__ float wacc[4][PD_D];
    const int seq = blockIdx.x, h = blockIdx.y, split = blockIdx.z;
    const int lane = threadIdx.x & 31, w = threadIdx.x >> 5;
    const float* qp = q + ((size_t)seq * H + h) * PD_D;
    float qv[4];
    for (int e = 0; e < 4; ++e) qv[e] = qp[lane * 4 + e] * scale;
    const int len = ctx_lens[seq];
    const int t_begin = split * split_tokens;
    const int t_end = min(len, t_begin + split_tokens);
    const int* table = tables + (size_t)seq * max_blocks;
    float m = -1e30f, l = 0.f, acc[4] = {0.f, 0.f, 0.f, 0.f};
    // Each warp takes tokens w, w+4, ... of this split, two at a time so that four row loads
    // are in flight before the first is used.
    for (int t = t_begin + w; t < t_end; t += 8) {
        const bool two = t + 4 < t_end;
        const int t2 = two ? t + 4 : t;
        const size_t off1 = (((size_t)table[t / block_size] * block_size + (t % block_size)) * H + h) * row_bytes;
        const size_t off2 = (((size_t)table[t2 / block_size] * block_size + (t2 % block_size)) * H + h) * row_bytes;
        float k1[4], v1[4], k2[4], v2[4];
        load4<KIND>(kc + off1, lane, k1);
        load4<KIND>(kc + off2, lane, k2);
        load4<KIND>(vc + off1, lane, v1);
        load4<KIND>(vc + off2, lane, v2);
        float d1 = qv[0] * k1[0] + qv[1] * k1[1] + qv[2] * k1[2] + qv[3] * k1[3];
        float d2 = qv[0] * k2[0] + qv[1] * k2[1] + qv[2] * k2[2] + qv[3] * k2[3];
        for (int o = 16; o > 0; o >>= 1) {
            d1 += __shfl_xor_sync(0xffffffffu, d1, o);
            d2 += __shfl_xor_sync(0xffffffffu, d2, o);
        }
        if (!two) d2 = -1e30f;
        const float mn = fmaxf(m, fmaxf(d1, d2));
        const float corr = __expf(m - mn), p1 = __expf(d1 - mn), p2 = two ? __expf(d2 - mn) : 0.f;
        l = l * corr + p1 + p2;
        for (int e = 0; e < 4; ++e) acc[e] = acc[e] * corr + p1 * v1[e] + p2 * v2[e];
        m = mn;
    }
    if (lane == 0) { wm[w] = m; wl[w] = l; }
    for (int e = 0; e < 4; ++e) wacc[w][lane * 4 + e] = acc[e];
    __syncthreads();
    if (w == 0) {
        float M = fmaxf(fmaxf(wm[0], wm[1]), fmaxf(wm[2], wm[3]));
        float L = 0.f, o[4] = {0.f, 0.f, 0.f, 0.f};
        for (int i = 0; i < 4; ++i) {
            const float c = __expf(wm[i] - M);
            L += wl[i] * c;
            for (int e = 0; e < 4; ++e) o[e] += wacc[i][lane * 4 + e] * c;
        }
        const size_t slot = ((size_t)seq * H + h) * max_splits + split;
        if (lane == 0) { part_ml[2 * slot] = M; part_ml[2 * slot + 1] = L; }
        for (int e = 0; e < 4; ++e) part_acc[slot * PD_D + lane * 4 + e] = o[e];
    }
}

#define PAGED_ARGS const float* q, const u8* kc, const u8* vc, const int* tables, const int* ctx_lens, \
    float* part_ml, float* part_acc, int H, int max_blocks, int block_size, int row_bytes, float scale, \
    int split_tokens, int max_splits
#define PAGED_PASS q, kc, vc, tables, ctx_lens, part_ml, part_acc, H, max_blocks, block_size, row_bytes, scale, \
    split_tokens, max_splits
extern "C" __global__ void __launch_bounds__(128) paged_decode_f16(PAGED_ARGS) { paged_decode<0>(PAGED_PASS); }
extern "C" __global__ void __launch_bounds__(128) paged_decode_q8_0(PAGED_ARGS) { paged_decode<1>(PAGED_PASS); }
extern "C" __global__ void __launch_bounds__(128) paged_decode_q4_0(PAGED_ARGS) { paged_decode<2>(PAGED_PASS); }

// Merge the splits of each (sequence, head): one block of D threads, one dim each.
extern "C" __global__ void __launch_bounds__(128) paged_decode_reduce(
    const float* __restrict__ part_ml, const float* __restrict__ part_acc, const int* __restrict__ ctx_lens,
    float* __restrict__ out, int H, int split_tokens, int max_splits) {
    const int seq = blockIdx.x, h = blockIdx.y, dim = threadIdx.x;
    const int splits = (ctx_lens[seq] + split_tokens - 1) / split_tokens;
    const size_t base = ((size_t)seq * H + h) * max_splits;
    float M = -1e30f;
    for (int s = 0; s < splits; ++s) M = fmaxf(M, part_ml[2 * (base + s)]);
    float L = 0.f, o = 0.f;
    for (int s = 0; s < splits; ++s) {
        const float c = __expf(part_ml[2 * (base + s)] - M);
        L += part_ml[2 * (base + s) + 1] * c;
        o += part_acc[(base + s) * PD_D + dim] * c;
    }
    out[((size_t)seq * H + h) * PD_D + dim] = o / L;
}

// ---------------------------------------------------------------- KV quantize (GGML layouts)
// One thread per 32-value block, as ggml's reference quantizers compute it.

extern "C" __global__ void quantize_q8_0(const f16_t* __restrict__ x, u8* __restrict__ y, unsigned long long nblocks) {
    for (unsigned long long b = blockIdx.x * (unsigned long long)blockDim.x + threadIdx.x; b < nblocks;
         b += (unsigned long long)gridDim.x * blockDim.x) {
        const f16_t* xb = x + b * 32;
        float v[32], amax = 0.f;
#pragma unroll
        for (int j = 0; j < 32; ++j) { v[j] = h2f(xb[j]); amax = fmaxf(amax, fabsf(v[j])); }
        const float d = amax / 127.f;
        const float id = d != 0.f ? 1.f / d : 0.f;
        u8* yb = y + b * 34;
        *(f16_t*)yb = f2h(d);  // blocks are 34 or 18 bytes: 2-byte aligned
#pragma unroll
        for (int j = 0; j < 32; ++j) yb[2 + j] = (u8)(signed char)roundf(v[j] * id);
    }
}

extern "C" __global__ void quantize_q4_0(const f16_t* __restrict__ x, u8* __restrict__ y, unsigned long long nblocks) {
    for (unsigned long long b = blockIdx.x * (unsigned long long)blockDim.x + threadIdx.x; b < nblocks;
         b += (unsigned long long)gridDim.x * blockDim.x) {
        const f16_t* xb = x + b * 32;
        float v[32], amax = 0.f, mx = 0.f;
#pragma unroll
        for (int j = 0; j < 32; ++j) {
            v[j] = h2f(xb[j]);
            if (fabsf(v[j]) > amax) { amax = fabsf(v[j]); mx = v[j]; }
        }
        const float d = mx / -8.f;
        const float id = d != 0.f ? 1.f / d : 0.f;
        u8* yb = y + b * 18;
        *(f16_t*)yb = f2h(d);  // blocks are 34 or 18 bytes: 2-byte aligned
#pragma unroll
        for (int j = 0; j < 16; ++j) {
            int q0 = min(15, (int)(v[j] * id + 8.5f));
            int q1 = min(15, (int)(v[j + 16] * id + 8.5f));
            yb[2 + j] = (u8)(q0 | (q1 << 4));
        }
    }
}
