//! Units: byte multiples written out once (GiB is binary, GB decimal: vLLM and PyTorch print
//! GiB, datasheets GB), so no file defines its own.

/// Bytes in a KiB.
pub const KIB: u64 = 1 << 10;
/// Bytes in a MiB.
pub const MIB: u64 = 1 << 20;
/// Bytes in a GiB (what PyTorch, vLLM and nvidia-smi mean by GiB, and vLLM's "GB").
pub const GIB: u64 = 1 << 30;
/// Bytes in a GB (decimal: what datasheets mean by GB and GB/s).
pub const GB: u64 = 1_000_000_000;

/// `bytes` in GiB, for display and for f64 arithmetic.
pub fn gib(bytes: f64) -> f64 {
    bytes / GIB as f64
}

/// `bytes` in MiB.
pub fn mib(bytes: f64) -> f64 {
    bytes / MIB as f64
}
