//! Terminal output shared by the commands: progress bars and small tables.

use indicatif::{ProgressBar, ProgressStyle};
use phrkit::progress::{Phase, Progress, ProgressListener};
use std::time::Duration;

/// A progress bar on stderr (hidden when stderr is not a terminal).
pub struct Bar(ProgressBar);

impl Bar {
    /// A bar measuring bytes; `total` when known.
    pub fn bytes(total: Option<u64>) -> Bar {
        let pb = match total {
            Some(t) => ProgressBar::new(t),
            None => ProgressBar::new_spinner(),
        };
        pb.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:30} {bytes}/{total_bytes} {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        pb.enable_steady_tick(Duration::from_millis(200));
        Bar(pb)
    }

    /// A bar measuring resources (exports know the total once they start).
    pub fn resources() -> Bar {
        let pb = ProgressBar::new(0);
        pb.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} resources {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        pb.enable_steady_tick(Duration::from_millis(200));
        Bar(pb)
    }

    /// Clears the bar.
    pub fn finish(&self) {
        self.0.finish_and_clear();
    }
}

impl ProgressListener for Bar {
    fn on_progress(&self, p: &Progress) -> bool {
        if let Some(total) = p.total_resources {
            self.0.set_length(total);
            self.0.set_position(p.resources);
            return true;
        }
        self.0.set_position(p.bytes);
        let phase = match p.phase {
            Phase::Importing => "importing",
            Phase::Resolving => "resolving references",
            Phase::Committing => "committing",
            Phase::Exporting => "exporting",
            Phase::Sharing => "sharing",
        };
        self.0
            .set_message(format!("{} resources, {phase}", p.resources));
        true
    }
}

/// Prints rows as an aligned table with a header.
pub fn table(header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max(c.len());
        }
    }
    let line = |cells: Vec<String>| {
        let parts: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| {
                if i == 0 {
                    format!("{c:<w$}", w = widths[i])
                } else {
                    format!("{c:>w$}", w = widths[i])
                }
            })
            .collect();
        println!("  {}", parts.join("  "));
    };
    line(header.iter().map(|s| s.to_string()).collect());
    for r in rows {
        line(r.clone());
    }
}
