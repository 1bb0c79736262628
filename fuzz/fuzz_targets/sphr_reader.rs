//! The `.sphr` reader (`sphr::read::Archive`): opening, checking, extracting records and
//! resolving attachment paths, on arbitrary zips, plain and AES-256 encrypted.
//!
//! The first byte's bit 0 picks the mode:
//! - raw (`0`): the rest is the archive, opened without a passphrase and with one;
//! - built (`1`): the rest lists entries (`name` LF `content`, separated by 0xFF) that the
//!   target writes into a zip itself, so encrypted archives, phrkit manifests and their
//!   checks are reached with contents the fuzzer chooses. Bit 1 encrypts (AES-256, or
//!   AES-128 with bit 6), bit 2 adds a phrkit manifest, bit 3 spoils its first hash, bit 4
//!   opens with a wrong passphrase, bit 5 leaves the last entry plain, bit 7 writes in
//!   streaming mode (data descriptors) as phrkit does.
//!
//! The key derivation (PBKDF2, 1,000 rounds, for every encrypted entry written or read)
//! costs 10–15 ms per entry in this instrumented build, so built archives hold at most 8
//! entries and only a few attachment paths are asked for; limits are small.
//!
//! Checks: no panic; an opened archive has a record, every extract stays within the limits;
//! in built mode, whatever is extracted is byte for byte what was written, nothing is
//! extracted under a wrong passphrase, and an entry whose manifest hash was spoiled is
//! refused.
#![no_main]

use libfuzzer_sys::fuzz_target;
use phrkit::sphr::read::Archive;
use phrkit::secret::Secret;
use phrkit::sphr::Limits;
use sha2::{Digest, Sha256};
use std::io::{Seek, Write};
use zip::write::SimpleFileOptions;
use zip::{AesMode, CompressionMethod, ZipWriter};

const PASSPHRASE: &str = "fuzzing passphrase 7KQM-2XPA";
const LIMITS: Limits = Limits {
    max_entries: 64,
    max_entry_bytes: 1 << 20,
    max_total_bytes: 4 << 20,
};

/// An entry written in built mode.
struct Entry {
    name: String,
    content: Vec<u8>,
}

/// Writes `entries` (and a manifest) into a zip as `flags` say; `None` if the zip crate
/// refuses (a name it cannot write).
fn build(flags: u8, entries: &[Entry]) -> Option<Vec<u8>> {
    let mode = if flags & 64 != 0 {
        AesMode::Aes128
    } else {
        AesMode::Aes256
    };
    let plain = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
    let encrypted = plain.with_aes_encryption(mode, PASSPHRASE);
    let mut manifest = Vec::new();
    let mut files: Vec<(String, Vec<u8>, SimpleFileOptions)> = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        let last_plain = flags & 32 != 0 && i + 1 == entries.len();
        let options = if flags & 2 != 0 && !last_plain {
            encrypted
        } else {
            plain
        };
        let mut sha = phrkit_hex(&Sha256::digest(&e.content));
        if flags & 8 != 0 && manifest.is_empty() {
            sha.replace_range(..1, if sha.starts_with('0') { "1" } else { "0" });
        }
        manifest.push(serde_json::json!({"name": e.name, "size": e.content.len(), "sha256": sha}));
        files.push((e.name.clone(), e.content.clone(), options));
    }
    if flags & 4 != 0 {
        let top = entries
            .first()
            .and_then(|e| e.name.split_once('/'))
            .map_or(String::new(), |(dir, _)| format!("{dir}/"));
        let text = serde_json::json!({"format": "phrkit .sphr manifest v1", "entries": manifest});
        let options = if flags & 2 != 0 { encrypted } else { plain };
        files.push((
            format!("{top}phrkit-manifest.json"),
            serde_json::to_vec(&text).ok()?,
            options,
        ));
    }
    if flags & 128 != 0 {
        let mut zip = ZipWriter::new_stream(Vec::new());
        for (name, content, options) in &files {
            zip.start_file(name.as_str(), *options).ok()?;
            zip.write_all(content).ok()?;
        }
        zip.finish().ok().map(|w| w.into_inner())
    } else {
        let mut zip = ZipWriter::new(std::io::Cursor::new(Vec::new()));
        for (name, content, options) in &files {
            zip.start_file(name.as_str(), *options).ok()?;
            zip.write_all(content).ok()?;
        }
        zip.finish().ok().map(|c| c.into_inner())
    }
}

fn phrkit_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The entries listed after the flags byte in built mode.
fn entries(rest: &[u8]) -> Vec<Entry> {
    rest.split(|&b| b == 0xFF)
        .take(8)
        .map(|chunk| {
            let (name, content) = match chunk.iter().position(|&b| b == b'\n') {
                Some(i) => (&chunk[..i], &chunk[i + 1..]),
                None => (chunk, &[][..]),
            };
            Entry {
                name: String::from_utf8_lossy(name).into_owned(),
                content: content.to_vec(),
            }
        })
        .collect()
}

/// What reading an archive gave: each record's extracted bytes (by name), and every
/// attachment `read_relative` found.
struct Read {
    records: Vec<(String, Option<Vec<u8>>)>,
    relatives: Vec<Vec<u8>>,
}

/// Opens `zip` and reads everything it offers; asks `read_relative` for each of `names`
/// as an attachment path would (bare, `./`, and `../`, which must never resolve).
fn read_all(zip: &[u8], passphrase: Option<&Secret>, names: &[String]) -> Option<Read> {
    let mut file = tempfile::tempfile().ok()?;
    file.write_all(zip).ok()?;
    file.rewind().ok()?;
    let archive = Archive::open(file, passphrase, LIMITS).ok()?;
    let records: Vec<String> = archive
        .record_names()
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert!(!records.is_empty(), "an archive opened without a record");
    let mut read = Read {
        records: Vec::new(),
        relatives: Vec::new(),
    };
    for (n, name) in records.iter().enumerate() {
        let lower = name.to_ascii_lowercase();
        assert!(
            lower.ends_with(".phr") || lower.ends_with(".ndjson"),
            "{name:?}"
        );
        let mut out = Vec::new();
        let got = archive.extract_record(n, &mut out).ok().map(|size| {
            assert_eq!(size, out.len() as u64);
            assert!(size <= LIMITS.max_entry_bytes, "{size} bytes extracted");
            out
        });
        read.records.push((name.clone(), got));
        let base = name.rsplit_once('/').map_or("", |(dir, _)| dir);
        // Each read decrypts (and so derives a key): a few names, each asked once as it is,
        // the first also as `./name`; `../` must fail before any read.
        for (k, other) in names.iter().take(4).enumerate() {
            let relative = other
                .strip_prefix(base)
                .and_then(|r| r.strip_prefix('/'))
                .unwrap_or(other);
            let mut asked = vec![relative.to_string(), format!("../{other}")];
            if k == 0 {
                asked.push(format!("./{relative}"));
            }
            for asked in asked {
                if let Ok(Some(bytes)) = archive.read_relative(n, &asked) {
                    assert!(bytes.len() as u64 <= LIMITS.max_entry_bytes);
                    assert!(
                        !asked.starts_with("../"),
                        "{asked:?} left the record's folder"
                    );
                    read.relatives.push(bytes);
                }
            }
        }
    }
    let _ = archive.extract_record(records.len(), &mut std::io::sink());
    Some(read)
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let right = Secret::new(PASSPHRASE);
    if flags & 1 == 0 {
        let _ = read_all(rest, None, &[]);
        let _ = read_all(rest, Some(&right), &[]);
        return;
    }
    let entries = entries(rest);
    let Some(zip) = build(flags, &entries) else {
        return;
    };
    let names: Vec<String> = entries.iter().map(|e| e.name.clone()).collect();
    let wrong = flags & 16 != 0 && flags & 2 != 0;
    let passphrase = match (flags & 2 != 0, wrong) {
        (false, _) => None,
        (true, false) => Some(right),
        (true, true) => Some(Secret::new("not the passphrase")),
    };
    let Some(read) = read_all(&zip, passphrase.as_ref(), &names) else {
        return;
    };
    let last_plain = flags & 32 != 0;
    for (name, got) in read.records {
        let Some(bytes) = got else { continue };
        let encrypted =
            flags & 2 != 0 && !(last_plain && entries.last().is_some_and(|e| e.name == name));
        assert!(
            !(wrong && encrypted),
            "{name:?} extracted under a wrong passphrase"
        );
        if flags & 12 == 12 && entries.first().is_some_and(|e| e.name == name) {
            panic!("{name:?} extracted although its manifest hash was spoiled");
        }
        // A name written twice is kept once by the zip: compare only unique names.
        let written: Vec<&Entry> = entries.iter().filter(|e| e.name == name).collect();
        if let [only] = written[..] {
            assert_eq!(
                bytes, only.content,
                "{name:?} extracted differs from what was written"
            );
        }
    }
    for bytes in read.relatives {
        let known = entries.iter().any(|e| e.content == bytes)
            || bytes.starts_with(br#"{"format":"phrkit .sphr manifest v1""#);
        assert!(known, "read_relative returned bytes no entry holds");
        assert!(
            !wrong || last_plain,
            "an attachment read under a wrong passphrase"
        );
    }
});
