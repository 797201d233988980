//! Small helpers shared across the crate: atomic file writes, catalog folder listings, and
//! closest-name suggestions for unknown names.

use std::path::Path;

/// Version of every `--json` output's schema (`docs/json.md`): a field's meaning changes only
/// with it.
pub const JSON_VERSION: u32 = 1;

/// What every command's `--json` prints: `{"schema": "planner.<command>", "version": 1,
/// "<key>": …}`, the body written by serde from the command's typed result.
pub fn json_envelope<T: serde::Serialize>(schema: &str, key: &str, body: &T) -> String {
    let mut out = serde_json::Map::new();
    out.insert("schema".into(), schema.into());
    out.insert("version".into(), JSON_VERSION.into());
    out.insert(
        key.into(),
        serde_json::to_value(body)
            .unwrap_or_else(|e| serde_json::json!({ "error": e.to_string() })),
    );
    serde_json::to_string_pretty(&serde_json::Value::Object(out)).expect("a JSON value prints")
}

/// Write `bytes` to `path` through a temporary file in the same folder and a rename, so a
/// killed run never leaves a half-written file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    if let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir)
            .map_err(|e| anyhow::anyhow!("{}: cannot create folder: {e}", dir.display()))?;
    }
    let tmp = path.with_extension(format!(
        "{}.tmp{}",
        path.extension().and_then(|e| e.to_str()).unwrap_or(""),
        std::process::id()
    ));
    std::fs::write(&tmp, bytes)
        .map_err(|e| anyhow::anyhow!("{}: cannot write: {e}", tmp.display()))?;
    std::fs::rename(&tmp, path)
        .map_err(|e| anyhow::anyhow!("{}: cannot rename into place: {e}", path.display()))?;
    Ok(())
}

/// Stems of the `*.toml` files directly in `dir` (subfolders skipped), sorted; empty if the
/// folder cannot be read. Catalogs (`models/`, `hardware/`) are listed with it.
pub fn toml_stems(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.is_file() && path.extension().is_some_and(|e| e == "toml"))
        .filter_map(|path| {
            path.file_stem()
                .and_then(|s| s.to_str())
                .map(str::to_string)
        })
        .collect();
    names.sort();
    names
}

/// `names`, sorted so the likeliest intended one comes first for a mistyped `query`
/// (case-insensitive). The key is the Levenshtein distance from `query` to the closest
/// *prefix* of a name, so an abbreviation lists its expansions first (`h100` → `h100-sxm`,
/// `h100-pcie` before `h200`); ties go to the smaller full Levenshtein distance, then
/// alphabetically. Every name is kept.
pub fn closest_first(query: &str, names: &[String]) -> Vec<String> {
    let query = query.to_lowercase();
    let mut sorted = names.to_vec();
    sorted.sort_by_cached_key(|name| {
        let (to_prefix, to_whole) = edit_distances(&query, &name.to_lowercase());
        (to_prefix, to_whole, name.clone())
    });
    sorted
}

/// Edit distances (single-character insertions, deletions, substitutions) from `a` to the
/// closest prefix of `b`, and to all of `b`; Wagner–Fischer, one row at a time.
fn edit_distances(a: &str, b: &str) -> (usize, usize) {
    let b: Vec<char> = b.chars().collect();
    // previous[j] = distance between the first i chars of a and the first j chars of b
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitute = previous[j] + usize::from(ca != *cb);
            current[j + 1] = substitute.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        previous = current;
    }
    // The last row holds the distance from all of `a` to each prefix of `b`.
    let to_prefix = previous.iter().copied().min().unwrap_or(0);
    (to_prefix, previous[b.len()])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closest_first_orders_by_prefix_then_full_distance() {
        let names: Vec<String> = ["b200", "h200", "h100-pcie", "h100-sxm", "a100-40gb"]
            .map(String::from)
            .to_vec();
        assert_eq!(
            closest_first("H100", &names),
            ["h100-sxm", "h100-pcie", "h200", "a100-40gb", "b200"]
        );
        assert_eq!(closest_first("h201", &names)[..2], ["h200", "b200"]);
        assert!(closest_first("x", &[]).is_empty());
        assert_eq!(edit_distances("kitten", "sitting"), (2, 3)); // "sittin" is 2 away
        assert_eq!(edit_distances("h100", "h100-sxm"), (0, 4));
        assert_eq!(edit_distances("", "abc"), (0, 3));
    }
}
