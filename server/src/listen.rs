//! Accepting connections within limits: how many at once, how many per address, and how long a
//! client may take to send its headers.
//!
//! `axum::serve` accepts every connection and never times out a client that stops halfway
//! through its headers, so idle or half-open connections pile up until the process runs out of
//! file descriptors and nothing answers any more. This loop serves the same router with three
//! limits (fields of [`crate::HostConfig`]):
//!
//! - **At most `max_connections` at once.** When all are in use the loop stops accepting; new
//!   connections wait in the kernel's backlog until one ends, so the file descriptors the
//!   process holds are bounded.
//! - **At most `max_connections_per_ip` from one address** (an IPv6 /64 counts as one): one
//!   more from that address is accepted and closed at once, so a single client cannot take the
//!   whole pool. Behind a reverse proxy every connection comes from the proxy: set it to 0 there
//!   and let the proxy limit per client.
//! - **`header_timeout` to send a request's headers**, which is also how long a kept-alive
//!   connection may sit idle before its next request (hyper starts the timer when it starts
//!   waiting for a request head). Headers are capped at [`MAX_HEADER_BYTES`] and
//!   [`MAX_HEADERS`] (431 beyond).
//! - **`body_timeout` between two pieces of a request body**: a body that stalls fails with
//!   [`tower_http::timeout::TimeoutError`], which the route sees as a read error (a JSON route
//!   answers 400; `$import` answers 408 and rolls back).
//!
//! Shutdown is graceful: the loop stops accepting, each connection finishes its request in
//! flight and closes.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tower_http::map_request_body::MapRequestBody;
use tower_http::timeout::TimeoutBody;

/// Largest request head (request line and headers), in bytes.
pub const MAX_HEADER_BYTES: usize = 32 * 1024;
/// Most header fields in one request.
pub const MAX_HEADERS: usize = 100;

/// The connection limits of a host (from [`crate::HostConfig`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// Connections served at once.
    pub max_connections: usize,
    /// Connections from one address at once; 0: no per-address limit.
    pub per_ip: usize,
    /// Time to send a request head; also the keep-alive idle limit.
    pub header_timeout: Duration,
    /// Longest pause between two pieces of a request body.
    pub body_timeout: Duration,
}

/// Serves `app` on `listener` within `limits` until `shutdown` resolves, then lets the
/// requests in flight finish.
pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    let pool = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let per_ip = Arc::new(PerAddress::default());
    let (closing, closed) = watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            permit = pool.clone().acquire_owned() => permit,
            () = &mut shutdown => break,
        };
        let Ok(permit) = permit else { break };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                // Out of descriptors or a connection reset before accept: try again shortly.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Some(slot) = per_ip.enter(peer.ip(), limits.per_ip) else {
            // Over its address's share: closed at once (dropping the stream closes it).
            continue;
        };
        let app = app.clone();
        let closed = closed.clone();
        tokio::spawn(async move {
            connection(stream, app, limits, closed).await;
            drop(slot);
            drop(permit);
        });
    }
    drop(listener);
    // Tell every connection to finish, then wait until all permits are back.
    let _ = closing.send(true);
    let _ = pool
        .acquire_many(u32::try_from(limits.max_connections.max(1)).unwrap_or(u32::MAX))
        .await;
    Ok(())
}

/// Serves one connection with HTTP/1.1 until it closes or `closed` says the host is stopping.
async fn connection(
    stream: TcpStream,
    app: Router,
    limits: Limits,
    mut closed: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let body_timeout = limits.body_timeout;
    let app = MapRequestBody::new(app, move |body: Incoming| {
        Body::new(TimeoutBody::new(body_timeout, body))
    });
    let service = TowerToHyperService::new(app);
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_header_size(MAX_HEADER_BYTES)
        .max_headers(MAX_HEADERS);
    let conn = builder
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades();
    tokio::pin!(conn);
    loop {
        tokio::select! {
            // A failed connection (a timeout, a reset, a malformed request) is the client's
            // business; hyper has already answered what it could.
            _ = conn.as_mut() => break,
            changed = closed.changed() => {
                conn.as_mut().graceful_shutdown();
                if changed.is_err() {
                    // The loop is gone: finish this connection without further signals.
                    let _ = conn.as_mut().await;
                    break;
                }
            }
        }
    }
}

/// Connections open per client address (an IPv6 /64 counts as one address).
#[derive(Default)]
struct PerAddress {
    open: Mutex<HashMap<IpAddr, usize>>,
}

/// One connection's place in its address's count; dropping it gives the place back.
struct Slot {
    owner: Arc<PerAddress>,
    key: IpAddr,
}

impl PerAddress {
    /// Takes a place for a connection from `ip`, or `None` when `cap` are already open
    /// (`cap` 0: no limit).
    fn enter(self: &Arc<Self>, ip: IpAddr, cap: usize) -> Option<Option<Slot>> {
        if cap == 0 {
            return Some(None);
        }
        let key = client_key(ip);
        // A poisoned lock means a panic mid-update of a plain counter map; it is still usable.
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let n = open.entry(key).or_insert(0);
        if *n >= cap {
            return None;
        }
        *n += 1;
        Some(Some(Slot {
            owner: self.clone(),
            key,
        }))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.owner.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = open.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.key);
            }
        }
    }
}

/// The address a connection is counted under: IPv4 as is (IPv4-mapped IPv6 too), IPv6 by its
/// /64, which is what one subscriber usually gets.
fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut segments = v6.segments();
                segments[4..].fill(0);
                IpAddr::V6(segments.into())
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("test address")
    }

    #[test]
    fn one_address_gets_its_share_and_a_closed_connection_gives_it_back() {
        let counts = Arc::new(PerAddress::default());
        let a = counts.enter(ip("10.0.0.1"), 2).expect("first");
        let _b = counts.enter(ip("10.0.0.1"), 2).expect("second");
        assert!(counts.enter(ip("10.0.0.1"), 2).is_none(), "third refused");
        assert!(
            counts.enter(ip("10.0.0.2"), 2).is_some(),
            "others unaffected"
        );
        drop(a);
        assert!(
            counts.enter(ip("10.0.0.1"), 2).is_some(),
            "place given back"
        );
        assert!(counts.enter(ip("10.0.0.1"), 0).is_some(), "0: no limit");
    }

    #[test]
    fn an_ipv6_subnet_counts_as_one_address() {
        assert_eq!(
            client_key("2001:db8:1:2:aaaa::1".parse().unwrap()),
            client_key("2001:db8:1:2:bbbb::9".parse().unwrap())
        );
        assert_ne!(
            client_key("2001:db8:1:2::1".parse().unwrap()),
            client_key("2001:db8:1:3::1".parse().unwrap())
        );
        assert_eq!(
            client_key("::ffff:10.0.0.1".parse().unwrap()),
            client_key("10.0.0.1".parse().unwrap())
        );
    }
}
