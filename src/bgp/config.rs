//! A BGP session's configuration: ASNs, identifier, timers (RFC 4271 10;
//! Azure's MSEE: keepalive 60 s, hold 180 s, lowest 3 s / 10 s), passive or
//! active, families, policies, and where its routes go in the RIB.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use super::policy::Policy;
use crate::fib::InterfaceId;
use crate::rib::Session;
use crate::wire::bgp::Family;

/// One session's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerConfig {
    /// Our AS.
    pub local_as: u32,
    /// The peer's AS (equal to ours: iBGP).
    pub peer_as: u32,
    /// Our BGP Identifier.
    pub router_id: Ipv4Addr,
    /// NEXT_HOP we send with IPv4 routes (none: IPv4 routes are not sent).
    pub local_v4: Option<Ipv4Addr>,
    /// Next hop we send with IPv6 routes in MP_REACH_NLRI.
    pub local_v6: Option<Ipv6Addr>,
    /// Hold time we propose, seconds (0 or at least 3).
    pub hold_time: u16,
    /// Keepalive interval we want, seconds (capped at a third of the hold time).
    pub keepalive: u16,
    /// Lowest hold time we accept from the peer (0 is always accepted: no keepalives).
    pub min_hold_time: u16,
    /// ConnectRetryTimer (RFC 4271 10: 120 s suggested).
    pub connect_retry: Duration,
    /// Idle time before restarting after an error (RFC 4271 8.1.1
    /// IdleHoldTimer); `None`: stay Idle.
    pub idle_hold: Option<Duration>,
    /// Wait for the peer to connect instead of connecting.
    pub passive: bool,
    /// Families announced in OPEN.
    pub families: Vec<Family>,
    /// Import policy (with the max-prefix limit).
    pub import: Policy,
    /// Export policy.
    pub export: Policy,
    /// Interface toward the peer (routes' egress).
    pub interface: InterfaceId,
    /// Session tag for route selection (ExpressRoute, VPN, other).
    pub rib_session: Session,
}

impl PeerConfig {
    /// Azure MSEE's defaults (keepalive 60 s, hold 180 s, lowest hold 10 s)
    /// for an eBGP session carrying IPv4 and IPv6 unicast.
    pub fn new(local_as: u32, peer_as: u32, router_id: Ipv4Addr) -> Self {
        Self {
            local_as,
            peer_as,
            router_id,
            local_v4: None,
            local_v6: None,
            hold_time: 180,
            keepalive: 60,
            min_hold_time: 3,
            connect_retry: Duration::from_secs(120),
            idle_hold: Some(Duration::from_secs(5)),
            passive: false,
            families: vec![Family::Ipv4Unicast, Family::Ipv6Unicast],
            import: Policy::default(),
            export: Policy::default(),
            interface: InterfaceId(0),
            rib_session: Session::Other,
        }
    }
}
