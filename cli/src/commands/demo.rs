//! `phrkit demo`: the patient journey end to end on generated data.
//!
//! Every step uses the same public API an app would, against a real store file in a
//! temporary folder (or `--dir`), and prints what it did.

use crate::commands::export::export_to;
use crate::commands::import::{import_files, import_files_with};
use crate::commands::stats::print_stats;
use phrkit::generate::{GenerateOptions, References, Shape, generate};
use phrkit::net::reach::Reach;
use phrkit::progress::NoProgress;
use phrkit::secret::Secret;
use phrkit::shl::content::ShareProfile;
use phrkit::shl::share::{ShareOptions, open_link};
use phrkit::store::crypto::StoreKey;
use phrkit::{ExportRequest, ImportOptions, OutputFormat, Store};
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

/// Options of `phrkit demo`.
#[derive(clap::Args)]
pub struct DemoArgs {
    /// Keep the demo's files in this folder instead of a temporary one.
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Patients in the generated record.
    #[arg(long, default_value_t = 2)]
    pub patients: usize,
    /// Resources per patient.
    #[arg(long, default_value_t = 400)]
    pub resources_per_patient: usize,
}

fn step(n: u32, text: &str) {
    println!("\n== {n}. {text}");
}

/// Runs the journey.
pub fn run(a: DemoArgs) -> anyhow::Result<ExitCode> {
    let tmp = tempfile::tempdir()?;
    let dir = a.dir.clone().unwrap_or_else(|| tmp.path().to_path_buf());
    std::fs::create_dir_all(&dir)?;

    step(
        1,
        "A clinic's system hands the patient a record (generated, synthetic)",
    );
    let record = dir.join("clinic-record.phr");
    let mut w = BufWriter::new(std::fs::File::create(&record)?);
    let summary = generate(
        &GenerateOptions {
            patients: a.patients,
            resources_per_patient: a.resources_per_patient,
            // The journey follows the first patient; this seed's takes two maintenance drugs
            // and has allergies, so the pharmacy in step 6 has something to read.
            seed: 24,
            ..Default::default()
        },
        &mut w,
    )?;
    w.flush()?;
    println!(
        "{} resources, {} KiB → {}",
        summary.resources,
        summary.bytes / 1024,
        record.display()
    );

    step(
        2,
        "The phone imports it into its embedded store (validated, deduplicated, one transaction)",
    );
    // On a phone the app keeps this key in the Android Keystore / iOS Keychain.
    let mut key = [0u8; 32];
    rand_key(&mut key);
    let phone = Store::open_encrypted(dir.join("phone.db"), &StoreKey::Raw(key))?;
    println!("(the phone's store is encrypted with SQLCipher; the file alone reveals nothing)");
    let report = import_files(
        &phone,
        std::slice::from_ref(&record),
        &ImportOptions::default(),
    )?;
    println!("{}", report.summary());
    print_stats(&phone)?;

    step(
        3,
        "Importing the same file again changes nothing; the app's timeline reads meanwhile",
    );
    let again = import_while_reading(&phone, &record)?;
    println!("{}", again.summary());
    let first = phone.patient_ids()?.into_iter().next().unwrap_or_default();
    let reported = phone.create(
        &serde_json::json!({
            "resourceType": "AllergyIntolerance",
            "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical", "code": "active"}]},
            "code": {"text": "Penicillin (self-reported)"},
            "patient": {"reference": format!("Patient/{first}")},
        })
        .to_string(),
    )?;
    println!(
        "the patient adds a self-reported allergy in the app: {}/{} version {} (meta.source {})",
        reported.resource_type,
        reported.id,
        reported.version,
        phrkit::records::APP_SOURCE
    );

    step(
        4,
        "The patient exports their record ($phr-export) in every format",
    );
    let patient = phone.patient_ids()?.into_iter().next().unwrap_or_default();
    let mut sphr = None;
    for format in OutputFormat::ALL {
        let req = ExportRequest::from_params([
            ("patient", patient.as_str()),
            ("outputFormat", format.code()),
        ])?;
        let target = dir.join(format!("export.{}", format.extension()));
        let (summary, _) = export_to(&phone, &req, Some(&target))?;
        println!(
            "{:<7} {:<22} {:>5} resources {:>8} bytes → {} (suggested name {})",
            format.code(),
            summary.media_type,
            summary.resources,
            summary.bytes,
            target.display(),
            summary.file_name
        );
        if let Some(passphrase) = summary.passphrase.clone() {
            if !summary.excluded.is_empty() {
                let parts: Vec<String> = summary
                    .excluded
                    .iter()
                    .map(|(c, n)| format!("{c} {n}"))
                    .collect();
                println!(
                    "        sensitive resources left out unless the patient opts in: {}",
                    parts.join(", ")
                );
            }
            println!(
                "        {} documents inside, AES-256 encrypted; generated passphrase (shown once): {}",
                summary.documents,
                passphrase.expose()
            );
            sphr = Some((target, summary.resources, passphrase));
        }
    }
    let params = [
        ("patient", patient.as_str()),
        ("outputFormat", "ndjson"),
        ("start", "2010"),
        ("end", "2020-06"),
    ];
    let dated = ExportRequest::from_params(params)?;
    let (summary, _) = export_to(&phone, &dated, Some(&dir.join("2010-to-2020-06.ndjson")))?;
    println!("start=2010&end=2020-06 → {} resources", summary.resources);

    step(
        5,
        "Another device opens the encrypted .sphr with the passphrase: record and documents arrive",
    );
    let (sphr, exported, passphrase) =
        sphr.ok_or_else(|| anyhow::anyhow!("no .sphr was written"))?;
    let laptop = Store::open(dir.join("laptop.db"))?;
    let report = import_files_with(
        &laptop,
        std::slice::from_ref(&sphr),
        &ImportOptions::default(),
        Some(&passphrase),
    )?;
    println!("{}", report.summary());
    println!(
        "laptop holds {} resources and {} documents: the {} exported, less the cover page, plus this import's own Provenance records",
        laptop.count(None)?,
        laptop.stats()?.documents,
        exported
    );
    tampered_copy_is_refused(&sphr, &dir.join("tampered.sphr"), &passphrase)?;

    share_at_the_pharmacy(&phone, &dir)?;
    pull_from_a_server(&record, &dir)?;

    step(
        8,
        "A messy file from elsewhere: good lines kept, bad lines explained",
    );
    let messy = dir.join("messy.phr");
    std::fs::write(&messy, messy_file())?;
    let report = import_files(
        &phone,
        std::slice::from_ref(&messy),
        &ImportOptions::default(),
    )?;
    for i in &report.issues {
        println!("  {:<11} {}", i.severity.code(), i.diagnostics());
    }
    println!("{}", report.summary());

    step(
        9,
        "A hospital portal's export: transaction Bundles, urn:uuid references, forward ones too",
    );
    let portal = dir.join("portal-export.ndjson");
    let mut w = BufWriter::new(std::fs::File::create(&portal)?);
    generate(
        &GenerateOptions {
            patients: 1,
            resources_per_patient: a.resources_per_patient,
            seed: 9,
            shape: Shape::TransactionBundles(References::Urn),
        },
        &mut w,
    )?;
    w.flush()?;
    let report = import_files(
        &phone,
        std::slice::from_ref(&portal),
        &ImportOptions::default(),
    )?;
    println!("{}", report.summary());
    for n in &report.notes {
        println!("  {}", n.kind.summary(n.count));
    }
    if let Some(c) = report.issues.iter().find(|i| i.code == "conflict") {
        println!("  for example: {}", c.diagnostics());
    }

    println!("\nDone. Files are in {}", dir.display());
    if a.dir.is_none() {
        println!("(a temporary folder, removed now; pass --dir to keep them)");
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints the current prescriptions a pharmacy received: drug and dosage, one per line.
/// Re-imports `record` and, once the import holds the store's writer, reads the newest page
/// of the first patient's timeline on another thread, as an app's UI would.
fn import_while_reading(
    phone: &Store,
    record: &std::path::Path,
) -> anyhow::Result<phrkit::ImportReport> {
    let patient = phone.patient_ids()?.into_iter().next();
    let page = std::sync::Mutex::new(None);
    let read_a_page = |_: &phrkit::progress::Progress| {
        let mut page = page
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if page.is_none() {
            let started = std::time::Instant::now();
            let search = phrkit::store::Search {
                patient: patient.clone(),
                limit: Some(50),
                ..Default::default()
            };
            let found = std::thread::scope(|s| s.spawn(|| phone.search(&search)).join());
            *page = Some((found, started.elapsed()));
        }
        true
    };
    let source = phrkit::import::ImportSource::from_path(record)?;
    let report = phone.import(vec![source], &ImportOptions::default(), &read_a_page)?;
    match page
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
    {
        Some((Ok(Ok(records)), took)) => println!(
            "while the import ran, a timeline page of {} records answered in {:.1} ms",
            records.len(),
            took.as_secs_f64() * 1000.0
        ),
        Some((Ok(Err(e)), _)) => anyhow::bail!("the timeline read failed during the import: {e}"),
        _ => anyhow::bail!("the timeline read did not run during the import"),
    }
    Ok(report)
}

fn print_prescriptions(pharmacy: &Store) -> anyhow::Result<()> {
    let search = phrkit::store::Search {
        types: vec!["MedicationRequest".into()],
        ..Default::default()
    };
    for r in pharmacy.search(&search)? {
        let v: serde_json::Value = serde_json::from_str(&r.json)?;
        let drug = &v["medicationCodeableConcept"];
        let name = drug["text"]
            .as_str()
            .or_else(|| drug["coding"][0]["display"].as_str())
            .unwrap_or("(unnamed drug)");
        let dosage = v["dosageInstruction"][0]["text"].as_str().unwrap_or("");
        println!("  prescription: {name} — {dosage}");
    }
    Ok(())
}

/// Step 6: a SMART Health Link through a host on this machine, opened as a pharmacy would.
fn share_at_the_pharmacy(phone: &Store, dir: &std::path::Path) -> anyhow::Result<()> {
    step(
        6,
        "At the pharmacy: share medications and allergies as a SMART Health Link + QR code",
    );
    let mut config = phrkit_server::HostConfig::new(dir.join("shl-host"));
    let account = phrkit_server::Account::generate("patient-app")?;
    let account_token = Secret::new(account.token().expose());
    config.accounts = vec![account];
    let host = phrkit_server::start(config)?;
    println!(
        "a link host runs on {} (it only ever sees ciphertext; the patient's app has an account \
         there, which creating links needs)",
        host.base_url
    );
    // The host runs on this machine, so this demo explicitly allows local hosts; a real
    // pharmacy's phrkit reaches only public https hosts.
    let mut opts = ShareOptions::new(&host.base_url, ShareProfile::Pharmacy);
    opts.reach = Reach::Local;
    opts.account_token = Some(account_token);
    opts.patient = phone.patient_ids()?.into_iter().next();
    opts.passcode = Some(Secret::new("2468"));
    opts.exp = Some(phrkit::fhir::date::now_ms() / 1000 + 3600);
    let link = phone.share(&opts)?;
    println!("{}", phrkit::shl::qr::terminal(link.uri.expose())?);
    let uri = link.uri.expose();
    let viewer = uri.split_once('#').map_or("", |(viewer, _)| viewer);
    println!(
        "{}… (passcode told in person: 2468; expires in 1 hour)",
        &uri[..uri.len().min(60)]
    );
    if !viewer.is_empty() {
        println!(
            "a phone camera opens it in the browser at {viewer}: the pharmacist types a name and \
             the passcode, and the page decrypts and shows the record (no app needed)"
        );
    }
    let received = open_link(
        link.uri.expose(),
        "City Pharmacy",
        Some(&Secret::new("2468")),
        Reach::Local,
    )?;
    let pharmacy = Store::open(dir.join("pharmacy.db"))?;
    let report = pharmacy.import_received(&received, &ImportOptions::default(), &NoProgress)?;
    println!("City Pharmacy opened it: {}", report.summary());
    for (ty, n) in pharmacy.stats()?.by_type {
        println!("  {ty:<20} {n}");
    }
    print_prescriptions(&pharmacy)?;
    phone.sync_accesses(&link)?;
    phone.revoke_link(&link)?;
    println!("the patient's access log (phrkit log), newest first:");
    for e in phone.access_log(Some(&link.patient))?.iter().take(4) {
        println!(
            "  {}  {:<14} {}",
            &e.recorded[..19],
            e.action,
            e.description
        );
    }
    match open_link(
        link.uri.expose(),
        "City Pharmacy",
        Some(&Secret::new("2468")),
        Reach::Local,
    ) {
        Err(e) => println!("after revoking, opening again fails: {e}"),
        Ok(_) => anyhow::bail!("a revoked link still opened"),
    }
    host.shutdown();
    Ok(())
}

/// Step 7: a clinic's server streams the record as NDJSON; a tablet imports lines as they
/// arrive.
fn pull_from_a_server(record: &std::path::Path, dir: &std::path::Path) -> anyhow::Result<()> {
    step(
        7,
        "A clinic's server streams a record over HTTP ($phr-export, NDJSON); a tablet pulls it",
    );
    let clinic_db = dir.join("clinic.db");
    let clinic = Store::open(&clinic_db)?;
    import_files(&clinic, &[record.to_path_buf()], &ImportOptions::default())?;
    let patient = clinic.patient_ids()?.into_iter().next().unwrap_or_default();
    drop(clinic);
    let token = phrkit::shl::link::generate_key();
    let mut config = phrkit_server::HostConfig::new(dir.join("server"));
    config.fhir = Some(phrkit_server::FhirConfig::new(
        &clinic_db,
        phrkit_server::ApiToken::new(&token)?,
    ));
    let server = phrkit_server::start(config)?;
    println!(
        "server on {} (FHIR operations need its Bearer token)",
        server.base_url
    );
    first_lines(&server.base_url, &token, &patient)?;
    let mut tablet = Store::open(dir.join("tablet.db"))?;
    let params = [("patient", patient.as_str())];
    let report = phrkit::remote::pull(
        &mut tablet,
        &server.base_url,
        &token,
        &params,
        &ImportOptions::default(),
        &|_| {},
    )?;
    println!(
        "pulled {} bytes, {} lines as they arrived: {}",
        report.received.bytes,
        report.received.resources,
        report.import.summary()
    );
    server.shutdown();
    Ok(())
}

/// Step 5, continued: a copy of the `.sphr` with a readable entry slipped in by someone
/// without the passphrase is refused, and a fresh store stays empty.
fn tampered_copy_is_refused(
    sphr: &std::path::Path,
    target: &std::path::Path,
    passphrase: &phrkit::secret::Secret,
) -> anyhow::Result<()> {
    use std::io::Write;
    let mut zip = zip::ZipArchive::new(std::fs::File::open(sphr)?)?;
    let mut copy = zip::ZipWriter::new(std::fs::File::create(target)?);
    let mut top = String::new();
    for i in 0..zip.len() {
        let entry = zip.by_index_raw(i)?;
        if top.is_empty() {
            top = entry
                .name()?
                .split('/')
                .next()
                .unwrap_or_default()
                .to_string();
        }
        copy.raw_copy_file(entry)?;
    }
    copy.start_file(
        format!("{top}/added.phr"),
        zip::write::SimpleFileOptions::default(),
    )?;
    copy.write_all(br#"{"resourceType":"AllergyIntolerance","id":"invented","patient":{"reference":"Patient/x"}}"#)?;
    copy.finish()?;
    let store = Store::open(target.with_extension("db"))?;
    match import_files_with(
        &store,
        &[target.to_path_buf()],
        &ImportOptions::default(),
        Some(passphrase),
    ) {
        Err(e) => println!(
            "a copy with an invented plaintext allergy slipped in: refused ({e}); {} resources written",
            store.count(None)?
        ),
        Ok(_) => anyhow::bail!("a tampered .sphr was accepted"),
    }
    Ok(())
}

/// Step 7, first: the server's first lines, timed as a receiver sees them.
fn first_lines(base: &str, token: &str, patient: &str) -> anyhow::Result<()> {
    use std::io::BufRead;
    let start = std::time::Instant::now();
    let url = format!("{base}/Bundle/$phr-export?outputFormat=ndjson&patient={patient}");
    let mut response = ureq::get(&url)
        .header("Authorization", &format!("Bearer {token}"))
        .call()?;
    let mut lines = std::io::BufReader::new(response.body_mut().as_reader());
    let mut line = String::new();
    let cover = lines.read_line(&mut line)?;
    loop {
        line.clear();
        if lines.read_line(&mut line)? == 0 {
            anyhow::bail!("the export holds no clinical line");
        }
        let v: serde_json::Value = serde_json::from_str(&line)?;
        let ty = v["resourceType"].as_str().unwrap_or_default();
        if ty != "Patient" && !phrkit::fhir::compartment::is_shared_type(ty) {
            println!(
                "first lines: a {cover}-byte cover page, the Patient, then {ty} {:.1} ms after the request",
                start.elapsed().as_secs_f64() * 1e3
            );
            break;
        }
    }
    Ok(())
}

/// Fills `key` from the OS random number generator (via a fresh SHL key: 32 random bytes).
fn rand_key(key: &mut [u8; 32]) {
    let text = phrkit::shl::link::generate_key();
    let payload = phrkit::shl::link::ShlPayload::new("https://x/", text);
    if let Ok(bytes) = payload.key_bytes() {
        *key = bytes;
    }
}

/// A small file with the defects real PHR files carry.
fn messy_file() -> String {
    [
        r#"{"resourceType":"Patient","id":"visitor-1","_id":"64f0c0ffee","name":[{"family":"Visitor","given":["Val"]}],"birthDate":"1980-02-29"}"#,
        r#"{"resourceType":"Observation","status":"final","code":{"text":"Pulse"},"subject":{"reference":"urn:uuid:visitor-1"},"effectiveDateTime":"2024-05-01T09:00:00+02:00","valueQuantity":{"value":64,"unit":"/min"}}"#,
        r#"{"resourceType":"Observation","status":"final","code":{"text":"Pulse"},"subject":{"reference":"Patient/visitor-1"},"effectiveDateTime":"2024-05-01T09:00:00+02:00","valueQuantity":{"value":64,"unit":"/min"}"#,
        r#"{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"processing","diagnostics":"Error at line 847: invalid reference"}]}"#,
        r#"{"resourceType":"Condition","id":"c1","subject":{"reference":"Patient/visitor-1"},"onsetDateTime":"2019-13-01"}"#,
    ]
    .join("\n")
}
