//! The sweep engine `plan` and `speculate` share: a grid of configurations over scenario keys
//! ([`grid`]), the load knob of a scenario ([`Load`]), a journal of finished points with
//! resume and shards ([`journal`]), and parallel evaluation in input order ([`parallel`]).

pub mod grid;
pub mod journal;
pub mod parallel;

use crate::scenario::Scenario;
use crate::workload::{ArrivalProcess, WorkloadSource};

/// What "load" means for a scenario.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Load {
    /// A synthetic workload's arrival rate, requests per second.
    Rate(f64),
    /// A trace's replay speed (`time_scale`).
    TimeScale(f64),
}

impl Load {
    /// The scenario's load as written.
    pub fn of(scn: &Scenario) -> Load {
        match &scn.workload.source {
            WorkloadSource::Synthetic { arrival, .. } => Load::Rate(arrival.rate()),
            WorkloadSource::Trace { time_scale, .. } => Load::TimeScale(*time_scale),
        }
    }

    /// The number.
    pub fn value(self) -> f64 {
        match self {
            Load::Rate(x) | Load::TimeScale(x) => x,
        }
    }
}

/// `scn` at `load`: the arrival rate of a synthetic workload (its process kept), or a trace's
/// replay speed.
pub fn set_load(scn: &mut Scenario, load: f64) {
    // Tenants with traffic of their own keep their proportions: each is scaled alike.
    if let WorkloadSource::Synthetic { arrival, .. } = &scn.workload.source
        && scn.workload.sharing.per_tenant_traffic()
    {
        let k = load / arrival.rate();
        for t in &mut scn.workload.sharing.tenants {
            if let Some(tr) = &mut t.traffic {
                tr.arrival = with_rate(&tr.arrival, tr.arrival.rate() * k);
                t.share = tr.arrival.rate();
            }
        }
    }
    match &mut scn.workload.source {
        WorkloadSource::Synthetic { arrival, .. } => *arrival = with_rate(arrival, load),
        WorkloadSource::Trace { time_scale, .. } => *time_scale = load,
    }
}

/// `arrival` at `load` requests per second, its kind kept.
fn with_rate(arrival: &ArrivalProcess, load: f64) -> ArrivalProcess {
    match *arrival {
        ArrivalProcess::Poisson { .. } => ArrivalProcess::Poisson { rate: load },
        ArrivalProcess::Gamma { cv, .. } => ArrivalProcess::Gamma { rate: load, cv },
        ArrivalProcess::Constant { .. } => ArrivalProcess::Constant { rate: load },
        ArrivalProcess::Offline => ArrivalProcess::Offline,
        ref a @ ArrivalProcess::Stages {
            ref stages,
            poisson,
        } => {
            let k = load / a.rate();
            ArrivalProcess::Stages {
                stages: stages.iter().map(|&(r, d)| (r * k, d)).collect(),
                poisson,
            }
        }
        ArrivalProcess::Concurrency { .. } => ArrivalProcess::Concurrency {
            clients: (load.round() as u32).max(1),
        },
    }
}
