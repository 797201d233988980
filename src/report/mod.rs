//! Renderers of results: pure functions from computed data to files (PNG charts, and the
//! CSV / Parquet tables written through polars).
//! Nothing in `report` computes physics.

pub mod charts;
pub mod png;
pub mod table;

use std::path::{Path, PathBuf};

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
            out.push(to);
        }
        Ok(out)
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        for (from, _) in &self.files {
            let _ = std::fs::remove_file(from);
        }
    }
}
