//! `$import`: a streaming, validating, deduplicating importer for the PHR files people have.
//!
//! Pipeline (one direction, one transaction):
//! read ([`crate::ndjson`], format detected) → prepare (parse, normalise, validate, derive —
//! in parallel on the rayon pool, [`prepare`]) → apply (resolve references that need the
//! store, identify by type+id, content hash and business identifier, apply the strategy
//! and conflict policy, write — on the calling thread, [`apply`]) → report ([`report`]).
//!
//! **Atomicity.** A run commits all or nothing: one SQLite transaction spans every input of
//! the run. We chose this over resumable checkpoints because a half-imported record is worse
//! for a patient than a repeated import, and because SQLite's WAL copes with transactions of
//! millions of rows (the cost is WAL size on disk until the commit, not memory). Cancelling,
//! an I/O error, a `fail` conflict or a crash leaves the store exactly as it was.
//! `mode=validate` runs everything, then rolls back.
//!
//! **Memory** is bounded by the batch size and the channel depth (a few MB), plus the
//! deferred-reference list (capped by `max_deferred`) and, for a whole-file JSON document
//! (a Bundle rather than NDJSON), the parsed document itself (capped by
//! `max_document_bytes`).

mod apply;
mod options;
pub mod prepare;
pub mod report;
mod source;

pub use options::{ConflictPolicy, ImportMode, ImportOptions, OnInvalid, Strategy};
pub use source::ImportSource;
use source::expand_archives;

pub use report::{Counts, ImportReport, Issue, Severity, SourceSummary};

use crate::error::{Error, Result};
use crate::fhir::hash::to_hex;
use crate::ndjson::detect::{Format, detect, is_complete_json_line};
use crate::ndjson::{Line, LineReader};
use crate::progress::{Phase, Progress, ProgressListener};
use crate::store::Store;
use prepare::{Prepared, prepare_line, prepare_value};
use rayon::prelude::*;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::io::{BufReader, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Items per batch handed from the reader to the writer.
const BATCH_ITEMS: usize = 512;
/// Bytes per batch (whichever limit comes first).
const BATCH_BYTES: usize = 4 * 1024 * 1024;

impl Store {
    /// Imports `sources` in one run and one transaction. Blocks; call off the main thread.
    /// Per-resource problems are issues in the report; an `Err` means nothing was written.
    pub fn import(
        &mut self,
        sources: Vec<ImportSource<'_>>,
        opts: &ImportOptions,
        progress: &dyn ProgressListener,
    ) -> Result<ImportReport> {
        let sources = expand_archives(sources, opts)?;
        let now_ms = crate::fhir::date::now_ms();
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        tx.execute(
            "INSERT INTO import_run (started, strategy) VALUES (?1, ?2)",
            rusqlite::params![prepare::instant_text(now_ms), opts.strategy.as_str()],
        )?;
        let run = tx.last_insert_rowid();
        let total_bytes = sources.iter().map(|s| s.size).sum::<Option<u64>>();
        let multiple = sources.len() > 1;
        let mut applier = apply::Applier::new(&tx, opts, run, now_ms);
        let mut summaries = Vec::new();
        let mut done_bytes = 0;
        for source in sources {
            applier.begin_source(&source.name, multiple)?;
            let summary = read_source(
                source,
                opts,
                &mut applier,
                progress,
                done_bytes,
                total_bytes,
            )?;
            done_bytes += summary.bytes;
            summaries.push(summary);
        }
        let checkpoint = |phase, resources| {
            let p = Progress {
                phase,
                bytes: done_bytes,
                total_bytes,
                resources,
                total_resources: None,
            };
            if progress.on_progress(&p) {
                Ok(())
            } else {
                Err(Error::Cancelled)
            }
        };
        checkpoint(Phase::Resolving, applier.processed)?;
        applier.finish_deferred()?;
        let provenance_ids = applier.write_provenance(&summaries)?;
        let processed = applier.processed;
        let mut report = std::mem::take(&mut applier.report);
        drop(applier);
        report.sources = summaries;
        report.previously_imported_in_run = earlier_run_with(&tx, run, &report.sources)?;
        if opts.mode == ImportMode::Validate || report.is_no_op() {
            return Ok(report); // dropping `tx` rolls back
        }
        checkpoint(Phase::Committing, processed)?;
        let sources_json = serde_json::to_string(
            &report
                .sources
                .iter()
                .map(|s| serde_json::json!({"name": s.name, "sha256": s.sha256, "bytes": s.bytes}))
                .collect::<Vec<_>>(),
        )
        .unwrap_or_default();
        tx.execute(
            "UPDATE import_run SET finished = ?1, sources = ?2, provenance_ids = ?3, summary = ?4 WHERE id = ?5",
            rusqlite::params![
                prepare::instant_text(crate::fhir::date::now_ms()),
                sources_json,
                provenance_ids.join(" "),
                report.summary(),
                run
            ],
        )?;
        tx.commit()?;
        report.committed = true;
        report.run_id = Some(run);
        report.provenance_ids = provenance_ids;
        Ok(report)
    }
}

fn earlier_run_with(
    conn: &rusqlite::Connection,
    run: i64,
    sources: &[SourceSummary],
) -> Result<Option<i64>> {
    let Some(first) = sources.first() else {
        return Ok(None);
    };
    let mut st = conn.prepare_cached(
        "SELECT id FROM import_run WHERE id <> ?1 AND instr(sources, ?2) > 0 ORDER BY id LIMIT 1",
    )?;
    let found = rusqlite::OptionalExtension::optional(
        st.query_row(rusqlite::params![run, first.sha256], |r| r.get(0)),
    )?;
    Ok(found)
}

/// Reads one source on a producer thread while this thread applies its batches.
fn read_source(
    source: ImportSource<'_>,
    opts: &ImportOptions,
    applier: &mut apply::Applier<'_>,
    progress: &dyn ProgressListener,
    done_bytes: u64,
    total_bytes: Option<u64>,
) -> Result<SourceSummary> {
    let counter = Arc::new(AtomicU64::new(0));
    let reader = HashingReader {
        inner: source.reader,
        hasher: Sha256::new(),
        counter: counter.clone(),
    };
    let now = applier.now_text().to_string();
    let resolver = source.resolver.clone();
    std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<Prepared>>(4);
        let ctx = prepare::Ctx { now, resolver };
        let producer = scope.spawn(move || produce(reader, opts, &ctx, tx));
        let mut result = Ok(());
        'batches: for batch in rx.iter() {
            for p in batch {
                if let Err(e) = applier.apply(p) {
                    result = Err(e);
                    break 'batches;
                }
            }
            let p = Progress {
                phase: Phase::Importing,
                bytes: done_bytes + counter.load(Ordering::Relaxed),
                total_bytes,
                resources: applier.processed,
                total_resources: None,
            };
            if !progress.on_progress(&p) {
                result = Err(Error::Cancelled);
                break;
            }
        }
        drop(rx);
        let produced = producer
            .join()
            .map_err(|_| Error::InvalidInput("internal: the reader thread failed".into()))?;
        result?;
        let (sha256, bytes) = produced?;
        Ok(SourceSummary {
            name: source.name,
            sha256,
            bytes,
        })
    })
}

/// Counts and hashes every byte read, so the run records the input's SHA-256.
struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    counter: Arc<AtomicU64>,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.counter.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Sends prepared batches until the input ends or the writer hangs up.
struct Sink {
    tx: std::sync::mpsc::SyncSender<Vec<Prepared>>,
    open: bool,
}

impl Sink {
    fn send(&mut self, batch: Vec<Prepared>) {
        if self.open && !batch.is_empty() {
            self.open = self.tx.send(batch).is_ok();
        }
    }
}

fn produce<R: Read>(
    reader: HashingReader<R>,
    opts: &ImportOptions,
    ctx: &prepare::Ctx,
    tx: std::sync::mpsc::SyncSender<Vec<Prepared>>,
) -> Result<(String, u64)> {
    let mut sink = Sink { tx, open: true };
    let mut br = BufReader::with_capacity(256 * 1024, reader);
    match detect(&mut br)? {
        Format::Empty => {}
        Format::Zip => {
            return Err(Error::Archive(
                "a zip archive inside a record is not supported".into(),
            ));
        }
        Format::Unknown => {
            return Err(Error::InvalidInput(
                "not FHIR JSON or NDJSON: the data does not start with `{`, `[` or `\"`".into(),
            ));
        }
        Format::JsonArray | Format::JsonString => {
            let doc = read_rest(&mut br, Vec::new(), opts.max_document_bytes)?;
            emit_document(doc, opts, ctx, &mut sink)?;
        }
        Format::JsonObject => {
            let mut lines = LineReader::new(&mut br, opts.max_line_bytes);
            if let Some(first) = lines.next().transpose()? {
                match first {
                    Line::Data { bytes, number } if !is_complete_json_line(&bytes) => {
                        let mut doc = vec![b'\n'; (number - 1) as usize];
                        doc.extend_from_slice(&bytes);
                        doc.push(b'\n');
                        let doc = read_rest(&mut br, doc, opts.max_document_bytes)?;
                        emit_document(doc, opts, ctx, &mut sink)?;
                    }
                    first => stream_lines(std::iter::once(Ok(first)).chain(lines), ctx, &mut sink)?,
                }
            }
        }
    }
    // Consume whatever the writer did not need, so the hash covers the whole input.
    std::io::copy(&mut br, &mut std::io::sink())?;
    let reader = br.into_inner();
    Ok((
        to_hex(&reader.hasher.finalize()),
        reader.counter.load(Ordering::Relaxed),
    ))
}

fn read_rest(br: &mut impl Read, mut doc: Vec<u8>, limit: u64) -> Result<Vec<u8>> {
    br.take(limit.saturating_sub(doc.len() as u64) + 1)
        .read_to_end(&mut doc)?;
    if doc.len() as u64 > limit {
        return Err(Error::InvalidInput(format!(
            "the JSON document is larger than the {limit}-byte limit; send large records as NDJSON"
        )));
    }
    Ok(doc)
}

fn stream_lines(
    lines: impl Iterator<Item = std::io::Result<Line>>,
    ctx: &prepare::Ctx,
    sink: &mut Sink,
) -> Result<()> {
    let mut batch: Vec<Line> = Vec::with_capacity(BATCH_ITEMS);
    let mut batch_bytes = 0;
    for line in lines {
        let line = line?;
        if let Line::Data { bytes, .. } = &line {
            batch_bytes += bytes.len();
        }
        batch.push(line);
        if batch.len() >= BATCH_ITEMS || batch_bytes >= BATCH_BYTES {
            sink.send(prepare_batch(std::mem::take(&mut batch), ctx));
            batch_bytes = 0;
            if !sink.open {
                return Ok(());
            }
        }
    }
    sink.send(prepare_batch(batch, ctx));
    Ok(())
}

fn prepare_batch(lines: Vec<Line>, ctx: &prepare::Ctx) -> Vec<Prepared> {
    let parts: Vec<Vec<Prepared>> = lines
        .into_par_iter()
        .map(|line| {
            let mut out = Vec::with_capacity(1);
            match line {
                Line::Data { number, bytes } => prepare_line(number, &bytes, ctx, &mut out),
                Line::TooLong { number, len } => out.push(Prepared {
                    line: number,
                    location: None,
                    kind: prepare::Kind::Unreadable(format!(
                        "line is {len} bytes, longer than the configured maximum; skipped"
                    )),
                }),
            }
            out
        })
        .collect();
    parts.into_iter().flatten().collect()
}

/// A whole-file JSON document: a Bundle or resource, an array of them, or a JSON string
/// holding one. If it does not parse, it may be NDJSON whose first line was cut: read it
/// line by line instead, so every good line is kept.
fn emit_document(
    doc: Vec<u8>,
    opts: &ImportOptions,
    ctx: &prepare::Ctx,
    sink: &mut Sink,
) -> Result<()> {
    let value = match serde_json::from_slice::<Value>(&doc) {
        Ok(Value::String(inner)) => match serde_json::from_str::<Value>(&inner) {
            Ok(v) => v,
            Err(e) => {
                return Err(Error::InvalidInput(format!(
                    "the file is a JSON string, but its content is not JSON ({})",
                    e.to_string().split(" at line").next().unwrap_or_default()
                )));
            }
        },
        Ok(v) => v,
        Err(_) => {
            let lines = LineReader::new(&doc[..], opts.max_line_bytes);
            return stream_lines(lines, ctx, sink);
        }
    };
    let items: Vec<(Value, Option<String>)> = match value {
        Value::Array(items) => items
            .into_iter()
            .enumerate()
            .map(|(i, v)| (v, Some(format!("[{i}]"))))
            .collect(),
        v => vec![(v, None)],
    };
    for (v, loc) in items {
        let mut out = Vec::new();
        prepare_value(v, 1, loc, ctx, &mut out);
        let mut items = out.into_iter();
        loop {
            let batch: Vec<Prepared> = items.by_ref().take(BATCH_ITEMS).collect();
            if batch.is_empty() {
                break;
            }
            sink.send(batch);
        }
    }
    Ok(())
}
