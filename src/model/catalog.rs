//! The model catalog: `models/<name>.toml` files, found by name, plus any config.json by path.

use super::{Model, ModelError, RawConfig};
use std::path::{Path, PathBuf};

/// Environment variable that overrides [`default_models_dir`].
pub const MODELS_DIR_ENV: &str = "PLANNER_MODELS_DIR";

/// The catalog folder: `$PLANNER_MODELS_DIR` if set, else the `models` folder next to the
/// crate's `Cargo.toml`.
pub fn default_models_dir() -> PathBuf {
    match std::env::var_os(MODELS_DIR_ENV) {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("models"),
    }
}

/// Catalog names (stems of the `*.toml` files) in `models_dir`, sorted; empty if the folder
/// cannot be read.
pub fn list_models(models_dir: &Path) -> Vec<String> {
    crate::util::toml_stems(models_dir)
}

/// Load a model from `spec`:
/// - a path, when `spec` contains `/` or ends with `.json` or `.toml`: a config.json, a
///   catalog-style `.toml`, or a folder holding `config.json` (a Hugging Face snapshot);
/// - otherwise a catalog name, matched case-insensitively against [`list_models`]; an
///   unknown name is an error listing every known name, closest first.
pub fn load_model(spec: &str, models_dir: &Path) -> Result<Model, ModelError> {
    let lower = spec.to_ascii_lowercase();
    if spec.contains('/') || lower.ends_with(".json") || lower.ends_with(".toml") {
        return load_model_file(Path::new(spec));
    }
    let known = list_models(models_dir);
    match known.iter().find(|name| name.eq_ignore_ascii_case(spec)) {
        Some(name) => {
            let file = models_dir.join(format!("{name}.toml"));
            Model::from_raw(name, &RawConfig::read(&file)?, &file)
        }
        None => Err(ModelError::UnknownModel {
            name: spec.to_string(),
            known: crate::util::closest_first(spec, &known),
            dir: models_dir.to_path_buf(),
        }),
    }
}

/// Load a config file (JSON if `.json`, else TOML), or `path/config.json` if `path` is a
/// folder. The model is named after the file stem, or after the folder for a `config.json`.
pub fn load_model_file(path: &Path) -> Result<Model, ModelError> {
    let file = if path.is_dir() {
        path.join("config.json")
    } else {
        path.to_path_buf()
    };
    let raw = RawConfig::read(&file)?;
    Model::from_raw(&name_from_path(&file), &raw, &file)
}

/// `foo.toml` → `foo`; `snapshots/Qwen3-8B/config.json` → `Qwen3-8B`.
fn name_from_path(file: &Path) -> String {
    let stem = file.file_stem().and_then(|s| s.to_str()).unwrap_or("model");
    let parent = file
        .parent()
        .and_then(|p| p.file_name())
        .and_then(|s| s.to_str());
    match parent {
        Some(folder) if stem == "config" => folder.to_string(),
        _ => stem.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn models_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("models")
    }

    #[test]
    fn every_catalog_model_loads_and_is_consistent() {
        let names = list_models(&models_dir());
        assert!(names.len() >= 17, "{names:?}");
        assert!(
            names.windows(2).all(|w| w[0] < w[1]),
            "not sorted: {names:?}"
        );
        for name in &names {
            let m = load_model(name, &models_dir()).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(&m.name, name);
            assert_eq!(m.layers.len(), m.mlp_layers.len(), "{name}");
            assert!(m.params_active() <= m.params_total(), "{name}");
            assert!(m.kv_layers() > 0, "{name}");
        }
    }

    #[test]
    fn names_are_case_insensitive() {
        let m = load_model("Llama-3.1-8B", &models_dir()).unwrap();
        assert_eq!(m.name, "llama-3.1-8b");
        assert!(m.source.ends_with("models/llama-3.1-8b.toml"));
    }

    #[test]
    fn unknown_name_lists_closest_first() {
        let err = load_model("lama-3.1-8b", &models_dir()).unwrap_err();
        let ModelError::UnknownModel { known, .. } = &err else {
            panic!("{err}")
        };
        assert_eq!(known[0], "llama-3.1-8b");
        assert_eq!(known.len(), list_models(&models_dir()).len());
        let message = err.to_string();
        assert!(
            message
                .starts_with("unknown model `lama-3.1-8b` (known, closest first: llama-3.1-8b, "),
            "{message}"
        );
    }

    #[test]
    fn empty_catalog_says_so() {
        let err = load_model("x", Path::new("/nonexistent/models"))
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "unknown model `x` (no *.toml models in /nonexistent/models)"
        );
    }

    #[test]
    fn loads_by_path_and_names_missing_files() {
        let path = models_dir().join("qwen3-8b.toml");
        let m = load_model(path.to_str().unwrap(), Path::new("/unused")).unwrap();
        assert_eq!(m.name, "qwen3-8b");
        assert_eq!(m.head_dim, 128);

        let err = load_model("no/such/config.json", &models_dir())
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("no/such/config.json: cannot read: "),
            "{err}"
        );
    }

    #[test]
    fn config_json_is_named_after_its_folder() {
        assert_eq!(
            name_from_path(Path::new("snap/Qwen3-8B/config.json")),
            "Qwen3-8B"
        );
        assert_eq!(name_from_path(Path::new("models/foo.toml")), "foo");
    }
}
