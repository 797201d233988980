//! Measured serving runs of real engines, replayed (`planner validate --serving`): each run
//! becomes a scenario (its engine kind, GPU, model, parallelism, precision and knobs) and a
//! workload (its recorded requests, or its synthetic lengths and load pattern); the
//! prediction is compared with the measurement under the source's own metric definitions.
//!
//! Sources read (the layout of `data/serving/`, see its README):
//! - `trtllm_*.csv` (`model,gpu,tp,precision,isl,osl,output_tokens_per_s`): TensorRT-LLM's
//!   `trtllm-bench` offline throughput, every request at time 0, fixed input and output
//!   lengths; compared on output tokens per second.
//! - `llmservingsim/<run>/` (`meta.json`, `requests.jsonl`): vLLM runs with every request's
//!   arrival (`queued_ts`) and lengths; compared on server-side TTFT, TPOT (excluding the
//!   first token) and latency means, as its `summary.txt` defines them.
//!
//! - `inference_sim_*.tsv`: vLLM on H100 under multi-stage load with shared prefixes;
//!   compared on TTFT, TPOT and E2E means.
//!
//! Not replayed (no token lengths per request in the data): SGLang's ShareGPT table.

use crate::bench::median;
use crate::catalog::Catalog;
use crate::scenario::Scenario;
use crate::sim::Nanos;
use crate::simulate::{SimOptions, prepare, simulate, simulate_requests};
use crate::workload::Request;
use std::path::{Path, PathBuf};

/// One compared figure of one run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Comparison {
    /// The run.
    pub run: String,
    /// Engine kind simulated.
    pub engine: String,
    /// Catalog GPU simulated.
    pub gpu: String,
    /// `output_tok_s`, `ttft_mean_ms`, `tpot_mean_ms`, `e2e_mean_ms`.
    pub metric: &'static str,
    /// Measured.
    pub measured: f64,
    /// Predicted.
    pub predicted: f64,
    /// Shown but left out of the medians: the measured run was overloaded, or its figure is
    /// not comparable (see the source's reader).
    pub overloaded: bool,
}

impl Comparison {
    /// (predicted − measured) / measured.
    pub fn error(&self) -> f64 {
        self.predicted / self.measured - 1.0
    }
}

/// The model and GPU names the sources are written with, mapped to catalog names
/// (`names.toml` beside the runs); a name not listed is looked up in the catalog as written.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Names {
    /// Source model name → catalog model.
    #[serde(default)]
    pub models: std::collections::BTreeMap<String, String>,
    /// Source GPU name → catalog GPU.
    #[serde(default)]
    pub gpus: std::collections::BTreeMap<String, String>,
}

/// What the readers need: the catalog, and the names of the folder's runs.
struct Lookup<'c> {
    catalog: &'c Catalog,
    names: Names,
    file: PathBuf,
}

impl Lookup<'_> {
    /// The catalog model for a source's model name; `at` names the line in errors.
    fn model(&self, name: &str, at: &str) -> anyhow::Result<String> {
        self.find(name, self.names.models.get(name), true, at)
    }

    /// The catalog GPU for a source's GPU name.
    fn gpu(&self, name: &str, at: &str) -> anyhow::Result<String> {
        self.find(name, self.names.gpus.get(name), false, at)
    }

    fn find(
        &self,
        name: &str,
        mapped: Option<&String>,
        model: bool,
        at: &str,
    ) -> anyhow::Result<String> {
        let plain = name.rsplit('/').next().unwrap_or(name).to_ascii_lowercase();
        let candidate = mapped.cloned().unwrap_or(plain);
        let known = match model {
            true => self.catalog.model(&candidate).is_ok(),
            false => self.catalog.gpu(&candidate).is_ok(),
        };
        if known {
            return Ok(candidate);
        }
        let (kind, table) = if model {
            ("model", "models")
        } else {
            ("GPU", "gpus")
        };
        anyhow::bail!(
            "{at}: no catalog {kind} for `{name}` (tried `{candidate}`): add `\"{name}\" = \"<name>\"` \
             under [{table}] in {} (`planner catalog` lists the names)",
            self.file.display()
        )
    }
}

/// Every run under `dir`, compared; runs a source describes that cannot be mapped onto the
/// catalogs are an error naming the file and line.
pub fn validate_serving(dir: &Path, catalog: &Catalog) -> anyhow::Result<Vec<Comparison>> {
    let file = dir.join("names.toml");
    let names = match std::fs::read_to_string(&file) {
        Ok(text) => {
            toml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?
        }
        Err(_) => Names::default(),
    };
    let catalog = &Lookup {
        catalog,
        names,
        file,
    };
    let mut out = Vec::new();
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| {
            anyhow::anyhow!(
                "{}: cannot read the folder of measured runs ({e}); give a folder laid out as \
                 data/serving/ (trtllm_*.csv, inference_sim_*.tsv, llmservingsim/<run>/)",
                dir.display()
            )
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for path in entries {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.starts_with("trtllm") && name.ends_with(".csv") {
            out.extend(trtllm_offline(&path, catalog)?);
        } else if name.starts_with("inference_sim") && name.ends_with(".tsv") {
            out.extend(multi_stage_vllm(&path, catalog)?);
        } else if name == "llmservingsim" && path.is_dir() {
            let mut runs: Vec<PathBuf> = std::fs::read_dir(&path)?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.join("requests.jsonl").is_file())
                .collect();
            runs.sort();
            for run in runs {
                out.extend(per_request_vllm(&run, catalog)?);
            }
        }
    }
    if out.is_empty() {
        anyhow::bail!(
            "{}: no measured serving runs here (trtllm_*.csv, llmservingsim/<run>/)",
            dir.display()
        );
    }
    Ok(out)
}

/// A scenario from TOML text, read as if it were the file `origin`.
fn scenario(text: &str, origin: &Path, catalog: &Catalog) -> anyhow::Result<Scenario> {
    Scenario::from_str(text, origin, catalog).map_err(|e| anyhow::anyhow!("{e}"))
}

/// Requests per `trtllm-bench` case: enough waves of the largest batch that the tail of the
/// last one does not dominate.
const OFFLINE_REQUESTS: u64 = 3000;

/// TensorRT-LLM offline throughput rows.
fn trtllm_offline(path: &Path, names: &Lookup) -> anyhow::Result<Vec<Comparison>> {
    let text = std::fs::read_to_string(path)?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate().skip(1) {
        let at = || format!("{}:{}", path.display(), i + 1);
        let f: Vec<&str> = line.split(',').collect();
        if f.len() != 7 {
            anyhow::bail!("{}: expected 7 columns, found {}", at(), f.len());
        }
        let num = |k: usize| -> anyhow::Result<f64> {
            f[k].trim().parse::<f64>().map_err(|_| {
                anyhow::anyhow!("{}: column {} = {:?} is not a number", at(), k + 1, f[k])
            })
        };
        let (model, gpu) = (names.model(f[0], &at())?, names.gpu(f[1], &at())?);
        let (tp, isl, osl, measured) = (num(2)?, num(4)?, num(5)?, num(6)?);
        // FP8 rows are NVIDIA's FP8 checkpoints with an FP8 KV cache.
        let fp8 = f[3].trim() == "fp8";
        let (weights, kv) = if fp8 {
            ("fp8", "fp8")
        } else {
            ("fp16", "fp16")
        };
        let toml = format!(
            "name = \"trtllm\"\n[model]\nname = \"{model}\"\nweight_dtype = \"{weights}\"\n\
             [hardware]\ngpu = \"{gpu}\"\ntp = {tp}\n[engine]\nkind = \"trtllm\"\n\
             async_scheduling = false\nkv_cache_dtype = \"{kv}\"\nenable_prefix_caching = false\n\
             [workload]\narrival = \"offline\"\nnum_requests = {OFFLINE_REQUESTS}\n\
             prompt = {{ dist = \"fixed\", value = {isl} }}\noutput = {{ dist = \"fixed\", value = {osl} }}\n"
        );
        let scn = scenario(&toml, path, names.catalog)?;
        let prepared = prepare(&scn)?;
        let s = simulate(&scn, &prepared, &no_files())?;
        out.push(Comparison {
            run: format!("trtllm {model} {gpu} TP{tp} {} {isl}/{osl}", f[3].trim()),
            engine: "trtllm".into(),
            gpu,
            metric: "output_tok_s",
            measured,
            predicted: s.output_token_throughput_tps(),
            overloaded: false,
        });
    }
    Ok(out)
}

fn no_files() -> SimOptions {
    SimOptions {
        no_files: true,
        ..SimOptions::default()
    }
}

/// A per-request vLLM run (LLMServingSim's format).
fn per_request_vllm(dir: &Path, names: &Lookup) -> anyhow::Result<Vec<Comparison>> {
    let meta_path = dir.join("meta.json");
    let meta: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&meta_path)?)
        .map_err(|e| anyhow::anyhow!("{}: {e}", meta_path.display()))?;
    let kw = &meta["engine_kwargs"];
    let int = |k: &str, default: u64| kw[k].as_u64().unwrap_or(default);
    let model_name = meta["model"].as_str().unwrap_or("");
    let run = dir.file_name().and_then(|n| n.to_str()).unwrap_or("run");
    let gpu_name = run.split('_').next().unwrap_or("");
    let at = meta_path.display().to_string();
    let (model, gpu) = (names.model(model_name, &at)?, names.gpu(gpu_name, &at)?);
    let (tp, dp) = (int("tensor_parallel_size", 1), int("data_parallel_size", 1));
    let toml = format!(
        "name = \"{run}\"\n[model]\nname = \"{model}\"\n[hardware]\ngpu = \"{gpu}\"\ntp = {tp}\n\
         replicas = {dp}\nrouter = \"least_outstanding\"\n[engine]\nkind = \"vllm\"\n\
         api_in_ms = 0\napi_out_ms = 0\n\
         max_num_seqs = {}\nmax_num_batched_tokens = {}\n\
         [workload]\narrival = \"offline\"\nnum_requests = 1\n\
         prompt = {{ dist = \"fixed\", value = 1 }}\noutput = {{ dist = \"fixed\", value = 1 }}\n",
        int("max_num_seqs", 256),
        int("max_num_batched_tokens", 8192)
    );
    let scn = scenario(&toml, &meta_path, names.catalog)?;
    let prepared = prepare(&scn)?;
    let (requests, measured) = read_requests(&dir.join("requests.jsonl"))?;
    let mut source = requests.into_iter();
    let s = simulate_requests(&scn, &prepared, &no_files(), &mut source)?;
    let mk = |metric, measured, predicted| Comparison {
        run: format!("vllm {run}"),
        engine: "vllm".into(),
        gpu: gpu.clone(),
        metric,
        measured,
        predicted,
        overloaded: false,
    };
    Ok(vec![
        mk("ttft_mean_ms", measured[0], s.ttft.mean * 1e3),
        mk("tpot_mean_ms", measured[1], s.tpot.mean * 1e3),
        mk("e2e_mean_ms", measured[2], s.e2e.mean * 1e3),
    ])
}

/// The requests of a `requests.jsonl` (arrivals from `queued_ts`, relative to the first),
/// and the measured means of TTFT, TPOT and latency in ms as its `summary.txt` defines them.
fn read_requests(path: &Path) -> anyhow::Result<(Vec<Request>, [f64; 3])> {
    let text = std::fs::read_to_string(path)?;
    let mut rows = Vec::new();
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let v: serde_json::Value = serde_json::from_str(line)
            .map_err(|e| anyhow::anyhow!("{}:{}: {e}", path.display(), i + 1))?;
        let f = |k: &str| {
            v[k].as_f64().ok_or_else(|| {
                anyhow::anyhow!("{}:{}: missing number `{k}`", path.display(), i + 1)
            })
        };
        rows.push([
            f("queued_ts")?,
            f("input_toks")?,
            f("output_toks")?,
            f("first_token_ts")?,
            f("last_token_ts")?,
        ]);
    }
    rows.sort_by(|a, b| a[0].total_cmp(&b[0]));
    let t0 = rows.first().map_or(0.0, |r| r[0]);
    let n = rows.len().max(1) as f64;
    let (mut ttft, mut tpot, mut e2e, mut tpot_n) = (0.0f64, 0.0f64, 0.0f64, 0.0f64);
    let mut requests = Vec::with_capacity(rows.len());
    for (id, r) in rows.iter().enumerate() {
        let [queued, input, output, first, last] = *r;
        ttft += first - queued;
        e2e += last - queued;
        if output > 1.0 {
            tpot += (last - first) / (output - 1.0);
            tpot_n += 1.0;
        }
        requests.push(Request {
            id: id as u64,
            arrival: Nanos::from_secs_f64(queued - t0),
            prompt_tokens: input.max(1.0) as u32,
            output_tokens: output.max(1.0) as u32,
            ..Request::default()
        });
    }
    Ok((
        requests,
        [ttft / n * 1e3, tpot / tpot_n.max(1.0) * 1e3, e2e / n * 1e3],
    ))
}

/// inference-sim's H100 vLLM experiments (one `summary` row each): multi-stage constant
/// rates, and the shared-prefix workload `sp(sysS,qQ,outO,NxM)`: N × M distinct prompts (N
/// system prompts, M questions each) that inference-perf's shared-prefix generator makes
/// once and cycles, so each request is one of N × M prompts of the measured mean length
/// (`workload.few_shot` templates), outputs of the measured mean length (`ignore_eos`).
/// Physics says the questions repeat: with a fresh question per request, Llama-2-70B on
/// 4 × H100 at the general experiment's 20 req/s would need about 375 dense TFLOP/s per GPU
/// for prefill alone beside its decodes, and could not keep the measured 103 ms TTFT.
/// TTFT is the client's (HTTP and detokenization beyond the server's). An experiment that
/// completed fewer than 90 % of the requests its stages sent was overloaded: it is marked,
/// and left out of the medians (what finished in its window is not what a whole run
/// reports). Its TPOT column is the mean gap between streamed events, and inference-perf's
/// stream carries about two events per token (the training repo's
/// `replay_data/ground_truth_schema.md`: `output_token_times`, "~2× output_tokens"; every
/// row's TPOT is about half what its own E2E implies: 4.1 ms against 10.6 ms for
/// Llama-2-7B, under the 4.0 ms it takes an H100 to read the weights once). The TPOT
/// compared is the per-token figure its E2E, TTFT and output length imply, (E2E − TTFT) /
/// (output − 1), as the other sources define TPOT; with fixed output lengths the
/// prediction's mean TPOT is the same expression of its means.
/// The GPU of every inference-sim experiment, as its README names it.
const INFERENCE_SIM_GPU: &str = "H100-80GB-HBM3";

fn multi_stage_vllm(path: &Path, names: &Lookup) -> anyhow::Result<Vec<Comparison>> {
    let text = std::fs::read_to_string(path)?;
    let mut lines = text.lines().enumerate();
    let header: Vec<&str> = lines
        .next()
        .map(|(_, l)| l.split('\t').collect())
        .unwrap_or_default();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .ok_or_else(|| anyhow::anyhow!("{}:1: no column `{name}`", path.display()))
    };
    let (c_exp, c_model, c_tp, c_mnbt, c_seqs, c_stages, c_data, c_stage, c_n) = (
        col("exp")?,
        col("model")?,
        col("tp")?,
        col("mnbt")?,
        col("max_seqs")?,
        col("stages(rate x dur)")?,
        col("data")?,
        col("stage")?,
        col("n")?,
    );
    let (c_ttft, c_tpot, c_e2e, c_prompt, c_out) = (
        col("ttft_mean_ms")?,
        col("tpot_mean_ms")?,
        col("e2e_mean_s")?,
        col("prompt_mean")?,
        col("out_mean")?,
    );
    let mut out = Vec::new();
    for (i, line) in lines {
        let f: Vec<&str> = line.split('\t').collect();
        let at = || format!("{}:{}", path.display(), i + 1);
        if f.len() != header.len() {
            anyhow::bail!("{}: {} columns, expected {}", at(), f.len(), header.len());
        }
        if f[c_stage] != "summary" {
            continue;
        }
        let num = |c: usize| -> anyhow::Result<f64> {
            f[c].trim().parse::<f64>().map_err(|_| {
                anyhow::anyhow!("{}: `{}` = {:?} is not a number", at(), header[c], f[c])
            })
        };
        let model = names.model(f[c_model], &at())?;
        let gpu = names.gpu(INFERENCE_SIM_GPU, &at())?;
        let stages = parse_stages(f[c_stages]).ok_or_else(|| {
            anyhow::anyhow!(
                "{}: stages {:?}: expected `5x600s + 10x600s`",
                at(),
                f[c_stages]
            )
        })?;
        let prompts = parse_shared_prefix(f[c_data]).ok_or_else(|| {
            anyhow::anyhow!(
                "{}: data {:?}: expected `sp(sys100,q466,out247,11x4)`",
                at(),
                f[c_data]
            )
        })?;
        let sent: f64 = stages.iter().map(|(r, d)| r * d).sum();
        let overloaded = num(c_n)? < 0.9 * sent;
        let stage_list: Vec<String> = stages
            .iter()
            .map(|(r, d)| format!("{{ rate = {r}, duration_s = {d} }}"))
            .collect();
        let prompt = num(c_prompt)?.round().max(2.0) as u32;
        let toml = format!(
            "name = \"{exp}\"\n[model]\nname = \"{model}\"\n[hardware]\ngpu = \"{gpu}\"\ntp = {tp}\n\
             [engine]\nkind = \"vllm\"\nmax_num_seqs = {seqs}\nmax_num_batched_tokens = {mnbt}\n\
             [workload]\narrival = \"constant\"\nstages = [{stages}]\n\
             max_prompt_tokens = {prompt}\n\
             prompt = {{ dist = \"fixed\", value = 1 }}\noutput = {{ dist = \"fixed\", value = {out} }}\n\
             [workload.few_shot]\ntemplates = {prompts}\ntemplate_tokens = {template}\n",
            exp = f[c_exp],
            tp = num(c_tp)?,
            seqs = num(c_seqs)?,
            mnbt = num(c_mnbt)?,
            stages = stage_list.join(", "),
            out = num(c_out)?.round().max(1.0),
            template = prompt - 1,
        );
        let scn = scenario(&toml, path, names.catalog)?;
        let prepared = prepare(&scn)?;
        let s = simulate(&scn, &prepared, &no_files())?;
        let (ttft, e2e_ms, out_mean) = (num(c_ttft)?, num(c_e2e)? * 1e3, num(c_out)?);
        let implied_tpot = (e2e_ms - ttft) / (out_mean - 1.0).max(1.0);
        let run = format!(
            "vllm {} H100{}",
            f[c_exp]
                .split_once('-')
                .map_or(f[c_exp], |x| x.1)
                .trim_start_matches(|c: char| c.is_ascii_digit() || c == '-'),
            if overloaded { " (overloaded)" } else { "" }
        );
        // Its `tpot_mean_ms` column is not compared: it is the mean gap between streamed
        // events, and inference-perf's stream carries about two events per token.
        let _ = c_tpot;
        for (metric, measured, predicted) in [
            ("ttft_mean_ms", ttft, s.ttft.mean * 1e3),
            ("tpot_mean_ms", implied_tpot, s.tpot.mean * 1e3),
            ("e2e_mean_ms", e2e_ms, s.e2e.mean * 1e3),
        ] {
            out.push(Comparison {
                run: if metric == "tpot_mean_ms" {
                    format!("{run} (from E2E)")
                } else {
                    run.clone()
                },
                engine: "vllm".into(),
                gpu: gpu.clone(),
                metric,
                measured,
                predicted,
                overloaded,
            });
        }
    }
    Ok(out)
}

/// `5x600s + 10x600s` → [(5, 600), (10, 600)].
fn parse_stages(s: &str) -> Option<Vec<(f64, f64)>> {
    s.split('+')
        .map(|st| {
            let (rate, dur) = st.trim().split_once('x')?;
            Some((rate.parse().ok()?, dur.trim_end_matches('s').parse().ok()?))
        })
        .collect()
}

/// `sp(sys100,q466,out247,11x4)` → 44 distinct prompts.
fn parse_shared_prefix(s: &str) -> Option<u32> {
    let inner = s.strip_prefix("sp(")?.strip_suffix(')')?;
    let (n, m) = inner.rsplit(',').next()?.split_once('x')?;
    Some(n.parse::<u32>().ok()? * m.parse::<u32>().ok()?)
}

/// The figures compared, in the order reports list them.
pub const METRICS: [&str; 4] = [
    "output_tok_s",
    "ttft_mean_ms",
    "tpot_mean_ms",
    "e2e_mean_ms",
];

/// Median |error| of `metric` over the comparable rows (NaN when there are none).
pub fn median_error(rows: &[Comparison], metric: &str) -> f64 {
    let mut e: Vec<f64> = rows
        .iter()
        .filter(|r| r.metric == metric && !r.overloaded)
        .map(|r| r.error().abs())
        .collect();
    median(&mut e)
}

/// The regression bar `validate --serving --check` holds the medians to (`bar.toml` in
/// the runs' folder): metric → the largest median |error| allowed.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServingBar {
    /// Metric → bar.
    pub max_median_error: std::collections::BTreeMap<String, f64>,
}

/// Each metric of the bar: (metric, median |error|, bar, within it); a metric with no
/// finite median is not within it.
pub fn against_bar(rows: &[Comparison], bar: &ServingBar) -> Vec<(String, f64, f64, bool)> {
    bar.max_median_error
        .iter()
        .map(|(m, &max)| {
            let e = median_error(rows, m);
            (m.clone(), e, max, e <= max)
        })
        .collect()
}

/// The metrics whose median |error| exceeds the bar: (metric, median, bar).
pub fn over_bar(rows: &[Comparison], bar: &ServingBar) -> Vec<(String, f64, f64)> {
    against_bar(rows, bar)
        .into_iter()
        .filter(|r| !r.3)
        .map(|(m, e, max, _)| (m, e, max))
        .collect()
}

/// The table `validate --serving` prints: one line per figure, then the medians of |error|.
pub fn render(rows: &[Comparison]) -> String {
    use std::fmt::Write;
    let mut s = format!(
        "{:<72} {:<13} {:>12} {:>12} {:>8}\n",
        "run", "metric", "measured", "predicted", "error"
    );
    for r in rows {
        let _ = writeln!(
            s,
            "{:<72} {:<13} {:>12.1} {:>12.1} {:>+7.1}%",
            r.run,
            r.metric,
            r.measured,
            r.predicted,
            r.error() * 100.0
        );
    }
    // Per GPU: each figure's median |error| over its comparable runs there.
    let mut gpus: Vec<&str> = rows.iter().map(|r| r.gpu.as_str()).collect();
    gpus.sort_unstable();
    gpus.dedup();
    for gpu in gpus {
        let on: Vec<Comparison> = rows.iter().filter(|r| r.gpu == gpu).cloned().collect();
        let parts: Vec<String> = METRICS
            .iter()
            .filter_map(|m| {
                let n = on
                    .iter()
                    .filter(|r| r.metric == *m && !r.overloaded)
                    .count();
                (n > 0).then(|| format!("{m} {:.1}% (n={n})", median_error(&on, m) * 100.0))
            })
            .collect();
        let _ = writeln!(s, "{gpu}: median |error| {}", parts.join(", "));
    }
    for metric in METRICS {
        let mut e: Vec<f64> = rows
            .iter()
            .filter(|r| r.metric == metric && !r.overloaded)
            .map(|r| r.error().abs())
            .collect();
        if e.is_empty() {
            continue;
        }
        let _ = writeln!(
            s,
            "{metric}: median |error| {:.1}% over {} runs, worst {:.1}% (marked rows left out)",
            median(&mut e) * 100.0,
            e.len(),
            e[e.len() - 1] * 100.0
        );
    }
    s
}

/// `rows.csv` of `validate --serving`.
pub fn render_csv(rows: &[Comparison]) -> String {
    let mut s = String::from("run,engine,gpu,metric,measured,predicted,error,overloaded\n");
    for r in rows {
        s.push_str(&format!(
            "{},{},{},{},{},{},{:.4},{}\n",
            r.run,
            r.engine,
            r.gpu,
            r.metric,
            r.measured,
            r.predicted,
            r.error(),
            r.overloaded
        ));
    }
    s
}
