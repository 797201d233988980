//! PNG charts with plotters, drawn with a font shipped in the repository
//! (`assets/fonts/DejaVuSans.ttf`, Bitstream Vera / DejaVu licence beside it), so no system
//! font library is needed. Pure: data in, file out; same input → same bytes.
//!
//! Log axes are drawn by plotting log10 of the data on a linear axis and labelling ticks
//! with the original values.

use plotters::prelude::*;
use plotters::style::FontStyle;
use std::path::{Path, PathBuf};
use std::sync::Once;

static FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
static REGISTER: Once = Once::new();

/// A fixed palette: series i gets colour i mod 10.
const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// How a series is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    /// Connected line.
    Line,
    /// Dots.
    Points,
    /// Line with dots.
    LinePoints,
}

/// One named series of (x, y) points.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Legend name.
    pub name: String,
    /// Points; non-finite ones (and non-positive ones on a log axis) are skipped.
    pub points: Vec<(f64, f64)>,
    /// How to draw it.
    pub mark: Mark,
}

/// A labelled reference line (an SLO, a ceiling).
#[derive(Debug, Clone, PartialEq)]
pub struct RefLine {
    /// Legend label.
    pub label: String,
    /// Position on its axis.
    pub value: f64,
    /// Horizontal (a y value) or vertical (an x value).
    pub horizontal: bool,
}

/// An x–y chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    /// Title.
    pub title: String,
    /// X axis label, with units.
    pub x_label: String,
    /// Y axis label, with units.
    pub y_label: String,
    /// Log-scaled x.
    pub x_log: bool,
    /// Log-scaled y.
    pub y_log: bool,
    /// Data.
    pub series: Vec<Series>,
    /// Reference lines.
    pub ref_lines: Vec<RefLine>,
    /// Draw y = x (predicted-vs-measured charts).
    pub diagonal: bool,
    /// Pixels.
    pub width: u32,
    /// Pixels.
    pub height: u32,
}

impl Chart {
    /// An empty linear chart of 1000 × 650 pixels.
    pub fn new(title: &str, x_label: &str, y_label: &str) -> Self {
        Chart {
            title: title.into(),
            x_label: x_label.into(),
            y_label: y_label.into(),
            x_log: false,
            y_log: false,
            series: Vec::new(),
            ref_lines: Vec::new(),
            diagonal: false,
            width: 1000,
            height: 650,
        }
    }
}

/// A stacked bar chart: one bar per category, one segment per stack.
#[derive(Debug, Clone, PartialEq)]
pub struct BarChart {
    /// Title.
    pub title: String,
    /// Y axis label, with units.
    pub y_label: String,
    /// Bar names.
    pub categories: Vec<String>,
    /// (segment name, value per category).
    pub stacks: Vec<(String, Vec<f64>)>,
    /// Pixels.
    pub width: u32,
    /// Pixels.
    pub height: u32,
}

/// Why a chart could not be drawn.
#[derive(Debug, thiserror::Error)]
pub enum PngError {
    /// No drawable point.
    #[error("chart `{0}` has no data to draw")]
    Empty(String),
    /// Drawing or writing failed.
    #[error("{path}: cannot draw chart `{title}`: {message}")]
    Draw {
        /// Target file.
        path: PathBuf,
        /// Chart title.
        title: String,
        /// What failed.
        message: String,
    },
}

fn register() {
    REGISTER.call_once(|| {
        // The font is compiled in; a failure here would be a corrupt asset, caught by the tests.
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, FONT);
    });
}

fn tmp_path(path: &Path) -> PathBuf {
    let name = path.file_stem().and_then(|s| s.to_str()).unwrap_or("chart");
    path.with_file_name(format!(".{name}.{}.tmp.png", std::process::id()))
}

fn finish(tmp: &Path, path: &Path, title: &str, r: Result<(), String>) -> Result<(), PngError> {
    let r = r.and_then(|()| std::fs::rename(tmp, path).map_err(|e| e.to_string()));
    if let Err(message) = r {
        let _ = std::fs::remove_file(tmp);
        return Err(PngError::Draw {
            path: path.to_path_buf(),
            title: title.to_string(),
            message,
        });
    }
    Ok(())
}

fn range(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        return None;
    }
    if hi - lo < 1e-12 * hi.abs().max(1.0) {
        let w = if lo == 0.0 { 1.0 } else { lo.abs() * 0.1 };
        return Some((lo - w, hi + w));
    }
    let pad = (hi - lo) * 0.05;
    Some((lo - pad, hi + pad))
}

fn axis_value(v: f64, log: bool) -> Option<f64> {
    if !v.is_finite() {
        return None;
    }
    if log {
        (v > 0.0).then(|| v.log10())
    } else {
        Some(v)
    }
}

fn tick_label(v: f64, log: bool) -> String {
    let x = if log { 10f64.powf(v) } else { v };
    let a = x.abs();
    if a == 0.0 {
        "0".into()
    } else if !(1e-3..1e6).contains(&a) {
        format!("{x:.0e}")
    } else if a >= 100.0 {
        format!("{x:.0}")
    } else if a >= 1.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.3}")
    }
}

/// Draw an x–y chart to `path` (PNG), atomically.
pub fn render_chart(chart: &Chart, path: &Path) -> Result<(), PngError> {
    register();
    let pts: Vec<Vec<(f64, f64)>> = chart
        .series
        .iter()
        .map(|s| {
            s.points
                .iter()
                .filter_map(|&(x, y)| {
                    Some((axis_value(x, chart.x_log)?, axis_value(y, chart.y_log)?))
                })
                .collect()
        })
        .collect();
    let xs = pts.iter().flatten().map(|p| p.0).chain(
        chart
            .ref_lines
            .iter()
            .filter(|r| !r.horizontal)
            .filter_map(|r| axis_value(r.value, chart.x_log)),
    );
    let ys = pts.iter().flatten().map(|p| p.1).chain(
        chart
            .ref_lines
            .iter()
            .filter(|r| r.horizontal)
            .filter_map(|r| axis_value(r.value, chart.y_log)),
    );
    let (Some(mut xr), Some(mut yr)) = (range(xs), range(ys)) else {
        return Err(PngError::Empty(chart.title.clone()));
    };
    if pts.iter().all(Vec::is_empty) {
        return Err(PngError::Empty(chart.title.clone()));
    }
    if chart.diagonal {
        let lo = xr.0.min(yr.0);
        let hi = xr.1.max(yr.1);
        xr = (lo, hi);
        yr = (lo, hi);
    }
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let tmp = tmp_path(path);
    let r = (|| -> Result<(), Box<dyn std::error::Error>> {
        let root = BitMapBackend::new(&tmp, (chart.width, chart.height)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut c = ChartBuilder::on(&root)
            .caption(&chart.title, ("sans-serif", 26))
            .margin(18)
            .x_label_area_size(55)
            .y_label_area_size(80)
            .build_cartesian_2d(xr.0..xr.1, yr.0..yr.1)?;
        let (xl, yl) = (chart.x_log, chart.y_log);
        c.configure_mesh()
            .x_desc(&chart.x_label)
            .y_desc(&chart.y_label)
            .axis_desc_style(("sans-serif", 20))
            .label_style(("sans-serif", 16))
            .x_label_formatter(&|v| tick_label(*v, xl))
            .y_label_formatter(&|v| tick_label(*v, yl))
            .light_line_style(RGBColor(235, 235, 235))
            .draw()?;
        if chart.diagonal {
            let (lo, hi) = xr;
            c.draw_series(LineSeries::new(
                vec![(lo, lo), (hi, hi)],
                BLACK.mix(0.5).stroke_width(1),
            ))?
            .label("y = x")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLACK.mix(0.5)));
        }
        for (i, (s, p)) in chart.series.iter().zip(&pts).enumerate() {
            let color = PALETTE[i % PALETTE.len()];
            let style = color.stroke_width(2);
            match s.mark {
                Mark::Line | Mark::LinePoints => {
                    c.draw_series(LineSeries::new(p.iter().copied(), style))?
                        .label(&s.name)
                        .legend(move |(x, y)| {
                            PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
                        });
                    if s.mark == Mark::LinePoints {
                        c.draw_series(p.iter().map(|&q| Circle::new(q, 3, color.filled())))?;
                    }
                }
                Mark::Points => {
                    c.draw_series(p.iter().map(|&q| Circle::new(q, 4, color.filled())))?
                        .label(&s.name)
                        .legend(move |(x, y)| Circle::new((x + 10, y), 4, color.filled()));
                }
            }
        }
        for (j, r) in chart.ref_lines.iter().enumerate() {
            let color = PALETTE[(chart.series.len() + j) % PALETTE.len()];
            let line = if r.horizontal {
                let Some(y) = axis_value(r.value, yl) else {
                    continue;
                };
                vec![(xr.0, y), (xr.1, y)]
            } else {
                let Some(x) = axis_value(r.value, xl) else {
                    continue;
                };
                vec![(x, yr.0), (x, yr.1)]
            };
            c.draw_series(LineSeries::new(line, color.stroke_width(2)))?
                .label(&r.label)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
                });
        }
        if chart.series.len() + chart.ref_lines.len() + usize::from(chart.diagonal) >= 2 {
            c.configure_series_labels()
                .position(SeriesLabelPosition::UpperLeft)
                .label_font(("sans-serif", 16))
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK.mix(0.3))
                .draw()?;
        }
        root.present()?;
        Ok(())
    })();
    finish(&tmp, path, &chart.title, r.map_err(|e| e.to_string()))
}

/// Draw a stacked bar chart to `path` (PNG), atomically.
pub fn render_bars(chart: &BarChart, path: &Path) -> Result<(), PngError> {
    register();
    let n = chart.categories.len();
    let totals: Vec<f64> = (0..n)
        .map(|i| {
            chart
                .stacks
                .iter()
                .map(|(_, v)| v.get(i).copied().unwrap_or(0.0).max(0.0))
                .sum()
        })
        .collect();
    let top = totals.iter().cloned().fold(0.0, f64::max);
    if n == 0 || top.is_nan() || top <= 0.0 {
        return Err(PngError::Empty(chart.title.clone()));
    }
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let tmp = tmp_path(path);
    let r = (|| -> Result<(), Box<dyn std::error::Error>> {
        let root = BitMapBackend::new(&tmp, (chart.width, chart.height)).into_drawing_area();
        root.fill(&WHITE)?;
        let cats = chart.categories.clone();
        let mut c = ChartBuilder::on(&root)
            .caption(&chart.title, ("sans-serif", 26))
            .margin(18)
            .x_label_area_size(55)
            .y_label_area_size(80)
            .build_cartesian_2d(-0.5f64..(n as f64 - 0.5), 0.0..top * 1.1)?;
        c.configure_mesh()
            .y_desc(&chart.y_label)
            .axis_desc_style(("sans-serif", 20))
            .label_style(("sans-serif", 16))
            .x_labels(n.max(1))
            .x_label_formatter(&|v| {
                let i = v.round();
                if (v - i).abs() < 0.01 && i >= 0.0 {
                    cats.get(i as usize).cloned().unwrap_or_default()
                } else {
                    String::new()
                }
            })
            .disable_x_mesh()
            .draw()?;
        let mut base = vec![0.0; n];
        for (j, (name, values)) in chart.stacks.iter().enumerate() {
            let color = PALETTE[j % PALETTE.len()];
            let bars: Vec<Rectangle<(f64, f64)>> = (0..n)
                .map(|i| {
                    let v = values.get(i).copied().unwrap_or(0.0).max(0.0);
                    let r = Rectangle::new(
                        [(i as f64 - 0.35, base[i]), (i as f64 + 0.35, base[i] + v)],
                        color.filled(),
                    );
                    base[i] += v;
                    r
                })
                .collect();
            c.draw_series(bars)?.label(name).legend(move |(x, y)| {
                Rectangle::new([(x, y - 6), (x + 14, y + 6)], color.filled())
            });
        }
        c.configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .label_font(("sans-serif", 16))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.3))
            .draw()?;
        root.present()?;
        Ok(())
    })();
    finish(&tmp, path, &chart.title, r.map_err(|e| e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dims(bytes: &[u8]) -> (u32, u32) {
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "PNG signature");
        let w = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
        let h = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
        (w, h)
    }

    fn tmp() -> PathBuf {
        let d = std::env::temp_dir().join(format!("planner-png-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn line_chart_with_ref_line_is_a_deterministic_png() {
        let mut c = Chart::new("TTFT vs load", "load (req/s)", "TTFT p99 (ms)");
        c.series.push(Series {
            name: "a".into(),
            points: (1..20).map(|i| (i as f64, (i * i) as f64)).collect(),
            mark: Mark::LinePoints,
        });
        c.series.push(Series {
            name: "b".into(),
            points: (1..20).map(|i| (i as f64, (3 * i) as f64)).collect(),
            mark: Mark::Line,
        });
        c.ref_lines.push(RefLine {
            label: "SLO 200 ms".into(),
            value: 200.0,
            horizontal: true,
        });
        let p = tmp().join("line.png");
        render_chart(&c, &p).unwrap();
        let a = std::fs::read(&p).unwrap();
        assert_eq!(dims(&a), (1000, 650));
        assert!(a.len() > 5000, "{} bytes", a.len());
        render_chart(&c, &p).unwrap();
        assert_eq!(a, std::fs::read(&p).unwrap(), "same input, same bytes");
    }

    #[test]
    fn log_scatter_and_bars() {
        let mut c = Chart::new("predicted vs measured", "measured (µs)", "predicted (µs)");
        c.x_log = true;
        c.y_log = true;
        c.diagonal = true;
        c.series.push(Series {
            name: "gemm".into(),
            points: vec![(10.0, 12.0), (100.0, 90.0), (1000.0, 1100.0), (-1.0, 5.0)],
            mark: Mark::Points,
        });
        let p = tmp().join("scatter.png");
        render_chart(&c, &p).unwrap();
        assert_eq!(dims(&std::fs::read(&p).unwrap()), (1000, 650));
        let b = BarChart {
            title: "memory".into(),
            y_label: "GiB".into(),
            categories: vec!["f16".into(), "q8_0".into()],
            stacks: vec![
                ("weights".into(), vec![15.0, 15.0]),
                ("KV".into(), vec![50.0, 50.0]),
            ],
            width: 800,
            height: 500,
        };
        let p = tmp().join("bars.png");
        render_bars(&b, &p).unwrap();
        assert_eq!(dims(&std::fs::read(&p).unwrap()), (800, 500));
    }

    #[test]
    fn empty_data_is_an_error_not_a_panic() {
        let c = Chart::new("nothing", "x", "y");
        let p = tmp().join("empty.png");
        assert!(matches!(render_chart(&c, &p), Err(PngError::Empty(_))));
        assert!(!p.exists());
    }
}
