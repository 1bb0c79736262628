//! HTTP for every client in phrkit: one agent builder and one reach policy.
//!
//! Two clients talk to other machines: the SMART Health Link client ([`crate::shl::client`],
//! small JSON and JWE requests to hosts a link's author chose) and the `$phr-export` /
//! `$import` client ([`crate::remote`], long streams to a server the user named). Both build
//! their agent here, so both refuse redirects (a redirect could carry a token, a recipient's
//! name or a capability URL to another host, or from https to http), report status codes
//! instead of failing on them, and resolve host names through [`reach::ReachResolver`].
//! They differ only in the deadline: a link's requests are small and get one overall
//! timeout; a record's stream may take minutes, so only connecting is bounded.

pub mod reach;

use reach::{Reach, ReachResolver};
use std::time::Duration;

/// How long a request may take.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Deadline {
    /// The whole request, connection to last byte.
    Whole(Duration),
    /// Only connecting; the body may stream for as long as it takes.
    Connect(Duration),
}

/// An agent with phrkit's rules (see the module doc) that reaches what `reach` allows.
pub(crate) fn agent(deadline: Deadline, reach: Reach) -> ureq::Agent {
    let builder = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0);
    let config = match deadline {
        Deadline::Whole(d) => builder.timeout_global(Some(d)),
        Deadline::Connect(d) => builder.timeout_connect(Some(d)),
    }
    .build();
    ureq::Agent::with_parts(
        config,
        ureq::unversioned::transport::DefaultConnector::default(),
        ReachResolver::new(reach),
    )
}
