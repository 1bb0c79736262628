//! Headers every answer carries, the CORS preflight, and the request log line.
//!
//! Browser viewers fetch manifests and files cross-origin, so the answers of the public SHL
//! routes (the manifest, a ticketed file, a `U` link's file) get `Access-Control-Allow-Origin: *`
//! (no credentials are involved: the capability is in the URL and body), and an `OPTIONS`
//! preflight on them is answered here with 204 before routing to a handler. No other route
//! (link management, the FHIR operations, the viewer page) says anything to CORS, so a page on
//! another origin cannot read their answers.
//! Only `content-type` is allowed as a request header, so a browser cannot send the management
//! `Authorization` header cross-origin; management stays a same-origin or non-browser affair.
//! `Retry-After` is exposed so a browser client can honour a 429. Every answer, public or
//! management, gets `Cache-Control: no-store`: manifests, tickets and tokens must not sit in
//! caches.
//!
//! The log line holds the method, the route *template* (`/api/shl/{id}`, never the id, which is
//! a capability) and the status. Nothing else is logged: no ids, tokens, tickets, passcodes,
//! bodies or recipients.

use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Add CORS and no-store headers, answer preflights, and log method, route template and status.
pub async fn common_headers(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| path.as_str().to_owned())
        .unwrap_or_else(|| "(unmatched)".to_owned());
    let public = is_public(&method, &route);
    let mut response = if public && method == Method::OPTIONS {
        let mut preflight = StatusCode::NO_CONTENT.into_response();
        insert_static(
            preflight.headers_mut(),
            &[
                (header::ACCESS_CONTROL_ALLOW_METHODS, "GET, POST, OPTIONS"),
                (header::ACCESS_CONTROL_ALLOW_HEADERS, "content-type"),
                (header::ACCESS_CONTROL_MAX_AGE, "600"),
            ],
        );
        preflight
    } else {
        next.run(request).await
    };
    add_common(response.headers_mut(), public);
    tracing::info!(%method, route, status = response.status().as_u16(), "request");
    response
}

/// Whether `route` (a template) answers browsers on any origin: the routes a recipient uses.
fn is_public(method: &Method, route: &str) -> bool {
    let recipient_method = matches!(*method, Method::GET | Method::POST | Method::OPTIONS);
    recipient_method && matches!(route, "/api/shl/{id}" | "/api/shl/{id}/file/{hash}")
}

fn add_common(headers: &mut HeaderMap, public: bool) {
    if public {
        insert_static(
            headers,
            &[
                (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
                (header::ACCESS_CONTROL_EXPOSE_HEADERS, "retry-after"),
            ],
        );
    }
    insert_static(headers, &[(header::CACHE_CONTROL, "no-store")]);
}

/// Sets each `(name, value)` header, replacing any earlier value.
pub(crate) fn insert_static(headers: &mut HeaderMap, fields: &[(HeaderName, &'static str)]) {
    for (name, value) in fields {
        headers.insert(name.clone(), HeaderValue::from_static(value));
    }
}
