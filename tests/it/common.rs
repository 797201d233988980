//! Helpers shared by the test modules.

use planner::catalog::Catalog;
use planner::scenario::Scenario;
use planner::serving::config::EngineConfig;
use planner::serving::{IterationDone, Observer, RequestDone};
use planner::sim::Nanos;
use planner::simulate::{RunSummary, SimOptions, prepare, simulate};
use std::path::Path;

/// A scenario from text, as if it were `scenarios/test.toml` (relative paths resolve there).
pub fn scenario(text: &str) -> Scenario {
    Scenario::from_str(
        text,
        Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/test.toml")),
        &Catalog::builtin(),
    )
    .unwrap()
}

/// Simulate a scenario given as text, writing no files.
pub fn summary(text: &str) -> RunSummary {
    summary_seeded(text, None)
}

/// Simulate a scenario given as text with `seed` (the scenario's when `None`), writing no
/// files.
pub fn summary_seeded(text: &str, seed: Option<u64>) -> RunSummary {
    let scn = scenario(text);
    let p = prepare(&scn).unwrap();
    simulate(
        &scn,
        &p,
        &SimOptions {
            no_files: true,
            seed,
            ..Default::default()
        },
    )
    .unwrap()
}

/// Whether a scenario given as text meets its SLOs when simulated with `seed`.
pub fn meets_slos(text: &str, seed: u64) -> bool {
    summary_seeded(text, Some(seed)).slo_met
}

/// The error a scenario text (as `r.toml`) is refused with.
pub fn scenario_err(text: &str) -> String {
    Scenario::from_str(text, Path::new("r.toml"), &Catalog::builtin())
        .unwrap_err()
        .to_string()
}

/// Each scenario text is refused with an error at `r.toml:LINE` naming its key and
/// containing its fix.
pub fn assert_refused(cases: &[(String, &str, &str)]) {
    for (text, key, fix) in cases {
        let e = scenario_err(text);
        assert!(e.contains(key) && e.contains(fix), "{key}: {e}");
        assert!(e.starts_with("r.toml:"), "{e}");
    }
}

/// An observer that keeps every request's end and every iteration.
#[derive(Default)]
pub struct Record {
    pub done: Vec<RequestDone>,
    pub iterations: Vec<IterationDone>,
}

impl Observer for Record {
    fn request(&mut self, d: &RequestDone) {
        self.done.push(d.clone());
    }
    fn inter_token(&mut self, _gap: Nanos, _count: u32) {}
    fn iteration(&mut self, it: &IterationDone) {
        self.iterations.push(*it);
    }
}

/// The engine on its own clock, for closed forms: no API server time, no async scheduling,
/// no prefix caching, 16-token blocks.
pub fn bare_engine() -> EngineConfig {
    EngineConfig {
        api_in_s: 0.0,
        api_out_s: 0.0,
        async_scheduling: false,
        prefix_caching: false,
        block_size: 16,
        ..EngineConfig::default()
    }
}

/// A report folder's `index.html`, checked: well-formed (an XML parser reads it to the end,
/// every element closed), self-contained (no URL, no script; every link a file of the
/// folder, every PNG linked), one inline SVG per PNG chart. Returns its text.
pub fn check_html(dir: &Path) -> String {
    use quick_xml::events::Event;
    let html = std::fs::read_to_string(dir.join("index.html")).unwrap();
    let mut reader = quick_xml::Reader::from_str(&html);
    let (mut depth, mut svgs, mut elements) = (0i64, 0, 0);
    let mut links = Vec::new();
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) => {
                depth += 1;
                elements += 1;
                let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
                assert_ne!(name, "script", "no script");
                if name == "svg" {
                    svgs += 1;
                }
                for a in e.attributes() {
                    let a = a.unwrap();
                    let key = String::from_utf8_lossy(a.key.as_ref()).into_owned();
                    if key == "href" || key == "src" {
                        links.push(String::from_utf8_lossy(&a.value).into_owned());
                    }
                }
            }
            Ok(Event::End(_)) => depth -= 1,
            Ok(Event::Empty(_)) => elements += 1,
            Ok(Event::Eof) => break,
            Ok(_) => {}
            Err(e) => panic!(
                "{}/index.html is not well-formed at {}: {e}",
                dir.display(),
                reader.buffer_position()
            ),
        }
        assert!(depth >= 0);
    }
    assert_eq!(depth, 0, "every element closed");
    assert!(elements > 50, "{elements} elements");
    let lower = html.to_ascii_lowercase();
    for external in ["http://", "https://", "//cdn", "url("] {
        assert!(
            !lower.contains(external),
            "index.html references `{external}`"
        );
    }
    let pngs: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".png"))
        .collect();
    assert_eq!(svgs, pngs.len(), "one inline SVG per PNG ({pngs:?})");
    for l in &links {
        assert!(
            dir.join(l).is_file(),
            "link to `{l}`, not a file of the report"
        );
    }
    for p in &pngs {
        assert!(links.contains(p), "{p} is not linked");
    }
    html
}
