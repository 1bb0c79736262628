//! Which hosts the SMART Health Link client may reach: public https hosts only, unless the
//! caller explicitly opts into local ones for development.
//!
//! A link is a stranger's input: its manifest URL, and every file `location` in its manifest,
//! were chosen by whoever made it. Fetched blindly, they could point the recipient's device at
//! its own services (`http://127.0.0.1:…`), the home or hospital network (`10.…`, `192.168.…`),
//! or a cloud metadata endpoint (`169.254.169.254`) — the device would send requests, and a
//! recipient name, where the link's author cannot. So with [`Reach::Public`], the default:
//! - every URL must be `https`;
//! - an IP literal must be a public address, and every address a host name resolves to must be
//!   public too — checked in the resolver, on the addresses actually connected to, so a name
//!   that resolves to a private address (DNS rebinding) is refused as well;
//! - redirects are never followed (module `client`).
//!
//! [`Reach::Local`] is the explicit development setting (`phrkit --allow-local-hosts`,
//! `allowLocalHosts(true)` in the SDK): any address, and plain `http` to `localhost` or a
//! non-public IP literal (a host on this machine, the Android emulator's `10.0.2.2`, a laptop
//! on the LAN). A proxy configured through the environment is resolved like any host, so a
//! proxy on a private address needs that setting too.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ureq::config::Config;
use ureq::http::Uri;
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::NextTimeout;

use crate::error::ShlError;

/// Which hosts the client may reach (see the module docs).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Reach {
    /// Public hosts over https only. The default.
    #[default]
    Public,
    /// Also this device and private networks, with plain http to `localhost` and non-public
    /// IP literals: for development, tests and a host on the same machine.
    Local,
}

/// Refuses `url` unless `reach` allows it: https (or, with [`Reach::Local`], http to a local
/// host), and an IP literal must be public unless local hosts are allowed. Host names are
/// checked again when resolved.
pub fn check_url(url: &str, reach: Reach) -> Result<(), ShlError> {
    let uri: Uri = url
        .parse()
        .map_err(|_| ShlError::InvalidPayload("url is not a valid URL".into()))?;
    let host = host_of(&uri);
    let local = host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| !is_public(ip));
    match (uri.scheme_str(), reach) {
        (Some("https"), Reach::Local) => Ok(()),
        (Some("https"), Reach::Public) if local => Err(ShlError::LocalAddress),
        (Some("https"), Reach::Public) => Ok(()),
        (Some("http"), Reach::Local) if local => Ok(()),
        (Some("http"), _) if local => Err(ShlError::LocalAddress),
        _ => Err(ShlError::Insecure),
    }
}

/// Whether `url` is https, or plain http to this machine's loopback: the rule for a person's
/// own record server (`phrkit pull`/`push`), which they chose themselves, unlike a link's URLs.
pub fn https_or_loopback(url: &str) -> bool {
    let Ok(uri) = url.parse::<Uri>() else {
        return false;
    };
    let host = host_of(&uri);
    match uri.scheme_str() {
        Some("https") => true,
        Some("http") => {
            host.eq_ignore_ascii_case("localhost")
                || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
        }
        _ => false,
    }
}

/// A URL's host as text, an IPv6 literal without its brackets.
fn host_of(uri: &Uri) -> &str {
    uri.host()
        .unwrap_or_default()
        .trim_start_matches('[')
        .trim_end_matches(']')
}

/// Whether `ip` is an address on the public internet: not this device, a private or shared
/// network, link-local, multicast, documentation, benchmarking or reserved space. IPv4 inside
/// IPv6 (mapped, NAT64, 6to4) is judged by its IPv4 address.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match embedded_v4(v6) {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    let special = ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // shared address space (carrier NAT)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240; // reserved
    !special
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    let special = ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (s[0] & 0xfe00) == 0xfc00 // unique local
        || (s[0] & 0xffc0) == 0xfe80 // link-local
        || (s[0] == 0x2001 && s[1] == 0x0db8); // documentation
    !special
}

/// The IPv4 address an IPv6 address carries: mapped (`::ffff:a.b.c.d`), compatible
/// (`::a.b.c.d`), NAT64 (`64:ff9b::/96`) or 6to4 (`2002:aabb:ccdd::/48`).
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let low = || Ipv4Addr::from((u32::from(s[6]) << 16) | u32::from(s[7]));
    if let Some(v4) = ip.to_ipv4_mapped() {
        Some(v4)
    } else if (s[..6] == [0; 6] && !ip.is_loopback() && !ip.is_unspecified())
        || (s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0; 4])
    {
        Some(low())
    } else if s[0] == 0x2002 {
        Some(Ipv4Addr::from((u32::from(s[1]) << 16) | u32::from(s[2])))
    } else {
        None
    }
}

/// The refusal a resolver reports; [`super::client`] turns it into
/// [`ShlError::LocalAddress`].
#[derive(Debug, thiserror::Error)]
#[error("the host resolves only to local or private addresses")]
pub(crate) struct LocalAddressRefused;

/// The system resolver, keeping only public addresses unless local hosts are allowed.
#[derive(Debug, Default)]
pub(crate) struct ReachResolver {
    reach: Reach,
    system: DefaultResolver,
}

impl ReachResolver {
    /// A resolver for `reach`.
    pub(crate) fn new(reach: Reach) -> Self {
        ReachResolver {
            reach,
            system: DefaultResolver::default(),
        }
    }
}

impl Resolver for ReachResolver {
    fn resolve(
        &self,
        uri: &Uri,
        config: &Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let found = self.system.resolve(uri, config, timeout)?;
        if self.reach == Reach::Local {
            return Ok(found);
        }
        let mut kept = self.empty();
        for addr in found.iter().filter(|addr| is_public(addr.ip())) {
            kept.push(*addr);
        }
        if kept.is_empty() {
            Err(ureq::Error::Other(Box::new(LocalAddressRefused)))
        } else {
            Ok(kept)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_hosts_need_https_and_local_ones_the_development_setting() {
        for url in ["https://shl.example.org/x", "https://93.184.215.14/x"] {
            assert!(check_url(url, Reach::Public).is_ok(), "{url}");
            assert!(check_url(url, Reach::Local).is_ok(), "{url}");
        }
        for url in [
            "http://127.0.0.1:8787/x",
            "http://localhost/x",
            "http://[::1]:80/x",
            "http://10.0.2.2:8787/x",
            "https://192.168.1.20/x",
            "https://169.254.169.254/latest/meta-data",
            "https://[::ffff:127.0.0.1]/x",
            "https://[fd00::1]/x",
        ] {
            assert!(
                matches!(check_url(url, Reach::Public), Err(ShlError::LocalAddress)),
                "{url}"
            );
            assert!(check_url(url, Reach::Local).is_ok(), "{url}");
        }
        for reach in [Reach::Public, Reach::Local] {
            for url in ["http://shl.example.org/x", "http://8.8.8.8/x", "ftp://x/y"] {
                assert!(
                    matches!(check_url(url, reach), Err(ShlError::Insecure)),
                    "{url}"
                );
            }
        }
    }

    #[test]
    fn the_resolver_keeps_only_public_addresses_unless_local_hosts_are_allowed() {
        // A name, not a literal: what a link's author controls through DNS.
        let uri: Uri = "https://localhost:443/".parse().unwrap();
        let config = Config::builder().build();
        let resolve = |reach| ReachResolver::new(reach).resolve(&uri, &config, Default::default());
        let refused = resolve(Reach::Public);
        assert!(
            matches!(&refused, Err(ureq::Error::Other(e)) if e.is::<LocalAddressRefused>()),
            "{refused:?}"
        );
        let found = resolve(Reach::Local).unwrap();
        assert!(!found.is_empty() && found.iter().all(|a| a.ip().is_loopback()));
    }

    #[test]
    fn own_servers_are_https_or_this_machine() {
        assert!(https_or_loopback("https://10.0.0.5/fhir"));
        assert!(https_or_loopback("http://127.0.0.1:8787"));
        assert!(https_or_loopback("http://localhost:8787"));
        assert!(!https_or_loopback("http://10.0.0.5/fhir"));
        assert!(!https_or_loopback("ftp://localhost/"));
    }

    #[test]
    fn address_classes() {
        let public = [
            "8.8.8.8",
            "93.184.215.14",
            "2606:4700::1111",
            "64:ff9b::808:808",
        ];
        for ip in public {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
        let local = [
            "0.0.0.0",
            "127.0.0.2",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.0.1",
            "169.254.169.254",
            "100.64.0.1",
            "192.0.0.8",
            "192.0.2.1",
            "198.18.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "240.0.0.1",
            "::",
            "::1",
            "::ffff:10.0.0.1",
            "::127.0.0.1",
            "64:ff9b::a00:1",
            "2002:c0a8:0101::1",
            "fc00::1",
            "fe80::1",
            "ff02::1",
            "2001:db8::1",
        ];
        for ip in local {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        assert!(is_public("172.32.0.1".parse().unwrap()));
    }
}
