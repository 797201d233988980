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
    let scn = scenario(text);
    let p = prepare(&scn).unwrap();
    simulate(
        &scn,
        &p,
        &SimOptions {
            no_files: true,
            ..Default::default()
        },
    )
    .unwrap()
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
