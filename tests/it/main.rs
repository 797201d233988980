//! Integration tests, one binary, read like a document:
//!
//! - `bench`: the bench pipeline without a GPU (CPU backend, measured-file round trip) and
//!   every CUDA kernel compiled to PTX by NVRTC.

mod bench;
