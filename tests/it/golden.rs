//! Regression check on sizing assumptions: the committed golden table must equal what the
//! code computes. After an intended change, regenerate with
//! `UPDATE_GOLDEN=1 cargo test --release --test it golden` and commit the diff.

use planner::catalog::Catalog;
use std::path::Path;

#[test]
fn golden_sizing_table() {
    let catalog = Catalog::builtin();
    let models = catalog.all_models();
    let gpus = catalog.all_gpus();
    assert!(
        models.len() >= 17 && gpus.len() >= 12,
        "catalogs shrank: {} models, {} GPUs",
        models.len(),
        gpus.len()
    );
    let table = planner::size::golden_table(&models, &gpus);
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/sizing.csv");
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &table).unwrap();
        return;
    }
    let golden = std::fs::read_to_string(&path)
        .expect("tests/golden/sizing.csv missing: run with UPDATE_GOLDEN=1");
    let changed: Vec<String> = golden
        .lines()
        .zip(table.lines())
        .filter(|(a, b)| a != b)
        .take(10)
        .map(|(a, b)| format!("  golden:   {a}\n  computed: {b}"))
        .collect();
    assert!(
        changed.is_empty() && golden.lines().count() == table.lines().count(),
        "sizing figures changed ({} vs {} rows); first differences:\n{}\nIf intended: UPDATE_GOLDEN=1 cargo test --release --test it golden, and commit the diff.",
        golden.lines().count(),
        table.lines().count(),
        changed.join("\n")
    );
}
