//! The project stands on its own: the binary works from any folder with its built-in
//! catalogs, user folders override them, `validate` finds every GPU folder of the Vidur-format
//! data it is given, and nothing in the repository points outside it.

use std::path::{Path, PathBuf};
use std::process::Command;

const REPO: &str = env!("CARGO_MANIFEST_DIR");

/// A fresh empty folder under the system temp dir, unique per test.
fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("planner-standalone-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Run `bin` in `cwd` with the catalog environment variables cleared (plus `env`).
fn run(bin: &Path, cwd: &Path, args: &[&str], env: &[(&str, &Path)]) -> (i32, String, String) {
    let mut cmd = Command::new(bin);
    cmd.current_dir(cwd)
        .args(args)
        .env_remove("PLANNER_MODELS_DIR")
        .env_remove("PLANNER_HARDWARE_DIR")
        .env_remove("PLANNER_VIDUR_DIR");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run planner");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The value of `key` in a simulate summary printed to stdout.
fn summary_value<'a>(out: &'a str, key: &str) -> &'a str {
    out.lines()
        .find_map(|l| l.strip_prefix(key).filter(|rest| rest.starts_with(' ')))
        .map(str::trim)
        .unwrap_or_else(|| panic!("no `{key}` in\n{out}"))
}

/// A copy of the release binary in an empty folder, run from there, knows every catalog
/// name and simulates a scenario given by absolute path.
#[test]
fn a_copied_binary_works_from_another_folder() {
    let dir = temp_dir("copy");
    let bin = dir.join("planner");
    std::fs::copy(env!("CARGO_BIN_EXE_planner"), &bin).unwrap();
    let (code, out, err) = run(
        &bin,
        &dir,
        &["size", "--model", "llama-3.1-8b", "--gpu", "h100-sxm"],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("GPU KV cache size: "), "{out}");

    let rag = Path::new(REPO).join("scenarios/rag.toml");
    let (code, out, err) = run(
        &bin,
        &dir,
        &[
            "simulate",
            rag.to_str().unwrap(),
            "-q",
            "--full",
            "--out",
            "report",
        ],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(summary_value(&out, "requests_finished"), "2000");
    assert_eq!(
        summary_value(&out, "gpu_file"),
        "built-in:hardware/h100-sxm.toml"
    );
    assert!(dir.join("report/summary.csv").is_file());

    let (code, out, _) = run(&bin, &dir, &["catalog"], &[]);
    assert_eq!(code, 0);
    assert!(
        out.contains("h100-sxm") && out.contains("llama-3.1-8b"),
        "{out}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A GPU file in `--hardware-dir` (or `$PLANNER_HARDWARE_DIR`) overrides the built-in of the
/// same name, and the summary names the file it used.
#[test]
fn a_hardware_dir_overrides_the_builtin_gpu() {
    let dir = temp_dir("override");
    let hw = dir.join("hw");
    std::fs::create_dir_all(&hw).unwrap();
    let builtin = std::fs::read_to_string(Path::new(REPO).join("hardware/h100-sxm.toml")).unwrap();
    // Half the memory bandwidth (datasheet and measured): a slower H100 that must show in
    // the decode latencies.
    let slower = builtin
        .replace("bandwidth_gb_s = 3350", "bandwidth_gb_s = 1675")
        .replace("copy_gb_s = 3000", "copy_gb_s = 1500");
    assert_ne!(slower, builtin, "the edit must change the file");
    std::fs::write(hw.join("h100-sxm.toml"), slower).unwrap();
    let bin = Path::new(env!("CARGO_BIN_EXE_planner"));
    let chat = Path::new(REPO).join("scenarios/chat.toml");
    let args = [
        "simulate",
        chat.to_str().unwrap(),
        "-q",
        "--full",
        "--out",
        "r",
    ];

    let (code, plain, err) = run(bin, &dir, &args, &[]);
    assert_eq!(code, 0, "{err}");
    let mut flagged = vec!["--hardware-dir", "hw"];
    flagged.extend(args);
    let (code, user, err) = run(bin, &dir, &flagged, &[]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(summary_value(&user, "gpu_file"), "hw/h100-sxm.toml");
    let tpot = |out: &str| -> f64 { summary_value(out, "tpot_p50_ms").parse().unwrap() };
    assert!(
        tpot(&user) > 1.3 * tpot(&plain),
        "half the bandwidth must slow decode: {} vs {}",
        tpot(&user),
        tpot(&plain)
    );
    // The environment variable does the same.
    let (code, by_env, err) = run(bin, &dir, &args, &[("PLANNER_HARDWARE_DIR", &hw)]);
    assert_eq!(code, 0, "{err}");
    assert!(summary_value(&by_env, "gpu_file").ends_with("hw/h100-sxm.toml"));

    let (_, listing, _) = run(bin, &dir, &["--hardware-dir", "hw", "catalog"], &[]);
    assert!(
        listing.contains("hw/h100-sxm.toml (overrides the built-in)"),
        "{listing}"
    );
    let (code, _, err) = run(bin, &dir, &["--hardware-dir", "missing", "catalog"], &[]);
    assert_eq!(code, 2);
    assert!(
        err.contains("--hardware-dir missing: no such folder"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `validate --vidur-dir` validates every GPU folder it finds: here a user's `h100-sxm`
/// folder (named like the catalog GPU, so no manifest entry is needed).
#[test]
fn validate_takes_every_gpu_folder_of_the_vidur_data() {
    let dir = temp_dir("vidur");
    let model = dir.join("vidur/h100-sxm/meta-llama/Llama-2-7b-hf");
    std::fs::create_dir_all(&model).unwrap();
    std::fs::copy(
        Path::new(REPO).join("data/vidur/a100/meta-llama/Llama-2-7b-hf/mlp.csv"),
        model.join("mlp.csv"),
    )
    .unwrap();
    let bin = Path::new(env!("CARGO_BIN_EXE_planner"));
    let (code, out, err) = run(bin, &dir, &["validate", "--vidur-dir", "vidur"], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Vidur h100-sxm on h100-sxm"), "{out}");
    assert!(
        out.contains("Vidur h100-sxm, all ops: median |error|"),
        "{out}"
    );
    assert!(!out.contains("a100"), "only the folders present: {out}");
    // A folder no catalog GPU is named after, without a manifest entry, says how to map it.
    std::fs::rename(dir.join("vidur/h100-sxm"), dir.join("vidur/hopper")).unwrap();
    let (code, _, err) = run(bin, &dir, &["validate", "--vidur-dir", "vidur"], &[]);
    assert_eq!(code, 2);
    assert!(
        err.contains("hopper: which catalog GPU is this folder?")
            && err.contains("`hopper = \"<gpu>\"`"),
        "{err}"
    );
    // Run where there is no data/vidur: the error says what to do.
    let (code, _, err) = run(bin, &dir, &["validate"], &[]);
    assert_eq!(code, 2);
    assert!(err.contains("data/vidur: no Vidur profiles here"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Nothing the project runs or documents points at a folder beside the repository (a
/// user's clone has none): every file the tests, scenarios, scripts, CI and README use.
#[test]
fn nothing_points_outside_the_repository() {
    let outside = ["../", "shared"].concat();
    let reference = ["shared/", "reference"].concat();
    let mut offenders = Vec::new();
    let mut stack: Vec<PathBuf> = ["src", "tests", "scenarios", "scripts", ".ci", "README.md"]
        .iter()
        .map(|p| Path::new(REPO).join(p))
        .collect();
    while let Some(p) = stack.pop() {
        if p.is_dir() {
            for e in std::fs::read_dir(&p).unwrap() {
                stack.push(e.unwrap().path());
            }
        } else if let Ok(text) = std::fs::read_to_string(&p)
            && (text.contains(&outside) || text.contains(&reference))
        {
            offenders.push(p.display().to_string());
        }
    }
    assert!(offenders.is_empty(), "{offenders:?}");
}
