//! A JSON document that breaks early costs no more memory than one that does not: the
//! import reads past the rest of the broken line without keeping it (it kept it, so a
//! minified file of hundreds of MB broken near its start took that much memory). Found
//! while writing the `import_pipeline` fuzz target. Alone in its test binary, because it
//! reads the process's peak resident memory (Linux `VmHWM`), whatever the allocator.

#![cfg(target_os = "linux")]

mod common;

use common::store;
use phrkit::ImportOptions;
use phrkit::import::ImportSource;
use phrkit::progress::NoProgress;
use std::io::Read;

/// `head`, then `filler` bytes of `x` on the same line, then `tail`: made as it is read.
struct Generated {
    head: &'static [u8],
    filler: usize,
    tail: &'static [u8],
}

impl Read for Generated {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if !self.head.is_empty() {
            let n = self.head.len().min(buf.len());
            buf[..n].copy_from_slice(&self.head[..n]);
            self.head = &self.head[n..];
            return Ok(n);
        }
        if self.filler > 0 {
            let n = self.filler.min(buf.len());
            buf[..n].fill(b'x');
            self.filler -= n;
            return Ok(n);
        }
        let n = self.tail.len().min(buf.len());
        buf[..n].copy_from_slice(&self.tail[..n]);
        self.tail = &self.tail[n..];
        Ok(n)
    }
}

/// The process's peak resident memory so far, bytes (`VmHWM` in `/proc/self/status`).
fn peak_rss() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let kib: usize = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM");
    kib << 10
}

#[test]
fn the_rest_of_a_broken_line_is_read_past_not_kept() {
    let (_dir, s) = store();
    let filler = 256 << 20;
    let input = Generated {
        head: br#"[{"resourceType":"Patient","id":"a"}, }"#,
        filler,
        tail: b"\n{\"resourceType\":\"Patient\",\"id\":\"b\"}\n",
    };
    let source = ImportSource::from_reader("broken.json", input, None);
    let report = s
        .import(vec![source], &ImportOptions::default(), &NoProgress)
        .expect("import");
    let peak = peak_rss();
    assert_eq!(report.totals().created, 2, "{}", report.summary());
    assert!(
        peak < filler / 2,
        "the process peaked at {} MB reading a {} MB broken line",
        peak >> 20,
        filler >> 20
    );
}
