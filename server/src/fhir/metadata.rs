//! `GET /metadata`: the core's CapabilityStatement, describing this instance (its base URL).
//! Public on purpose (see the module docs of `fhir`).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

use super::FhirState;
use super::outcome::fhir_json;

/// The CapabilityStatement of this server.
pub(crate) async fn metadata(State(state): State<FhirState>) -> Response {
    let table = phrkit::fhir::clinical::documented_table();
    let now = phrkit::fhir::date::format_instant(phrkit::fhir::date::now_ms());
    let statement =
        phrkit::capability::capability_statement(&phrkit::capability::CapabilityOptions {
            software_version: env!("CARGO_PKG_VERSION"),
            base_url: Some(&state.base_url),
            date: now.get(..10).unwrap_or(&now),
            clinical_dates: &table,
        });
    fhir_json(StatusCode::OK, statement)
}
