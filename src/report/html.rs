//! A report folder's `index.html` (simulate, plan, speculate and compare reports): one self-contained page (inline SVG charts, inline CSS, no
//! script, no external URL) with the verdicts, the summary, the charts with links to their
//! PNG and data, and the scenario as written. Readable offline; XHTML-compatible markup, so
//! any XML parser checks it (`tests/it/simulate.rs` does).

use std::fmt::Write as _;

/// Everything the page shows.
pub struct Page<'a> {
    /// `Simulation report: rag`.
    pub title: String,
    /// What would mislead a reader of the figures (tag, sentence: `OVERLOADED`, `CLAMPED`),
    /// first on the page, marked as warnings.
    pub warnings: Vec<(String, String)>,
    /// One line per verdict (an SLO met or missed, a bar held), after the warnings.
    pub verdicts: Vec<(bool, String)>,
    /// The summary's rows (key, value), as in `summary.csv`.
    pub summary: &'a [(String, String)],
    /// Extra sections as (heading, preformatted text): tenants, comparisons.
    pub sections: Vec<(String, String)>,
    /// Charts: (PNG file name, caption, SVG text, data file name if written).
    pub charts: Vec<(String, String, String, Option<String>)>,
    /// Sections after the charts, as (heading, preformatted text): long printed tables.
    pub appendix: Vec<(String, String)>,
    /// The report's tables, by file name.
    pub tables: Vec<String>,
    /// The scenario file's name and text.
    pub scenario: (String, String),
}

/// Text made safe inside HTML elements and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The SVG text plotters writes, ready to inline: without its XML declaration, scaled to the
/// page's width (its viewBox keeps the drawing's proportions).
fn inline_svg(svg: &str) -> String {
    let body = match svg.find("<svg") {
        Some(i) => &svg[i..],
        None => svg,
    };
    // `<svg width="W" height="H" viewBox="0 0 W H" …>`: let CSS size it.
    let end = body.find('>').unwrap_or(0);
    let (head, rest) = body.split_at(end);
    let head = head
        .split(' ')
        .filter(|attr| {
            !attr.starts_with("width=")
                && !attr.starts_with("height=")
                && !attr.starts_with("xmlns=")
        })
        .collect::<Vec<_>>()
        .join(" ");
    format!("{head} class=\"chart\"{rest}")
}

const STYLE: &str = "body{font-family:system-ui,-apple-system,'DejaVu Sans',sans-serif;\
max-width:1100px;margin:2em auto;padding:0 1em;color:#222;line-height:1.45}\
h1{font-size:1.6em;margin-bottom:.2em}h2{font-size:1.25em;margin-top:1.8em;\
border-bottom:1px solid #ddd;padding-bottom:.2em}\
ul.verdicts{list-style:none;padding:0}ul.verdicts li{padding:.3em .6em;margin:.25em 0;\
border-radius:4px}li.ok{background:#e8f5e9}li.bad{background:#ffebee;font-weight:600}\
li.warn{background:#fff8e1}\
table{border-collapse:collapse;font-size:.9em}td,th{border:1px solid #ddd;padding:.2em .6em;\
text-align:left}td.v{font-family:monospace;text-align:right}\
figure{margin:1.5em 0}svg.chart{width:100%;height:auto;border:1px solid #eee}\
figcaption{font-size:.9em;color:#444}pre{background:#f6f8fa;padding:.8em;overflow-x:auto;\
font-size:.85em}details summary{cursor:pointer}";

/// Each (heading, text) as a heading over preformatted text.
fn sections(h: &mut String, sections: &[(String, String)]) {
    for (heading, text) in sections {
        let _ = writeln!(
            h,
            "<h2>{}</h2>\n<pre>{}</pre>",
            escape(heading),
            escape(text.trim())
        );
    }
}

/// The page as XHTML-compatible HTML5.
pub fn render(p: &Page) -> String {
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n\
         <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>{}</h1>\n",
        escape(&p.title),
        escape(&p.title)
    );
    if !p.verdicts.is_empty() || !p.warnings.is_empty() {
        h.push_str("<h2>Verdicts</h2>\n<ul class=\"verdicts\">\n");
        for (tag, text) in &p.warnings {
            let _ = writeln!(
                h,
                "<li class=\"warn\">⚠ <strong>{}</strong>: {}</li>",
                escape(tag),
                escape(text)
            );
        }
        for (ok, line) in &p.verdicts {
            let _ = writeln!(
                h,
                "<li class=\"{}\">{} {}</li>",
                if *ok { "ok" } else { "bad" },
                if *ok { "✓" } else { "✗" },
                escape(line)
            );
        }
        h.push_str("</ul>\n");
    }
    sections(&mut h, &p.sections);
    if !p.charts.is_empty() {
        h.push_str("<h2>Charts</h2>\n");
        for (png, caption, svg, data) in &p.charts {
            let _ = write!(
                h,
                "<figure id=\"{}\">\n{}\n<figcaption>{} <a href=\"{}\">PNG</a>",
                escape(png.trim_end_matches(".png")),
                inline_svg(svg),
                escape(caption),
                escape(png)
            );
            if let Some(d) = data {
                let _ = write!(h, " · <a href=\"{}\">data</a>", escape(d));
            }
            h.push_str("</figcaption>\n</figure>\n");
        }
    }
    sections(&mut h, &p.appendix);
    if !p.summary.is_empty() {
        h.push_str("<h2>Summary</h2>\n<table>\n");
        for (k, v) in p.summary {
            let _ = writeln!(
                h,
                "<tr><th>{}</th><td class=\"v\">{}</td></tr>",
                escape(k),
                escape(v)
            );
        }
        h.push_str("</table>\n");
    }
    if !p.tables.is_empty() {
        h.push_str("<h2>Tables</h2>\n<ul>\n");
        for t in &p.tables {
            let _ = writeln!(h, "<li><a href=\"{}\">{}</a></li>", escape(t), escape(t));
        }
        h.push_str("</ul>\n");
    }
    if !p.scenario.1.is_empty() {
        let _ = write!(
            h,
            "<h2>Scenario</h2>\n<details open=\"open\"><summary>{}</summary>\n<pre>{}</pre>\n\
             </details>\n",
            escape(&p.scenario.0),
            escape(&p.scenario.1)
        );
    }
    h.push_str("</body>\n</html>\n");
    h
}
