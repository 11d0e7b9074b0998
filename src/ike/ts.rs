//! Traffic selector narrowing (RFC 7296 section 2.9): prefixes as TS
//! ranges, the intersection of the peer's selectors with ours, and ranges
//! back to the prefix lists `esp` installs.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

use crate::wire::ike::TrafficSelector;

/// A prefix as a selector covering every protocol and port.
pub fn from_prefix(net: IpNet) -> TrafficSelector {
    TrafficSelector {
        ip_protocol: 0,
        start_port: 0,
        end_port: u16::MAX,
        start: net.network(),
        end: net.broadcast(),
    }
}

fn as_u128(a: IpAddr) -> (bool, u128) {
    match a {
        IpAddr::V4(v4) => (true, u128::from(u32::from(v4))),
        IpAddr::V6(v6) => (false, u128::from(v6)),
    }
}

fn to_addr(v4: bool, value: u128) -> IpAddr {
    if v4 {
        IpAddr::V4(Ipv4Addr::from(value as u32))
    } else {
        IpAddr::V6(Ipv6Addr::from(value))
    }
}

/// The intersection of two selectors, if not empty.
pub fn intersect(a: &TrafficSelector, b: &TrafficSelector) -> Option<TrafficSelector> {
    let (a4, a_start) = as_u128(a.start);
    let (_, a_end) = as_u128(a.end);
    let (b4, b_start) = as_u128(b.start);
    let (_, b_end) = as_u128(b.end);
    if a4 != b4 {
        return None;
    }
    let ip_protocol = match (a.ip_protocol, b.ip_protocol) {
        (0, p) | (p, 0) => p,
        (p, q) if p == q => p,
        _ => return None,
    };
    let start = a_start.max(b_start);
    let end = a_end.min(b_end);
    let start_port = a.start_port.max(b.start_port);
    let end_port = a.end_port.min(b.end_port);
    (start <= end && start_port <= end_port).then(|| TrafficSelector {
        ip_protocol,
        start_port,
        end_port,
        start: to_addr(a4, start),
        end: to_addr(a4, end),
    })
}

/// Every non-empty intersection of one of `theirs` with one of `ours`.
pub fn narrow(theirs: &[TrafficSelector], ours: &[TrafficSelector]) -> Vec<TrafficSelector> {
    let mut out = Vec::new();
    for t in theirs {
        for o in ours {
            if let Some(i) = intersect(t, o)
                && !out.contains(&i)
            {
                out.push(i);
            }
        }
    }
    out
}

/// True when every selector of `inner` lies inside some selector of `outer`.
pub fn covered_by(inner: &[TrafficSelector], outer: &[TrafficSelector]) -> bool {
    inner
        .iter()
        .all(|i| outer.iter().any(|o| intersect(i, o) == Some(*i)))
}

/// The smallest list of prefixes covering exactly the address range of
/// each selector (ports and protocol are not kept: `esp` selects on
/// addresses).
pub fn to_prefixes(selectors: &[TrafficSelector]) -> Vec<IpNet> {
    let mut out = Vec::new();
    for ts in selectors {
        let (v4, mut start) = as_u128(ts.start);
        let (_, end) = as_u128(ts.end);
        if start > end {
            continue;
        }
        let bits = if v4 { 32 } else { 128 };
        loop {
            // The largest aligned block at `start` that ends within `end`.
            let mut len = if start == 0 {
                bits
            } else {
                start.trailing_zeros().min(bits)
            };
            let last = loop {
                // `start` is aligned to 2^len, so this does not overflow.
                let last = if len >= 128 {
                    u128::MAX
                } else {
                    start + ((1u128 << len) - 1)
                };
                if last <= end || len == 0 {
                    break last;
                }
                len -= 1;
            };
            let prefix = (bits - len) as u8;
            let net = if v4 {
                Ipv4Net::new(Ipv4Addr::from(start as u32), prefix).map(IpNet::V4)
            } else {
                Ipv6Net::new(Ipv6Addr::from(start), prefix).map(IpNet::V6)
            };
            if let Ok(net) = net {
                out.push(net);
            }
            if last >= end {
                break;
            }
            start = last + 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(start: &str, end: &str) -> TrafficSelector {
        TrafficSelector {
            ip_protocol: 0,
            start_port: 0,
            end_port: u16::MAX,
            start: start.parse().unwrap(),
            end: end.parse().unwrap(),
        }
    }

    #[test]
    fn prefixes_of_ranges() {
        let all = from_prefix("0.0.0.0/0".parse().unwrap());
        assert_eq!(
            to_prefixes(&[all]),
            vec!["0.0.0.0/0".parse::<IpNet>().unwrap()]
        );
        let all6 = from_prefix("::/0".parse().unwrap());
        assert_eq!(to_prefixes(&[all6]), vec!["::/0".parse::<IpNet>().unwrap()]);
        let r = ts("10.0.0.1", "10.0.0.6");
        let want: Vec<IpNet> = ["10.0.0.1/32", "10.0.0.2/31", "10.0.0.4/31", "10.0.0.6/32"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        assert_eq!(to_prefixes(&[r]), want);
        let one = ts("255.255.255.255", "255.255.255.255");
        assert_eq!(
            to_prefixes(&[one]),
            vec!["255.255.255.255/32".parse::<IpNet>().unwrap()]
        );
    }

    #[test]
    fn narrowing_route_based_to_policy() {
        let any = from_prefix("0.0.0.0/0".parse().unwrap());
        let lan = from_prefix("10.1.0.0/16".parse().unwrap());
        assert_eq!(narrow(&[any], &[lan]), vec![lan]);
        assert!(covered_by(&[lan], &[any]));
        assert!(!covered_by(&[any], &[lan]));
        let other = from_prefix("192.168.0.0/16".parse().unwrap());
        assert!(narrow(&[other], &[lan]).is_empty());
        let v6 = from_prefix("::/0".parse().unwrap());
        assert!(narrow(&[v6], &[lan]).is_empty());
    }
}
