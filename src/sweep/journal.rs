//! A sweep's journal: its head (which sweep, how many points, which shard), then one JSON
//! line per finished point, appended and flushed as each finishes, so an interrupted sweep
//! keeps its work (`--resume` skips what the journal holds) and shards of one sweep merge.

use anyhow::{Context, anyhow, bail};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::io::{BufRead, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The journal's first line: which sweep (and shard) it belongs to.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Head {
    /// Identifies the sweep (its input file and grid).
    pub plan: String,
    /// Points in the whole grid.
    pub configs: usize,
    /// `(i, n)`: only points with index ≡ i (mod n).
    pub shard: Option<(usize, usize)>,
}

impl Head {
    /// Whether point `i` is this shard's.
    pub fn owns(&self, i: usize) -> bool {
        self.shard.is_none_or(|(k, n)| i % n == k)
    }
}

/// A journal's point: something with its index in the grid.
pub trait Indexed {
    /// The point's index in the grid.
    fn index(&self) -> usize;
}

/// Read a journal: its head and points, each checked to fit the head. Errors name the file
/// and line.
pub fn read<R: DeserializeOwned + Indexed>(path: &Path) -> anyhow::Result<(Head, Vec<R>)> {
    let f =
        std::fs::File::open(path).with_context(|| format!("{}: cannot read", path.display()))?;
    let mut lines = std::io::BufReader::new(f).lines();
    let bad = |n: usize, why: &dyn std::fmt::Display| {
        anyhow!(
            "{}:{n}: not a plan journal line ({why}): the file is corrupt or from another \
             tool; rerun that shard",
            path.display()
        )
    };
    let head: Head = match lines.next() {
        Some(Ok(l)) => serde_json::from_str(&l).map_err(|e| bad(1, &e))?,
        Some(Err(e)) => return Err(bad(1, &e)),
        None => return Err(bad(1, &"empty file")),
    };
    let mut rows = Vec::new();
    for (n, l) in lines.enumerate() {
        let l = l.map_err(|e| bad(n + 2, &e))?;
        if l.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<R>(&l) {
            Ok(r) if r.index() < head.configs => rows.push(r),
            Ok(r) => {
                return Err(bad(
                    n + 2,
                    &format!("row {} does not fit the plan", r.index()),
                ));
            }
            Err(e) => return Err(bad(n + 2, &e)),
        }
    }
    Ok((head, rows))
}

/// A journal being written: appended to from any thread.
pub struct Journal {
    path: PathBuf,
    file: Mutex<std::fs::File>,
}

impl Journal {
    /// Start the journal at `path` with `head` and the points `kept` (from a resumed one).
    pub fn create<R: Serialize>(path: &Path, head: &Head, kept: &[R]) -> anyhow::Result<Journal> {
        let io = || format!("{}: cannot write", path.display());
        {
            let mut f = std::fs::File::create(path).with_context(io)?;
            writeln!(f, "{}", serde_json::to_string(head)?).with_context(io)?;
            for r in kept {
                writeln!(f, "{}", serde_json::to_string(r)?).with_context(io)?;
            }
        }
        let file = std::fs::OpenOptions::new()
            .append(true)
            .open(path)
            .with_context(io)?;
        Ok(Journal {
            path: path.to_path_buf(),
            file: Mutex::new(file),
        })
    }

    /// Append one finished point, flushed.
    pub fn append<R: Serialize>(&self, r: &R) -> anyhow::Result<()> {
        let line = serde_json::to_string(r)?;
        let mut f = self
            .file
            .lock()
            .map_err(|_| anyhow!("journal lock poisoned"))?;
        writeln!(f, "{line}")
            .and_then(|_| f.flush())
            .with_context(|| format!("{}: cannot write", self.path.display()))
    }

    /// The journal's file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Open a sweep's journal for `head` at `path`: resumed (its points kept) when `resume` and
/// it belongs to the same sweep, else started afresh.
pub fn open<R: Serialize + DeserializeOwned + Indexed>(
    path: &Path,
    head: &Head,
    resume: bool,
) -> anyhow::Result<(Journal, Vec<R>)> {
    let mut done: Vec<R> = Vec::new();
    if resume && path.exists() {
        let (h, rows) = read::<R>(path)?;
        if h != *head {
            bail!(
                "{}: this journal belongs to another plan or shard (the scenario or its grid \
                 changed): remove it, or run without --resume",
                path.display()
            );
        }
        done = rows;
    }
    Ok((Journal::create(path, head, &done)?, done))
}
