//! Which IP addresses a request may connect to without a grant naming them.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why an address is refused unless a grant names it explicitly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AddrKind {
    /// `127.0.0.0/8`, `::1`: the host itself.
    Loopback,
    /// `0.0.0.0/8`, `::`: "this host" on many systems.
    Unspecified,
    /// `169.254.0.0/16`, `fe80::/10` (and the deprecated site-local `fec0::/10`).
    LinkLocal,
    /// `10.0.0.0/8`, `172.16.0.0/12`, `192.168.0.0/16`, `fc00::/7`: the operator's own networks.
    Private,
    /// `100.64.0.0/10`: carrier-grade NAT, also used by cloud providers for internal services.
    SharedAddressSpace,
    /// `169.254.169.254`, `fd00:ec2::254`: the cloud instance metadata service, which hands out
    /// credentials.
    CloudMetadata,
    /// `255.255.255.255`.
    Broadcast,
    /// `224.0.0.0/4`, `ff00::/8`.
    Multicast,
    /// `240.0.0.0/4`, `192.0.0.0/24`, `198.18.0.0/15` and documentation ranges: never a public
    /// service.
    Reserved,
}

impl fmt::Display for AddrKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AddrKind::Loopback => "a loopback address",
            AddrKind::Unspecified => "an unspecified address",
            AddrKind::LinkLocal => "a link-local address",
            AddrKind::Private => "a private address",
            AddrKind::SharedAddressSpace => "a shared (carrier-grade NAT) address",
            AddrKind::CloudMetadata => "the cloud metadata address",
            AddrKind::Broadcast => "the broadcast address",
            AddrKind::Multicast => "a multicast address",
            AddrKind::Reserved => "a reserved address",
        })
    }
}

/// The cloud instance metadata address on IPv4 (AWS, GCP, Azure, and others).
const METADATA_V4: Ipv4Addr = Ipv4Addr::new(169, 254, 169, 254);
/// The AWS instance metadata address on IPv6.
const METADATA_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254);

/// The address an IPv6 address stands for when it embeds an IPv4 one: IPv4-mapped
/// (`::ffff:a.b.c.d`), IPv4-compatible (`::a.b.c.d`), NAT64 (`64:ff9b::a.b.c.d`) and 6to4
/// (`2002:aabb:ccdd::`) forms become the IPv4 address; anything else is returned as is.
pub fn canonical(ip: IpAddr) -> IpAddr {
    let IpAddr::V6(v6) = ip else {
        return ip;
    };
    let s = v6.segments();
    let o = v6.octets();
    let embedded = |a: u8, b: u8, c: u8, d: u8| IpAddr::V4(Ipv4Addr::new(a, b, c, d));
    match s {
        // IPv4-mapped.
        [0, 0, 0, 0, 0, 0xffff, _, _] => embedded(o[12], o[13], o[14], o[15]),
        // IPv4-compatible (deprecated), except `::` and `::1`, which are IPv6's own.
        [0, 0, 0, 0, 0, 0, hi, lo] if hi != 0 || lo > 1 => embedded(o[12], o[13], o[14], o[15]),
        // NAT64 well-known prefix: a NAT64 gateway forwards it to the IPv4 address.
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] => embedded(o[12], o[13], o[14], o[15]),
        // 6to4: tunnelled to the IPv4 address in bits 16..48.
        [0x2002, _, _, _, _, _, _, _] => embedded(o[2], o[3], o[4], o[5]),
        _ => ip,
    }
}

/// Why `ip` is refused unless a grant names it, or `None` for an ordinary public address.
/// IPv6 forms that embed an IPv4 address are judged by the IPv4 address.
pub fn classify(ip: IpAddr) -> Option<AddrKind> {
    match canonical(ip) {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(ip: Ipv4Addr) -> Option<AddrKind> {
    let [a, b, c, _] = ip.octets();
    Some(match (a, b, c) {
        _ if ip == METADATA_V4 => AddrKind::CloudMetadata,
        (127, _, _) => AddrKind::Loopback,
        (0, _, _) => AddrKind::Unspecified,
        (169, 254, _) => AddrKind::LinkLocal,
        (10, _, _) | (192, 168, _) => AddrKind::Private,
        (172, 16..=31, _) => AddrKind::Private,
        (100, 64..=127, _) => AddrKind::SharedAddressSpace,
        _ if ip.is_broadcast() => AddrKind::Broadcast,
        (224..=239, _, _) => AddrKind::Multicast,
        (240..=255, _, _) => AddrKind::Reserved,
        (192, 0, 0) | (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => AddrKind::Reserved,
        (198, 18..=19, _) => AddrKind::Reserved,
        _ => return None,
    })
}

fn classify_v6(ip: Ipv6Addr) -> Option<AddrKind> {
    let s = ip.segments();
    Some(match s[0] {
        _ if ip == METADATA_V6 => AddrKind::CloudMetadata,
        _ if ip.is_loopback() => AddrKind::Loopback,
        _ if ip.is_unspecified() => AddrKind::Unspecified,
        // Link-local fe80::/10 and the deprecated site-local fec0::/10.
        x if x & 0xffc0 == 0xfe80 || x & 0xffc0 == 0xfec0 => AddrKind::LinkLocal,
        x if x & 0xfe00 == 0xfc00 => AddrKind::Private,
        x if x & 0xff00 == 0xff00 => AddrKind::Multicast,
        // Documentation 2001:db8::/32, discard-only 100::/64, and the rest of ::/8 that is not
        // an embedded IPv4 form (those were judged as IPv4 already).
        0x2001 if s[1] == 0x0db8 => AddrKind::Reserved,
        0x0100 if s[1..4] == [0, 0, 0] => AddrKind::Reserved,
        x if x & 0xff00 == 0 => AddrKind::Reserved,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification_table() {
        let table: &[(&str, Option<AddrKind>)] = &[
            ("127.0.0.1", Some(AddrKind::Loopback)),
            ("127.255.0.9", Some(AddrKind::Loopback)),
            ("::1", Some(AddrKind::Loopback)),
            ("0.0.0.0", Some(AddrKind::Unspecified)),
            ("::", Some(AddrKind::Unspecified)),
            ("169.254.1.1", Some(AddrKind::LinkLocal)),
            ("fe80::1", Some(AddrKind::LinkLocal)),
            ("fec0::1", Some(AddrKind::LinkLocal)),
            ("10.1.2.3", Some(AddrKind::Private)),
            ("172.16.0.1", Some(AddrKind::Private)),
            ("172.31.255.255", Some(AddrKind::Private)),
            ("192.168.1.1", Some(AddrKind::Private)),
            ("fc00::1", Some(AddrKind::Private)),
            ("fd12:3456::1", Some(AddrKind::Private)),
            ("100.64.0.1", Some(AddrKind::SharedAddressSpace)),
            ("100.127.255.255", Some(AddrKind::SharedAddressSpace)),
            ("169.254.169.254", Some(AddrKind::CloudMetadata)),
            ("fd00:ec2::254", Some(AddrKind::CloudMetadata)),
            ("255.255.255.255", Some(AddrKind::Broadcast)),
            ("224.0.0.1", Some(AddrKind::Multicast)),
            ("ff02::1", Some(AddrKind::Multicast)),
            ("240.0.0.1", Some(AddrKind::Reserved)),
            ("2001:db8::1", Some(AddrKind::Reserved)),
            // Embedded IPv4 forms are judged by the IPv4 address.
            ("::ffff:127.0.0.1", Some(AddrKind::Loopback)),
            ("::ffff:169.254.169.254", Some(AddrKind::CloudMetadata)),
            ("::ffff:10.0.0.1", Some(AddrKind::Private)),
            ("::127.0.0.1", Some(AddrKind::Loopback)),
            ("64:ff9b::7f00:1", Some(AddrKind::Loopback)),
            ("64:ff9b::a9fe:a9fe", Some(AddrKind::CloudMetadata)),
            ("2002:7f00:1::", Some(AddrKind::Loopback)),
            // Public addresses.
            ("1.1.1.1", None),
            ("140.82.112.5", None),
            ("172.32.0.1", None),
            ("100.128.0.1", None),
            ("::ffff:1.1.1.1", None),
            ("2606:4700:4700::1111", None),
        ];
        for (text, want) in table {
            let ip: IpAddr = text.parse().unwrap();
            assert_eq!(classify(ip), *want, "{text}");
        }
    }
}
