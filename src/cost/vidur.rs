//! Loader for the Vidur profiling data: measured operator times on A100 and A40
//! (`data/vidur` in this repository, copied unchanged from github.com/microsoft/vidur
//! `data/profiling/`, commit 7d47513, MIT licence), or any folder of the same layout.
//!
//! Layout of the folder:
//!
//! ```text
//! <root>/<gpu>/<org>/<model>/mlp.csv     one row per (num_tokens, TP degree); per op
//!                                        time_stats.<op>.{min,max,mean,median,std} in ms,
//!                                        for ONE layer on ONE GPU of the TP group
//! <root>/network/<node>/all_reduce.csv   collective times in ms; `size` counts fp16 elements
//! <root>/gpus.toml                       optional manifest: `<gpu folder> = "<catalog GPU>"`
//! ```
//!
//! Every `<gpu>` folder (all but `network`) is a GPU to validate against; the manifest maps
//! a folder to the catalog GPU it was measured on (`a100 = "a100-80gb"`), and a folder named
//! like a catalog GPU needs no entry.
//!
//! The files are plain CSV written by pandas: no quoted fields, booleans written `True` /
//! `False`. Columns are found by header name, never by position (phi-2's file, for example,
//! has no `post_attention_layernorm` columns at all). Every error names the file, and a bad
//! cell also names its 1-based line (the header is line 1) and its column.

use std::path::{Path, PathBuf};
use std::str::FromStr;

/// One Vidur operator: a piece of one transformer layer (attention itself is not profiled
/// in this data set).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum VidurOp {
    /// Token-embedding lookup.
    Emb,
    /// RMSNorm / LayerNorm before attention.
    InputLayernorm,
    /// QKV projection.
    AttnPreProj,
    /// Rotary position embedding applied to q and k.
    AttnRope,
    /// Attention output (O) projection.
    AttnPostProj,
    /// RMSNorm / LayerNorm before the MLP.
    PostAttentionLayernorm,
    /// MLP up projection (gate and up together when gated).
    MlpUpProj,
    /// MLP activation (SiLU·mul when gated, GeLU otherwise).
    MlpAct,
    /// MLP down projection.
    MlpDownProj,
    /// Residual add.
    Add,
}

impl VidurOp {
    /// Every op, in the order the CSV columns list them.
    pub const ALL: [VidurOp; 10] = [
        VidurOp::Emb,
        VidurOp::InputLayernorm,
        VidurOp::AttnPreProj,
        VidurOp::AttnRope,
        VidurOp::AttnPostProj,
        VidurOp::PostAttentionLayernorm,
        VidurOp::MlpUpProj,
        VidurOp::MlpAct,
        VidurOp::MlpDownProj,
        VidurOp::Add,
    ];

    /// The op's name in the CSV header (`time_stats.<name>.median`), e.g. `attn_pre_proj`.
    pub fn name(self) -> &'static str {
        match self {
            VidurOp::Emb => "emb",
            VidurOp::InputLayernorm => "input_layernorm",
            VidurOp::AttnPreProj => "attn_pre_proj",
            VidurOp::AttnRope => "attn_rope",
            VidurOp::AttnPostProj => "attn_post_proj",
            VidurOp::PostAttentionLayernorm => "post_attention_layernorm",
            VidurOp::MlpUpProj => "mlp_up_proj",
            VidurOp::MlpAct => "mlp_act",
            VidurOp::MlpDownProj => "mlp_down_proj",
            VidurOp::Add => "add",
        }
    }
}

/// One row of a `mlp.csv`: one layer on one GPU of a TP group at `num_tokens` tokens.
#[derive(Debug, Clone, PartialEq)]
pub struct VidurRow {
    /// Folder under the Vidur root: `a100` or `a40`.
    pub gpu: String,
    /// `<org>/<model>` from the folder path, e.g. `meta-llama/Llama-2-7b-hf`.
    pub model: String,
    /// Query heads (`n_head`).
    pub n_head: u64,
    /// Key/value heads (`n_kv_head`).
    pub n_kv_head: u64,
    /// Hidden size (`n_embd`).
    pub n_embd: u64,
    /// MLP intermediate size (`n_expanded_embd`).
    pub n_expanded_embd: u64,
    /// Vocabulary size (`vocab_size`).
    pub vocab_size: u64,
    /// Gated MLP (SwiGLU), from `use_gated_mlp` (`True` / `False`).
    pub gated_mlp: bool,
    /// Tokens in the batch (`num_tokens`).
    pub num_tokens: u64,
    /// Tensor-parallel degree (`num_tensor_parallel_workers`).
    pub tp: u64,
    /// Median milliseconds per op; an op whose median cell is empty or not a number is absent.
    pub median_ms: Vec<(VidurOp, f64)>,
}

impl VidurRow {
    /// Median milliseconds of `op`, if measured in this row.
    pub fn median(&self, op: VidurOp) -> Option<f64> {
        self.median_ms
            .iter()
            .find(|(o, _)| *o == op)
            .map(|&(_, ms)| ms)
    }
}

/// One all-reduce measurement from `network/<node>/all_reduce.csv`.
#[derive(Debug, Clone, PartialEq)]
pub struct AllReduceRow {
    /// Folder under `network/`, e.g. `a100_dgx`.
    pub node: String,
    /// GPUs in the collective (`num_workers`).
    pub num_workers: u64,
    /// GPUs of the collective on each node (`devices_per_node`): `a100_dgx` measures
    /// 2 workers both on one node (2) and across two nodes (1), with very different times.
    pub devices_per_node: u64,
    /// Message size in fp16 elements (`size`).
    pub size_elems: u64,
    /// Median milliseconds (`time_stats.all_reduce.median`).
    pub median_ms: f64,
}

/// Why the Vidur data could not be loaded. Every variant names the file (or folder).
#[derive(Debug, thiserror::Error)]
pub enum VidurError {
    /// A file or folder could not be read.
    #[error("{}: cannot read: {error}", path.display())]
    Read {
        /// The file or folder.
        path: PathBuf,
        /// What the OS said.
        error: std::io::Error,
    },
    /// The header lacks a required column.
    #[error("{}: line 1: missing column `{column}`", path.display())]
    Header {
        /// The file.
        path: PathBuf,
        /// The missing column's name.
        column: String,
    },
    /// A required cell is empty or does not parse.
    #[error("{}: line {line}, column `{column}`: `{value}` is not {expected}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line number in the file (the header is line 1).
        line: usize,
        /// The column's header name.
        column: String,
        /// The cell as written.
        value: String,
        /// What was expected, e.g. `a whole number`.
        expected: &'static str,
    },
    /// The `gpus.toml` manifest does not parse or names a folder that is not there.
    #[error("{}: {message}", path.display())]
    Manifest {
        /// The manifest file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// Environment variable naming the Vidur folder (overridden by `--vidur-dir`).
pub const VIDUR_DIR_ENV: &str = "PLANNER_VIDUR_DIR";

/// The folder `planner validate` reads when no `--vidur-dir` is given: `$PLANNER_VIDUR_DIR`
/// if set, else `data/vidur` under the working folder (the repository root).
pub fn default_vidur_dir() -> PathBuf {
    match std::env::var_os(VIDUR_DIR_ENV) {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => PathBuf::from("data/vidur"),
    }
}

/// The name of the manifest file in a Vidur folder.
pub const MANIFEST: &str = "gpus.toml";

/// The GPU folders under `root` (every subfolder but `network`), sorted, each with the
/// catalog GPU name it maps to: the manifest's entry (`<root>/gpus.toml`), else the folder
/// name itself. A manifest entry for a folder that does not exist is an error (a typo).
pub fn gpu_folders(root: &Path) -> Result<Vec<(String, String)>, VidurError> {
    let manifest_path = root.join(MANIFEST);
    let manifest: std::collections::BTreeMap<String, String> = if manifest_path.is_file() {
        toml::from_str(&read(&manifest_path)?).map_err(|e| VidurError::Manifest {
            path: manifest_path.clone(),
            message: e.to_string().trim_end().to_string(),
        })?
    } else {
        Default::default()
    };
    let folders: Vec<String> = subdirs(root)?
        .iter()
        .map(|d| file_name(d))
        .filter(|n| n != "network")
        .collect();
    if let Some(missing) = manifest.keys().find(|k| !folders.contains(k)) {
        return Err(VidurError::Manifest {
            path: manifest_path,
            message: format!(
                "`{missing}` names no folder here (GPU folders: {})",
                folders.join(", ")
            ),
        });
    }
    Ok(folders
        .into_iter()
        .map(|f| {
            let gpu = manifest.get(&f).cloned().unwrap_or_else(|| f.clone());
            (f, gpu)
        })
        .collect())
}

/// Every `<gpu>/<org>/<model>/mlp.csv` under `root`, one [`VidurRow`] per data line,
/// sorted by (gpu, model, tp, num_tokens) so the result does not depend on the file system.
pub fn load_mlp_rows(root: &Path) -> Result<Vec<VidurRow>, VidurError> {
    let mut rows = Vec::new();
    for gpu_dir in subdirs(root)? {
        let gpu = file_name(&gpu_dir);
        if gpu == "network" {
            continue;
        }
        for org_dir in subdirs(&gpu_dir)? {
            for model_dir in subdirs(&org_dir)? {
                let path = model_dir.join("mlp.csv");
                if path.is_file() {
                    let model = format!("{}/{}", file_name(&org_dir), file_name(&model_dir));
                    rows.extend(parse_mlp(&read(&path)?, &path, &gpu, &model)?);
                }
            }
        }
    }
    rows.sort_by(|a, b| {
        (&a.gpu, &a.model, a.tp, a.num_tokens).cmp(&(&b.gpu, &b.model, b.tp, b.num_tokens))
    });
    Ok(rows)
}

/// Every `network/<node>/all_reduce.csv` under `root`, sorted by
/// (node, num_workers, devices_per_node, size_elems); repeated measurements keep file order.
pub fn load_all_reduce(root: &Path) -> Result<Vec<AllReduceRow>, VidurError> {
    let mut rows = Vec::new();
    for node_dir in subdirs(&root.join("network"))? {
        let path = node_dir.join("all_reduce.csv");
        if path.is_file() {
            rows.extend(parse_all_reduce(
                &read(&path)?,
                &path,
                &file_name(&node_dir),
            )?);
        }
    }
    rows.sort_by(|a, b| {
        let key = |r: &AllReduceRow| (r.num_workers, r.devices_per_node, r.size_elems);
        a.node.cmp(&b.node).then(key(a).cmp(&key(b)))
    });
    Ok(rows)
}

/// Parse the text of one `mlp.csv`; `path` only names the file in errors.
fn parse_mlp(text: &str, path: &Path, gpu: &str, model: &str) -> Result<Vec<VidurRow>, VidurError> {
    let table = Table::new(text, path);
    let n_head = table.column("n_head")?;
    let n_kv_head = table.column("n_kv_head")?;
    let n_embd = table.column("n_embd")?;
    let n_expanded_embd = table.column("n_expanded_embd")?;
    let vocab_size = table.column("vocab_size")?;
    let gated = table.column("use_gated_mlp")?;
    let num_tokens = table.column("num_tokens")?;
    let tp = table.column("num_tensor_parallel_workers")?;
    // An op without a median column (phi-2 has no post_attention_layernorm) is absent.
    let medians: Vec<(VidurOp, usize)> = VidurOp::ALL
        .iter()
        .filter_map(|&op| {
            let name = format!("time_stats.{}.median", op.name());
            table
                .header
                .iter()
                .position(|h| *h == name)
                .map(|i| (op, i))
        })
        .collect();

    table
        .records()
        .map(|record| {
            Ok(VidurRow {
                gpu: gpu.to_string(),
                model: model.to_string(),
                n_head: record.number(n_head)?,
                n_kv_head: record.number(n_kv_head)?,
                n_embd: record.number(n_embd)?,
                n_expanded_embd: record.number(n_expanded_embd)?,
                vocab_size: record.number(vocab_size)?,
                gated_mlp: record.boolean(gated)?,
                num_tokens: record.number(num_tokens)?,
                tp: record.number(tp)?,
                median_ms: medians
                    .iter()
                    .filter_map(|&(op, i)| {
                        let ms = record.cell(i).parse::<f64>().ok()?;
                        ms.is_finite().then_some((op, ms))
                    })
                    .collect(),
            })
        })
        .collect()
}

/// Parse the text of one `all_reduce.csv`; `path` only names the file in errors.
fn parse_all_reduce(text: &str, path: &Path, node: &str) -> Result<Vec<AllReduceRow>, VidurError> {
    let table = Table::new(text, path);
    let num_workers = table.column("num_workers")?;
    let devices_per_node = table.column("devices_per_node")?;
    let size = table.column("size")?;
    let median = table.column("time_stats.all_reduce.median")?;
    table
        .records()
        .map(|record| {
            Ok(AllReduceRow {
                node: node.to_string(),
                num_workers: record.number(num_workers)?,
                devices_per_node: record.number(devices_per_node)?,
                size_elems: record.number(size)?,
                median_ms: record.number(median)?,
            })
        })
        .collect()
}

/// A CSV text split into its header and its non-blank data lines.
struct Table<'a> {
    path: &'a Path,
    header: Vec<&'a str>,
    /// (1-based line number, cells).
    lines: Vec<(usize, Vec<&'a str>)>,
}

impl<'a> Table<'a> {
    fn new(text: &'a str, path: &'a Path) -> Self {
        let mut lines = text
            .lines()
            .enumerate()
            .map(|(i, line)| (i + 1, line.trim_end_matches('\r')))
            .filter(|(_, line)| !line.trim().is_empty());
        let header = lines.next().map_or_else(Vec::new, |(_, h)| split(h));
        let lines = lines.map(|(n, line)| (n, split(line))).collect();
        Table {
            path,
            header,
            lines,
        }
    }

    /// Index of the column named `name`, or a [`VidurError::Header`].
    fn column(&self, name: &str) -> Result<Column<'a>, VidurError> {
        match self.header.iter().position(|h| *h == name) {
            Some(index) => Ok(Column {
                index,
                name: self.header[index],
            }),
            None => Err(VidurError::Header {
                path: self.path.to_path_buf(),
                column: name.to_string(),
            }),
        }
    }

    fn records(&self) -> impl Iterator<Item = Record<'_, 'a>> {
        self.lines.iter().map(|(line, cells)| Record {
            table: self,
            line: *line,
            cells,
        })
    }
}

/// A required column: its position and its header name (for errors).
#[derive(Clone, Copy)]
struct Column<'a> {
    index: usize,
    name: &'a str,
}

/// One data line of a [`Table`].
struct Record<'t, 'a> {
    table: &'t Table<'a>,
    line: usize,
    cells: &'t [&'a str],
}

impl Record<'_, '_> {
    /// The cell at `index`; a short line reads as empty cells.
    fn cell(&self, index: usize) -> &str {
        self.cells.get(index).copied().unwrap_or("")
    }

    fn number<T: FromStr>(&self, column: Column<'_>) -> Result<T, VidurError> {
        let value = self.cell(column.index);
        value
            .parse()
            .map_err(|_| self.error(column, value, "a number"))
    }

    fn boolean(&self, column: Column<'_>) -> Result<bool, VidurError> {
        match self.cell(column.index) {
            "True" | "true" => Ok(true),
            "False" | "false" => Ok(false),
            value => Err(self.error(column, value, "`True` or `False`")),
        }
    }

    fn error(&self, column: Column<'_>, value: &str, expected: &'static str) -> VidurError {
        VidurError::Parse {
            path: self.table.path.to_path_buf(),
            line: self.line,
            column: column.name.to_string(),
            value: value.to_string(),
            expected,
        }
    }
}

fn split(line: &str) -> Vec<&str> {
    line.split(',').map(str::trim).collect()
}

fn read(path: &Path) -> Result<String, VidurError> {
    std::fs::read_to_string(path).map_err(|error| VidurError::Read {
        path: path.to_path_buf(),
        error,
    })
}

/// The sub-folders of `dir`, sorted by name.
fn subdirs(dir: &Path) -> Result<Vec<PathBuf>, VidurError> {
    let entries = std::fs::read_dir(dir).map_err(|error| VidurError::Read {
        path: dir.to_path_buf(),
        error,
    })?;
    let mut dirs = Vec::new();
    for entry in entries {
        let path = entry
            .map_err(|error| VidurError::Read {
                path: dir.to_path_buf(),
                error,
            })?
            .path();
        if path.is_dir() {
            dirs.push(path);
        }
    }
    dirs.sort();
    Ok(dirs)
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The repository's copy of the Vidur data.
    fn real_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("data/vidur")
    }

    /// A fresh empty folder under the system temp dir, unique per test.
    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("planner-vidur-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    const HEADER: &str = "time_stats.attn_pre_proj.median,time_stats.mlp_up_proj.median,n_head,n_kv_head,\
                          n_embd,n_expanded_embd,vocab_size,use_gated_mlp,num_tokens,num_tensor_parallel_workers";

    #[test]
    fn op_names_are_distinct_and_match_the_csv() {
        let names: std::collections::BTreeSet<_> =
            VidurOp::ALL.iter().map(|op| op.name()).collect();
        assert_eq!(names.len(), VidurOp::ALL.len());
        assert_eq!(VidurOp::AttnPreProj.name(), "attn_pre_proj");
        assert_eq!(
            VidurOp::PostAttentionLayernorm.name(),
            "post_attention_layernorm"
        );
    }

    #[test]
    fn columns_are_found_by_name_and_bad_medians_are_absent() {
        // Shape columns first, medians last, one median empty and one `nan`.
        let text = "num_tensor_parallel_workers,num_tokens,use_gated_mlp,vocab_size,n_expanded_embd,\
                    n_embd,n_kv_head,n_head,time_stats.mlp_up_proj.median,time_stats.attn_pre_proj.median\n\
                    2,16,False,51200,10240,2560,32,32,,0.25\n\
                    1,8,True,32000,11008,4096,32,32,nan,0.5\n";
        let rows = parse_mlp(text, Path::new("x.csv"), "a40", "org/m").unwrap();
        assert_eq!(rows.len(), 2);
        let r = &rows[0];
        assert_eq!(
            (r.tp, r.num_tokens, r.gated_mlp, r.vocab_size),
            (2, 16, false, 51200)
        );
        assert_eq!(
            (r.n_expanded_embd, r.n_embd, r.n_kv_head, r.n_head),
            (10240, 2560, 32, 32)
        );
        assert_eq!(r.median(VidurOp::AttnPreProj), Some(0.25));
        assert_eq!(r.median(VidurOp::MlpUpProj), None);
        assert_eq!(r.median(VidurOp::Add), None, "no column at all");
        assert!(rows[1].gated_mlp);
        assert_eq!(
            rows[1].median(VidurOp::MlpUpProj),
            None,
            "nan is not a number"
        );
    }

    #[test]
    fn malformed_file_names_file_line_and_column() {
        let root = temp_dir("malformed");
        let model = root.join("a40/org/model");
        std::fs::create_dir_all(&model).unwrap();
        let csv = format!(
            "{HEADER}\n1.0,2.0,32,32,4096,11008,32000,True,8,1\n1.0,2.0,32,32,4096,11008,32000,Yes,16,1\n"
        );
        std::fs::write(model.join("mlp.csv"), csv).unwrap();

        let error = load_mlp_rows(&root).unwrap_err();
        let message = error.to_string();
        assert!(
            matches!(error, VidurError::Parse { line: 3, .. }),
            "{message}"
        );
        assert!(message.contains("a40/org/model/mlp.csv"), "{message}");
        assert!(message.contains("line 3"), "{message}");
        assert!(message.contains("use_gated_mlp"), "{message}");
        assert!(message.contains("`Yes`"), "{message}");

        // A missing shape column is a header error naming the column.
        std::fs::write(model.join("mlp.csv"), HEADER.replace(",n_embd", ",hidden")).unwrap();
        let message = load_mlp_rows(&root).unwrap_err().to_string();
        assert!(
            message.contains("mlp.csv") && message.contains("missing column `n_embd`"),
            "{message}"
        );

        // A non-numeric token count is a parse error too.
        std::fs::write(
            model.join("mlp.csv"),
            format!("{HEADER}\n1.0,2.0,32,32,4096,11008,32000,True,8k,1\n"),
        )
        .unwrap();
        let message = load_mlp_rows(&root).unwrap_err().to_string();
        assert!(
            message.contains("line 2")
                && message.contains("`num_tokens`")
                && message.contains("`8k`"),
            "{message}"
        );
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn missing_root_is_a_read_error_naming_it() {
        let error = load_mlp_rows(Path::new("/nonexistent/vidur")).unwrap_err();
        assert!(matches!(error, VidurError::Read { .. }));
        assert!(error.to_string().contains("/nonexistent/vidur"));
    }

    #[test]
    fn real_llama2_7b_on_a100() {
        let dir = real_dir();
        let rows = load_mlp_rows(&dir).unwrap();
        let llama: Vec<_> = rows
            .iter()
            .filter(|r| r.gpu == "a100" && r.model == "meta-llama/Llama-2-7b-hf")
            .collect();
        assert!(!llama.is_empty());
        for r in &llama {
            assert_eq!(
                (r.n_embd, r.n_head, r.n_kv_head, r.n_expanded_embd),
                (4096, 32, 32, 11008)
            );
            assert!(r.gated_mlp);
        }
        // phi-2 is the one non-gated model, and has no post-attention layernorm column.
        let phi = rows.iter().find(|r| r.model == "microsoft/phi-2").unwrap();
        assert!(!phi.gated_mlp);
        assert_eq!(phi.median(VidurOp::PostAttentionLayernorm), None);
        // Sorted by (gpu, model, tp, num_tokens).
        let key = |r: &VidurRow| (r.gpu.clone(), r.model.clone(), r.tp, r.num_tokens);
        assert!(rows.windows(2).all(|w| key(&w[0]) <= key(&w[1])));
        assert_eq!(rows.first().unwrap().gpu, "a100");
        assert_eq!(rows.last().unwrap().gpu, "a40");
    }

    #[test]
    fn real_rows_have_positive_gemm_medians_and_match_line_counts() {
        let dir = real_dir();
        let rows = load_mlp_rows(&dir).unwrap();
        for r in &rows {
            for op in [VidurOp::AttnPreProj, VidurOp::MlpUpProj] {
                let ms = r.median(op);
                assert!(
                    ms.is_some_and(|ms| ms > 0.0),
                    "{} {} tp{} T{}: {op:?} = {ms:?}",
                    r.gpu,
                    r.model,
                    r.tp,
                    r.num_tokens
                );
            }
        }
        // Count data lines independently: every non-blank line after the header.
        let mut data_lines = 0;
        let mut files = 0;
        for gpu in ["a100", "a40"] {
            for org in subdirs(&dir.join(gpu)).unwrap() {
                for model in subdirs(&org).unwrap() {
                    let text = std::fs::read_to_string(model.join("mlp.csv")).unwrap();
                    data_lines += text
                        .lines()
                        .skip(1)
                        .filter(|l| !l.trim().is_empty())
                        .count();
                    files += 1;
                }
            }
        }
        assert!(files >= 2, "{files} files");
        assert_eq!(rows.len(), data_lines);
    }

    #[test]
    fn real_all_reduce() {
        let dir = real_dir();
        let rows = load_all_reduce(&dir).unwrap();
        let mut data_lines = 0;
        for node in subdirs(&dir.join("network")).unwrap() {
            if let Ok(text) = std::fs::read_to_string(node.join("all_reduce.csv")) {
                data_lines += text
                    .lines()
                    .skip(1)
                    .filter(|l| !l.trim().is_empty())
                    .count();
            }
        }
        assert_eq!(rows.len(), data_lines);
        assert!(
            rows.iter()
                .all(|r| r.median_ms > 0.0 && r.num_workers >= 2 && r.size_elems > 0)
        );
        // a100_dgx measures 2 workers both across nodes and within one node.
        let two: Vec<_> = rows
            .iter()
            .filter(|r| r.node == "a100_dgx" && r.num_workers == 2)
            .collect();
        assert!(
            two.iter().any(|r| r.devices_per_node == 1)
                && two.iter().any(|r| r.devices_per_node == 2)
        );
    }

    #[test]
    fn gpu_folders_follow_the_manifest_then_the_folder_name() {
        let folders = gpu_folders(&real_dir()).unwrap();
        assert_eq!(
            folders,
            [
                ("a100".to_string(), "a100-80gb".to_string()),
                ("a40".to_string(), "a40".to_string())
            ]
        );
        // A folder without a manifest entry maps to its own name; an entry naming no folder
        // is refused.
        let dir = temp_dir("manifest");
        std::fs::create_dir_all(dir.join("h100-sxm")).unwrap();
        std::fs::create_dir_all(dir.join("network")).unwrap();
        assert_eq!(
            gpu_folders(&dir).unwrap(),
            [("h100-sxm".to_string(), "h100-sxm".to_string())]
        );
        std::fs::write(dir.join(MANIFEST), "h100 = \"h100-sxm\"\n").unwrap();
        let err = gpu_folders(&dir).unwrap_err().to_string();
        assert!(
            err.ends_with("gpus.toml: `h100` names no folder here (GPU folders: h100-sxm)"),
            "{err}"
        );
        std::fs::write(dir.join(MANIFEST), "h100-sxm = 3\n").unwrap();
        let err = gpu_folders(&dir).unwrap_err().to_string();
        assert!(err.contains("gpus.toml: "), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
