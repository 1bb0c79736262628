//! `$phr-export` over HTTP: parameters from the query string or a `Parameters` body, content
//! negotiation, and the streamed answer (see `stream` for the body itself).
//!
//! **Parameters** are exactly the core's ([`phrkit::ExportRequest::from_params`]): a GET takes
//! them from the query, `POST /Bundle/$phr-export` from a FHIR `Parameters` resource (each
//! `value[x]` read as its string form; `valueReference.reference` for `patient`).
//!
//! **`.sphr` passphrases never travel in the URL** (a `passphrase` query parameter is refused
//! with 400 and not echoed). The client sends its passphrase in the `X-PHR-Passphrase` request
//! header or as a `passphrase` parameter of the POST body. Or it asks the server to make one,
//! with `X-PHR-Generate-Passphrase: true` (or a `generatePassphrase` parameter): only then does
//! the answer carry the generated passphrase, in its `X-PHR-Passphrase` header. Without either,
//! an encrypted `sphr` is a 400: the server never makes up a secret nobody asked for.
//!
//! **Headers** of a 200: `Content-Type` from the IG's table (`application/fhir+ndjson` when the
//! client's `Accept` names it), `Content-Disposition: attachment; filename="…"` with the name
//! the core's export gives (`<Given>-<Family>-<date>.phr`, `record-<date>.sphr`), and
//! `X-PHR-Version: 1.0`. Without `outputFormat`, an `Accept` that asks for NDJSON gets NDJSON;
//! an `Accept` that allows none of the format's types gets 406.
//!
//! The patient is resolved and the file name computed before the export starts, on the same
//! blocking thread, so the head is complete before the first byte.

use axum::body::{Body, Bytes};
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use phrkit::progress::NoProgress;
use phrkit::secret::Secret;
use phrkit::{ExportRequest, OutputFormat, Store};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

use super::FhirState;
use super::outcome::FhirError;
use super::stream::BodyWriter;

/// Request header carrying a `.sphr` passphrase (request) or a generated one (response).
pub const PASSPHRASE_HEADER: &str = "x-phr-passphrase";
/// Request header asking the server to generate the `.sphr` passphrase.
pub const GENERATE_HEADER: &str = "x-phr-generate-passphrase";

/// One export call, however it arrived.
struct Call {
    params: Vec<(String, String)>,
    passphrase: Option<Secret>,
    generate: bool,
}

/// `GET /Bundle/$phr-export?…`
pub(crate) async fn by_query(
    State(state): State<FhirState>,
    headers: HeaderMap,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Response {
    match call_from_query(&headers, query, None) {
        Ok(call) => export(state, &headers, call).await,
        Err(e) => e.into_response(),
    }
}

/// `GET /Patient/{id}/$phr-export?…`
pub(crate) async fn by_instance(
    State(state): State<FhirState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Response {
    match call_from_query(&headers, query, Some(id)) {
        Ok(call) => export(state, &headers, call).await,
        Err(e) => e.into_response(),
    }
}

/// `POST /Bundle/$phr-export` with a `Parameters` body.
pub(crate) async fn by_parameters(
    State(state): State<FhirState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    match call_from_parameters(&headers, body) {
        Ok(call) => export(state, &headers, call).await,
        Err(e) => e.into_response(),
    }
}

fn call_from_query(
    headers: &HeaderMap,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
    instance: Option<String>,
) -> Result<Call, FhirError> {
    let Query(mut params) =
        query.map_err(|_| FhirError::BadRequest("the query string is malformed".into()))?;
    if params.iter().any(|(k, _)| k == "passphrase") {
        return Err(FhirError::BadRequest(
            "a passphrase must not travel in the URL; send it in the X-PHR-Passphrase header"
                .into(),
        ));
    }
    if let Some(id) = instance {
        if params.iter().any(|(k, _)| k == "patient") {
            return Err(FhirError::BadRequest(
                "invalid parameter `patient`: the instance names the patient".into(),
            ));
        }
        params.push(("patient".into(), id));
    }
    Ok(Call {
        params,
        passphrase: header_passphrase(headers)?,
        generate: header_flag(headers, GENERATE_HEADER),
    })
}

fn call_from_parameters(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Call, FhirError> {
    let ct = content_type(headers);
    if ct != "application/fhir+json" && ct != "application/json" {
        return Err(FhirError::UnsupportedMediaType(
            "send the parameters as a FHIR Parameters resource (application/fhir+json)",
        ));
    }
    let bytes = body.map_err(|_| FhirError::BadRequest("unreadable body".into()))?;
    let value: Value = serde_json::from_slice(&bytes)
        .map_err(|_| FhirError::BadRequest("the body is not JSON".into()))?;
    if value["resourceType"] != "Parameters" {
        return Err(FhirError::BadRequest(
            "the body must be a Parameters resource".into(),
        ));
    }
    let mut call = Call {
        params: Vec::new(),
        passphrase: header_passphrase(headers)?,
        generate: header_flag(headers, GENERATE_HEADER),
    };
    for p in value["parameter"].as_array().into_iter().flatten() {
        let name = p["name"].as_str().unwrap_or_default().to_owned();
        let text = parameter_value(p)
            .ok_or_else(|| FhirError::BadRequest(format!("parameter `{name}` has no value")))?;
        match name.as_str() {
            "passphrase" if !text.is_empty() => call.passphrase = Some(Secret::new(text)),
            "passphrase" => return Err(FhirError::BadRequest("the passphrase is empty".into())),
            "generatePassphrase" => call.generate = text == "true",
            _ => call.params.push((name, text)),
        }
    }
    Ok(call)
}

/// A parameter's `value[x]` as text: strings, codes, dates, booleans; a Reference's `reference`.
fn parameter_value(p: &Value) -> Option<String> {
    let (_, v) = p
        .as_object()?
        .iter()
        .find(|(k, _)| k.starts_with("value"))?;
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::Object(o) => o.get("reference")?.as_str().map(str::to_owned),
        _ => None,
    }
}

fn header_passphrase(headers: &HeaderMap) -> Result<Option<Secret>, FhirError> {
    match headers.get(PASSPHRASE_HEADER) {
        None => Ok(None),
        Some(v) => match v.to_str().map(str::trim) {
            Ok(s) if !s.is_empty() => Ok(Some(Secret::new(s))),
            _ => Err(FhirError::BadRequest(
                "the X-PHR-Passphrase header is empty or not text".into(),
            )),
        },
    }
}

fn header_flag(headers: &HeaderMap, name: &str) -> bool {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
}

/// The media type of a request, lower-case, without parameters.
pub(crate) fn content_type(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default()
}

/// Chooses the format (when `outputFormat` is absent) and the response's Content-Type from
/// `Accept`; 406 when `Accept` allows none of the format's media types.
fn negotiate(
    accept: Option<&str>,
    format_given: bool,
    format: &mut OutputFormat,
) -> Result<&'static str, FhirError> {
    let Some(accept) = accept.filter(|a| !a.trim().is_empty()) else {
        return Ok(format.media_type());
    };
    let ranges: Vec<String> = accept
        .split(',')
        .filter_map(|r| r.split(';').next())
        .map(|r| r.trim().to_ascii_lowercase())
        .collect();
    let has = |t: &str| ranges.iter().any(|r| r == t);
    const NDJSON: [&str; 3] = [
        "application/x-ndjson",
        phrkit::media::FHIR_NDJSON,
        "application/ndjson",
    ];
    if !format_given && NDJSON.iter().any(|t| has(t)) {
        *format = OutputFormat::Ndjson;
    }
    let offered: &[&'static str] = match format {
        OutputFormat::Bundle => &["application/fhir+json", "application/json"],
        OutputFormat::Ndjson | OutputFormat::Phr => &NDJSON,
        OutputFormat::Sphr => &["application/zip", "application/octet-stream"],
    };
    if format.is_ndjson() && has(phrkit::media::FHIR_NDJSON) {
        return Ok(phrkit::media::FHIR_NDJSON);
    }
    if has("*/*") || has("application/*") || offered.iter().any(|t| has(t)) {
        return Ok(format.media_type());
    }
    Err(FhirError::NotAcceptable(format!(
        "outputFormat={format} is sent as {}; the Accept header allows none of: {}",
        format.media_type(),
        offered.join(", ")
    )))
}

/// Runs the export on the blocking pool and answers with its stream.
async fn export(state: FhirState, headers: &HeaderMap, call: Call) -> Response {
    let format_given = call
        .params
        .iter()
        .any(|(k, _)| k == "outputFormat" || k == "_outputFormat");
    let mut req =
        match ExportRequest::from_params(call.params.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        {
            Ok(req) => req,
            Err(e) => return FhirError::from_core(e).into_response(),
        };
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    let content_type = match negotiate(accept, format_given, &mut req.format) {
        Ok(ct) => ct,
        Err(e) => return e.into_response(),
    };
    req.base_url = state.base_url.to_string();
    req.timestamp = Some(phrkit::fhir::date::now_ms());
    let mut generated = None;
    if req.format == OutputFormat::Sphr && req.encrypt {
        req.passphrase = call.passphrase;
        if req.passphrase.is_none() {
            if !call.generate {
                return FhirError::BadRequest(
                    "outputFormat=sphr needs a passphrase: send X-PHR-Passphrase, or \
                     X-PHR-Generate-Passphrase: true to have one made and returned"
                        .into(),
                )
                .into_response();
            }
            match phrkit::sphr::generate_passphrase() {
                Ok(p) => {
                    generated = Some(p.clone());
                    req.passphrase = Some(p);
                }
                Err(_) => return FhirError::Internal.into_response(),
            }
        }
    }

    let (head_tx, head_rx) = oneshot::channel();
    let (name_tx, name_rx) = oneshot::channel();
    let (tx, mut rx) = mpsc::channel(4);
    let config = state.config.clone();
    let store = state.store.clone();
    let format = req.format;
    tokio::task::spawn_blocking(move || {
        match file_name(&store, &mut req) {
            Ok(name) => {
                let _ = name_tx.send(Ok(name));
            }
            Err(e) => {
                let _ = name_tx.send(Err(FhirError::from_core(e)));
                return;
            }
        }
        let mut writer = BodyWriter::new(
            head_tx,
            tx,
            format.is_ndjson(),
            config.export_fault,
            config.export_hook.clone(),
        );
        let result = store.export(&req, &mut writer, &NoProgress).map(|_| ());
        writer.finish(result);
    });
    let name = match name_rx.await {
        Ok(Ok(name)) => name,
        Ok(Err(e)) => return e.into_response(),
        Err(_) => return FhirError::Internal.into_response(),
    };
    match head_rx.await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return e.into_response(),
        Err(_) => return FhirError::Internal.into_response(),
    }
    let stream = futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx));
    let mut response = (StatusCode::OK, Body::from_stream(stream)).into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert("x-phr-version", HeaderValue::from_static("1.0"));
    if let Some(p) = generated
        && let Ok(mut v) = HeaderValue::from_str(p.expose())
    {
        v.set_sensitive(true);
        h.insert(PASSPHRASE_HEADER, v);
    }
    response
}

/// Resolves the patient as the export will and pins it in `req` (so the export streams the
/// same one); returns the export's file name. Errors as the export's own.
fn file_name(store: &Store, req: &mut ExportRequest) -> Result<String, phrkit::Error> {
    let target = store.export_target(req)?;
    req.patient = Some(target.patient);
    Ok(target.file_name)
}
