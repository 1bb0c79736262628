//! The recipient's viewer: a page at `/view` that opens a SMART Health Link in any browser.
//!
//! HTML, CSS and JavaScript are built into the binary (`server/viewer/`), with no request to
//! any other origin at run time. The page reads the link from the URL fragment, which never
//! reaches this server, so the host still sees only ciphertext; it fetches the manifest and
//! files from the link's host (this one, or another that allows CORS) and decrypts them with
//! WebCrypto. Every answer carries a strict Content-Security-Policy (scripts from this origin
//! only, no inline script, no plugins or frames, connections only to this origin or https),
//! `Referrer-Policy: no-referrer`, and `Cache-Control: no-store` (from the common middleware).

use axum::Router;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

/// Path of the viewer page: a link opens as `<host>/view#shlink:/…`.
pub const VIEWER_PATH: &str = "/view";

const HTML: &str = include_str!("../viewer/index.html");
const CSS: &str = include_str!("../viewer/viewer.css");
const JS: &str = include_str!("../viewer/viewer.js");

/// What the viewer may load and where it may connect.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; \
     connect-src 'self' https:; form-action 'none'; base-uri 'none'; frame-ancestors 'none'";

/// The viewer's routes.
pub(crate) fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route(
            VIEWER_PATH,
            get(|| async { asset(HTML, "text/html; charset=utf-8") }),
        )
        .route(
            "/view/",
            get(|| async { asset(HTML, "text/html; charset=utf-8") }),
        )
        .route(
            "/view/viewer.css",
            get(|| async { asset(CSS, "text/css; charset=utf-8") }),
        )
        .route(
            "/view/viewer.js",
            get(|| async { asset(JS, "text/javascript; charset=utf-8") }),
        )
}

fn asset(body: &'static str, content_type: &'static str) -> Response {
    let mut response = body.into_response();
    crate::middleware::insert_static(
        response.headers_mut(),
        &[
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_SECURITY_POLICY, CSP),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::X_FRAME_OPTIONS, "DENY"),
        ],
    );
    response
}
