//! `HardwareError`: everything that can go wrong reading or validating a GPU file.

use std::path::{Path, PathBuf};

/// Why a GPU could not be loaded. Every variant that comes from a file names it.
#[derive(Debug, thiserror::Error)]
pub enum HardwareError {
    /// The file could not be read (missing, unreadable).
    #[error("{}: cannot read: {error}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        error: std::io::Error,
    },
    /// The file is not valid TOML, has an unknown or missing key, or a key has the wrong
    /// type; the parser's message gives the line, the column and the key.
    #[error("{}: {error}", path.display())]
    Toml {
        /// The file.
        path: PathBuf,
        /// The parser's error (its `Display` shows line, column and the offending text).
        error: toml::de::Error,
    },
    /// A key is present but zero, negative, not finite, or inconsistent with another key.
    /// Displays as `hardware/x.toml: memory.bandwidth_gb_s = 0: must be > 0 (GB/s, …)`.
    #[error("{}: {key} = {value}: {reason}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The dotted TOML key at fault, e.g. `memory.bandwidth_gb_s`.
        key: &'static str,
        /// The value as read, formatted (strings quoted).
        value: String,
        /// What is wrong with it and what is expected, with units.
        reason: String,
    },
    /// A catalog name that matches no GPU (user folder or built-in).
    #[error("unknown gpu `{name}` (known, closest first: {})", known.join(", "))]
    UnknownGpu {
        /// The name as given.
        name: String,
        /// Every catalog name, closest to `name` first (see
        /// [`closest_first`](crate::util::closest_first)).
        known: Vec<String>,
    },
}

impl HardwareError {
    /// An [`HardwareError::Invalid`] for `key` in `path`.
    pub(crate) fn invalid(
        path: &Path,
        key: &'static str,
        value: impl ToString,
        reason: impl Into<String>,
    ) -> Self {
        Self::Invalid {
            path: path.to_path_buf(),
            key,
            value: value.to_string(),
            reason: reason.into(),
        }
    }
}
