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
//! Not replayed yet (no token lengths per request in the data): SGLang's ShareGPT table and
//! the inference-sim multi-stage experiments.

use crate::catalog::Catalog;
use crate::scenario::Scenario;
use crate::sim::Nanos;
use crate::simulate::{SimOptions, prepare, simulate, simulate_requests};
use crate::workload::Request;
use std::path::{Path, PathBuf};

/// One compared figure of one run.
#[derive(Debug, Clone)]
pub struct Comparison {
    /// The run.
    pub run: String,
    /// Engine kind simulated.
    pub engine: String,
    /// `output_tok_s`, `ttft_mean_ms`, `tpot_mean_ms`, `e2e_mean_ms`.
    pub metric: &'static str,
    /// Measured.
    pub measured: f64,
    /// Predicted.
    pub predicted: f64,
}

impl Comparison {
    /// (predicted − measured) / measured.
    pub fn error(&self) -> f64 {
        self.predicted / self.measured - 1.0
    }
}

/// Catalog names of the models and GPUs the sources name.
fn catalog_model(name: &str) -> Option<&'static str> {
    let n = name.to_ascii_lowercase();
    let n = n.rsplit('/').next().unwrap_or(&n);
    Some(match n {
        _ if n.starts_with("llama-3.1-8b") => "llama-3.1-8b",
        _ if n.starts_with("llama-3.1-70b") => "llama-3.1-70b",
        _ if n.starts_with("mistral-7b-v0.1") => "mistral-7b-v0.1",
        _ if n.starts_with("qwen3-32b") => "qwen3-32b",
        _ if n.starts_with("qwen3-30b-a3b") => "qwen3-30b-a3b",
        _ => return None,
    })
}

fn catalog_gpu(name: &str) -> Option<&'static str> {
    let n = name.to_ascii_lowercase();
    Some(match n.as_str() {
        _ if n.starts_with("a100") && n.contains("80") => "a100-80gb",
        _ if n.starts_with("h100") => "h100-sxm",
        "l40s" => "l40s",
        _ if n.starts_with("rtxpro6000") || n.starts_with("rtx-pro-6000") => "rtx-pro-6000",
        _ => return None,
    })
}

/// Every run under `dir`, compared; runs a source describes that cannot be mapped onto the
/// catalogs are an error naming the file and line.
pub fn validate_serving(dir: &Path, catalog: &Catalog) -> anyhow::Result<Vec<Comparison>> {
    let mut out = Vec::new();
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for path in entries {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.starts_with("trtllm") && name.ends_with(".csv") {
            out.extend(trtllm_offline(&path, catalog)?);
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
fn trtllm_offline(path: &Path, catalog: &Catalog) -> anyhow::Result<Vec<Comparison>> {
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
        let (Some(model), Some(gpu)) = (catalog_model(f[0]), catalog_gpu(f[1])) else {
            anyhow::bail!("{}: no catalog model or GPU for {} on {}", at(), f[0], f[1]);
        };
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
             kv_cache_dtype = \"{kv}\"\nenable_prefix_caching = false\n\
             [workload]\narrival = \"offline\"\nnum_requests = {OFFLINE_REQUESTS}\n\
             prompt = {{ dist = \"fixed\", value = {isl} }}\noutput = {{ dist = \"fixed\", value = {osl} }}\n"
        );
        let scn = scenario(&toml, path, catalog)?;
        let prepared = prepare(&scn)?;
        let s = simulate(&scn, &prepared, &no_files())?;
        out.push(Comparison {
            run: format!("trtllm {model} {gpu} TP{tp} {} {isl}/{osl}", f[3].trim()),
            engine: "trtllm".into(),
            metric: "output_tok_s",
            measured,
            predicted: s.output_token_throughput_tps(),
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
fn per_request_vllm(dir: &Path, catalog: &Catalog) -> anyhow::Result<Vec<Comparison>> {
    let meta_path = dir.join("meta.json");
    let meta: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&meta_path)?)
        .map_err(|e| anyhow::anyhow!("{}: {e}", meta_path.display()))?;
    let kw = &meta["engine_kwargs"];
    let int = |k: &str, default: u64| kw[k].as_u64().unwrap_or(default);
    let model_name = meta["model"].as_str().unwrap_or("");
    let run = dir.file_name().and_then(|n| n.to_str()).unwrap_or("run");
    let gpu_name = run.split('_').next().unwrap_or("");
    let (Some(model), Some(gpu)) = (catalog_model(model_name), catalog_gpu(gpu_name)) else {
        anyhow::bail!(
            "{}: no catalog model or GPU for {model_name} on {gpu_name}",
            meta_path.display()
        );
    };
    let (tp, dp) = (int("tensor_parallel_size", 1), int("data_parallel_size", 1));
    let toml = format!(
        "name = \"{run}\"\n[model]\nname = \"{model}\"\n[hardware]\ngpu = \"{gpu}\"\ntp = {tp}\n\
         replicas = {dp}\nrouter = \"least_outstanding\"\n[engine]\nkind = \"vllm\"\n\
         max_num_seqs = {}\nmax_num_batched_tokens = {}\n\
         [workload]\narrival = \"offline\"\nnum_requests = 1\n\
         prompt = {{ dist = \"fixed\", value = 1 }}\noutput = {{ dist = \"fixed\", value = 1 }}\n",
        int("max_num_seqs", 256),
        int("max_num_batched_tokens", 8192)
    );
    let scn = scenario(&toml, &meta_path, catalog)?;
    let prepared = prepare(&scn)?;
    let (requests, measured) = read_requests(&dir.join("requests.jsonl"))?;
    let mut source = requests.into_iter();
    let s = simulate_requests(&scn, &prepared, &no_files(), &mut source)?;
    let mk = |metric, measured, predicted| Comparison {
        run: format!("vllm {run}"),
        engine: "vllm".into(),
        metric,
        measured,
        predicted,
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

/// The table `validate --serving` prints: one line per figure, then the medians of |error|.
pub fn render(rows: &[Comparison]) -> String {
    use std::fmt::Write;
    let mut s = format!(
        "{:<58} {:<13} {:>12} {:>12} {:>8}\n",
        "run", "metric", "measured", "predicted", "error"
    );
    for r in rows {
        let _ = writeln!(
            s,
            "{:<58} {:<13} {:>12.1} {:>12.1} {:>+7.1}%",
            r.run,
            r.metric,
            r.measured,
            r.predicted,
            r.error() * 100.0
        );
    }
    for metric in [
        "output_tok_s",
        "ttft_mean_ms",
        "tpot_mean_ms",
        "e2e_mean_ms",
    ] {
        let mut e: Vec<f64> = rows
            .iter()
            .filter(|r| r.metric == metric)
            .map(|r| r.error().abs())
            .collect();
        if e.is_empty() {
            continue;
        }
        e.sort_by(f64::total_cmp);
        let worst = e[e.len() - 1];
        let _ = writeln!(
            s,
            "{metric}: median |error| {:.1}% over {} runs, worst {:.1}%",
            e[e.len() / 2] * 100.0,
            e.len(),
            worst * 100.0
        );
    }
    s
}

/// `rows.csv` of `validate --serving`.
pub fn render_csv(rows: &[Comparison]) -> String {
    let mut s = String::from("run,engine,metric,measured,predicted,error\n");
    for r in rows {
        s.push_str(&format!(
            "{},{},{},{},{},{:.4}\n",
            r.run,
            r.engine,
            r.metric,
            r.measured,
            r.predicted,
            r.error()
        ));
    }
    s
}
