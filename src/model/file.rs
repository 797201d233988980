//! Reading a model from a file: a Hugging Face `config.json`, a catalog-style `.toml`, or a
//! folder holding `config.json`. Catalog names are resolved by [`crate::catalog::Catalog`].

use super::{Model, ModelError, RawConfig};
use std::path::Path;

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

    #[test]
    fn config_json_is_named_after_its_folder() {
        assert_eq!(
            name_from_path(Path::new("snap/Qwen3-8B/config.json")),
            "Qwen3-8B"
        );
        assert_eq!(name_from_path(Path::new("models/foo.toml")), "foo");
    }
}
