//! `phrkit stats`.

use crate::StoreArgs;
use crate::ui::table;
use phrkit::Store;
use std::process::ExitCode;

/// Prints what the store holds.
pub fn run(a: StoreArgs) -> anyhow::Result<ExitCode> {
    let store = a.open()?;
    print_stats(&store)?;
    Ok(ExitCode::SUCCESS)
}

/// The stats table, shared with the demo.
pub fn print_stats(store: &Store) -> anyhow::Result<()> {
    let s = store.stats()?;
    let rows: Vec<Vec<String>> = s
        .by_type
        .iter()
        .map(|(t, n)| vec![t.clone(), n.to_string()])
        .collect();
    table(&["type", "resources"], &rows);
    println!(
        "{} resources ({} patients), {} versions, {} import runs, {} quarantined — {}",
        s.resources,
        store.patient_ids()?.len(),
        s.versions,
        s.runs,
        s.quarantined,
        store.path().display()
    );
    Ok(())
}
