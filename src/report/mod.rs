//! Renderers of results: pure functions from computed data to files (PNG charts, and the
//! CSV / Parquet tables written through polars).
//! Nothing in `report` computes physics.

pub mod charts;
pub mod html;
pub mod png;
pub mod run_tables;
pub mod table;
pub mod trace;

use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The file that marks a folder as a planner report (so a later run may replace it).
pub const MARKER: &str = ".planner-report";

/// First lines of the index of reports written before [`MARKER`] existed.
const OLD_INDEX_TITLES: [&str; 5] = [
    "# Simulation report",
    "# Plan report",
    "# Speculative decoding",
    "# Sizing report",
    "# planner validate",
];

/// Temporary files and folders of reports in progress, removed if the process is stopped by
/// SIGINT or SIGTERM (see [`on_interrupt_remove_temporaries`]).
static IN_PROGRESS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

fn register(p: &Path) {
    if let Ok(mut v) = IN_PROGRESS.lock() {
        v.push(p.to_path_buf());
    }
}

fn unregister(p: &Path) {
    if let Ok(mut v) = IN_PROGRESS.lock() {
        v.retain(|x| x != p);
    }
}

/// Install the SIGINT/SIGTERM handler (once, from `main`): it removes every temporary of a
/// report in progress, then exits with 130, so a stopped run leaves no partial files. (A
/// SIGKILL cannot be caught: its leftovers are removed by the next run into the folder.)
pub fn on_interrupt_remove_temporaries() {
    let _ = ctrlc::set_handler(|| {
        if let Ok(v) = IN_PROGRESS.lock() {
            for p in v.iter() {
                // Writer threads may still be adding files to a folder: retry until it is gone.
                for _ in 0..50 {
                    let _ = if p.is_dir() {
                        std::fs::remove_dir_all(p)
                    } else {
                        std::fs::remove_file(p)
                    };
                    if !p.exists() {
                        break;
                    }
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
            }
        }
        eprintln!("interrupted: partial report files removed");
        std::process::exit(130);
    });
}

/// Whether process `pid` is alive (on Linux, by `/proc`; elsewhere assumed alive, so only
/// this process's own leftovers are ever removed).
fn alive(pid: u32) -> bool {
    if pid == std::process::id() {
        return true;
    }
    let proc = Path::new("/proc");
    !proc.is_dir() || proc.join(pid.to_string()).exists()
}

/// The pid a temporary's name ends with (`x.csv.tmp1234`, `.rag.partial-1234`).
fn temp_pid(name: &str) -> Option<u32> {
    let tail = name
        .rsplit_once(".tmp")
        .or_else(|| name.rsplit_once(".partial-"))?
        .1;
    tail.parse().ok()
}

/// Remove the temporaries in `dir` (files `*.tmp<pid>`, folders `.*.partial-<pid>`) of runs
/// that are no longer alive.
fn remove_stale(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if let Some(pid) = temp_pid(&name)
            && !alive(pid)
        {
            let p = e.path();
            let _ = if p.is_dir() {
                std::fs::remove_dir_all(&p)
            } else {
                std::fs::remove_file(&p)
            };
        }
    }
}

/// Whether `dir` may be written as a report: absent, empty, or a planner report already (its
/// [`MARKER`], or the index of an older one). Stale temporaries of killed runs in it are
/// removed. Refuses any other folder (a report never overwrites files it did not write).
pub fn check_dir(dir: &Path) -> anyhow::Result<()> {
    if let Some(parent) = dir.parent() {
        remove_stale(parent);
    }
    if !dir.exists() {
        return Ok(());
    }
    if !dir.is_dir() {
        anyhow::bail!(
            "{}: exists and is not a folder; choose another report folder",
            dir.display()
        );
    }
    remove_stale(dir);
    // Empty, or holding only other commands' reports (`plan/` before the first simulate)
    // and a plan's journals (an interrupted plan).
    let only_reports = std::fs::read_dir(dir)
        .map_err(|e| anyhow::anyhow!("{}: cannot read: {e}", dir.display()))?
        .flatten()
        .all(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let journal = name == "plan.journal.jsonl"
                || (name.starts_with("plan.shard-") && name.ends_with(".jsonl"));
            journal || (e.path().is_dir() && is_report(&e.path()))
        });
    if only_reports || is_report(dir) {
        Ok(())
    } else {
        anyhow::bail!(
            "{}: this folder is not a planner report (no {MARKER} in it) and is not empty: \
             choose another report folder (--out) or output_dir",
            dir.display()
        )
    }
}

/// Whether `dir` holds a planner report: its [`MARKER`], or the index of an older report.
fn is_report(dir: &Path) -> bool {
    let index = std::fs::read_to_string(dir.join("README.md")).unwrap_or_default();
    dir.join(MARKER).is_file() || OLD_INDEX_TITLES.iter().any(|t| index.starts_with(t))
}

/// Mark `dir` as a planner report, of scenario file `source` when there is one.
pub fn mark(dir: &Path, source: Option<&Path>) -> anyhow::Result<()> {
    let mut text = "This folder was written by planner; a later run may replace it.\n".to_string();
    if let Some(s) = source {
        text.push_str(&format!("scenario: {}\n", s.display()));
    }
    std::fs::write(dir.join(MARKER), text)
        .map_err(|e| anyhow::anyhow!("{}: cannot write: {e}", dir.display()))
}

/// The scenario file whose report `dir` holds, as its [`MARKER`] names it (older reports
/// name none).
fn marked_source(dir: &Path) -> Option<PathBuf> {
    let text = std::fs::read_to_string(dir.join(MARKER)).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("scenario: "))
        .map(PathBuf::from)
}

/// `path` made absolute and resolved, as far as the file system allows (for comparing).
pub fn canonical(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

/// A report folder written as a whole: every file goes into a hidden staging folder beside
/// it (`.<name>.partial-<pid>`), and [`ReportDir::commit`] puts it in place of the old one,
/// carrying over the old one's sub-reports (`plan/`, `speculate/`). A failed, interrupted or
/// killed run never leaves a mix of two runs' files; a dropped, uncommitted one leaves
/// nothing.
#[derive(Debug)]
pub struct ReportDir {
    target: PathBuf,
    stage: PathBuf,
    committed: bool,
    /// The scenario file it reports (its marker names it).
    source: Option<PathBuf>,
}

impl ReportDir {
    /// Start writing the report that will be `target` (checked by [`check_dir`]).
    pub fn create(target: &Path) -> anyhow::Result<ReportDir> {
        Self::create_for(target, None, false)
    }

    /// [`ReportDir::create`] for scenario file `source`: refused when `target` holds the
    /// report of another scenario file (two scenarios with one `name` would otherwise
    /// overwrite each other's reports silently), unless `force`.
    pub fn create_for(
        target: &Path,
        source: Option<&Path>,
        force: bool,
    ) -> anyhow::Result<ReportDir> {
        check_dir(target)?;
        let source = source.map(canonical);
        if let (Some(ours), Some(theirs)) = (&source, marked_source(target))
            && !force
            && *ours != theirs
        {
            anyhow::bail!(
                "{}: holds the report of {}, another scenario with the same name: give this \
                 scenario its own `name = …`, write elsewhere with --out DIR, or replace that \
                 report with --force",
                target.display(),
                theirs.display()
            );
        }
        let name = target
            .file_name()
            .map_or_else(|| "report".into(), |n| n.to_string_lossy().into_owned());
        let parent = target.parent().unwrap_or(Path::new(""));
        let stage = parent.join(format!(".{name}.partial-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&stage);
        std::fs::create_dir_all(&stage)
            .map_err(|e| anyhow::anyhow!("{}: cannot create folder: {e}", stage.display()))?;
        register(&stage);
        Ok(ReportDir {
            target: target.to_path_buf(),
            stage,
            committed: false,
            source,
        })
    }

    /// Where to write the report's files until it is committed.
    pub fn path(&self) -> &Path {
        &self.stage
    }

    /// The folder the report will be.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Put the complete report in place; its folder.
    pub fn commit(mut self) -> anyhow::Result<PathBuf> {
        mark(&self.stage, self.source.as_deref())?;
        let io = |what: &str, p: &Path, e: std::io::Error| {
            anyhow::anyhow!("{}: cannot {what}: {e}", p.display())
        };
        if self.target.is_dir() {
            // Sub-reports of other commands stay.
            for e in std::fs::read_dir(&self.target)
                .map_err(|e| io("read", &self.target, e))?
                .flatten()
            {
                let p = e.path();
                let into = self.stage.join(e.file_name());
                if p.is_dir() && !into.exists() {
                    std::fs::rename(&p, &into).map_err(|e| io("move", &p, e))?;
                }
            }
            let old = self.stage.with_file_name(format!(
                "{}.old",
                self.stage.file_name().unwrap_or_default().to_string_lossy()
            ));
            std::fs::rename(&self.target, &old).map_err(|e| io("move aside", &self.target, e))?;
            register(&old);
            std::fs::rename(&self.stage, &self.target)
                .map_err(|e| io("rename into place", &self.target, e))?;
            let _ = std::fs::remove_dir_all(&old);
            unregister(&old);
        } else {
            if let Some(parent) = self.target.parent()
                && !parent.as_os_str().is_empty()
            {
                std::fs::create_dir_all(parent).map_err(|e| io("create", parent, e))?;
            }
            std::fs::rename(&self.stage, &self.target)
                .map_err(|e| io("rename into place", &self.target, e))?;
        }
        self.committed = true;
        unregister(&self.stage);
        Ok(self.target.clone())
    }
}

impl Drop for ReportDir {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_dir_all(&self.stage);
            unregister(&self.stage);
        }
    }
}

/// Files of a report written under temporary names, renamed into place together by
/// [`Staged::commit`] once everything is complete (after the report's tables); dropped
/// uncommitted, they are removed, so a failed run leaves no half report.
#[derive(Debug, Default)]
pub struct Staged {
    files: Vec<(PathBuf, PathBuf)>,
}

impl Staged {
    /// The temporary path for `dir/name` (to draw a chart into), renamed on commit.
    pub fn path(&mut self, dir: &Path, name: &str) -> PathBuf {
        let tmp = dir.join(format!("{name}.tmp{}", std::process::id()));
        register(&tmp);
        self.files.push((tmp.clone(), dir.join(name)));
        tmp
    }

    /// Write `text` as `dir/name` (under its temporary name until commit).
    pub fn text(&mut self, dir: &Path, name: &str, text: &str) -> anyhow::Result<()> {
        let tmp = self.path(dir, name);
        std::fs::write(&tmp, text)
            .map_err(|e| anyhow::anyhow!("{}: cannot write: {e}", tmp.display()))
    }

    /// Whether `dir/name` is staged.
    pub fn has(&self, name: &str) -> bool {
        self.files
            .iter()
            .any(|(_, to)| to.file_name().is_some_and(|n| n == name))
    }

    /// Rename every staged file into place, in the order staged; their final paths.
    pub fn commit(mut self) -> anyhow::Result<Vec<PathBuf>> {
        let mut out = Vec::with_capacity(self.files.len());
        for (from, to) in std::mem::take(&mut self.files) {
            std::fs::rename(&from, &to)
                .map_err(|e| anyhow::anyhow!("{}: cannot rename into place: {e}", to.display()))?;
            unregister(&from);
            out.push(to);
        }
        Ok(out)
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        for (from, _) in &self.files {
            let _ = std::fs::remove_file(from);
            unregister(from);
        }
    }
}
