//! Report tables written through polars, as CSV or Parquet, streamed in chunks.
//!
//! A run of a million requests writes millions of rows: they are buffered column by column,
//! [`CHUNK_ROWS`] at a time, handed to polars' batched CSV or Parquet writer and dropped, so
//! memory stays flat whatever the run's length. Each table is written under a temporary
//! name; [`TableWriter::finish`] completes it (the Parquet footer) and [`commit`] renames
//! every table of a report into place together, so a killed run leaves no half-written file
//! under a report's name.
//!
//! Chunks are formatted and written on a thread of the table's own, in order, while the
//! caller goes on producing rows (at most two chunks wait in between): on a machine with a
//! core to spare the simulation does not wait for the disk or for number formatting.
//!
//! Floats are printed with three decimals in CSV and kept whole in Parquet; the simulator's
//! own tables carry times as integer microseconds, which print fast and exactly.

use polars::io::csv::write::{BatchedWriter as CsvBatched, CsvWriter};
use polars::io::parquet::write::{
    BatchedWriter as ParquetBatched, ParquetCompression, ParquetWriter,
};
use polars::prelude::{Column, DataFrame, DataType, Field, Schema, SerWriter};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

/// Rows buffered before a chunk is handed to polars.
pub const CHUNK_ROWS: usize = 1 << 16;

/// File format of report tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TableFormat {
    /// Comma-separated values, a header line first.
    #[default]
    Csv,
    /// Apache Parquet (zstd-compressed), for dataframe tools.
    Parquet,
}

impl TableFormat {
    /// File extension.
    pub fn ext(self) -> &'static str {
        match self {
            TableFormat::Csv => "csv",
            TableFormat::Parquet => "parquet",
        }
    }
}

/// Type of a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Unsigned integer.
    U64,
    /// Unsigned integer; may be empty (null).
    OptU64,
    /// Float; may be empty (null).
    F64,
    /// Text.
    Str,
}

enum Buf {
    U64(Vec<u64>),
    OptU64(Vec<Option<u64>>),
    F64(Vec<Option<f64>>),
    /// Text, interned: each row an index into the distinct values seen (a few: statuses,
    /// tenant names), so a row costs no allocation.
    Str(Vec<u32>, Vec<String>),
}

enum Sink {
    Csv(CsvBatched<File>),
    Parquet(Box<ParquetBatched<File>>),
}

impl Sink {
    fn write(&mut self, df: &DataFrame) -> polars::prelude::PolarsResult<()> {
        match self {
            Sink::Csv(w) => w.write_batch(df),
            Sink::Parquet(w) => w.write_batch(df),
        }
    }

    fn finish(&mut self) -> polars::prelude::PolarsResult<()> {
        match self {
            Sink::Csv(w) => w.finish(),
            Sink::Parquet(w) => w.finish().map(|_| ()),
        }
    }
}

/// One table being written.
pub struct TableWriter {
    path: PathBuf,
    tmp: PathBuf,
    names: Vec<String>,
    kinds: Vec<Kind>,
    bufs: Vec<Buf>,
    rows: usize,
    /// Full chunks to the writing thread; `None` once closed.
    chunks: Option<SyncSender<Vec<Buf>>>,
    /// Emptied buffers back from the writing thread, to fill again (fresh memory would cost
    /// this thread a page fault per 4 KiB).
    recycled: Receiver<Vec<Buf>>,
    /// The writing thread: it hands the sink back when the chunks end, or the first error.
    writer: Option<JoinHandle<anyhow::Result<Sink>>>,
}

/// A chunk's columns as a data frame, emptying the buffers (their memory is kept).
fn frame(names: &[String], bufs: &mut [Buf]) -> polars::prelude::PolarsResult<DataFrame> {
    let mut rows = 0;
    let columns: Vec<Column> = names
        .iter()
        .zip(bufs)
        .map(|(name, buf)| {
            let name = name.as_str();
            macro_rules! take {
                ($b:expr) => {{
                    let c = Column::new(name.into(), &$b[..]);
                    $b.clear();
                    c
                }};
            }
            let c = match buf {
                Buf::U64(b) => take!(b),
                Buf::OptU64(b) => take!(b),
                Buf::F64(b) => take!(b),
                Buf::Str(b, values) => {
                    let strs: Vec<&str> = b.iter().map(|&i| values[i as usize].as_str()).collect();
                    b.clear();
                    Column::new(name.into(), &strs[..])
                }
            };
            rows = c.len();
            c
        })
        .collect();
    DataFrame::new(rows, columns)
}

fn empty_buf(kind: Kind) -> Buf {
    match kind {
        Kind::U64 => Buf::U64(Vec::with_capacity(CHUNK_ROWS)),
        Kind::OptU64 => Buf::OptU64(Vec::with_capacity(CHUNK_ROWS)),
        Kind::F64 => Buf::F64(Vec::with_capacity(CHUNK_ROWS)),
        Kind::Str => Buf::Str(Vec::with_capacity(CHUNK_ROWS), Vec::new()),
    }
}

fn err(path: &Path, e: impl std::fmt::Display) -> anyhow::Error {
    anyhow::anyhow!("{}: cannot write: {e}", path.display())
}

impl TableWriter {
    /// Start `<dir>/<stem>.<ext>` (under a temporary name) with these columns.
    pub fn create(
        dir: &Path,
        stem: &str,
        format: TableFormat,
        columns: &[(&str, Kind)],
    ) -> anyhow::Result<TableWriter> {
        std::fs::create_dir_all(dir)
            .map_err(|e| anyhow::anyhow!("{}: cannot create: {e}", dir.display()))?;
        let path = dir.join(format!("{stem}.{}", format.ext()));
        let tmp = dir.join(format!("{stem}.{}.tmp{}", format.ext(), std::process::id()));
        let file = File::create(&tmp).map_err(|e| err(&tmp, e))?;
        let schema: Schema = columns
            .iter()
            .map(|&(name, kind)| {
                let dtype = match kind {
                    Kind::U64 | Kind::OptU64 => DataType::UInt64,
                    Kind::F64 => DataType::Float64,
                    Kind::Str => DataType::String,
                };
                Field::new(name.into(), dtype)
            })
            .collect();
        let sink = match format {
            TableFormat::Csv => Sink::Csv(
                CsvWriter::new(file)
                    .with_float_precision(Some(3))
                    .n_threads(1)
                    .batched(&schema)
                    .map_err(|e| err(&tmp, e))?,
            ),
            TableFormat::Parquet => Sink::Parquet(Box::new(
                ParquetWriter::new(file)
                    .with_compression(ParquetCompression::Zstd(None))
                    .set_parallel(false)
                    .batched(&schema)
                    .map_err(|e| err(&tmp, e))?,
            )),
        };
        let names: Vec<String> = columns.iter().map(|c| c.0.to_string()).collect();
        let kinds: Vec<Kind> = columns.iter().map(|c| c.1).collect();
        let (chunks, rx) = sync_channel::<Vec<Buf>>(2);
        let (give_back, recycled) = sync_channel::<Vec<Buf>>(4);
        let (thread_names, thread_tmp) = (names.clone(), tmp.clone());
        let writer = std::thread::Builder::new()
            .name(format!("write {stem}"))
            .spawn(move || {
                let mut sink = sink;
                for mut bufs in rx {
                    let df = frame(&thread_names, &mut bufs).map_err(|e| err(&thread_tmp, e))?;
                    // Not waited for: with the queue full, the buffers are just dropped.
                    let _ = give_back.try_send(bufs);
                    sink.write(&df).map_err(|e| err(&thread_tmp, e))?;
                }
                Ok(sink)
            })
            .map_err(|e| err(&tmp, e))?;
        Ok(TableWriter {
            path,
            tmp,
            bufs: kinds.iter().map(|&k| empty_buf(k)).collect(),
            names,
            kinds,
            rows: 0,
            chunks: Some(chunks),
            recycled,
            writer: Some(writer),
        })
    }

    /// Set column `col` of the current row to an integer.
    ///
    /// # Panics
    /// If the column is not [`Kind::U64`] (a programming error, caught by every test run).
    pub fn u64(&mut self, col: usize, v: u64) {
        match &mut self.bufs[col] {
            Buf::U64(b) => b.push(v),
            _ => panic!("column {} is not U64", self.names[col]),
        }
    }

    /// Set the first `values.len()` columns of the current row, all [`Kind::U64`], at once.
    ///
    /// # Panics
    /// If one of them is not [`Kind::U64`].
    pub fn u64_row(&mut self, values: &[u64]) {
        for (buf, &v) in self.bufs.iter_mut().zip(values) {
            match buf {
                Buf::U64(b) => b.push(v),
                _ => panic!("u64_row over a column that is not U64"),
            }
        }
    }

    /// Set column `col` of the current row to an integer, or leave it empty with `None`.
    ///
    /// # Panics
    /// If the column is not [`Kind::OptU64`].
    pub fn opt_u64(&mut self, col: usize, v: Option<u64>) {
        match &mut self.bufs[col] {
            Buf::OptU64(b) => b.push(v),
            _ => panic!("column {} is not OptU64", self.names[col]),
        }
    }

    /// Set column `col` of the current row to a float, or leave it empty with `None`.
    ///
    /// # Panics
    /// If the column is not [`Kind::F64`].
    pub fn f64(&mut self, col: usize, v: Option<f64>) {
        match &mut self.bufs[col] {
            Buf::F64(b) => b.push(v),
            _ => panic!("column {} is not F64", self.names[col]),
        }
    }

    /// Set column `col` of the current row to text.
    ///
    /// # Panics
    /// If the column is not [`Kind::Str`].
    pub fn str(&mut self, col: usize, v: &str) {
        match &mut self.bufs[col] {
            Buf::Str(b, values) => {
                let i = match values.iter().rposition(|x| x == v) {
                    Some(i) => i,
                    None => {
                        values.push(v.to_string());
                        values.len() - 1
                    }
                };
                b.push(i as u32);
            }
            _ => panic!("column {} is not Str", self.names[col]),
        }
    }

    /// End the current row (every column must have been set once); a full chunk is written.
    pub fn end_row(&mut self) -> anyhow::Result<()> {
        self.rows += 1;
        if self.rows == CHUNK_ROWS {
            self.flush()?;
        }
        Ok(())
    }

    /// Hand the buffered rows to the writing thread.
    fn flush(&mut self) -> anyhow::Result<()> {
        if self.rows == 0 {
            return Ok(());
        }
        let fresh = self
            .recycled
            .try_recv()
            .unwrap_or_else(|_| self.kinds.iter().map(|&k| empty_buf(k)).collect());
        let bufs = std::mem::replace(&mut self.bufs, fresh);
        self.rows = 0;
        let sent = match &self.chunks {
            Some(tx) => tx.send(bufs).is_ok(),
            None => false,
        };
        if sent {
            Ok(())
        } else {
            // The thread stopped at an error: that is the error to report.
            self.join().map(|_| ())
        }
    }

    /// Close the channel and wait for the writing thread; its sink, or its error.
    fn join(&mut self) -> anyhow::Result<Sink> {
        self.chunks = None;
        match self.writer.take() {
            Some(h) => h
                .join()
                .unwrap_or_else(|_| Err(err(&self.tmp, "the writing thread panicked"))),
            None => Err(err(&self.tmp, "written after an earlier error")),
        }
    }

    /// Write the last chunk and close the file (still under its temporary name).
    pub fn finish(mut self) -> anyhow::Result<Finished> {
        self.flush()?;
        let mut sink = self.join()?;
        sink.finish().map_err(|e| err(&self.tmp, e))?;
        drop(sink);
        // From here the `Finished` owns the temporary file.
        Ok(Finished {
            path: std::mem::take(&mut self.path),
            tmp: std::mem::take(&mut self.tmp),
        })
    }
}

impl Drop for TableWriter {
    /// An abandoned table (an error mid-run) leaves no temporary file behind.
    fn drop(&mut self) {
        self.chunks = None;
        if let Some(h) = self.writer.take() {
            let _ = h.join();
        }
        if !self.tmp.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// A complete table under its temporary name; dropped without [`commit`], it is removed.
pub struct Finished {
    path: PathBuf,
    tmp: PathBuf,
}

impl Finished {
    /// The file name it will have once committed.
    pub fn file_name(&self) -> Option<&str> {
        self.path.file_name().and_then(|n| n.to_str())
    }
}

impl Drop for Finished {
    fn drop(&mut self) {
        if !self.tmp.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// Rename finished tables into place, one after another, once every one is complete.
pub fn commit(tables: Vec<Finished>) -> anyhow::Result<Vec<PathBuf>> {
    let mut paths = Vec::with_capacity(tables.len());
    for mut t in tables {
        std::fs::rename(&t.tmp, &t.path)
            .map_err(|e| anyhow::anyhow!("{}: cannot rename into place: {e}", t.path.display()))?;
        t.tmp = PathBuf::new();
        paths.push(std::mem::take(&mut t.path));
    }
    Ok(paths)
}

/// Write a small table at once (a summary): `rows` of text cells under `columns`.
pub fn write_small(
    dir: &Path,
    stem: &str,
    format: TableFormat,
    columns: &[&'static str],
    rows: &[Vec<String>],
) -> anyhow::Result<Finished> {
    let kinds: Vec<(&'static str, Kind)> = columns.iter().map(|&c| (c, Kind::Str)).collect();
    let mut t = TableWriter::create(dir, stem, format, &kinds)?;
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            t.str(i, cell);
        }
        t.end_row()?;
    }
    t.finish()
}
