//! Calibration against real measurements: the cost model's out-of-sample error on the
//! Vidur A100 operator profiles (data/vidur) and on our own H100 bench file
//! stays at or below the figures reached when they were committed.

use planner::catalog::Catalog;
use planner::cost::vidur::load_mlp_rows;
use std::collections::BTreeMap;

/// Median |error| over every Vidur A100 op sample, efficiencies fitted per op by least
/// squares and evaluated out of sample (two-fold): 7.1 % when committed; bar 8 %.
#[test]
fn vidur_a100_median_error_stays_under_the_bar() {
    let rows = load_mlp_rows(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/vidur"))
        .unwrap();
    let mut gpus = BTreeMap::new();
    gpus.insert(
        "a100".to_string(),
        Catalog::builtin().gpu("a100-80gb").unwrap(),
    );
    let v = planner::fidelity::validate_vidur(&rows, &gpus);
    let (fits, median) = (v.fits, v.medians["a100"]);
    eprintln!("Vidur A100 median |error| {:.2}%", median * 100.0);
    for f in &fits {
        eprintln!(
            "  {:<26} n={:<5} median {:>5.1}%  p90 {:>5.1}%",
            f.class,
            f.n,
            f.median * 100.0,
            f.p90 * 100.0
        );
    }
    assert!(
        median <= 0.08,
        "Vidur A100 median |error| {:.2}% > 8%",
        median * 100.0
    );
    // Every GEMM op is predicted within 8 % (median) once calibrated.
    for f in fits.iter().filter(|f| f.class.ends_with("_proj")) {
        assert!(f.median <= 0.08, "{}: {:.1}%", f.class, f.median * 100.0);
    }
}

/// The committed H100 bench file: out-of-sample median |error| 4.7 % when committed.
#[test]
fn h100_bench_median_error_stays_under_the_bar() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("hardware/measured/nvidia-h100-80gb-hbm3.toml");
    let file = planner::bench::MeasuredFile::load(&path).unwrap();
    let gpu = Catalog::builtin().gpu("h100-sxm").unwrap();
    let (rows, _) = planner::fidelity::validate_bench(&file, &gpu);
    let errs: Vec<f64> = rows.iter().map(|r| r.calibrated_error()).collect();
    let (median, _) = planner::cost::calibrate::error_summary(&errs);
    assert!(median <= 0.065, "{:.2}%", median * 100.0);
    // The uncalibrated roofline is far worse: calibration is doing the work.
    let roof: Vec<f64> = rows.iter().map(|r| r.roofline_error()).collect();
    assert!(planner::cost::calibrate::error_summary(&roof).0 > 3.0 * median);
}
