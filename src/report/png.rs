//! PNG charts for reports: data in, file out, same input → byte-identical file.
//!
//! Text is drawn with DejaVu Sans, compiled in from `assets/fonts/DejaVuSans.ttf` (Bitstream
//! Vera / DejaVu licence in `assets/fonts/LICENSE-DejaVu.txt`) through plotters' `ab_glyph`
//! backend, so no system font library is needed.
//!
//! Axis handling, shared by every chart:
//! - ranges come from the data (and the reference lines), padded 5% each side; a flat range
//!   is widened so the points sit mid-axis;
//! - NaN/±inf points are skipped, and on a log axis so are non-positive ones;
//! - a log axis is drawn by plotting `log10(v)` on a linear axis with ticks placed on
//!   1-2-5 (or 1..9) multiples of powers of ten and labelled with the original values;
//! - series `i` takes colour `PALETTE[i % 10]`, so colours follow series order.
//!
//! Files are written atomically: drawn to `.<name>.<pid>.<n>.tmp.png` beside the target
//! (the encoder picks the format from the extension), then renamed over it.

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::FontStyle;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// DejaVu Sans, registered with plotters as `"sans-serif"`.
static FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
const FONT_NAME: &str = "sans-serif";

const TITLE_PX: u32 = 28;
const AXIS_LABEL_PX: u32 = 20;
const TICK_PX: u32 = 16;
const LEGEND_PX: u32 = 17;
/// Smallest drawable chart; below this plotters' layout has no room for the plot area.
const MIN_SIZE: (u32, u32) = (200, 150);

/// Fixed palette (matplotlib's tab10): series `i` gets `PALETTE[i % 10]`.
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
/// Reference lines are dashed and dark so they never read as a data series.
const REF_COLORS: [RGBColor; 3] = [
    RGBColor(200, 0, 0),
    RGBColor(40, 40, 40),
    RGBColor(0, 90, 160),
];

/// How a series is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    /// Points joined in the given order.
    Line,
    /// Unjoined dots (scatter).
    Points,
    /// Points joined in the given order, each also marked with a dot.
    LinePoints,
}

/// One named series of `(x, y)` points.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Name shown in the legend.
    pub name: String,
    /// Data; NaN/inf points, and non-positive ones on a log axis, are skipped.
    pub points: Vec<(f64, f64)>,
    /// How to draw it.
    pub mark: Mark,
}

/// A labelled dashed line across the plot, e.g. an SLO or a memory ceiling.
#[derive(Debug, Clone, PartialEq)]
pub struct RefLine {
    /// Name shown in the legend, e.g. "TTFT SLO 500 ms".
    pub label: String,
    /// Where it sits: a y value if `horizontal`, else an x value. Always in the data's units
    /// (not log10) even on a log axis.
    pub value: f64,
    /// `true`: the line `y = value`; `false`: the line `x = value`.
    pub horizontal: bool,
}

/// An x–y chart (lines, scatter, or both).
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    /// Title over the plot.
    pub title: String,
    /// X axis label, with units, e.g. "load (req/s)".
    pub x_label: String,
    /// Y axis label, with units, e.g. "TTFT (ms)".
    pub y_label: String,
    /// Log-scaled x axis.
    pub x_log: bool,
    /// Log-scaled y axis.
    pub y_log: bool,
    /// Data, drawn in order; series `i` takes palette colour `i`.
    pub series: Vec<Series>,
    /// Reference lines, drawn dashed over the data.
    pub ref_lines: Vec<RefLine>,
    /// Draw the line `y = x` (predicted-vs-measured charts). When both axes have the same
    /// scale, they also get the same range, so the line is the plot's diagonal.
    pub diagonal: bool,
    /// Image width in pixels.
    pub width: u32,
    /// Image height in pixels.
    pub height: u32,
}

impl Chart {
    /// An empty chart with linear axes, 1000 × 650 pixels.
    pub fn new(
        title: impl Into<String>,
        x_label: impl Into<String>,
        y_label: impl Into<String>,
    ) -> Self {
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

/// A stacked bar chart: one bar per category, one coloured segment per stack, bottom-up in
/// `stacks` order.
#[derive(Debug, Clone, PartialEq)]
pub struct BarChart {
    /// Title over the plot.
    pub title: String,
    /// Y axis label, with units, e.g. "memory (GiB)".
    pub y_label: String,
    /// Bar names, left to right.
    pub categories: Vec<String>,
    /// `(segment name, one value per category)`; values must be ≥ 0, NaN/inf count as 0.
    pub stacks: Vec<(String, Vec<f64>)>,
    /// Image width in pixels.
    pub width: u32,
    /// Image height in pixels.
    pub height: u32,
}

impl BarChart {
    /// An empty bar chart, 1000 × 650 pixels.
    pub fn new(title: impl Into<String>, y_label: impl Into<String>) -> Self {
        BarChart {
            title: title.into(),
            y_label: y_label.into(),
            categories: Vec::new(),
            stacks: Vec::new(),
            width: 1000,
            height: 650,
        }
    }
}

/// Why a chart could not be written. Every message starts with the target file.
#[derive(Debug, thiserror::Error)]
pub enum PngError {
    /// Nothing drawable: no series, or every point non-finite (or non-positive on a log axis).
    #[error(
        "{}: chart `{title}` has no point to draw (series empty, or all values NaN/inf, or ≤ 0 on a log axis)",
        path.display()
    )]
    Empty {
        /// Target file.
        path: PathBuf,
        /// Chart title.
        title: String,
    },
    /// The chart's data is inconsistent (e.g. a stack shorter than the category list).
    #[error("{}: chart `{title}`: {message}", path.display())]
    Invalid {
        /// Target file.
        path: PathBuf,
        /// Chart title.
        title: String,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// The embedded font could not be parsed (a corrupt `assets/fonts/DejaVuSans.ttf`).
    #[error(
        "{}: the embedded font assets/fonts/DejaVuSans.ttf is not a valid TrueType font; restore it from fonts-dejavu-core",
        path.display()
    )]
    Font {
        /// Target file.
        path: PathBuf,
    },
    /// The target folder could not be created.
    #[error("{}: cannot create the folder: {source}", path.display())]
    Io {
        /// Target file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// Drawing, encoding or renaming into place failed; the temporary file was removed.
    #[error("{}: cannot write chart `{title}`: {message}", path.display())]
    Draw {
        /// Target file.
        path: PathBuf,
        /// Chart title.
        title: String,
        /// What failed.
        message: String,
    },
}

/// Where a chart is drawn.
pub enum Target<'a> {
    /// A PNG file, written atomically.
    Png(&'a Path),
    /// SVG text, appended to the string (for an HTML report); the path names it in errors.
    Svg(&'a Path, &'a mut String),
}

impl Target<'_> {
    fn path(&self) -> &Path {
        match self {
            Target::Png(p) | Target::Svg(p, _) => p,
        }
    }
}

/// Draw with one body on either backend: the body is compiled once per backend.
macro_rules! draw_to {
    ($target:expr, $title:expr, $w:expr, $h:expr, |$root:ident| $body:block) => {
        match $target {
            Target::Png(path) => write_atomic(path, $title, $w, $h, |$root: &Root| $body),
            Target::Svg(path, out) => write_svg(path, out, $title, $w, $h, |$root: &SvgRoot| $body),
        }
    };
}

/// Draw `chart` to `path` as a PNG, atomically (see the module docs for axis rules).
pub fn render_chart(chart: &Chart, path: &Path) -> Result<(), PngError> {
    draw_chart(chart, Target::Png(path))
}

/// `chart` as SVG text (the same drawing as [`render_chart`]); `name` names it in errors.
pub fn chart_svg(chart: &Chart, name: &Path) -> Result<String, PngError> {
    let mut out = String::new();
    draw_chart(chart, Target::Svg(name, &mut out))?;
    Ok(out)
}

/// `chart` as SVG text (the same drawing as [`render_bars`]).
pub fn bars_svg(chart: &BarChart, name: &Path) -> Result<String, PngError> {
    let mut out = String::new();
    draw_bars(chart, Target::Svg(name, &mut out))?;
    Ok(out)
}

fn draw_chart(chart: &Chart, target: Target) -> Result<(), PngError> {
    let path = target.path().to_path_buf();
    let path = path.as_path();
    check_size(&chart.title, chart.width, chart.height, path)?;
    let (xl, yl) = (chart.x_log, chart.y_log);
    // Everything below works in axis space: log10(v) on a log axis.
    let data: Vec<Vec<(f64, f64)>> = chart
        .series
        .iter()
        .map(|s| {
            s.points
                .iter()
                .filter_map(|&(x, y)| Some((to_axis(x, xl)?, to_axis(y, yl)?)))
                .collect()
        })
        .collect();
    if data.iter().all(Vec::is_empty) {
        return Err(PngError::Empty {
            path: path.to_path_buf(),
            title: chart.title.clone(),
        });
    }
    let refs: Vec<(&RefLine, f64)> = chart
        .ref_lines
        .iter()
        .filter_map(|r| Some((r, to_axis(r.value, if r.horizontal { yl } else { xl })?)))
        .collect();
    let xs = data.iter().flatten().map(|p| p.0);
    let ys = data.iter().flatten().map(|p| p.1);
    let ref_x = refs.iter().filter(|(r, _)| !r.horizontal).map(|&(_, v)| v);
    let ref_y = refs.iter().filter(|(r, _)| r.horizontal).map(|&(_, v)| v);
    let (mut xr, mut yr) = (bounds(xs.chain(ref_x)), bounds(ys.chain(ref_y)));
    if chart.diagonal && xl == yl {
        let both = (xr.0.min(yr.0), xr.1.max(yr.1));
        (xr, yr) = (both, both);
    }
    let (xr, yr) = (pad(xr), pad(yr));
    let (xt, yt) = (Ticks::new(xr, xl), Ticks::new(yr, yl));

    let corner = emptiest_corner(&data, xr, yr);

    draw_to!(target, &chart.title, chart.width, chart.height, |root| {
        let mut c = ChartBuilder::on(root)
            .caption(&chart.title, (FONT_NAME, TITLE_PX))
            .margin(20)
            .x_label_area_size(60)
            .y_label_area_size(90)
            .build_cartesian_2d(xt.axis(xr), yt.axis(yr))?;
        c.configure_mesh()
            .x_desc(&chart.x_label)
            .y_desc(&chart.y_label)
            .axis_desc_style((FONT_NAME, AXIS_LABEL_PX))
            .label_style((FONT_NAME, TICK_PX))
            .x_label_formatter(&|v| xt.label(*v))
            .y_label_formatter(&|v| yt.label(*v))
            .bold_line_style(RGBColor(215, 215, 215))
            .light_line_style(RGBColor(240, 240, 240))
            .draw()?;

        if chart.diagonal {
            let grey = RGBColor(90, 90, 90);
            c.draw_series(LineSeries::new(
                diagonal(xr, yr, xl, yl),
                grey.stroke_width(1),
            ))?
            .label("y = x")
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 22, y)], grey));
        }
        for (i, (s, pts)) in chart.series.iter().zip(&data).enumerate() {
            let color = PALETTE[i % PALETTE.len()];
            let dots = |r| pts.iter().map(move |&p| Circle::new(p, r, color.filled()));
            match s.mark {
                Mark::Points => {
                    c.draw_series(dots(4))?
                        .label(&s.name)
                        .legend(move |(x, y)| Circle::new((x + 11, y), 4, color.filled()));
                }
                Mark::Line => {
                    c.draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))?
                        .label(&s.name)
                        .legend(move |(x, y)| {
                            PathElement::new(vec![(x, y), (x + 22, y)], color.stroke_width(2))
                        });
                }
                Mark::LinePoints => {
                    c.draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))?
                        .label(&s.name)
                        .legend(move |(x, y)| {
                            EmptyElement::at((x, y))
                                + PathElement::new(vec![(0, 0), (22, 0)], color.stroke_width(2))
                                + Circle::new((11, 0), 3, color.filled())
                        });
                    c.draw_series(dots(3))?;
                }
            }
        }
        for (j, &(r, v)) in refs.iter().enumerate() {
            let color = REF_COLORS[j % REF_COLORS.len()];
            let ends = if r.horizontal {
                [(xr.0, v), (xr.1, v)]
            } else {
                [(v, yr.0), (v, yr.1)]
            };
            c.draw_series(DashedLineSeries::new(ends, 10, 6, color.stroke_width(2)))?
                .label(&r.label)
                .legend(move |(x, y)| {
                    let style = color.stroke_width(2);
                    EmptyElement::at((x, y))
                        + PathElement::new(vec![(0, 0), (8, 0)], style)
                        + PathElement::new(vec![(14, 0), (22, 0)], style)
                });
        }
        let entries = chart.series.len() + refs.len() + usize::from(chart.diagonal);
        if entries >= 2 {
            c.configure_series_labels()
                .position(corner)
                .margin(12)
                .label_font((FONT_NAME, LEGEND_PX))
                .background_style(WHITE.mix(0.9))
                .border_style(BLACK.mix(0.4))
                .draw()?;
        }
        Ok(())
    })
}

/// Draw `chart` to `path` as a PNG, atomically.
pub fn render_bars(chart: &BarChart, path: &Path) -> Result<(), PngError> {
    draw_bars(chart, Target::Png(path))
}

fn draw_bars(chart: &BarChart, target: Target) -> Result<(), PngError> {
    let path = target.path().to_path_buf();
    let path = path.as_path();
    check_size(&chart.title, chart.width, chart.height, path)?;
    let n = chart.categories.len();
    let invalid = |message: String| PngError::Invalid {
        path: path.to_path_buf(),
        title: chart.title.clone(),
        message,
    };
    for (name, values) in &chart.stacks {
        if values.len() != n {
            return Err(invalid(format!(
                "stack `{name}` has {} values for {n} categories; give one value per category",
                values.len()
            )));
        }
        if let Some((i, v)) = values.iter().enumerate().find(|(_, v)| **v < 0.0) {
            return Err(invalid(format!(
                "stack `{name}` is {v} for `{}`; stacked bars need values ≥ 0",
                chart.categories[i]
            )));
        }
    }
    let seg = |v: f64| if v.is_finite() { v } else { 0.0 };
    let totals: Vec<f64> = (0..n)
        .map(|i| chart.stacks.iter().map(|(_, v)| seg(v[i])).sum())
        .collect();
    let top = totals.iter().copied().fold(0.0, f64::max);
    if n == 0 || top <= 0.0 {
        return Err(PngError::Empty {
            path: path.to_path_buf(),
            title: chart.title.clone(),
        });
    }
    // Headroom above the tallest bar keeps the legend (upper right, a row per stack) off
    // the bars.
    let rows = chart.stacks.len() as f64;
    let yr = (
        0.0,
        top * if rows >= 2.0 {
            (1.0 + 0.09 * rows).max(1.25)
        } else {
            1.08
        },
    );
    let yt = Ticks::new(yr, false);
    let xr = (-0.5, n as f64 - 0.5);
    let centres: Vec<f64> = (0..n).map(|i| i as f64).collect();

    draw_to!(target, &chart.title, chart.width, chart.height, |root| {
        let mut c = ChartBuilder::on(root)
            .caption(&chart.title, (FONT_NAME, TITLE_PX))
            .margin(20)
            .x_label_area_size(50)
            .y_label_area_size(90)
            .build_cartesian_2d(
                Axis {
                    inner: (xr.0..xr.1).into(),
                    bold: centres.clone(),
                    light: Vec::new(),
                },
                yt.axis(yr),
            )?;
        c.configure_mesh()
            .y_desc(&chart.y_label)
            .axis_desc_style((FONT_NAME, AXIS_LABEL_PX))
            .label_style((FONT_NAME, TICK_PX))
            .x_label_formatter(&|v| {
                let i = v.round();
                let name = (i >= 0.0)
                    .then(|| chart.categories.get(i as usize))
                    .flatten();
                name.cloned().unwrap_or_default()
            })
            .y_label_formatter(&|v| yt.label(*v))
            .disable_x_mesh()
            .bold_line_style(RGBColor(215, 215, 215))
            .draw()?;
        let mut base = vec![0.0; n];
        for (j, (name, values)) in chart.stacks.iter().enumerate() {
            let color = PALETTE[j % PALETTE.len()];
            let bars: Vec<_> = (0..n)
                .map(|i| {
                    let (lo, hi) = (base[i], base[i] + seg(values[i]));
                    base[i] = hi;
                    let (l, r) = (i as f64 - 0.35, i as f64 + 0.35);
                    Rectangle::new([(l, lo), (r, hi)], color.filled())
                })
                .collect();
            c.draw_series(bars)?.label(name).legend(move |(x, y)| {
                Rectangle::new([(x, y - 7), (x + 18, y + 7)], color.filled())
            });
        }
        if chart.stacks.len() >= 2 {
            c.configure_series_labels()
                .position(SeriesLabelPosition::UpperRight)
                .margin(12)
                .label_font((FONT_NAME, LEGEND_PX))
                .background_style(WHITE.mix(0.9))
                .border_style(BLACK.mix(0.4))
                .draw()?;
        }
        Ok(())
    })
}

type Root<'a> = DrawingArea<BitMapBackend<'a>, plotters::coord::Shift>;
type SvgRoot<'a> = DrawingArea<SVGBackend<'a>, plotters::coord::Shift>;
type DrawResult = Result<(), Box<dyn std::error::Error + 'static>>;

fn check_size(title: &str, width: u32, height: u32, path: &Path) -> Result<(), PngError> {
    if width < MIN_SIZE.0 || height < MIN_SIZE.1 {
        return Err(PngError::Invalid {
            path: path.to_path_buf(),
            title: title.to_string(),
            message: format!(
                "{width} x {height} pixels is too small; use at least {} x {} (default 1000 x 650)",
                MIN_SIZE.0, MIN_SIZE.1
            ),
        });
    }
    Ok(())
}

/// Registers the embedded font once per process; `Err` if it does not parse.
fn register_font() -> Result<(), ()> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED
        .get_or_init(|| plotters::style::register_font(FONT_NAME, FontStyle::Normal, FONT).is_ok());
    if ok { Ok(()) } else { Err(()) }
}

/// Draws on a white canvas into a temporary file beside `path`, then renames it over `path`.
/// On any failure the temporary file is removed and `path` is left untouched.
fn write_atomic(
    path: &Path,
    title: &str,
    width: u32,
    height: u32,
    draw: impl FnOnce(&Root) -> DrawResult,
) -> Result<(), PngError> {
    register_font().map_err(|()| PngError::Font {
        path: path.to_path_buf(),
    })?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| PngError::Io {
            path: path.to_path_buf(),
            source,
        })?;
    }
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = path
        .file_name()
        .map_or("chart".into(), |n| n.to_string_lossy());
    let tmp = path.with_file_name(format!(
        ".{name}.{}.{}.tmp.png",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let drawn = (|| -> DrawResult {
        let root = BitMapBackend::new(&tmp, (width, height)).into_drawing_area();
        root.fill(&WHITE)?;
        draw(&root)?;
        root.present()?;
        Ok(())
    })();
    // The backend is dropped by now, so nothing writes `tmp` after this point.
    let result = drawn
        .map_err(|e| e.to_string())
        .and_then(|()| std::fs::rename(&tmp, path).map_err(|e| format!("rename: {e}")));
    result.map_err(|message| {
        let _ = std::fs::remove_file(&tmp);
        PngError::Draw {
            path: path.to_path_buf(),
            title: title.to_string(),
            message,
        }
    })
}

/// Draws on a white canvas as SVG text appended to `out`.
fn write_svg(
    path: &Path,
    out: &mut String,
    title: &str,
    width: u32,
    height: u32,
    draw: impl FnOnce(&SvgRoot) -> DrawResult,
) -> Result<(), PngError> {
    register_font().map_err(|()| PngError::Font {
        path: path.to_path_buf(),
    })?;
    let drawn = (|| -> DrawResult {
        let root = SVGBackend::with_string(out, (width, height)).into_drawing_area();
        root.fill(&WHITE)?;
        draw(&root)?;
        root.present()?;
        Ok(())
    })();
    drawn.map_err(|e| PngError::Draw {
        path: path.to_path_buf(),
        title: title.to_string(),
        message: e.to_string(),
    })
}

/// `v` in axis space: itself on a linear axis, `log10(v)` on a log one; `None` if undrawable.
fn to_axis(v: f64, log: bool) -> Option<f64> {
    match (v.is_finite(), log) {
        (false, _) => None,
        (true, false) => Some(v),
        (true, true) => (v > 0.0).then(|| v.log10()),
    }
}

/// Min and max of a non-empty set of finite values.
fn bounds(values: impl Iterator<Item = f64>) -> (f64, f64) {
    values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    })
}

/// Pads a range by 5% each side; a flat one is widened by 10% of its value (or 1 at zero).
fn pad((lo, hi): (f64, f64)) -> (f64, f64) {
    let span = hi - lo;
    if span <= 1e-9 * lo.abs().max(hi.abs()).max(1e-300) {
        let w = if lo == 0.0 { 1.0 } else { 0.1 * lo.abs() };
        return (lo - w, hi + w);
    }
    (lo - 0.05 * span, hi + 0.05 * span)
}

/// Points of `y = x` across the plot, in axis space; many points when the axes' scales differ
/// (then the line is a curve), clipped to the y range.
fn diagonal(xr: (f64, f64), yr: (f64, f64), xl: bool, yl: bool) -> Vec<(f64, f64)> {
    let n = if xl == yl { 1 } else { 200 };
    (0..=n)
        .filter_map(|i| {
            let ax = xr.0 + (xr.1 - xr.0) * i as f64 / n as f64;
            let x = if xl { 10f64.powf(ax) } else { ax };
            let ay = to_axis(x, yl)?;
            (xl == yl || (yr.0..=yr.1).contains(&ay)).then_some((ax, ay))
        })
        .collect()
}

/// The legend corner holding the fewest data points (ties: upper left, upper right, lower
/// left, lower right), so the legend covers as little data as possible.
fn emptiest_corner(
    data: &[Vec<(f64, f64)>],
    xr: (f64, f64),
    yr: (f64, f64),
) -> SeriesLabelPosition {
    let frac = |v: f64, (lo, hi): (f64, f64)| (v - lo) / (hi - lo);
    let mut counts = [0usize; 4];
    for &(x, y) in data.iter().flatten() {
        let (fx, fy) = (frac(x, xr), frac(y, yr));
        let (left, right, top, bottom) = (fx < 0.45, fx > 0.55, fy > 0.6, fy < 0.4);
        for (k, inside) in [left && top, right && top, left && bottom, right && bottom]
            .into_iter()
            .enumerate()
        {
            counts[k] += usize::from(inside);
        }
    }
    let best = (0..4).min_by_key(|&k| counts[k]).unwrap_or(0);
    [
        SeriesLabelPosition::UpperLeft,
        SeriesLabelPosition::UpperRight,
        SeriesLabelPosition::LowerLeft,
        SeriesLabelPosition::LowerRight,
    ][best]
        .clone()
}

/// A linear `f64` axis whose ticks (bold) and minor grid lines (light) are given, not derived.
struct Axis {
    inner: RangedCoordf64,
    bold: Vec<f64>,
    light: Vec<f64>,
}

impl Ranged for Axis {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        self.inner.map(value, limit)
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            self.light.clone()
        } else {
            self.bold.clone()
        }
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.inner.range()
    }
}

/// Tick positions and labels for one axis, in axis space.
struct Ticks {
    bold: Vec<f64>,
    light: Vec<f64>,
    log: bool,
    /// Decimals for linear labels, from the tick step.
    decimals: usize,
}

impl Ticks {
    fn new((lo, hi): (f64, f64), log: bool) -> Ticks {
        if log {
            // Decades if they give ≥ 3 ticks, else 1-2-5, else 1..9; fall through to linear
            // ticks on the values for ranges narrower than one step of those.
            let (d0, d1) = (lo.floor() as i32, hi.ceil() as i32);
            let at = |mantissas: &[f64]| -> Vec<f64> {
                (d0..=d1)
                    .flat_map(|d| mantissas.iter().map(move |m| (m * 10f64.powi(d)).log10()))
                    .filter(|v| (lo..=hi).contains(v))
                    .collect()
            };
            let all: Vec<f64> = (1..=9).map(f64::from).collect();
            for (bold, light) in [
                (vec![1.0], all.clone()),
                (vec![1.0, 2.0, 5.0], all.clone()),
                (all.clone(), Vec::new()),
            ] {
                let mut b = at(&bold);
                if b.len() >= 3 {
                    // Many decades: keep every k-th so labels do not crowd.
                    let k = b.len().div_ceil(10);
                    b = b.into_iter().step_by(k).collect();
                    let light = if k == 1 { at(&light) } else { Vec::new() };
                    return Ticks {
                        bold: b,
                        light,
                        log,
                        decimals: 0,
                    };
                }
            }
            let lin = Ticks::new((10f64.powf(lo), 10f64.powf(hi)), false);
            return Ticks {
                bold: lin
                    .bold
                    .iter()
                    .filter(|v| **v > 0.0)
                    .map(|v| v.log10())
                    .collect(),
                light: Vec::new(),
                log,
                decimals: lin.decimals,
            };
        }
        let raw = (hi - lo) / 8.0;
        let mag = 10f64.powf(raw.log10().floor());
        let step = [1.0, 2.0, 5.0, 10.0]
            .into_iter()
            .map(|m| m * mag)
            .find(|s| *s >= raw)
            .unwrap_or(10.0 * mag);
        let first = (lo / step).ceil() as i64;
        let last = (hi / step).floor() as i64;
        let bold = (first..=last).map(|i| i as f64 * step).collect();
        let decimals = (-step.log10().floor()).clamp(0.0, 9.0) as usize;
        Ticks {
            bold,
            light: Vec::new(),
            log,
            decimals,
        }
    }

    fn axis(&self, (lo, hi): (f64, f64)) -> Axis {
        Axis {
            inner: (lo..hi).into(),
            bold: self.bold.clone(),
            light: self.light.clone(),
        }
    }

    fn label(&self, v: f64) -> String {
        if !self.log {
            return fmt_fixed(v, self.decimals);
        }
        let x = 10f64.powf(v);
        // Log ticks sit on m × 10^d (or on a linear grid, `decimals`); 3 significant digits
        // print them exactly.
        let e = x.log10().floor() as i32;
        if !(-4..6).contains(&e) {
            let m = x / 10f64.powi(e);
            return format!("{}e{e}", trim(format!("{m:.2}")));
        }
        let sig = (2 - e).max(0) as usize;
        trim(format!("{x:.*}", sig.max(self.decimals)))
    }
}

fn fmt_fixed(v: f64, decimals: usize) -> String {
    let a = v.abs();
    if a != 0.0 && !(1e-4..1e7).contains(&a) {
        return format!("{v:.1e}");
    }
    let s = format!("{v:.decimals$}");
    if s.starts_with('-') && s[1..].chars().all(|c| c == '0' || c == '.') {
        s[1..].to_string() // "-0.0" → "0.0"
    } else {
        s
    }
}

fn trim(s: String) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

#[cfg(test)]
#[path = "png_tests.rs"]
mod tests;
