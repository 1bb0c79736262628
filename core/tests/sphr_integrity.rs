//! `.sphr` integrity against someone who holds the file but not the passphrase: every way to
//! alter an encrypted export without the key is refused, and the refused import writes nothing.

mod common;

use common::*;
use phrkit::import::ImportSource;
use phrkit::progress::NoProgress;
use phrkit::secret::Secret;
use phrkit::{Error, ExportRequest, ImportOptions, Store};
use std::io::{Cursor, Write};

const PASS: &str = "correct horse battery staple";

/// A store with one generated patient (with documents) and its encrypted `.sphr` export.
fn encrypted_export() -> (tempfile::TempDir, Vec<u8>, u64) {
    let (d, s) = generated_store(1, 600, 5);
    let mut req = ExportRequest::from_params([("outputFormat", "sphr")]).unwrap();
    req.passphrase = Some(Secret::new(PASS));
    let mut out = Vec::new();
    let summary = s.export(&req, &mut out, &NoProgress).unwrap();
    (d, out, summary.documents)
}

fn import(bytes: Vec<u8>, passphrase: Option<&str>) -> (Store, phrkit::Result<u64>) {
    let (d, s) = store();
    std::mem::forget(d); // the store's folder outlives this helper; the OS cleans /tmp
    let src =
        ImportSource::from_bytes("in.sphr", bytes).with_passphrase(passphrase.map(Secret::new));
    let r = s
        .import(vec![src], &ImportOptions::default(), &NoProgress)
        .map(|r| r.totals().created);
    (s, r)
}

/// Asserts the import was refused as an archive problem mentioning `why`, storing nothing.
fn refused(bytes: Vec<u8>, passphrase: Option<&str>, why: &str) {
    let (s, r) = import(bytes, passphrase);
    match r {
        Err(Error::Archive(msg)) => assert!(msg.contains(why), "{msg}"),
        other => panic!("expected a refusal mentioning {why:?}, got {other:?}"),
    }
    assert_eq!(s.stats().unwrap(), Default::default(), "nothing written");
}

/// The archive's entry names, in order.
fn names(bytes: &[u8]) -> Vec<String> {
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
    (0..zip.len())
        .map(|i| zip.by_index_raw(i).unwrap().name().unwrap().to_string())
        .collect()
}

/// Rebuilds an archive without decrypting anything: each entry copied raw under the name
/// `rename` gives (dropped on `None`), then `extra` entries added as plain files.
fn rebuild(
    bytes: &[u8],
    rename: impl Fn(&str) -> Option<String>,
    extra: &[(&str, &[u8])],
) -> Vec<u8> {
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for i in 0..zip.len() {
        let entry = zip.by_index_raw(i).unwrap();
        let name = entry.name().unwrap().to_string();
        if let Some(new) = rename(&name) {
            w.raw_copy_file_rename(entry, new).unwrap();
        }
    }
    for (name, data) in extra {
        w.start_file(*name, zip::write::SimpleFileOptions::default())
            .unwrap();
        w.write_all(data).unwrap();
    }
    w.finish().unwrap().into_inner()
}

const EVIL: &[u8] = br#"{"resourceType":"AllergyIntolerance","id":"evil","patient":{"reference":"Patient/p"},"code":{"text":"invented"}}"#;

#[test]
fn an_untouched_export_imports_and_carries_its_manifest() {
    let (_d, bytes, documents) = encrypted_export();
    assert!(documents >= 2, "the swap test needs two documents");
    let listed = names(&bytes);
    assert!(
        listed
            .last()
            .is_some_and(|n| n.ends_with(phrkit::sphr::manifest::FILE_NAME)),
        "the manifest is the last entry: {listed:?}"
    );
    let (_s, r) = import(bytes.clone(), Some(PASS));
    assert!(r.unwrap() > 600);
    // A copy made without any change (raw entries, same names) still imports.
    let (_s, r) = import(rebuild(&bytes, |n| Some(n.into()), &[]), Some(PASS));
    assert!(r.unwrap() > 600);
}

#[test]
fn an_added_plaintext_entry_is_refused() {
    let (_d, bytes, _) = encrypted_export();
    let top = names(&bytes)[0].split('/').next().unwrap().to_string();
    let evil = format!("{top}/evil.phr");
    refused(
        rebuild(&bytes, |n| Some(n.into()), &[(&evil, EVIL)]),
        Some(PASS),
        "encrypted and others are not",
    );
    // The same added entry with a manifest stripped: still mixed, still refused.
    refused(
        rebuild(
            &bytes,
            |n| (!n.ends_with("phrkit-manifest.json")).then(|| n.into()),
            &[(&evil, EVIL)],
        ),
        Some(PASS),
        "encrypted and others are not",
    );
}

#[test]
fn a_plain_archive_under_a_passphrase_is_refused() {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    w.start_file("r/r.phr", zip::write::SimpleFileOptions::default())
        .unwrap();
    w.write_all(EVIL).unwrap();
    let plain = w.finish().unwrap().into_inner();
    refused(plain.clone(), Some(PASS), "not encrypted");
    // Without a passphrase the same plain archive is an ordinary plain import.
    let (_s, r) = import(plain, None);
    assert_eq!(r.unwrap(), 1);
}

#[test]
fn renamed_removed_or_swapped_entries_are_refused() {
    let (_d, bytes, _) = encrypted_export();
    let docs: Vec<String> = names(&bytes)
        .into_iter()
        .filter(|n| n.contains("/documents/"))
        .collect();
    let a = docs[0].clone();
    let renamed = rebuild(
        &bytes,
        |n| Some(if n == a { format!("{n}.old") } else { n.into() }),
        &[],
    );
    refused(renamed, Some(PASS), "not in the archive's manifest");
    let removed = rebuild(&bytes, |n| (n != a).then(|| n.into()), &[]);
    refused(removed, Some(PASS), "missing");
    refused(
        swap_documents(&bytes, true),
        Some(PASS),
        "does not match the archive's manifest",
    );
}

/// The export with its first two documents' names swapped (and its manifest dropped unless
/// `keep_manifest`), without decrypting anything.
fn swap_documents(bytes: &[u8], keep_manifest: bool) -> Vec<u8> {
    let docs: Vec<String> = names(bytes)
        .into_iter()
        .filter(|n| n.contains("/documents/"))
        .collect();
    let (a, b) = (docs[0].clone(), docs[1].clone());
    rebuild(
        bytes,
        |n| match n {
            n if n.ends_with("phrkit-manifest.json") => keep_manifest.then(|| n.into()),
            n if n == a => Some(b.clone()),
            n if n == b => Some(a.clone()),
            n => Some(n.into()),
        },
        &[],
    )
}

#[test]
fn without_a_manifest_attachments_are_still_checked_against_their_hash() {
    let (_d, bytes, _) = encrypted_export();
    refused(
        swap_documents(&bytes, false),
        Some(PASS),
        "does not match its",
    );
}

#[test]
fn legacy_zipcrypto_is_refused() {
    // 7-Zip's default zip encryption is the legacy ZipCrypto.
    if std::process::Command::new("7z").arg("i").output().is_err() {
        assert!(std::env::var_os("CI").is_none(), "7z is required in CI");
        eprintln!("notice: 7z not installed; skipping the ZipCrypto test");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("r.phr"), EVIL).unwrap();
    let made = std::process::Command::new("7z")
        .current_dir(dir.path())
        .args(["a", "-tzip", &format!("-p{PASS}"), "legacy.zip", "r.phr"])
        .output()
        .unwrap();
    assert!(made.status.success());
    let bytes = std::fs::read(dir.path().join("legacy.zip")).unwrap();
    refused(bytes, Some(PASS), "ZipCrypto");
}
