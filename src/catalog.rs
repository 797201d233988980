//! The model and GPU catalogs: built into the binary, extended or overridden by user folders.
//!
//! One lookup rule, for `--model`/`--gpu` flags and for the scenario keys `model.name`,
//! `hardware.gpu` and `engine.speculative.draft_model` alike:
//!
//! 1. **A path** (the spec contains `/` or `\`, or ends in `.toml`/`.json`) is read as that
//!    file. Flags take it relative to the working folder; scenario keys relative to the
//!    scenario file's folder (the scenario resolves it before asking the catalog).
//! 2. **A name** is looked up, case-insensitively, first in the user folder
//!    (`--models-dir`/`--hardware-dir`, else `$PLANNER_MODELS_DIR`/`$PLANNER_HARDWARE_DIR`)
//!    as `<name>.toml`, then in the built-in catalog: the repository's `models/*.toml` and
//!    `hardware/*.toml`, embedded at build time (`build.rs`). A user file of a built-in's name
//!    overrides it.
//! 3. An unknown name is an error listing every known name, closest first.
//!
//! Every loaded model and GPU records where it came from ([`Model::source`],
//! [`GpuSpec::source`]): a file path, or `built-in:models/<name>.toml` for an embedded entry.

use crate::hardware::{GpuSpec, HardwareError, RawGpu};
use crate::model::{Model, ModelError, RawConfig};
use crate::util::closest_first;
use std::fmt;
use std::path::{Path, PathBuf};

mod data {
    include!(concat!(env!("OUT_DIR"), "/catalog_data.rs"));
}

/// Environment variable naming the user's model folder (overridden by `--models-dir`).
pub const MODELS_DIR_ENV: &str = "PLANNER_MODELS_DIR";
/// Environment variable naming the user's GPU folder (overridden by `--hardware-dir`).
pub const HARDWARE_DIR_ENV: &str = "PLANNER_HARDWARE_DIR";

/// Where a catalog entry comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Embedded in the binary (the repository's `models/` or `hardware/` at build time).
    BuiltIn,
    /// A `<name>.toml` in the user folder; `overrides` when a built-in has the same name.
    UserDir {
        /// The file.
        file: PathBuf,
        /// A built-in entry of the same name exists and is shadowed.
        overrides: bool,
    },
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::BuiltIn => f.write_str("built-in"),
            Origin::UserDir {
                file,
                overrides: true,
            } => write!(f, "{} (overrides the built-in)", file.display()),
            Origin::UserDir { file, .. } => write!(f, "{}", file.display()),
        }
    }
}

/// One catalog name and where it resolves to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The catalog name (file stem).
    pub name: String,
    /// Where the name resolves to.
    pub origin: Origin,
}

/// Which of the two catalogs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Models,
    Gpus,
}

impl Kind {
    fn builtin(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Kind::Models => data::MODELS,
            Kind::Gpus => data::GPUS,
        }
    }

    fn folder(self) -> &'static str {
        match self {
            Kind::Models => "models",
            Kind::Gpus => "hardware",
        }
    }
}

/// The model and GPU catalogs one run resolves names against. Cheap to clone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Catalog {
    models_dir: Option<PathBuf>,
    hardware_dir: Option<PathBuf>,
}

/// The catalog GPU a common short name means: the SXM H100 board (what cloud
/// instances mean by "H100"), the 80 GB A100 (the one sold in the largest numbers).
pub fn gpu_alias(name: &str) -> Option<&'static str> {
    match name.trim().to_ascii_lowercase().as_str() {
        "h100" => Some("h100-sxm"),
        "a100" => Some("a100-80gb"),
        _ => None,
    }
}

impl Catalog {
    /// The built-in catalogs only (no user folder; ignores the environment). Tests use this.
    pub fn builtin() -> Catalog {
        Catalog::default()
    }

    /// The built-in catalogs extended by these user folders.
    pub fn with_dirs(models_dir: Option<PathBuf>, hardware_dir: Option<PathBuf>) -> Catalog {
        Catalog {
            models_dir,
            hardware_dir,
        }
    }

    /// The catalogs a command sees: each user folder from its flag if given, else from
    /// `$PLANNER_MODELS_DIR` / `$PLANNER_HARDWARE_DIR` if set. A folder that does not exist
    /// is an error naming it and where it came from.
    pub fn from_flags(
        models_dir: Option<PathBuf>,
        hardware_dir: Option<PathBuf>,
    ) -> Result<Catalog, CatalogError> {
        let pick = |flag: Option<PathBuf>, flag_name: &'static str, env: &'static str| {
            let (dir, from) = match flag {
                Some(d) => (d, flag_name),
                None => match std::env::var_os(env) {
                    Some(d) if !d.is_empty() => (PathBuf::from(d), env),
                    _ => return Ok(None),
                },
            };
            if dir.is_dir() {
                Ok(Some(dir))
            } else {
                Err(CatalogError::NoSuchDir { dir, from })
            }
        };
        Ok(Catalog {
            models_dir: pick(models_dir, "--models-dir", MODELS_DIR_ENV)?,
            hardware_dir: pick(hardware_dir, "--hardware-dir", HARDWARE_DIR_ENV)?,
        })
    }

    /// The user's model folder, if any.
    pub fn models_dir(&self) -> Option<&Path> {
        self.models_dir.as_deref()
    }

    /// The user's GPU folder, if any.
    pub fn hardware_dir(&self) -> Option<&Path> {
        self.hardware_dir.as_deref()
    }

    fn dir(&self, kind: Kind) -> Option<&Path> {
        match kind {
            Kind::Models => self.models_dir(),
            Kind::Gpus => self.hardware_dir(),
        }
    }

    /// Every model name with where it resolves to, sorted by name.
    pub fn models(&self) -> Vec<Entry> {
        self.entries(Kind::Models)
    }

    /// Every GPU name with where it resolves to, sorted by name.
    pub fn gpus(&self) -> Vec<Entry> {
        self.entries(Kind::Gpus)
    }

    /// Every model name, sorted.
    pub fn model_names(&self) -> Vec<String> {
        self.models().into_iter().map(|e| e.name).collect()
    }

    /// Every GPU name, sorted.
    pub fn gpu_names(&self) -> Vec<String> {
        self.gpus().into_iter().map(|e| e.name).collect()
    }

    fn entries(&self, kind: Kind) -> Vec<Entry> {
        let builtin = kind.builtin();
        let user = self
            .dir(kind)
            .map(crate::util::toml_stems)
            .unwrap_or_default();
        let mut out: Vec<Entry> = builtin
            .iter()
            .filter(|(name, _)| !user.iter().any(|u| u.eq_ignore_ascii_case(name)))
            .map(|(name, _)| Entry {
                name: name.to_string(),
                origin: Origin::BuiltIn,
            })
            .collect();
        let dir = self.dir(kind).unwrap_or(Path::new(""));
        out.extend(user.iter().map(|name| Entry {
            name: name.clone(),
            origin: Origin::UserDir {
                file: dir.join(format!("{name}.toml")),
                overrides: builtin.iter().any(|(b, _)| b.eq_ignore_ascii_case(name)),
            },
        }));
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }

    /// The entry `name` resolves to (case-insensitive), or every known name, closest first.
    fn find(&self, kind: Kind, name: &str) -> Result<Entry, Vec<String>> {
        let entries = self.entries(kind);
        match entries.iter().find(|e| e.name.eq_ignore_ascii_case(name)) {
            Some(e) => Ok(e.clone()),
            None => {
                let names: Vec<String> = entries.into_iter().map(|e| e.name).collect();
                Err(closest_first(name, &names))
            }
        }
    }

    /// The text and source path of a found entry: the user file is read, a built-in's text is
    /// in the binary (its source reads `built-in:<folder>/<name>.toml`).
    fn text(kind: Kind, entry: &Entry) -> Result<(String, PathBuf), std::io::Error> {
        match &entry.origin {
            Origin::UserDir { file, .. } => Ok((std::fs::read_to_string(file)?, file.clone())),
            Origin::BuiltIn => {
                let text = kind
                    .builtin()
                    .iter()
                    .find(|(n, _)| *n == entry.name)
                    .map(|(_, t)| t.to_string())
                    .unwrap_or_default();
                let source =
                    PathBuf::from(format!("built-in:{}/{}.toml", kind.folder(), entry.name));
                Ok((text, source))
            }
        }
    }

    /// Load a model: a path to a `config.json`, a catalog-style `.toml` or a folder holding
    /// `config.json` (a Hugging Face snapshot), or a catalog name (see the module docs).
    pub fn model(&self, spec: &str) -> Result<Model, ModelError> {
        if is_path(spec) {
            // `org/name` that is no file here is a Hugging Face id.
            if !Path::new(spec).exists()
                && let Some(found) = self.resolve_hf_id(spec)
            {
                return match found {
                    HfModel::Catalog(name) => self.model(&name),
                    HfModel::Cached(config) => crate::model::load_model_file(&config),
                };
            }
            return crate::model::load_model_file(Path::new(spec));
        }
        let entry = self
            .find(Kind::Models, spec)
            .map_err(|known| ModelError::UnknownModel {
                name: spec.to_string(),
                known,
            })?;
        let (text, source) =
            Self::text(Kind::Models, &entry).map_err(|error| ModelError::Read {
                path: self
                    .dir(Kind::Models)
                    .unwrap_or(Path::new(""))
                    .join(&entry.name),
                error,
            })?;
        Model::from_raw(
            &entry.name,
            &RawConfig::from_toml_str(&text, &source)?,
            &source,
        )
    }

    /// Load a GPU: a path to a GPU `.toml` (any name), or a catalog name (see the module
    /// docs), whose file's `name` must equal the catalog name.
    pub fn gpu(&self, spec: &str) -> Result<GpuSpec, HardwareError> {
        if is_path(spec) {
            return crate::hardware::load_gpu_file(Path::new(spec));
        }
        // A name the catalog does not have may be a common short one (`h100`).
        let entry = self
            .find(Kind::Gpus, spec)
            .or_else(|known| match gpu_alias(spec) {
                Some(full) => self.find(Kind::Gpus, full).map_err(|_| known),
                None => Err(known),
            })
            .map_err(|known| HardwareError::UnknownGpu {
                name: spec.to_string(),
                known,
            })?;
        let (text, source) =
            Self::text(Kind::Gpus, &entry).map_err(|error| HardwareError::Read {
                path: self
                    .dir(Kind::Gpus)
                    .unwrap_or(Path::new(""))
                    .join(&entry.name),
                error,
            })?;
        let gpu = GpuSpec::from_raw(&RawGpu::parse(&text, &source)?, &source)?;
        if gpu.name != entry.name {
            return Err(HardwareError::invalid(
                &source,
                "name",
                format!("{:?}", gpu.name),
                format!(
                    "must equal the file name without .toml (\"{}\"): a catalog GPU is found by \
                     its file name",
                    entry.name
                ),
            ));
        }
        Ok(gpu)
    }

    /// The Hugging Face repository a catalog model mirrors (its file's `# Hugging Face repo:`
    /// line), if it says.
    pub fn hf_repo(&self, name: &str) -> Option<String> {
        self.hf_repo_ids(name)?.into_iter().next()
    }

    /// Every repository id a catalog model's `# Hugging Face repo:` line names (its repo and
    /// any former name: `meta-llama/Llama-3.1-8B (formerly meta-llama/Meta-Llama-3.1-8B)`).
    fn hf_repo_ids(&self, name: &str) -> Option<Vec<String>> {
        let entry = self.find(Kind::Models, name).ok()?;
        let (text, _) = Self::text(Kind::Models, &entry).ok()?;
        let line = text
            .lines()
            .take_while(|l| l.starts_with('#') || l.trim().is_empty())
            .find_map(|l| l.strip_prefix("# Hugging Face repo:"))?;
        Some(
            line.split(|c: char| c.is_whitespace() || c == '(' || c == ')')
                .filter(|w| w.contains('/'))
                .map(str::to_string)
                .collect(),
        )
    }

    /// Where a Hugging Face id resolves, without the network: a catalog model mirroring that
    /// repository (also under its former name), else its `config.json` in the local hub
    /// cache ([`hf_hub_cache`]), else a catalog model of the same base name (an instruct or
    /// chat variant shares its base's config).
    pub fn resolve_hf_id(&self, id: &str) -> Option<HfModel> {
        if !is_hf_id(id) {
            return None;
        }
        let repos: Vec<(String, Vec<String>)> = self
            .model_names()
            .into_iter()
            .filter_map(|n| Some((n.clone(), self.hf_repo_ids(&n)?)))
            .collect();
        let exact = repos
            .iter()
            .find(|(_, ids)| ids.iter().any(|w| w.eq_ignore_ascii_case(id)));
        if let Some((n, _)) = exact {
            return Some(HfModel::Catalog(n.clone()));
        }
        if let Some(config) = hf_hub_cache().and_then(|c| hf_cached_config(&c, id)) {
            return Some(HfModel::Cached(config));
        }
        let base = base_repo_name(id);
        repos
            .iter()
            .find(|(n, ids)| {
                base_repo_name(n) == base || ids.iter().any(|w| base_repo_name(w) == base)
            })
            .map(|(n, _)| HfModel::Catalog(n.clone()))
    }

    /// Every model of the catalog that loads (a user file that does not is skipped), sorted
    /// by name: the candidates `planner size` offers as "a bigger model".
    pub fn all_models(&self) -> Vec<Model> {
        self.model_names()
            .iter()
            .filter_map(|n| self.model(n).ok())
            .collect()
    }

    /// Every GPU of the catalog that loads, sorted by name.
    pub fn all_gpus(&self) -> Vec<GpuSpec> {
        self.gpu_names()
            .iter()
            .filter_map(|n| self.gpu(n).ok())
            .collect()
    }
}

/// Where a Hugging Face id resolves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HfModel {
    /// A catalog model that mirrors that repository (or its instruct/chat variant).
    Catalog(String),
    /// The `config.json` of that repository in the local Hugging Face cache.
    Cached(PathBuf),
}

/// `org/name` with nothing else: a Hugging Face repository id.
pub fn is_hf_id(spec: &str) -> bool {
    let mut parts = spec.split('/');
    let (Some(org), Some(name), None) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    let ok = |s: &str| {
        !s.is_empty()
            && !s.starts_with('.')
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    };
    ok(org) && ok(name) && !name.ends_with(".json") && !name.ends_with(".toml")
}

/// A repository name without the suffixes of its fine-tuned variants and GGUF conversions
/// (the same architecture and config): `Meta-Llama-3.1-8B-Instruct-GGUF` → `llama-3.1-8b`.
fn base_repo_name(id: &str) -> String {
    let name = id.rsplit('/').next().unwrap_or(id).to_ascii_lowercase();
    let mut name = name.strip_prefix("meta-").unwrap_or(&name).to_string();
    // Repeatedly: `-Instruct-GGUF`, `-chat-hf`.
    while let Some(s) = ["-gguf", "-hf", "-instruct", "-chat", "-it", "-base"]
        .iter()
        .find_map(|suffix| name.strip_suffix(suffix))
    {
        name = s.to_string();
    }
    name
}

/// The local Hugging Face hub cache: `$HF_HUB_CACHE`, else `$HF_HOME/hub`, else
/// `~/.cache/huggingface/hub` (huggingface_hub's `constants.py`).
pub fn hf_hub_cache() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("HF_HUB_CACHE") {
        return Some(PathBuf::from(d));
    }
    if let Some(d) = std::env::var_os("HF_HOME") {
        return Some(PathBuf::from(d).join("hub"));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/huggingface/hub"))
}

/// A repository's `config.json` in the hub cache (`models--org--name/snapshots/<rev>/`):
/// the revision `refs/main` names if there is one, else the first snapshot by name.
pub fn hf_cached_config(cache: &Path, id: &str) -> Option<PathBuf> {
    let repo = cache.join(format!("models--{}", id.replace('/', "--")));
    let snapshots = repo.join("snapshots");
    if let Ok(rev) = std::fs::read_to_string(repo.join("refs/main")) {
        let config = snapshots.join(rev.trim()).join("config.json");
        if config.is_file() {
            return Some(config);
        }
    }
    let mut revs: Vec<PathBuf> = std::fs::read_dir(&snapshots)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path().join("config.json")))
        .filter(|p| p.is_file())
        .collect();
    revs.sort();
    revs.into_iter().next()
}

/// A spec is a path when it has a path separator or a file extension the catalogs read.
pub fn is_path(spec: &str) -> bool {
    let lower = spec.to_ascii_lowercase();
    spec.contains(['/', '\\']) || lower.ends_with(".json") || lower.ends_with(".toml")
}

/// Why a catalog folder cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// The folder named by a flag or an environment variable does not exist.
    #[error("{from} {}: no such folder (give a folder of <name>.toml files)", dir.display())]
    NoSuchDir {
        /// The folder as given.
        dir: PathBuf,
        /// The flag or environment variable that named it.
        from: &'static str,
    },
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A built-in model, for tests anywhere in the crate.
    pub(crate) fn builtin_model(name: &str) -> Model {
        Catalog::builtin()
            .model(name)
            .unwrap_or_else(|e| panic!("{e}"))
    }
    use crate::hardware::{ComputeDtype, LinkKind, Vendor};
    use crate::units::GIB;

    fn temp_dir(tag: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("planner-catalog-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn builtin_text(kind: Kind, name: &str) -> &'static str {
        kind.builtin().iter().find(|(n, _)| *n == name).unwrap().1
    }

    fn assert_close(actual: f64, expected: f64, tolerance: f64) {
        assert!(
            (actual / expected - 1.0).abs() <= tolerance,
            "{actual} is not within {tolerance} of {expected}"
        );
    }

    #[test]
    fn every_builtin_model_loads_and_is_consistent() {
        let cat = Catalog::builtin();
        let names = cat.model_names();
        assert!(names.len() >= 17, "{names:?}");
        assert!(
            names.windows(2).all(|w| w[0] < w[1]),
            "not sorted: {names:?}"
        );
        for name in &names {
            let m = cat.model(name).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(&m.name, name);
            assert_eq!(
                m.source,
                PathBuf::from(format!("built-in:models/{name}.toml"))
            );
            assert_eq!(m.layers.len(), m.mlp_layers.len(), "{name}");
            assert!(m.params_active() <= m.params_total(), "{name}");
            assert!(m.kv_layers() > 0, "{name}");
        }
    }

    #[test]
    fn every_builtin_gpu_loads_and_validates() {
        let cat = Catalog::builtin();
        let names = cat.gpu_names();
        assert!(names.len() >= 12, "{names:?}");
        assert!(
            !names.contains(&"measured".to_string()),
            "subfolders are not GPUs"
        );
        for name in &names {
            let gpu = cat.gpu(name).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(&gpu.name, name);
            assert!(
                gpu.memory_bytes < gpu.nominal_gb * 1.05 * GIB as f64,
                "{name}"
            );
            assert!(
                gpu.effective_hbm_bytes_per_s() <= gpu.hbm_bytes_per_s,
                "{name}"
            );
            assert!(gpu.effective_bf16_flops() <= gpu.peak.bf16, "{name}");
            // Every GPU has FP32, TF32 and FP16; the rest depend on the generation.
            for dtype in [ComputeDtype::Fp32, ComputeDtype::Tf32, ComputeDtype::Fp16] {
                assert!(gpu.peak_flops(dtype).is_some(), "{name} {dtype}");
            }
            // A newer format implies the older ones (FP4 → FP8 → BF16).
            if gpu.peak_flops(ComputeDtype::Fp4).is_some() {
                assert!(gpu.peak_flops(ComputeDtype::Fp8).is_some(), "{name}");
            }
            if gpu.peak_flops(ComputeDtype::Fp8).is_some() {
                assert!(gpu.peak_flops(ComputeDtype::Bf16).is_some(), "{name}");
            }
        }
    }

    #[test]
    fn the_embedded_catalog_is_the_repository_folders() {
        // The binary's built-ins are exactly models/*.toml and hardware/*.toml, byte for byte.
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        for kind in [Kind::Models, Kind::Gpus] {
            let dir = root.join(kind.folder());
            let stems = crate::util::toml_stems(&dir);
            let names: Vec<&str> = kind.builtin().iter().map(|(n, _)| *n).collect();
            assert_eq!(names, stems, "{}", kind.folder());
            for (name, text) in kind.builtin() {
                let on_disk = std::fs::read_to_string(dir.join(format!("{name}.toml"))).unwrap();
                assert_eq!(*text, on_disk, "{name}");
            }
        }
    }

    #[test]
    fn h100_sxm_datasheet_figures() {
        let gpu = Catalog::builtin().gpu("h100-sxm").unwrap();
        assert_close(gpu.hbm_bytes_per_s, 3.35e12, 0.01);
        assert_close(gpu.peak_flops(ComputeDtype::Bf16).unwrap(), 989e12, 0.01);
        assert_close(gpu.peak_flops(ComputeDtype::Fp8).unwrap(), 1979e12, 0.01);
        assert_eq!(gpu.sm_count, 132);
        assert_eq!(gpu.l2_bytes, 50.0 * 1024.0 * 1024.0);
        assert_eq!(gpu.link_kind, LinkKind::Nvlink);
        assert_eq!(gpu.vendor, Vendor::Nvidia);
        assert_eq!(gpu.link_bytes_per_s, 450e9);
    }

    #[test]
    fn rtx_3090_memory_is_what_vllm_reports() {
        // vLLM logs total_gpu_memory (23.58GiB) on an RTX 3090.
        let gpu = Catalog::builtin().gpu("rtx-3090").unwrap();
        assert_eq!(gpu.memory_bytes, 23.58 * GIB as f64);
        assert_eq!(gpu.nominal_gb, 24.0);
        assert_eq!(gpu.link_kind, LinkKind::Pcie);
    }

    #[test]
    fn ampere_has_no_fp8() {
        let cat = Catalog::builtin();
        for name in ["a100-40gb", "a100-80gb", "rtx-3090"] {
            let gpu = cat.gpu(name).unwrap();
            assert_eq!(gpu.peak_flops(ComputeDtype::Fp8), None, "{name}");
            assert!(gpu.peak_flops(ComputeDtype::Bf16).is_some(), "{name}");
        }
        assert!(
            cat.gpu("h100-sxm")
                .unwrap()
                .peak_flops(ComputeDtype::Fp8)
                .is_some()
        );
    }

    #[test]
    fn added_gpus_headline_figures() {
        use ComputeDtype::{Bf16, Fp4, Fp8, Fp16, Int8};
        use LinkKind::{Nvlink as NV, Pcie as PC, Xgmi as XG};
        // (name, HBM GB/s, dense BF16 TFLOP/s or None, FP8?, FP4?, link, link GB/s per direction)
        type Case = (&'static str, f64, Option<f64>, bool, bool, LinkKind, f64);
        let cases: [Case; 9] = [
            ("gh200", 4000.0, Some(990.0), true, false, NV, 450.0),
            ("h800", 3350.0, Some(989.4), true, false, NV, 200.0),
            ("h20", 4000.0, Some(148.0), true, false, NV, 450.0),
            ("rtx-pro-6000", 1792.0, Some(503.8), true, true, PC, 64.0),
            ("rtx-5090", 1792.0, Some(209.5), true, true, PC, 64.0),
            ("l40", 864.0, Some(181.05), true, false, PC, 32.0),
            ("a10", 600.0, Some(125.0), false, false, PC, 32.0),
            ("v100", 900.0, None, false, false, NV, 150.0),
            ("mi325x", 6000.0, Some(1307.4), true, false, XG, 448.0),
        ];
        let cat = Catalog::builtin();
        for (name, hbm_gb_s, bf16, fp8, fp4, link, link_gb_s) in cases {
            let gpu = cat.gpu(name).unwrap_or_else(|e| panic!("{e}"));
            assert_close(gpu.hbm_bytes_per_s, hbm_gb_s * 1e9, 1e-9);
            let peak_bf16 = gpu.peak_flops(Bf16);
            assert_eq!(
                peak_bf16.map(|f| (f / 1e10).round()),
                bf16.map(|t| (t * 100.0).round()),
                "{name}"
            );
            assert_eq!(gpu.peak_flops(Fp8).is_some(), fp8, "{name} fp8");
            assert_eq!(gpu.peak_flops(Fp4).is_some(), fp4, "{name} fp4");
            assert_eq!(gpu.link_kind, link, "{name}");
            assert_close(gpu.link_bytes_per_s, link_gb_s * 1e9, 1e-9);
            // Usable memory sits just under the marketed size.
            let ratio = gpu.memory_bytes / (gpu.nominal_gb * GIB as f64);
            assert!((0.9..1.0).contains(&ratio), "{name}: {ratio}");
        }
        // FP4 only on Blackwell (B200 and the RTX Blackwell cards), never on Hopper, Ada or CDNA 3.
        let fp4 = |name: &str| cat.gpu(name).unwrap().peak_flops(Fp4);
        assert_eq!(fp4("b200"), Some(9000e12));
        assert_eq!(fp4("rtx-5090"), Some(1676e12));
        // Volta: no BF16 (16-bit models run at the FP16 tensor rate), no INT8 tensor cores.
        let v100 = cat.gpu("v100").unwrap();
        assert!(!v100.peak.has_bf16);
        assert_eq!(v100.peak.bf16, v100.peak.fp16);
        assert_eq!(v100.peak_flops(Fp16), Some(125e12));
        assert_eq!(v100.peak_flops(Int8), None);
        // MI325X: the MI300X's compute with 256 GB at 6 TB/s.
        let mi325x = cat.gpu("mi325x").unwrap();
        assert_eq!(mi325x.vendor, Vendor::Amd);
        assert_close(mi325x.peak_flops(Fp8).unwrap(), 2614.9e12, 1e-9);
        // GeForce runs BF16 with FP32 accumulate at half the RTX PRO rate on the same chip family.
        let bf16 = |name: &str| cat.gpu(name).unwrap().peak_flops(Bf16).unwrap();
        assert!(bf16("rtx-pro-6000") > 2.0 * bf16("rtx-5090"));
        // The H800 is an H100 SXM with a slower NVLink.
        let (h100, h800) = (cat.gpu("h100-sxm").unwrap(), cat.gpu("h800").unwrap());
        assert_eq!(h800.peak_flops(Fp8), h100.peak_flops(Fp8));
        assert!(h800.link_bytes_per_s < h100.link_bytes_per_s);
    }

    #[test]
    fn measured_ceilings_from_the_catalog() {
        // hardware/h100-sxm.toml and h200.toml carry [measured] from data/sizing_cases.md.
        let cat = Catalog::builtin();
        let h100 = cat.gpu("h100-sxm").unwrap();
        assert_close(h100.effective_hbm_bytes_per_s(), 3.0e12, 1e-9);
        assert_close(h100.effective_bf16_flops(), 798e12, 1e-9);
        let h200 = cat.gpu("h200").unwrap();
        assert_close(h200.effective_hbm_bytes_per_s(), 4.3e12, 1e-9);
        assert_close(h200.effective_bf16_flops(), 769e12, 1e-9);
        // Without a [measured] table the datasheet is used.
        let b200 = cat.gpu("b200").unwrap();
        assert!(b200.measured.is_none());
        assert_eq!(b200.effective_hbm_bytes_per_s(), b200.hbm_bytes_per_s);
    }

    #[test]
    fn names_are_case_insensitive() {
        let cat = Catalog::builtin();
        let m = cat.model("Llama-3.1-8B").unwrap();
        assert_eq!(m.name, "llama-3.1-8b");
        assert_eq!(m.source, Path::new("built-in:models/llama-3.1-8b.toml"));
        let gpu = cat.gpu("H100-SXM").unwrap();
        assert_eq!(gpu.name, "h100-sxm");
        assert_eq!(gpu.source, Path::new("built-in:hardware/h100-sxm.toml"));
    }

    #[test]
    fn unknown_names_list_closest_first() {
        let cat = Catalog::builtin();
        let err = cat.model("lama-3.1-8b").unwrap_err();
        let ModelError::UnknownModel { known, .. } = &err else {
            panic!("{err}")
        };
        assert_eq!(known[0], "llama-3.1-8b");
        assert_eq!(known.len(), cat.model_names().len());
        let message = err.to_string();
        assert!(
            message
                .starts_with("unknown model `lama-3.1-8b` (known, closest first: llama-3.1-8b, "),
            "{message}"
        );

        // `h100` is an alias of `h100-sxm`; `h10` is unknown.
        assert_eq!(cat.gpu("h100").unwrap().name, "h100-sxm");
        assert_eq!(cat.gpu("A100").unwrap().name, "a100-80gb");
        let err = cat.gpu("h10").unwrap_err();
        let HardwareError::UnknownGpu { known, .. } = &err else {
            panic!("{err}")
        };
        assert_eq!(known[..2], ["h100-sxm", "h100-pcie"]);
        assert_eq!(known.len(), cat.gpu_names().len());
        let message = err.to_string();
        assert!(
            message.starts_with("unknown gpu `h10` (known, closest first: h100-sxm, h100-pcie, "),
            "{message}"
        );
        let typo = cat.gpu("mi30x").unwrap_err();
        let HardwareError::UnknownGpu { known, .. } = &typo else {
            panic!("{typo}")
        };
        assert_eq!(known[0], "mi300x");
    }

    #[test]
    fn paths_are_read_as_files() {
        let dir = temp_dir("paths");
        std::fs::write(
            dir.join("mine.toml"),
            builtin_text(Kind::Models, "qwen3-8b"),
        )
        .unwrap();
        std::fs::write(dir.join("x.toml"), builtin_text(Kind::Gpus, "mi300x")).unwrap();
        let cat = Catalog::builtin();
        let m = cat.model(dir.join("mine.toml").to_str().unwrap()).unwrap();
        assert_eq!((m.name.as_str(), m.head_dim), ("mine", 128));
        // By path, a GPU file's name need not match its file name.
        let gpu = cat.gpu(dir.join("x.toml").to_str().unwrap()).unwrap();
        assert_eq!((gpu.name.as_str(), gpu.vendor), ("mi300x", Vendor::Amd));
        std::fs::remove_dir_all(&dir).unwrap();

        let err = cat.model("no/such/config.json").unwrap_err().to_string();
        assert!(
            err.starts_with("no/such/config.json: cannot read: "),
            "{err}"
        );
        let err = cat.gpu("nope.toml").unwrap_err().to_string();
        assert!(err.starts_with("nope.toml: cannot read: "), "{err}");
    }

    #[test]
    fn a_user_folder_extends_and_overrides_the_builtins() {
        let dir = temp_dir("override");
        // An h200 that differs from the built-in one (its price), and a new GPU.
        let edited = builtin_text(Kind::Gpus, "h200")
            .replace("usd_per_gpu_hour = 3.50", "usd_per_gpu_hour = 9.75");
        assert_ne!(edited, builtin_text(Kind::Gpus, "h200"));
        std::fs::write(dir.join("h200.toml"), &edited).unwrap();
        std::fs::write(
            dir.join("my-gpu.toml"),
            builtin_text(Kind::Gpus, "l4").replace("name = \"l4\"", "name = \"my-gpu\""),
        )
        .unwrap();
        let cat = Catalog::with_dirs(None, Some(dir.clone()));
        let user = cat.gpu("h200").unwrap();
        let builtin = Catalog::builtin().gpu("h200").unwrap();
        assert_eq!(user.source, dir.join("h200.toml"));
        assert_eq!((user.usd_per_hour, builtin.usd_per_hour), (9.75, 3.5));
        assert_eq!(cat.gpu("MY-GPU").unwrap().name, "my-gpu");
        let entries = cat.gpus();
        let h = entries.iter().find(|e| e.name == "h200").unwrap();
        assert_eq!(
            h.origin,
            Origin::UserDir {
                file: dir.join("h200.toml"),
                overrides: true
            }
        );
        assert_eq!(entries.len(), Catalog::builtin().gpus().len() + 1);
        assert!(
            h.origin
                .to_string()
                .ends_with("h200.toml (overrides the built-in)")
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_user_file_must_be_named_after_its_gpu() {
        let dir = temp_dir("name");
        std::fs::write(dir.join("my-gpu.toml"), builtin_text(Kind::Gpus, "h200")).unwrap();
        let err = Catalog::with_dirs(None, Some(dir.clone()))
            .gpu("my-gpu")
            .unwrap_err()
            .to_string();
        std::fs::remove_dir_all(&dir).unwrap();
        let expected = "my-gpu.toml: name = \"h200\": must equal the file name without .toml \
                        (\"my-gpu\"): a catalog GPU is found by its file name";
        assert!(err.ends_with(expected), "{err}");
    }

    #[test]
    fn a_missing_user_folder_is_an_error() {
        let err = Catalog::from_flags(None, Some(PathBuf::from("/nonexistent/hw")))
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "--hardware-dir /nonexistent/hw: no such folder (give a folder of <name>.toml files)"
        );
    }
}
