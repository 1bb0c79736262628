//! `GET /metadata`: the core's CapabilityStatement, describing this instance (its base URL).
//! Public on purpose (see the module docs of `fhir`).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

use super::FhirState;
use super::outcome::fhir_json;

/// The CapabilityStatement of this server.
pub(crate) async fn metadata(State(state): State<FhirState>) -> Response {
    fhir_json(
        StatusCode::OK,
        phrkit::capability::statement(Some(&state.base_url)),
    )
}
