//! `ModelError`: everything that can go wrong reading or validating a model config.

use std::path::PathBuf;

/// Why a model could not be loaded. Every variant that comes from a file names it.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The file could not be read (missing, unreadable).
    #[error("{}: cannot read: {error}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        error: std::io::Error,
    },
    /// The file is not valid TOML, or a key has the wrong type; the message gives the line.
    #[error("{}: {error}", path.display())]
    Toml {
        /// The file.
        path: PathBuf,
        /// The parser's error (its `Display` shows line, column and the offending text).
        error: toml::de::Error,
    },
    /// The file is not valid JSON, or a key has the wrong type.
    #[error("{}: {error}", path.display())]
    Json {
        /// The file.
        path: PathBuf,
        /// The parser's error (its `Display` shows line and column).
        error: serde_json::Error,
    },
    /// A key the planner needs is absent.
    #[error("{}: missing field `{field}` (Hugging Face config.json key)", path.display())]
    Missing {
        /// The file.
        path: PathBuf,
        /// The config.json key, e.g. `num_attention_heads`.
        field: &'static str,
    },
    /// A key is present but zero, out of range or inconsistent with another key.
    #[error("{}: invalid `{field}`: {reason}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The config.json key at fault.
        field: &'static str,
        /// What is wrong with it, with the values involved.
        reason: String,
    },
    /// A catalog name that matches no model (user folder or built-in).
    #[error("unknown model `{name}` (known, closest first: {})", known.join(", "))]
    UnknownModel {
        /// The name as given.
        name: String,
        /// Every catalog name, closest to `name` first.
        known: Vec<String>,
    },
    /// A weight dtype string that [`WeightDtype`](super::WeightDtype) does not know.
    #[error(
        "unknown weight dtype `{given}` (known: bf16, fp16, fp8, int8, int4, int4-g<group size> e.g. int4-g64, nvfp4, mxfp4, nf4, and llama.cpp's q8_0, q6_k, q5_k_m, q4_k_m, q4_0, iq4_xs, …)"
    )]
    UnknownDtype {
        /// The string as given.
        given: String,
    },
    /// A `quantization_config.quant_method` the planner cannot size.
    #[error(
        "{}: unknown `quantization_config.quant_method` = \"{method}\" (known: {}); to size this checkpoint anyway, remove `quantization_config` from a copy of the file and name the weight format with --weight-dtype (planner size) or model.weight_dtype (scenario)",
        path.display(),
        known.join(", ")
    )]
    UnknownQuantMethod {
        /// The file.
        path: PathBuf,
        /// The method as written.
        method: String,
        /// The methods the planner reads.
        known: &'static [&'static str],
    },
}
