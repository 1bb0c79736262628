//! A JSON document that breaks early costs no more memory than one that does not: the
//! import reads past the rest of the broken line without keeping it (it kept it, so a
//! minified file of hundreds of MB broken near its start took that much memory). Found
//! while writing the `import_pipeline` fuzz target. Alone in its test binary, because it
//! counts every allocation of the process.

mod common;

use common::store;
use phrkit::ImportOptions;
use phrkit::import::ImportSource;
use phrkit::progress::NoProgress;
use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Read;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The system allocator, counting the bytes in use and their peak.
struct Counting;

static IN_USE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(n: usize) {
    let now = IN_USE.fetch_add(n, Ordering::Relaxed) + n;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

// SAFETY: every call is passed straight to `System` with the caller's layout; the counters
// are only arithmetic beside it.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        grew(layout.size());
        // SAFETY: the caller's contract for `alloc` is passed on unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        IN_USE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: `ptr` came from `System` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        grew(new_size);
        IN_USE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: the caller's contract for `realloc` is passed on unchanged.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

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

#[test]
fn the_rest_of_a_broken_line_is_read_past_not_kept() {
    let (_dir, mut s) = store();
    let filler = 64 << 20;
    let input = Generated {
        head: br#"[{"resourceType":"Patient","id":"a"}, }"#,
        filler,
        tail: b"\n{\"resourceType\":\"Patient\",\"id\":\"b\"}\n",
    };
    let source = ImportSource::from_reader("broken.json", input, None);
    let before = IN_USE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let report = s
        .import(vec![source], &ImportOptions::default(), &NoProgress)
        .expect("import");
    let peak = PEAK.load(Ordering::Relaxed) - before;
    assert_eq!(report.totals().created, 2, "{}", report.summary());
    assert!(
        peak < filler / 2,
        "the import took {} MB for a {} MB broken line",
        peak >> 20,
        filler >> 20
    );
}
