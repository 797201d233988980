//! The tensor-parallel all-reduce: `latency + 2·(p−1)/p · bytes / bus bandwidth` (a ring's
//! traffic; NCCL's "bus bandwidth" is defined so that this holds), with latency and bus
//! bandwidth per GPU generation and group size fitted to Vidur's measured NCCL all-reduces
//! within one NVSwitch node (`data/vidur/network/{a100,h100}_dgx/all_reduce.csv`, rows with
//! `devices_per_node = num_workers`; least squares on relative error; a test refits them).
//!
//! Transfer rule for GPUs not profiled: NVLink GPUs of the Hopper and Blackwell generations
//! take the H100 fit, older NVLink GPUs the A100 fit, each with its bus bandwidth scaled by
//! the GPU's NVLink bandwidth over the profiled GPU's (450 and 300 GB/s per direction); a
//! group size between the measured ones takes the nearest smaller one (8 beyond 8).
//! PCIe peers take NCCL's all-reduce as measured on eight RTX PRO 6000 Blackwell over PCIe
//! Gen5 (github.com/voipmonitor/rtx6kpro `hardware/pcie-bandwidth.md`, commit 070506f:
//! 24–28 µs for messages up to 256 KiB, 37.6–41.7 GB/s bus bandwidth at large sizes of the
//! link's 63 GB/s): a 24 µs latency and 0.63 of the link's nominal rate per direction, for
//! every PCIe GPU and group size (one system measured; PCIe Gen4 GPUs scale with their
//! link). xGMI peers have no measurement: the link's nominal rate with a 10 µs latency, an
//! assumption.
//!
//! Those profiles are NCCL's. vLLM (and SGLang, which uses its kernel) reduce messages under
//! 8 MiB on fully NVLink-connected groups of 2, 4, 6 or 8 GPUs with their own one-shot
//! custom all-reduce instead (`vllm/distributed/device_communicators/custom_all_reduce.py`,
//! `CustomAllreduce`, `max_size = 8192 * 1024`, `_SUPPORTED_WORLD_SIZES`, v0.6–0.11), and
//! TensorRT-LLM its own one-/two-shot kernels (`AllReduceStrategy.AUTO`): decode-sized
//! messages take that path, whose time is not measured here (assumed 10 µs plus the bytes at
//! the link's nominal rate); prefill-sized ones take NCCL's. vLLM's kernel also runs on two
//! PCIe GPUs with peer access (it refuses more than two PCIe-only GPUs), there at the peer
//! write rate measured on the same system (54 of 63 GB/s).

use crate::hardware::{GpuSpec, LinkKind};
use crate::kv::EngineKind;

/// One GPU's all-reduce in a tensor-parallel group of a given size.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AllReduce {
    /// Fixed seconds per all-reduce.
    pub latency_s: f64,
    /// NCCL bus bandwidth, bytes per second.
    pub bus_bytes_per_s: f64,
    /// GPUs in the group.
    pub gpus: f64,
    /// The engine's own all-reduce for small messages: (latency s, bytes/s, largest bytes).
    pub custom: Option<(f64, f64, f64)>,
}

/// vLLM's `CustomAllreduce` `max_size`.
pub const CUSTOM_MAX_BYTES: f64 = 8192.0 * 1024.0;

/// (GPUs, latency µs, bus bandwidth GB/s) of NCCL all-reduce on one node.
type Fit = (u32, f64, f64);

/// DGX H100 (NVLink 4 through NVSwitch, 450 GB/s per direction per GPU).
pub const H100_NVSWITCH: [Fit; 3] = [(2, 16.62, 564.2), (4, 30.61, 759.1), (8, 28.58, 677.8)];
/// DGX A100 (NVLink 3 through NVSwitch, 300 GB/s per direction per GPU).
pub const A100_NVSWITCH: [Fit; 3] = [(2, 35.84, 316.8), (4, 28.74, 307.9), (8, 38.98, 303.9)];

/// Latency assumed where nothing was measured (xGMI; the engines' own kernels).
pub const UNMEASURED_LATENCY_S: f64 = 10e-6;
/// NCCL all-reduce latency over PCIe (measured, RTX PRO 6000 × 8, Gen5 switches).
pub const PCIE_NCCL_LATENCY_S: f64 = 24e-6;
/// NCCL's bus bandwidth over PCIe as a share of the link's nominal rate (≈ 40 of 63 GB/s).
pub const PCIE_NCCL_SHARE: f64 = 0.63;
/// Peer-to-peer write bandwidth over PCIe as a share of the nominal rate (≈ 54 of 63 GB/s).
pub const PCIE_P2P_SHARE: f64 = 0.86;

impl AllReduce {
    /// The all-reduce of `engine` on `gpu` in a group of `tp` GPUs: NCCL's, with the
    /// engine's own kernel for small messages where it has one.
    pub fn for_engine(gpu: &GpuSpec, tp: u32, engine: EngineKind) -> AllReduce {
        let mut ar = AllReduce::for_gpu(gpu, tp);
        let own_kernel = !matches!(engine, EngineKind::LlamaCpp);
        if own_kernel && gpu.link_kind == LinkKind::Nvlink && matches!(tp, 2 | 4 | 6 | 8) {
            ar.custom = Some((UNMEASURED_LATENCY_S, gpu.link_bytes_per_s, CUSTOM_MAX_BYTES));
        }
        let vllm_kernel = matches!(
            engine,
            EngineKind::Vllm | EngineKind::VllmV0 | EngineKind::Sglang
        );
        if vllm_kernel && gpu.link_kind == LinkKind::Pcie && tp == 2 {
            ar.custom = Some((
                UNMEASURED_LATENCY_S,
                PCIE_P2P_SHARE * gpu.link_bytes_per_s,
                CUSTOM_MAX_BYTES,
            ));
        }
        ar
    }

    /// NCCL's all-reduce on `gpu` in a group of `tp` GPUs.
    pub fn for_gpu(gpu: &GpuSpec, tp: u32) -> AllReduce {
        let gpus = tp as f64;
        if gpu.link_kind == LinkKind::Pcie {
            return AllReduce {
                latency_s: PCIE_NCCL_LATENCY_S,
                bus_bytes_per_s: PCIE_NCCL_SHARE * gpu.link_bytes_per_s,
                gpus,
                custom: None,
            };
        }
        if gpu.link_kind != LinkKind::Nvlink {
            return AllReduce {
                latency_s: UNMEASURED_LATENCY_S,
                bus_bytes_per_s: gpu.link_bytes_per_s,
                gpus,
                custom: None,
            };
        }
        let (table, profiled_link) = match gpu.architecture.as_str() {
            "hopper" | "blackwell" => (&H100_NVSWITCH, 450e9),
            _ => (&A100_NVSWITCH, 300e9),
        };
        let &(_, latency_us, bus_gb_s) = table
            .iter()
            .rev()
            .find(|r| r.0 <= tp.max(2))
            .unwrap_or(&table[0]);
        AllReduce {
            latency_s: latency_us * 1e-6,
            bus_bytes_per_s: bus_gb_s * 1e9 * gpu.link_bytes_per_s / profiled_link,
            gpus,
            custom: None,
        }
    }

    /// Seconds to all-reduce `bytes` (0 without tensor parallelism).
    pub fn seconds(&self, bytes: f64) -> f64 {
        if self.gpus <= 1.0 {
            return 0.0;
        }
        let ring = 2.0 * (self.gpus - 1.0) / self.gpus * bytes;
        match self.custom {
            Some((latency, rate, max)) if bytes <= max => latency + ring / rate,
            _ => self.latency_s + ring / self.bus_bytes_per_s,
        }
    }
}

/// Latency and bus bandwidth of `time = a + x / bw` fitted to `(x, seconds)` points by least
/// squares on relative error (each residual divided by its measurement).
pub fn fit_latency_bandwidth(points: &[(f64, f64)]) -> (f64, f64) {
    let (mut s00, mut s01, mut s11, mut r0, mut r1) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for &(x, y) in points {
        let w = 1.0 / (y * y);
        s00 += w;
        s01 += w * x;
        s11 += w * x * x;
        r0 += w * y;
        r1 += w * x * y;
    }
    let det = s00 * s11 - s01 * s01;
    let a = (r0 * s11 - s01 * r1) / det;
    let b = (s00 * r1 - s01 * r0) / det;
    (a, 1.0 / b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;
    use crate::cost::vidur::load_all_reduce;

    /// The constants are the fit of the vendored profiles, refitted here.
    #[test]
    fn constants_are_the_fit_of_vidurs_network_profiles() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/vidur");
        let rows = load_all_reduce(&dir).unwrap();
        for (node, table) in [("h100_dgx", H100_NVSWITCH), ("a100_dgx", A100_NVSWITCH)] {
            for (n, latency_us, bus_gb_s) in table {
                let points: Vec<(f64, f64)> = rows
                    .iter()
                    .filter(|r| {
                        r.node == node
                            && r.num_workers == n as u64
                            && r.devices_per_node == n as u64
                    })
                    .map(|r| {
                        let bytes = 2.0 * r.size_elems as f64;
                        (
                            2.0 * (n as f64 - 1.0) / n as f64 * bytes,
                            r.median_ms * 1e-3,
                        )
                    })
                    .collect();
                assert!(points.len() > 900, "{node} {n}: {} points", points.len());
                let (a, bw) = fit_latency_bandwidth(&points);
                assert!(
                    (a * 1e6 / latency_us - 1.0).abs() < 0.005,
                    "{node} {n}: {} µs",
                    a * 1e6
                );
                assert!(
                    (bw / 1e9 / bus_gb_s - 1.0).abs() < 0.005,
                    "{node} {n}: {} GB/s",
                    bw / 1e9
                );
            }
        }
    }

    /// The transfer rule: the H200 takes the H100's fit, the B200 twice its bandwidth
    /// (NVLink 5), the L40S the PCIe measurement scaled to its Gen4 link.
    #[test]
    fn transfer_rule_by_generation_and_link() {
        let c = Catalog::builtin();
        let h200 = AllReduce::for_gpu(&c.gpu("h200").unwrap(), 4);
        assert_eq!((h200.latency_s, h200.bus_bytes_per_s), (30.61e-6, 759.1e9));
        let b200 = AllReduce::for_gpu(&c.gpu("b200").unwrap(), 8);
        assert!((b200.bus_bytes_per_s / (2.0 * 677.8e9) - 1.0).abs() < 1e-9);
        let a100 = AllReduce::for_gpu(&c.gpu("a100-80gb").unwrap(), 3);
        assert_eq!(a100.latency_s, 35.84e-6);
        let l40s = AllReduce::for_gpu(&c.gpu("l40s").unwrap(), 4);
        assert_eq!(l40s.latency_s, PCIE_NCCL_LATENCY_S);
        assert!((l40s.bus_bytes_per_s / (0.63 * 32e9) - 1.0).abs() < 1e-9);
        assert_eq!(
            AllReduce::for_gpu(&c.gpu("h100-sxm").unwrap(), 1).seconds(1e6),
            0.0
        );
    }

    /// vLLM reduces messages under 8 MiB with its own kernel on NVLink groups of 2/4/6/8,
    /// NCCL beyond; llama.cpp and PCIe groups always NCCL's rule.
    #[test]
    fn engines_own_all_reduce_below_8_mib() {
        let h100 = Catalog::builtin().gpu("h100-sxm").unwrap();
        let v = AllReduce::for_engine(&h100, 4, EngineKind::Vllm);
        let nccl = AllReduce::for_gpu(&h100, 4);
        let small = 1024.0 * 1024.0;
        assert_eq!(v.seconds(small), 10e-6 + 1.5 * small / 450e9);
        assert_eq!(v.seconds(16.0 * small), nccl.seconds(16.0 * small));
        assert_eq!(
            AllReduce::for_engine(&h100, 3, EngineKind::Vllm).custom,
            None
        );
        assert_eq!(
            AllReduce::for_engine(&h100, 4, EngineKind::LlamaCpp).custom,
            None
        );
        // Two PCIe GPUs: vLLM's kernel at the peer write rate; four: NCCL only.
        let rtx = Catalog::builtin().gpu("rtx-pro-6000").unwrap();
        let two = AllReduce::for_engine(&rtx, 2, EngineKind::Vllm);
        assert_eq!(two.seconds(small), 10e-6 + small / (0.86 * 64e9));
        assert_eq!(
            AllReduce::for_engine(&rtx, 4, EngineKind::Vllm).custom,
            None
        );
        assert_eq!(
            AllReduce::for_engine(&rtx, 2, EngineKind::Trtllm).custom,
            None
        );
    }
}
