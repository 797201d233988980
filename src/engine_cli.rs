//! The engines' own command lines, both ways: `vllm serve …`, `llama-server …`,
//! `trtllm-serve …` and `python -m sglang.launch_server …` read into scenario keys
//! ([`import`]), and a scenario's settings written as the command that runs them
//! ([`command_line`], in `plan`'s answer). One table of flags per engine serves both
//! directions, so what is read is what is written.
//!
//! Flag names and defaults, per engine:
//! * vLLM: `vllm/engine/arg_utils.py` (`EngineArgs.add_cli_args`, 0.11): `--tensor-parallel-size`/`-tp`,
//!   `--data-parallel-size`/`-dp`, `--max-model-len`, `--max-num-seqs`,
//!   `--max-num-batched-tokens`, `--block-size`, `--gpu-memory-utilization`,
//!   `--kv-cache-dtype`, `--[no-]enable-prefix-caching`, `--[no-]enable-chunked-prefill`,
//!   `--quantization`/`-q`, `--dtype`, `--enable-lora`, `--max-loras`, `--max-lora-rank`,
//!   `--max-cpu-loras`, `--[no-]async-scheduling`, `--scheduling-policy`,
//!   `--speculative-config` (JSON: `method`, `model`, `num_speculative_tokens`);
//!   `VLLM_USE_V1=0` selects V0.
//! * llama.cpp: `common/arg.cpp` (b6xxx): `-m`, `-hf`, `-c`/`--ctx-size`, `-np`/`--parallel`,
//!   `-b`/`--batch-size`, `-ctk`/`--cache-type-k`, `-ctv`/`--cache-type-v`,
//!   `-fa`/`--flash-attn [on|off|auto]`.
//! * TensorRT-LLM: `tensorrt_llm/commands/serve.py` (1.0): `--tp_size`, `--max_batch_size`,
//!   `--max_num_tokens`, `--max_seq_len`, `--kv_cache_free_gpu_memory_fraction`.
//! * SGLang: `python/sglang/srt/server_args.py` (0.5): `--model-path`, `--tp-size`/`--tp`,
//!   `--dp-size`/`--dp`, `--mem-fraction-static`, `--max-running-requests`,
//!   `--chunked-prefill-size`, `--context-length`, `--kv-cache-dtype`, `--page-size`,
//!   `--disable-radix-cache`, `--schedule-conservativeness`, `--disable-overlap-schedule`,
//!   `--quantization`, `--enable-lora`, `--max-loras-per-batch`, `--max-lora-rank`.

use crate::kv::EngineKind;
use anyhow::{Context, anyhow, bail};
use std::fmt::Write as _;
use toml::Value;

/// What a flag means to the simulator.
#[derive(Debug, Clone, Copy)]
enum Map {
    /// The model (a catalog name, a path, or a Hugging Face id).
    Model,
    /// An integer scenario key.
    Int(&'static str),
    /// A number scenario key.
    Float(&'static str),
    /// A string scenario key, through a table of (engine value, scenario value); the first
    /// pair with a scenario value is the one written back. An engine value mapped to `""`
    /// sets nothing (the default).
    Str(&'static str, &'static [(&'static str, &'static str)]),
    /// A switch without a value: its presence sets the key to this TOML literal.
    Switch(&'static str, &'static str),
    /// vLLM's `--speculative-config` JSON.
    Speculative,
    /// Known, with a value, and nothing the simulation depends on (ports, logging, paths).
    NoEffect,
    /// Known, without a value, and nothing the simulation depends on.
    NoEffectSwitch,
    /// Known and meaningful, but not simulated (why).
    NotSimulated(&'static str),
}

/// One flag: its names (the first is written back) and meaning.
struct Flag {
    names: &'static [&'static str],
    map: Map,
}

const fn f(names: &'static [&'static str], map: Map) -> Flag {
    Flag { names, map }
}

const VLLM_KV: &[(&str, &str)] = &[
    ("auto", "auto"),
    ("fp8", "fp8"),
    ("fp8_e4m3", "fp8_e4m3"),
    ("fp8_e5m2", "fp8_e5m2"),
    ("bfloat16", "bf16"),
    ("float16", "fp16"),
];
const VLLM_DTYPE: &[(&str, &str)] = &[
    ("auto", ""),
    ("bfloat16", "bf16"),
    ("float16", "fp16"),
    ("half", "fp16"),
];
const VLLM_QUANT: &[(&str, &str)] = &[
    ("fp8", "fp8"),
    ("modelopt_fp4", "nvfp4"),
    ("mxfp4", "mxfp4"),
    ("awq", "int4"),
    ("awq_marlin", "int4"),
    ("gptq", "int4"),
    ("gptq_marlin", "int4"),
    ("bitsandbytes", "nf4"),
    ("compressed-tensors", ""),
];
const POLICY: &[(&str, &str)] = &[("priority", "priority"), ("fcfs", "fifo")];

const VLLM: &[Flag] = &[
    f(&["--model"], Map::Model),
    f(&["--tensor-parallel-size", "-tp"], Map::Int("hardware.tp")),
    f(
        &["--data-parallel-size", "-dp"],
        Map::Int("hardware.replicas"),
    ),
    f(&["--max-model-len"], Map::Int("engine.max_model_len")),
    f(&["--max-num-seqs"], Map::Int("engine.max_num_seqs")),
    f(
        &["--max-num-batched-tokens"],
        Map::Int("engine.max_num_batched_tokens"),
    ),
    f(&["--block-size"], Map::Int("engine.block_size")),
    f(
        &["--gpu-memory-utilization"],
        Map::Float("engine.gpu_memory_utilization"),
    ),
    f(
        &["--kv-cache-dtype"],
        Map::Str("engine.kv_cache_dtype", VLLM_KV),
    ),
    f(
        &["--enable-prefix-caching"],
        Map::Switch("engine.enable_prefix_caching", "true"),
    ),
    f(
        &["--no-enable-prefix-caching"],
        Map::Switch("engine.enable_prefix_caching", "false"),
    ),
    f(
        &["--enable-chunked-prefill"],
        Map::Switch("engine.scheduler", "\"chunked_prefill\""),
    ),
    f(
        &["--no-enable-chunked-prefill"],
        Map::Switch("engine.scheduler", "\"continuous\""),
    ),
    f(
        &["--quantization", "-q"],
        Map::Str("model.weight_dtype", VLLM_QUANT),
    ),
    f(&["--dtype"], Map::Str("model.weight_dtype", VLLM_DTYPE)),
    f(
        &["--enable-lora"],
        Map::Switch("engine.enable_lora", "true"),
    ),
    f(&["--max-loras"], Map::Int("engine.max_loras")),
    f(&["--max-lora-rank"], Map::Int("engine.max_lora_rank")),
    f(&["--max-cpu-loras"], Map::Int("engine.max_cpu_loras")),
    f(
        &["--async-scheduling"],
        Map::Switch("engine.async_scheduling", "true"),
    ),
    f(
        &["--no-async-scheduling"],
        Map::Switch("engine.async_scheduling", "false"),
    ),
    f(
        &["--scheduling-policy"],
        Map::Str("engine.tenant_scheduling", POLICY),
    ),
    f(&["--speculative-config"], Map::Speculative),
    f(
        &["--pipeline-parallel-size", "-pp"],
        Map::NotSimulated("pipeline parallelism is sized by `planner size --pp`, not simulated"),
    ),
    f(
        &["--swap-space"],
        Map::NotSimulated(
            "host swap space (set engine.preemption = \"swap\" to simulate swapping)",
        ),
    ),
    f(
        &["--cpu-offload-gb"],
        Map::NotSimulated("weight offload to host memory"),
    ),
    f(
        &[
            "--host",
            "--port",
            "--api-key",
            "--served-model-name",
            "--seed",
            "--download-dir",
            "--tokenizer",
            "--revision",
            "--chat-template",
            "--tool-call-parser",
            "--uvicorn-log-level",
            "--load-format",
            "--hf-token",
        ],
        Map::NoEffect,
    ),
    f(
        &[
            "--trust-remote-code",
            "--disable-log-requests",
            "--disable-log-stats",
            "--enable-auto-tool-choice",
            "--disable-uvicorn-access-log",
            "--enforce-eager",
        ],
        Map::NoEffectSwitch,
    ),
];

const LLAMA_FA: &[(&str, &str)] = &[("on", "flash"), ("off", "standard"), ("auto", "flash")];
const LLAMA_KV: &[(&str, &str)] = &[
    ("f16", "f16"),
    ("bf16", "bf16"),
    ("f32", "f32"),
    ("q8_0", "q8_0"),
    ("q5_1", "q5_1"),
    ("q5_0", "q5_0"),
    ("q4_1", "q4_1"),
    ("q4_0", "q4_0"),
];

const LLAMA: &[Flag] = &[
    f(&["--model", "-m", "--hf-repo", "-hf"], Map::Model),
    f(&["--ctx-size", "-c"], Map::Int("engine.max_model_len")),
    f(&["--parallel", "-np"], Map::Int("engine.max_num_seqs")),
    f(
        &["--batch-size", "-b"],
        Map::Int("engine.max_num_batched_tokens"),
    ),
    f(
        &["--cache-type-k", "-ctk"],
        Map::Str("engine.cache_type_k", LLAMA_KV),
    ),
    f(
        &["--cache-type-v", "-ctv"],
        Map::Str("engine.cache_type_v", LLAMA_KV),
    ),
    f(
        &["--flash-attn", "-fa"],
        Map::Str("engine.attention", LLAMA_FA),
    ),
    f(
        &["--n-gpu-layers", "-ngl", "--gpu-layers"],
        Map::NotSimulated("layer offload is sized by `planner size -ngl`, not simulated"),
    ),
    f(
        &["--ubatch-size", "-ub"],
        Map::NotSimulated("the micro-batch sizes the compute buffer (`planner size -ub`)"),
    ),
    f(
        &["--n-cpu-moe", "-ncmoe"],
        Map::NotSimulated("expert offload is sized by `planner size --n-cpu-moe`"),
    ),
    f(
        &[
            "--host",
            "--port",
            "--threads",
            "-t",
            "--api-key",
            "--alias",
            "-a",
            "--log-file",
            "--threads-batch",
            "-tb",
            "--chat-template",
        ],
        Map::NoEffect,
    ),
    f(
        &[
            "--jinja",
            "--metrics",
            "--mlock",
            "--no-mmap",
            "--cont-batching",
            "-cb",
            "--no-webui",
            "--verbose",
            "-v",
        ],
        Map::NoEffectSwitch,
    ),
];

const TRTLLM: &[Flag] = &[
    f(&["--model"], Map::Model),
    f(&["--tp_size"], Map::Int("hardware.tp")),
    f(&["--max_batch_size"], Map::Int("engine.max_num_seqs")),
    f(
        &["--max_num_tokens"],
        Map::Int("engine.max_num_batched_tokens"),
    ),
    f(&["--max_seq_len"], Map::Int("engine.max_model_len")),
    f(
        &["--kv_cache_free_gpu_memory_fraction"],
        Map::Float("engine.kv_cache_free_gpu_mem_fraction"),
    ),
    f(
        &["--pp_size"],
        Map::NotSimulated("pipeline parallelism is sized by `planner size --pp`, not simulated"),
    ),
    f(
        &["--ep_size"],
        Map::NotSimulated("expert parallelism is not simulated"),
    ),
    f(
        &["--extra_llm_api_options"],
        Map::NotSimulated("a YAML file of LLM API options: set what it says as scenario keys"),
    ),
    f(
        &[
            "--host",
            "--port",
            "--backend",
            "--tokenizer",
            "--log_level",
            "--num_postprocess_workers",
        ],
        Map::NoEffect,
    ),
    f(&["--trust_remote_code"], Map::NoEffectSwitch),
];

const SGLANG_KV: &[(&str, &str)] = &[
    ("auto", "auto"),
    ("fp8_e4m3", "fp8_e4m3"),
    ("fp8_e5m2", "fp8_e5m2"),
    ("bf16", "bf16"),
];
const SGLANG_QUANT: &[(&str, &str)] = &[
    ("fp8", "fp8"),
    ("awq", "int4"),
    ("gptq", "int4"),
    ("modelopt_fp4", "nvfp4"),
    ("mxfp4", "mxfp4"),
    ("bitsandbytes", "nf4"),
];

const SGLANG: &[Flag] = &[
    f(&["--model-path", "--model"], Map::Model),
    f(&["--tp-size", "--tp"], Map::Int("hardware.tp")),
    f(&["--dp-size", "--dp"], Map::Int("hardware.replicas")),
    f(
        &["--mem-fraction-static"],
        Map::Float("engine.mem_fraction_static"),
    ),
    f(&["--max-running-requests"], Map::Int("engine.max_num_seqs")),
    f(
        &["--chunked-prefill-size"],
        Map::Int("engine.max_num_batched_tokens"),
    ),
    f(&["--context-length"], Map::Int("engine.max_model_len")),
    f(
        &["--kv-cache-dtype"],
        Map::Str("engine.kv_cache_dtype", SGLANG_KV),
    ),
    f(&["--page-size"], Map::Int("engine.block_size")),
    f(
        &["--disable-radix-cache"],
        Map::Switch("engine.enable_prefix_caching", "false"),
    ),
    f(
        &["--schedule-conservativeness"],
        Map::Float("engine.schedule_conservativeness"),
    ),
    f(
        &["--disable-overlap-schedule"],
        Map::Switch("engine.async_scheduling", "false"),
    ),
    f(
        &["--quantization"],
        Map::Str("model.weight_dtype", SGLANG_QUANT),
    ),
    f(
        &["--enable-lora"],
        Map::Switch("engine.enable_lora", "true"),
    ),
    f(&["--max-loras-per-batch"], Map::Int("engine.max_loras")),
    f(&["--max-lora-rank"], Map::Int("engine.max_lora_rank")),
    f(
        &["--pp-size", "--pp"],
        Map::NotSimulated("pipeline parallelism is sized by `planner size --pp`, not simulated"),
    ),
    f(
        &[
            "--host",
            "--port",
            "--log-level",
            "--api-key",
            "--served-model-name",
        ],
        Map::NoEffect,
    ),
    f(
        &["--trust-remote-code", "--enable-metrics"],
        Map::NoEffectSwitch,
    ),
];

/// The flag table of an engine (vLLM V0 and V1 share vLLM's).
fn flags(kind: EngineKind) -> &'static [Flag] {
    match kind {
        EngineKind::Vllm | EngineKind::VllmV0 => VLLM,
        EngineKind::LlamaCpp => LLAMA,
        EngineKind::Trtllm => TRTLLM,
        EngineKind::Sglang => SGLANG,
    }
}

/// Whether the engine's server runs data-parallel replicas itself (a flag for
/// `hardware.replicas`).
pub fn has_data_parallel(kind: EngineKind) -> bool {
    flags(kind)
        .iter()
        .any(|fl| matches!(fl.map, Map::Int("hardware.replicas")))
}

/// The program (and subcommand) that starts each engine's server.
fn program(kind: EngineKind) -> &'static str {
    match kind {
        EngineKind::Vllm | EngineKind::VllmV0 => "vllm serve",
        EngineKind::LlamaCpp => "llama-server",
        EngineKind::Trtllm => "trtllm-serve",
        EngineKind::Sglang => "python -m sglang.launch_server",
    }
}

/// A command line read: the engine, the scenario keys its flags set (in order), and what was
/// not mapped.
#[derive(Debug, Clone, PartialEq)]
pub struct Imported {
    /// Whose server.
    pub engine: EngineKind,
    /// The model as given.
    pub model: Option<String>,
    /// `(dotted key, value, the flag as written)`, in command-line order (a later flag for
    /// the same key replaces an earlier one, as the engines' parsers do).
    pub settings: Vec<(String, Value, String)>,
    /// Flags known to have no effect on what is simulated (ports, logging, paths).
    pub no_effect: Vec<String>,
    /// Flags known, meaningful, and not simulated, each with why.
    pub not_simulated: Vec<(String, String)>,
    /// Flags this table does not know.
    pub unrecognised: Vec<String>,
}

/// Set a dotted key in a table, making the tables on the way.
fn put(table: &mut toml::Table, key: &str, v: Value) {
    let parts: Vec<&str> = key.split('.').collect();
    let mut t = table;
    for p in &parts[..parts.len() - 1] {
        let next = t
            .entry(p.to_string())
            .or_insert_with(|| Value::Table(Default::default()));
        if !next.is_table() {
            *next = Value::Table(Default::default());
        }
        t = next.as_table_mut().expect("made a table above");
    }
    t.insert(parts[parts.len() - 1].to_string(), v);
}

impl Imported {
    /// The scenario keys the command line sets, as a table (`engine.kind` included).
    pub fn table(&self) -> toml::Table {
        let mut table = toml::Table::new();
        put(
            &mut table,
            "engine.kind",
            Value::String(self.engine.to_string()),
        );
        for (k, v, _) in &self.settings {
            put(&mut table, k, v.clone());
        }
        table
    }
}

/// Split a command line as a POSIX shell would (quotes, backslash-newline continuations).
pub fn split(line: &str) -> anyhow::Result<Vec<String>> {
    let joined = line.replace("\\\r\n", " ").replace("\\\n", " ");
    shlex::split(&joined)
        .ok_or_else(|| anyhow!("cannot split the command line (an unclosed quote?)"))
}

/// Which engine a command starts, and the arguments after its program.
fn engine_of(args: &[String]) -> anyhow::Result<(EngineKind, usize)> {
    let mut i = 0;
    let mut v0 = false;
    // Environment assignments before the program.
    while i < args.len() && args[i].contains('=') && !args[i].starts_with('-') {
        if args[i] == "VLLM_USE_V1=0" {
            v0 = true;
        }
        i += 1;
    }
    let word = |k: usize| args.get(k).map(String::as_str).unwrap_or("");
    let prog = word(i).rsplit('/').next().unwrap_or("");
    let vllm = if v0 {
        EngineKind::VllmV0
    } else {
        EngineKind::Vllm
    };
    let found = match prog {
        "vllm" if word(i + 1) == "serve" => Some((vllm, i + 2)),
        "llama-server" | "llama-server.exe" => Some((EngineKind::LlamaCpp, i + 1)),
        "trtllm-serve" if word(i + 1) == "serve" => Some((EngineKind::Trtllm, i + 2)),
        "trtllm-serve" => Some((EngineKind::Trtllm, i + 1)),
        p if p.starts_with("python") && word(i + 1) == "-m" => match word(i + 2) {
            "vllm.entrypoints.openai.api_server" => Some((vllm, i + 3)),
            "sglang.launch_server" => Some((EngineKind::Sglang, i + 3)),
            _ => None,
        },
        _ => None,
    };
    found.ok_or_else(|| {
        anyhow!(
            "`{}`: not a command line this reads: give `vllm serve MODEL …`, `llama-server -m \
             MODEL …`, `trtllm-serve MODEL …` or `python -m sglang.launch_server --model-path \
             MODEL …`",
            args.join(" ")
        )
    })
}

/// The flag of `table` named `name`.
fn lookup<'a>(table: &'a [Flag], name: &str) -> Option<&'a Flag> {
    table.iter().find(|fl| fl.names.contains(&name))
}

/// Read an engine's command line into scenario keys.
pub fn import(args: &[String]) -> anyhow::Result<Imported> {
    let (engine, start) = engine_of(args)?;
    let table = flags(engine);
    let mut out = Imported {
        engine,
        model: None,
        settings: Vec::new(),
        no_effect: Vec::new(),
        not_simulated: Vec::new(),
        unrecognised: Vec::new(),
    };
    let set = |out: &mut Imported, key: &str, value: Value, flag: String| {
        out.settings.retain(|(k, _, _)| k != key);
        out.settings.push((key.to_string(), value, flag));
    };
    let mut i = start;
    while i < args.len() {
        let arg = &args[i];
        i += 1;
        if !arg.starts_with('-') {
            // vLLM's and trtllm-serve's model is positional.
            if out.model.is_none()
                && matches!(
                    engine,
                    EngineKind::Vllm | EngineKind::VllmV0 | EngineKind::Trtllm
                )
            {
                out.model = Some(arg.clone());
            } else {
                out.unrecognised.push(arg.clone());
            }
            continue;
        }
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n, Some(v.to_string())),
            _ => (arg.as_str(), None),
        };
        let Some(flag) = lookup(table, name) else {
            // An unknown flag's value (the next word, if it is not a flag) goes with it.
            let mut shown = arg.clone();
            if inline.is_none() && i < args.len() && !args[i].starts_with('-') {
                shown = format!("{arg} {}", args[i]);
                i += 1;
            }
            out.unrecognised.push(shown);
            continue;
        };
        let takes_value = !matches!(flag.map, Map::Switch(..) | Map::NoEffectSwitch);
        // llama.cpp's `-fa` was a bare switch before it took on|off|auto.
        let bare_fa = matches!(flag.map, Map::Str("engine.attention", _))
            && inline.is_none()
            && !args
                .get(i)
                .is_some_and(|v| LLAMA_FA.iter().any(|(e, _)| e == v));
        let value = if !takes_value || bare_fa {
            None
        } else if let Some(v) = inline {
            Some(v)
        } else if i < args.len() {
            i += 1;
            Some(args[i - 1].clone())
        } else {
            bail!("{name}: needs a value");
        };
        let shown = match &value {
            Some(v) => format!("{name} {v}"),
            None => name.to_string(),
        };
        let v = value.clone().unwrap_or_default();
        let bad = |what: &str| anyhow!("{name} {v}: {what}");
        match flag.map {
            Map::Model => {
                // llama.cpp's `-hf org/repo:Q4_K_M` names the quantization after a colon.
                match v.split_once(':') {
                    Some((repo, quant)) if engine == EngineKind::LlamaCpp => {
                        out.model = Some(repo.to_string());
                        set(
                            &mut out,
                            "model.weight_dtype",
                            Value::String(quant.to_ascii_lowercase()),
                            shown,
                        );
                    }
                    _ => out.model = Some(v.clone()),
                }
            }
            Map::Int(key) => {
                let n: i64 = v.parse().map_err(|_| bad("must be a whole number"))?;
                set(&mut out, key, Value::Integer(n), shown);
            }
            Map::Float(key) => {
                let x: f64 = v.parse().map_err(|_| bad("must be a number"))?;
                set(&mut out, key, Value::Float(x), shown);
            }
            Map::Str(key, pairs) => {
                let to = if bare_fa {
                    Some("flash")
                } else {
                    pairs
                        .iter()
                        .find(|(e, _)| e.eq_ignore_ascii_case(&v))
                        .map(|(_, s)| *s)
                };
                match to {
                    Some("") => out.no_effect.push(shown),
                    Some(s) => set(&mut out, key, Value::String(s.to_string()), shown),
                    None => out.not_simulated.push((
                        shown,
                        format!(
                            "not a value the simulator maps (known: {})",
                            pairs.iter().map(|(e, _)| *e).collect::<Vec<_>>().join(", ")
                        ),
                    )),
                }
            }
            Map::Switch(key, literal) => {
                let value: Value = toml::from_str::<toml::Table>(&format!("v = {literal}"))
                    .ok()
                    .and_then(|t| t.get("v").cloned())
                    .ok_or_else(|| anyhow!("bad literal {literal}"))?;
                set(&mut out, key, value, shown);
            }
            Map::Speculative => {
                for (key, value) in speculative(&v).map_err(|e| bad(&e))? {
                    set(&mut out, &key, value, shown.clone());
                }
            }
            Map::NoEffect | Map::NoEffectSwitch => out.no_effect.push(shown),
            Map::NotSimulated(why) => out.not_simulated.push((shown, why.to_string())),
        }
    }
    Ok(out)
}

/// vLLM's `--speculative-config` JSON as `engine.speculative.*` keys.
fn speculative(json: &str) -> Result<Vec<(String, Value)>, String> {
    let v: serde_json::Value = serde_json::from_str(json).map_err(|e| format!("not JSON: {e}"))?;
    let obj = v.as_object().ok_or("must be a JSON object")?;
    let mut out = Vec::new();
    let method = obj.get("method").and_then(|m| m.as_str());
    let model = obj.get("model").and_then(|m| m.as_str());
    let method = match (method, model) {
        (Some("ngram"), _) => "ngram",
        (Some("eagle" | "eagle3" | "mtp" | "deepseek_mtp" | "medusa" | "mlp_speculator"), _) => {
            "head"
        }
        (Some("draft_model") | None, Some(_)) => "draft_model",
        (m, _) => {
            return Err(format!(
                "method {m:?}: known: ngram, eagle, eagle3, mtp, draft_model (a `model`)"
            ));
        }
    };
    out.push((
        "engine.speculative.method".into(),
        Value::String(method.into()),
    ));
    if method == "draft_model"
        && let Some(m) = model
    {
        out.push((
            "engine.speculative.draft_model".into(),
            Value::String(m.into()),
        ));
    }
    if let Some(n) = obj.get("num_speculative_tokens").and_then(|n| n.as_i64()) {
        out.push((
            "engine.speculative.num_speculative_tokens".into(),
            Value::Integer(n),
        ));
    }
    Ok(out)
}

/// A dotted key's value in a scenario table.
fn get<'a>(table: &'a toml::Table, key: &str) -> Option<&'a Value> {
    let mut t = table;
    let parts: Vec<&str> = key.split('.').collect();
    for p in &parts[..parts.len() - 1] {
        t = t.get(*p)?.as_table()?;
    }
    t.get(parts[parts.len() - 1])
}

/// A value as a command-line word.
fn word(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Float(x) => format!("{x}"),
        other => other.to_string(),
    }
}

/// Quote a word for a POSIX shell when it needs it.
fn quote(s: &str) -> String {
    shlex::try_quote(s).map_or_else(|_| s.to_string(), |q| q.into_owned())
}

/// The command that runs a scenario's engine with its settings: every key the engine has a
/// flag for and the scenario (`table`, as written) sets, in the engine table's order. `model`
/// is the model as the engine is given it (a Hugging Face id, a path); `replicas` overrides
/// `hardware.replicas`. Keys the engine has no flag for are named in the returned notes.
pub fn command_line(
    kind: EngineKind,
    model: &str,
    table: &toml::Table,
    replicas: Option<u32>,
) -> (String, Vec<String>) {
    let mut parts: Vec<String> = vec![];
    if kind == EngineKind::VllmV0 {
        parts.push("VLLM_USE_V1=0".into());
    }
    parts.push(program(kind).into());
    match kind {
        EngineKind::LlamaCpp => {
            let hf = crate::catalog::is_hf_id(model);
            let quant = get(table, "model.weight_dtype").and_then(Value::as_str);
            match quant {
                Some(q) if hf => {
                    parts.push(format!(
                        "-hf {}",
                        quote(&format!("{model}:{}", q.to_ascii_uppercase()))
                    ));
                }
                _ => parts.push(format!(
                    "{} {}",
                    if hf { "-hf" } else { "-m" },
                    quote(model)
                )),
            }
        }
        EngineKind::Sglang => parts.push(format!("--model-path {}", quote(model))),
        _ => parts.push(quote(model)),
    }
    let mut table = table.clone();
    if let Some(n) = replicas {
        let hw = table
            .entry("hardware")
            .or_insert_with(|| Value::Table(Default::default()));
        if let Some(hw) = hw.as_table_mut() {
            hw.insert("replicas".into(), Value::Integer(n as i64));
        }
    }
    let mut written: Vec<&str> = Vec::new();
    for fl in flags(kind) {
        let name = fl.names[0];
        match fl.map {
            Map::Int(key) | Map::Float(key) => {
                if let Some(v) = get(&table, key)
                    && !(key == "hardware.replicas" && v.as_integer() == Some(1))
                    && !(key == "hardware.tp" && v.as_integer() == Some(1))
                {
                    parts.push(format!("{name} {}", quote(&word(v))));
                    written.push(key);
                }
            }
            Map::Str(key, pairs) => {
                if written.contains(&key) {
                    continue;
                }
                if let Some(Value::String(s)) = get(&table, key)
                    && let Some((e, _)) = pairs
                        .iter()
                        .find(|(_, sv)| !sv.is_empty() && sv.eq_ignore_ascii_case(s))
                {
                    parts.push(format!("{name} {}", quote(e)));
                    written.push(key);
                }
            }
            Map::Switch(key, literal) => {
                if let Some(v) = get(&table, key)
                    && v.to_string() == literal
                {
                    parts.push(name.to_string());
                    written.push(key);
                }
            }
            Map::Speculative => {
                if let Some(Value::Table(s)) = get(&table, "engine.speculative") {
                    let mut json = serde_json::Map::new();
                    match s.get("method").and_then(Value::as_str) {
                        Some("ngram") => {
                            json.insert("method".into(), "ngram".into());
                        }
                        Some("head") => {
                            json.insert("method".into(), "eagle".into());
                        }
                        _ => {
                            if let Some(m) = s.get("draft_model").and_then(Value::as_str) {
                                json.insert("model".into(), m.into());
                            }
                        }
                    }
                    if let Some(n) = s.get("num_speculative_tokens").and_then(Value::as_integer) {
                        json.insert("num_speculative_tokens".into(), n.into());
                    }
                    let text = serde_json::Value::Object(json).to_string();
                    parts.push(format!("{name} {}", quote(&text)));
                    written.push("engine.speculative");
                }
            }
            _ => {}
        }
    }
    // The scenario's engine and hardware keys the engine has no flag for (a default-valued
    // TP or replica count needs none).
    let mut notes = Vec::new();
    for section in ["engine", "hardware"] {
        if let Some(Value::Table(t)) = table.get(section) {
            for (k, v) in t {
                let key = format!("{section}.{k}");
                let silent = matches!(
                    key.as_str(),
                    "engine.kind" | "hardware.gpu" | "hardware.measured" | "hardware.router"
                ) || (matches!(key.as_str(), "hardware.tp" | "hardware.replicas")
                    && v.as_integer() == Some(1));
                if !silent && !written.contains(&key.as_str()) {
                    notes.push(key);
                }
            }
        }
    }
    let mut line = String::new();
    for (n, p) in parts.iter().enumerate() {
        if n > 0 {
            line.push(' ');
        }
        let _ = write!(line, "{p}");
    }
    (line, notes)
}

/// The scenario an imported command line describes, as TOML text: the engine's settings, the
/// GPU (the command line does not say which: `gpu`), a default workload to edit, and every
/// flag not mapped listed in comments. A speculative config's acceptance rate is not on any
/// command line: `acceptance` sets it (to check the rest loads), `None` leaves it for the user.
pub fn scenario_text(
    imp: &Imported,
    command: &str,
    gpu: &str,
    name: &str,
    acceptance: Option<f64>,
) -> anyhow::Result<String> {
    let model = imp
        .model
        .as_deref()
        .context("the command line names no model")?;
    let mut table = imp.table();
    let mut put = |key: &str, v: Value| put(&mut table, key, v);
    put("name", Value::String(name.into()));
    put("seed", Value::Integer(42));
    put("model.name", Value::String(model.into()));
    put("hardware.gpu", Value::String(gpu.into()));
    let speculative = imp
        .settings
        .iter()
        .any(|(k, _, _)| k.starts_with("engine.speculative"));
    if speculative && let Some(a) = acceptance {
        put("engine.speculative.acceptance", Value::Float(a));
    }
    let body = toml::to_string(&table).map_err(|e| anyhow!("{e}"))?;
    let mut text = String::new();
    let _ = writeln!(text, "# Imported by `planner import` from:\n#   {command}");
    let _ = writeln!(
        text,
        "# The command line does not name the GPU: `{gpu}` (planner import --gpu G); the \
         workload below is a placeholder: describe yours."
    );
    for (k, _, flag) in &imp.settings {
        let _ = writeln!(text, "#   {flag} → {k}");
    }
    for flag in &imp.no_effect {
        let _ = writeln!(text, "#   {flag}: no effect on what is simulated");
    }
    for (flag, why) in &imp.not_simulated {
        let _ = writeln!(text, "#   {flag}: not simulated ({why})");
    }
    for flag in &imp.unrecognised {
        let _ = writeln!(text, "#   {flag}: UNRECOGNISED, ignored");
    }
    if speculative && acceptance.is_none() {
        let _ = writeln!(
            text,
            "# engine.speculative.acceptance is on no command line: set it (the measured \
             acceptance rate α, e.g. from vLLM's spec_decode metrics) before simulating."
        );
    }
    text.push('\n');
    text.push_str(&body);
    text.push_str(
        "\n[workload]\narrival = \"poisson\"\nrate = 2.0\nnum_requests = 500\n\
         prompt = { dist = \"lognormal\", median = 1000, sigma = 0.8 }\n\
         output = { dist = \"lognormal\", median = 200, sigma = 0.6 }\n\n\
         # [slo]\n# ttft_ms = { p90 = 500 }\n# tpot_ms = { p90 = 50 }\n",
    );
    Ok(text)
}
