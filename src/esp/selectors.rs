//! Traffic selectors (RFC 4301 section 4.4.1): the inner source and
//! destination prefixes an SA may carry. A handful of prefixes per SA, so a
//! linear scan; an empty list allows any address.

use std::net::IpAddr;

use ipnet::IpNet;

use super::config::TrafficSelectors;

/// The compiled selectors of one SA.
#[derive(Debug, Clone, Default)]
pub struct Selectors {
    src: Box<[IpNet]>,
    dst: Box<[IpNet]>,
}

impl Selectors {
    /// Copies the configured prefixes.
    pub fn new(config: &TrafficSelectors) -> Self {
        Selectors {
            src: config.src.iter().map(IpNet::trunc).collect(),
            dst: config.dst.iter().map(IpNet::trunc).collect(),
        }
    }

    /// True when both addresses fall inside the selectors.
    #[inline]
    pub fn allows(&self, src: IpAddr, dst: IpAddr) -> bool {
        Self::matches(&self.src, src) && Self::matches(&self.dst, dst)
    }

    #[inline]
    fn matches(prefixes: &[IpNet], addr: IpAddr) -> bool {
        prefixes.is_empty() || prefixes.iter().any(|p| p.contains(&addr))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_allows_all_and_prefixes_restrict() {
        let any = Selectors::default();
        assert!(any.allows("10.0.0.1".parse().unwrap(), "2001:db8::1".parse().unwrap()));
        let s = Selectors::new(&TrafficSelectors {
            src: vec!["10.1.0.0/16".parse().unwrap(), "fd00::/8".parse().unwrap()],
            dst: vec!["10.2.0.0/16".parse().unwrap()],
        });
        assert!(s.allows("10.1.2.3".parse().unwrap(), "10.2.0.9".parse().unwrap()));
        assert!(!s.allows("10.3.2.3".parse().unwrap(), "10.2.0.9".parse().unwrap()));
        assert!(!s.allows("10.1.2.3".parse().unwrap(), "10.9.0.9".parse().unwrap()));
        assert!(!s.allows("10.1.2.3".parse().unwrap(), "fd00::1".parse().unwrap()));
    }
}
