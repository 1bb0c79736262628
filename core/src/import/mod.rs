//! `$import`: a streaming, validating, deduplicating importer for the PHR files people have.
//!
//! Pipeline (one direction, one transaction):
//! read (NDJSON line by line, or a JSON document resource by resource — see
//! [`crate::ndjson`]) → prepare (parse, name, resolve, validate, derive, on the import's
//! worker threads, [`prepare`]) → apply (what needs the store: identify by type+id, content
//! hash and business identifier, apply the strategy and conflict policy, write — on the
//! calling thread, [`apply`]) → report ([`report`]).
//!
//! **Atomicity.** A run commits all or nothing: one SQLite transaction spans every input of
//! the run. We chose this over resumable checkpoints because a half-imported record is worse
//! for a patient than a repeated import, and because SQLite's WAL copes with transactions of
//! millions of rows (the cost is WAL size on disk until the commit, not memory). Cancelling,
//! an I/O error, a `fail` conflict or a crash leaves the store exactly as it was.
//! `mode=validate` runs everything, then rolls back.
//!
//! **Names and forward references.** `urn:uuid:` and `fullUrl` references are resolved
//! through one compact table for the whole run ([`names`], ~24 bytes a resource), filled in
//! input order batch by batch, so a reference to anything earlier in the input — or later in
//! the same batch — is resolved on the workers. A resource naming something further on is
//! parked in the store's own file (inside the run's transaction) and finished once the whole
//! input has been read: waiting costs disk, not memory.
//!
//! **Repeats are versions.** Within one input, a later line with the same type and id is a
//! later version of that resource (file order is event order), not an error: identical, it
//! is counted once; different, the conflict policy decides as it does against the store,
//! except that the later line counts as the newer one unless both carry `meta.lastUpdated`
//! and the later line's is not later. `append` keeps both, the later under a new id.
//!
//! **Memory** is bounded whatever the input: a batch holds at most [`BATCH_BYTES`] of text
//! (one resource at most `max_line_bytes`), a resource's tree at most
//! [`crate::ndjson::parse::MAX_VALUES`] values, the channel [`CHANNEL_BATCHES`] batches; per
//! resource the run keeps 16 bytes (for its Provenance) and its name. See the README's
//! benchmark for the measured peak.

mod apply;
mod names;
mod options;
pub mod prepare;
pub mod report;
mod source;

pub use options::{ConflictPolicy, ImportMode, ImportOptions, OnInvalid, Strategy};
pub use source::ImportSource;
use source::expand_archives;

pub use report::{Counts, ImportReport, Issue, Note, NoteKind, Severity, SourceSummary};

use crate::error::{Error, Result};
use crate::fhir::hash::to_hex;
use crate::ndjson::detect::{Format, detect, is_complete_json_line};
use crate::ndjson::document::{ScanError, Scanner};
use crate::ndjson::{Line, LineReader, Next, starts_as_bundle};
use crate::progress::{Phase, Progress, ProgressListener};
use crate::store::Store;
use crate::store::derive::instant_text;
use crate::store::write::{RunRecord, WriteTx};
use names::NameTable;
use prepare::{Parsed, Prepared, Raw, RawBody};
use rayon::prelude::*;
use sha2::{Digest, Sha256};
use std::io::{BufRead, BufReader, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Items per batch handed from the reader to the writer.
const BATCH_ITEMS: usize = 256;
/// Bytes of input text per batch (whichever limit comes first). Parsed trees are ~5–10 times
/// their text, and a batch is parsed whole before its names are recorded.
const BATCH_BYTES: usize = 256 * 1024;
/// Prepared batches waiting for the writer.
const CHANNEL_BATCHES: usize = 2;

impl Store {
    /// Imports `sources` in one run and one transaction. Blocks; call off the main thread.
    /// Per-resource problems are issues in the report; an `Err` means nothing was written.
    pub fn import(
        &self,
        sources: Vec<ImportSource<'_>>,
        opts: &ImportOptions,
        progress: &dyn ProgressListener,
    ) -> Result<ImportReport> {
        let sources = expand_archives(sources, opts)?;
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(self.options().threads.max(1))
            .thread_name(|i| format!("phrkit-import-{i}"))
            .build()
            .map_err(|e| Error::Internal(format!("cannot start the import threads: {e}")))?;
        let now_ms = crate::fhir::date::now_ms();
        let writer = self.writer();
        let tx = WriteTx::begin(&writer)?;
        let run = tx.begin_run(&instant_text(now_ms), opts.strategy.as_str())?;
        let total_bytes = sources.iter().map(|s| s.size).sum::<Option<u64>>();
        // The first report: the run has started and holds the writer (reads go on beside it).
        let started = Progress {
            phase: Phase::Importing,
            bytes: 0,
            total_bytes,
            resources: 0,
            total_resources: None,
        };
        if !progress.on_progress(&started) {
            return Err(Error::Cancelled);
        }
        let multiple = sources.len() > 1;
        let mut applier = apply::Applier::new(&tx, opts, run, now_ms);
        let mut names = NameTable::forgetful();
        let mut summaries = Vec::new();
        let mut done_bytes = 0;
        for source in sources {
            applier.begin_source(&source.name, multiple)?;
            let reading = Reading {
                opts,
                pool: &pool,
                progress,
                done_bytes,
                total_bytes,
            };
            let summary = read_source(source, &reading, &mut applier, &mut names)?;
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
        applier.finish_parked(&names, &mut |n| checkpoint(Phase::Resolving, n).is_ok())?;
        drop(names);
        let provenance_ids = applier.write_provenance(&summaries)?;
        let processed = applier.processed;
        let mut report = std::mem::take(&mut applier.report);
        drop(applier);
        report.sources = summaries;
        report.previously_imported_in_run = match report.sources.first() {
            Some(first) => tx.earlier_run_with(run, &first.sha256)?,
            None => None,
        };
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
        tx.finish_run(
            run,
            &RunRecord {
                finished: &instant_text(crate::fhir::date::now_ms()),
                sources: &sources_json,
                provenance_ids: &provenance_ids.join(" "),
                summary: &report.summary(),
            },
        )?;
        tx.commit()?;
        report.committed = true;
        report.run_id = Some(run);
        report.provenance_ids = provenance_ids;
        Ok(report)
    }
}

/// What reading one source needs besides the source.
struct Reading<'a> {
    opts: &'a ImportOptions,
    pool: &'a rayon::ThreadPool,
    progress: &'a dyn ProgressListener,
    done_bytes: u64,
    total_bytes: Option<u64>,
}

/// Reads one source on a producer thread while this thread applies its batches.
fn read_source(
    source: ImportSource<'_>,
    r: &Reading<'_>,
    applier: &mut apply::Applier<'_>,
    names: &mut NameTable,
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
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<Prepared>>(CHANNEL_BATCHES);
        let ctx = prepare::Ctx { now, resolver };
        let opts = r.opts;
        let pool = r.pool;
        let producer = scope.spawn(move || {
            let mut batcher = Batcher {
                raws: Vec::with_capacity(BATCH_ITEMS),
                bytes: 0,
                ctx: &ctx,
                names,
                pool,
                tx,
                open: true,
            };
            produce(reader, opts, &mut batcher)
        });
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
                bytes: r.done_bytes + counter.load(Ordering::Relaxed),
                total_bytes: r.total_bytes,
                resources: applier.processed,
                total_resources: None,
            };
            if !r.progress.on_progress(&p) {
                result = Err(Error::Cancelled);
                break;
            }
        }
        drop(rx);
        let produced = producer
            .join()
            .map_err(|_| Error::Internal("the import's reader thread failed".into()))?;
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

/// Collects input items into batches, prepares each batch on the worker pool and sends it
/// to the writer.
struct Batcher<'a> {
    raws: Vec<Raw>,
    bytes: usize,
    ctx: &'a prepare::Ctx,
    names: &'a mut NameTable,
    pool: &'a rayon::ThreadPool,
    tx: std::sync::mpsc::SyncSender<Vec<Prepared>>,
    /// False once the writer hung up (it failed or was cancelled): stop reading.
    open: bool,
}

impl Batcher<'_> {
    /// Adds an item; returns false when reading should stop.
    fn push(&mut self, raw: Raw) -> bool {
        self.bytes += raw.len();
        self.raws.push(raw);
        if self.raws.len() >= BATCH_ITEMS || self.bytes >= BATCH_BYTES {
            self.flush();
        }
        self.open
    }

    fn flush(&mut self) {
        if self.raws.is_empty() || !self.open {
            self.raws.clear();
            return;
        }
        self.bytes = 0;
        let raws = std::mem::take(&mut self.raws);
        let parsed: Vec<Vec<Parsed>> = self.pool.install(|| {
            raws.into_par_iter()
                .map(|raw| {
                    let mut out = Vec::with_capacity(1);
                    prepare::parse_item(raw, &mut out);
                    out
                })
                .collect()
        });
        let mut parsed: Vec<Parsed> = parsed.into_iter().flatten().collect();
        for p in &mut parsed {
            if let Parsed::Resource(p) = p {
                prepare::name(p, self.names);
            }
        }
        let (names, ctx) = (&*self.names, self.ctx);
        let batch: Vec<Prepared> = self.pool.install(|| {
            parsed
                .into_par_iter()
                .map(|p| match p {
                    Parsed::Done(p) => p,
                    Parsed::Resource(p) => prepare::finish(*p, names, ctx),
                })
                .collect()
        });
        self.open = self.tx.send(batch).is_ok();
        self.raws = Vec::with_capacity(BATCH_ITEMS);
    }
}

fn produce<R: Read>(
    reader: HashingReader<R>,
    opts: &ImportOptions,
    batcher: &mut Batcher<'_>,
) -> Result<(String, u64)> {
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
            document(&mut br, 1, None, opts, batcher)?;
        }
        Format::JsonObject if starts_as_bundle(br.fill_buf()?, false) => {
            ndjson(
                LineReader::new(&mut br, opts.max_line_bytes),
                None,
                opts,
                batcher,
            )?;
        }
        Format::JsonObject if starts_as_bundle(br.fill_buf()?, true) => {
            document(&mut br, 1, None, opts, batcher)?;
        }
        Format::JsonObject => {
            let mut lines = LineReader::new(&mut br, opts.max_line_bytes);
            match lines.next_or_bundle()? {
                Next::Line(Line::Data { bytes, number }) if !is_complete_json_line(&bytes) => {
                    let mut head = bytes;
                    head.push(b'\n');
                    document(&mut br, number, Some(head), opts, batcher)?;
                }
                first => ndjson(lines, Some(first), opts, batcher)?,
            }
        }
    }
    batcher.flush();
    // Consume whatever the writer did not need, so the hash covers the whole input.
    std::io::copy(&mut br, &mut std::io::sink())?;
    let reader = br.into_inner();
    Ok((
        to_hex(&reader.hasher.finalize()),
        reader.counter.load(Ordering::Relaxed),
    ))
}

/// NDJSON: one item per line; a line holding a Bundle is streamed entry by entry, whatever
/// its length.
fn ndjson<R: BufRead>(
    mut lines: LineReader<R>,
    mut first: Option<Next>,
    opts: &ImportOptions,
    batcher: &mut Batcher<'_>,
) -> Result<()> {
    let max = opts.max_line_bytes;
    loop {
        let next = match first.take() {
            Some(n) => n,
            None => lines.next_or_bundle()?,
        };
        let open = match next {
            Next::End => break,
            Next::Bundle { number } => {
                let mut open = true;
                let mut scanner = Scanner::new(lines.inner_mut(), number, max).on_one_line();
                let scanned = scanner.scan_one(&mut |item| {
                    open = batcher.push(Raw::from_item(item, max));
                    open
                });
                match scanned {
                    Err(ScanError::Io(e)) => return Err(e.into()),
                    Err(e) => open = open && batcher.push(broken(number, &e.to_string())),
                    Ok(()) => {}
                }
                if lines.end_line()? > 0 && open {
                    let msg = "text after the Bundle on this line was not read".to_string();
                    open = batcher.push(broken(number, &msg));
                }
                open
            }
            Next::Line(line) => batcher.push(line_raw(line, max)),
        };
        if !open {
            break;
        }
    }
    Ok(())
}

/// An NDJSON line as an input item.
fn line_raw(line: Line, max: usize) -> Raw {
    let (line, body) = match line {
        Line::Data { number, bytes } => (number, RawBody::Json(bytes)),
        Line::TooLong { number, len } => (number, RawBody::TooLong(len, max)),
    };
    Raw {
        line,
        location: None,
        full_url: None,
        body,
    }
}

fn broken(line: u64, message: &str) -> Raw {
    Raw {
        line,
        location: None,
        full_url: None,
        body: RawBody::Broken(message.to_string()),
    }
}

/// A JSON document, resource by resource. `head` holds the first line when it was read
/// already (to tell NDJSON from a document). If the document turns out malformed, the error
/// is reported and, when the next line is a complete JSON object, the rest is read as NDJSON:
/// that is NDJSON whose first line was cut, and every good line is kept.
fn document<R: BufRead>(
    br: &mut R,
    first_line: u64,
    head: Option<Vec<u8>>,
    opts: &ImportOptions,
    batcher: &mut Batcher<'_>,
) -> Result<()> {
    let input = std::io::Cursor::new(head.unwrap_or_default()).chain(br);
    let mut scanner = Scanner::new(BufReader::new(input), first_line, opts.max_line_bytes);
    let max = opts.max_line_bytes;
    let scanned = scanner.scan(&mut |item| batcher.push(Raw::from_item(item, max)));
    let e = match scanned {
        Ok(()) => return Ok(()),
        Err(ScanError::Io(e)) => return Err(e.into()),
        Err(e) => e,
    };
    let line = scanner.line();
    if !batcher.push(broken(line, &e.to_string())) {
        return Ok(());
    }
    // Past the rest of the broken line (read, not kept: it may be the whole file), then
    // NDJSON if what follows is NDJSON.
    let mut rest = scanner.into_inner();
    rest.skip_until(b'\n')?;
    let mut lines = LineReader::new(rest, opts.max_line_bytes).starting_after(line);
    match lines.next_or_bundle()? {
        Next::Line(Line::Data { number, bytes })
            if bytes.first() == Some(&b'{') && is_complete_json_line(&bytes) =>
        {
            ndjson(
                lines,
                Some(Next::Line(Line::Data { number, bytes })),
                opts,
                batcher,
            )
        }
        bundle @ Next::Bundle { .. } => ndjson(lines, Some(bundle), opts, batcher),
        _ => Ok(()),
    }
}
