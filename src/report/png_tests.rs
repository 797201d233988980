//! Tests of the PNG renderer: real files in a temp folder, checked by their header bytes,
//! size and byte-for-byte determinism.

use super::*;

const PNG_SIGNATURE: &[u8; 8] = b"\x89PNG\r\n\x1a\n";

/// A fresh folder per test, so parallel tests never share files.
fn out_dir(test: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("planner-png-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Removes a passing test's folder; a failing test leaves its files for inspection.
fn done(dir: &Path) {
    let _ = std::fs::remove_dir_all(dir);
}

/// Checks signature, IHDR size and that real content was drawn; returns the bytes.
fn read_png(path: &Path, width: u32, height: u32) -> Vec<u8> {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(
        &bytes[..8],
        PNG_SIGNATURE,
        "{}: PNG signature",
        path.display()
    );
    assert_eq!(&bytes[12..16], b"IHDR");
    let w = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let h = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    assert_eq!((w, h), (width, height), "{}: IHDR size", path.display());
    assert!(
        bytes.len() > 5_000,
        "{}: only {} bytes",
        path.display(),
        bytes.len()
    );
    bytes
}

/// Renders twice (second time over the first file) and asserts identical bytes.
fn assert_deterministic(render: impl Fn(&Path), path: &Path, width: u32, height: u32) {
    render(path);
    let first = read_png(path, width, height);
    render(path);
    assert!(
        first == read_png(path, width, height),
        "same input, different bytes"
    );
}

/// No `.tmp.png` is left behind in `dir`.
fn assert_no_temporaries(dir: &Path) {
    let left: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp.png"))
        .collect();
    assert!(left.is_empty(), "temporaries left: {left:?}");
}

fn ttft_chart() -> Chart {
    let mut c = Chart::new("TTFT p99 vs offered load", "load (req/s)", "TTFT p99 (ms)");
    c.series.push(Series {
        name: "chunked prefill".into(),
        points: (1..=20)
            .map(|i| (f64::from(i), 40.0 + f64::from(i * i)))
            .collect(),
        mark: Mark::LinePoints,
    });
    c.series.push(Series {
        name: "prefill first".into(),
        points: (1..=20)
            .map(|i| (f64::from(i), 30.0 + 12.0 * f64::from(i)))
            .chain([(21.0, f64::NAN), (22.0, f64::INFINITY)])
            .collect(),
        mark: Mark::Line,
    });
    c.ref_lines.push(RefLine {
        label: "SLO 300 ms".into(),
        value: 300.0,
        horizontal: true,
    });
    c
}

#[test]
fn line_chart_with_two_series_and_a_ref_line() {
    let dir = out_dir("line");
    let c = ttft_chart();
    let render = |p: &Path| render_chart(&c, p).unwrap();
    assert_deterministic(render, &dir.join("ttft.png"), 1000, 650);
    assert_no_temporaries(&dir);
    done(&dir);
}

#[test]
fn log_log_scatter_with_diagonal() {
    let dir = out_dir("scatter");
    let mut c = Chart::new("Predicted vs measured", "measured (µs)", "predicted (µs)");
    (c.x_log, c.y_log, c.diagonal) = (true, true, true);
    c.width = 800;
    c.height = 800;
    for (k, name) in ["gemm", "attention", "allreduce"].into_iter().enumerate() {
        let f = 1.0 + 0.1 * k as f64;
        c.series.push(Series {
            name: name.into(),
            // Non-positive and NaN points must be skipped on log axes, not panic.
            points: (0..30)
                .map(|i| {
                    let m = 3.0 * 1.3f64.powi(i + 4 * k as i32);
                    (m, m * f * (1.0 + 0.15 * ((i * 7 % 5) as f64 - 2.0) / 2.0))
                })
                .chain([(0.0, 5.0), (-3.0, 5.0), (5.0, f64::NAN)])
                .collect(),
            mark: Mark::Points,
        });
    }
    let render = |p: &Path| render_chart(&c, p).unwrap();
    assert_deterministic(render, &dir.join("scatter.png"), 800, 800);
    done(&dir);
}

#[test]
fn stacked_bars() {
    let dir = out_dir("bars");
    let b = BarChart {
        title: "GPU memory per KV dtype".into(),
        y_label: "memory (GiB)".into(),
        categories: vec!["fp16".into(), "fp8".into(), "int4".into()],
        stacks: vec![
            ("weights".into(), vec![16.1, 16.1, 16.1]),
            ("KV cache".into(), vec![48.0, 24.0, 12.0]),
            ("activations".into(), vec![4.0, 4.0, f64::NAN]),
        ],
        width: 900,
        height: 600,
    };
    let render = |p: &Path| render_bars(&b, p).unwrap();
    assert_deterministic(render, &dir.join("bars.png"), 900, 600);
    assert_no_temporaries(&dir);
    done(&dir);
}

#[test]
fn series_order_sets_colours_so_reordering_changes_the_image() {
    let dir = out_dir("order");
    let c = ttft_chart();
    let mut swapped = c.clone();
    swapped.series.swap(0, 1);
    render_chart(&c, &dir.join("a.png")).unwrap();
    render_chart(&swapped, &dir.join("b.png")).unwrap();
    let (a, b) = (
        std::fs::read(dir.join("a.png")),
        std::fs::read(dir.join("b.png")),
    );
    assert_ne!(a.unwrap(), b.unwrap());
    done(&dir);
}

#[test]
fn empty_data_is_an_error_naming_chart_and_file() {
    let dir = out_dir("empty");
    let path = dir.join("empty.png");
    let mut c = Chart::new("nothing here", "x", "y");
    let err = render_chart(&c, &path).unwrap_err();
    assert!(matches!(err, PngError::Empty { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("nothing here") && msg.contains("empty.png"),
        "{msg}"
    );

    // Only undrawable points: NaN everywhere, and ≤ 0 on a log axis.
    c.y_log = true;
    c.series.push(Series {
        name: "bad".into(),
        points: vec![
            (1.0, 0.0),
            (2.0, -1.0),
            (f64::NAN, 3.0),
            (4.0, f64::INFINITY),
        ],
        mark: Mark::Line,
    });
    assert!(matches!(
        render_chart(&c, &path),
        Err(PngError::Empty { .. })
    ));

    let mut b = BarChart::new("no bars", "GiB");
    assert!(matches!(
        render_bars(&b, &path),
        Err(PngError::Empty { .. })
    ));
    b.categories = vec!["a".into()];
    b.stacks = vec![("zero".into(), vec![0.0])];
    assert!(matches!(
        render_bars(&b, &path),
        Err(PngError::Empty { .. })
    ));
    assert!(!path.exists());
    assert_no_temporaries(&dir);
    done(&dir);
}

#[test]
fn bad_bar_data_and_sizes_are_errors_that_say_the_fix() {
    let dir = out_dir("invalid");
    let path = dir.join("bad.png");
    let mut b = BarChart::new("mem", "GiB");
    b.categories = vec!["a".into(), "b".into()];
    b.stacks = vec![("KV".into(), vec![1.0])];
    let msg = render_bars(&b, &path).unwrap_err().to_string();
    assert!(msg.contains("1 values for 2 categories"), "{msg}");
    b.stacks = vec![("KV".into(), vec![1.0, -2.0])];
    let msg = render_bars(&b, &path).unwrap_err().to_string();
    assert!(msg.contains("`b`") && msg.contains("≥ 0"), "{msg}");

    let mut c = ttft_chart();
    c.width = 0;
    let msg = render_chart(&c, &path).unwrap_err().to_string();
    assert!(msg.contains("too small"), "{msg}");
    done(&dir);
}

#[test]
fn failed_write_leaves_the_target_untouched() {
    let dir = out_dir("fail");
    let path = dir.join("keep.png");
    std::fs::write(&path, b"old").unwrap();
    // A folder in the way of the rename target makes the final step fail.
    let blocked = dir.join("blocked.png");
    std::fs::create_dir(&blocked).unwrap();
    std::fs::write(blocked.join("x"), b"").unwrap();
    let err = render_chart(&ttft_chart(), &blocked).unwrap_err();
    assert!(matches!(err, PngError::Draw { .. }), "{err:?}");
    assert!(err.to_string().contains("blocked.png"));
    assert_eq!(std::fs::read(&path).unwrap(), b"old");
    assert_no_temporaries(&dir);
    done(&dir);
}

#[test]
fn flat_ranges_are_widened_and_padding_is_five_percent() {
    assert_eq!(pad((2.0, 2.0)), (1.8, 2.2));
    assert_eq!(pad((0.0, 0.0)), (-1.0, 1.0));
    let (lo, hi) = pad((0.0, 100.0));
    assert!((lo + 5.0).abs() < 1e-12 && (hi - 105.0).abs() < 1e-12);
    // One point still draws.
    let mut c = Chart::new("one point", "x", "y");
    c.series.push(Series {
        name: "p".into(),
        points: vec![(3.0, 3.0)],
        mark: Mark::Points,
    });
    let dir = out_dir("flat");
    let p = dir.join("one.png");
    render_chart(&c, &p).unwrap();
    assert_eq!(&std::fs::read(&p).unwrap()[..8], PNG_SIGNATURE);
    done(&dir);
}

#[test]
fn ticks_are_round_numbers() {
    let lin = Ticks::new((-5.0, 105.0), false);
    assert_eq!(lin.bold, vec![0.0, 20.0, 40.0, 60.0, 80.0, 100.0]);
    assert_eq!(lin.label(40.0), "40");
    let log = Ticks::new((0.5, 3.4), true); // 3.2 .. 2512
    let labels: Vec<String> = log.bold.iter().map(|v| log.label(*v)).collect();
    assert_eq!(labels, ["10", "100", "1000"]);
    let narrow = Ticks::new((1.0, 1.8), true); // 10 .. 63
    let labels: Vec<String> = narrow.bold.iter().map(|v| narrow.label(*v)).collect();
    assert_eq!(labels, ["10", "20", "50"]);
    let small = Ticks::new((-3.2, -0.9), true);
    let labels: Vec<String> = small.bold.iter().map(|v| small.label(*v)).collect();
    assert_eq!(labels, ["0.001", "0.01", "0.1"]);
}
