//! The tunnel-recursion design check. Azure advertises its hub's address
//! space, which holds the VPN gateway's private tunnel endpoint, over the
//! VPN as well as over ExpressRoute (Virtual WAN, "ExpressRoute
//! encryption"). An edge that prefers the VPN for that range routes the
//! tunnel's own outer packets into the tunnel: they can never leave. The
//! dataplane drops them (`tunnel_recursion`); this check names the design
//! error and the prefix that causes it, from the nodes' own route choice.

use std::net::{IpAddr, Ipv4Addr};

use ipnet::IpNet;

use super::topology::{INSTANCES, Nodes, ONPREM_TUNNEL_ENDPOINT};
use crate::dataplane::Node;

/// A node whose route to its tunnel's remote endpoint enters the tunnel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Recursion {
    /// The node.
    pub(super) node: String,
    /// The tunnel's remote endpoint.
    pub(super) endpoint: Ipv4Addr,
    /// The prefix whose route points into the tunnel.
    pub(super) prefix: IpNet,
}

impl Recursion {
    /// The finding, with its fix.
    pub(super) fn message(&self, since_ms: f64) -> String {
        format!(
            "design error: from {since_ms:.0} ms {} routes its VPN tunnel's own endpoint {} into the tunnel: {} (Azure advertises its hub address space over the VPN as over ExpressRoute) is preferred over the VPN, so the tunnel's outer ESP packets recurse and are dropped (tunnel_recursion). Fix: exclude the gateway's tunnel endpoint range from VPN preference (onprem.vpn_import = \"exclude-tunnel-endpoint\", or a route map), or pin a /32 to {} over ExpressRoute",
            self.node, self.endpoint, self.prefix, self.endpoint
        )
    }
}

fn check(node: &Node, endpoint: Ipv4Addr) -> Option<Recursion> {
    let explanation = node.explain(IpAddr::V4(endpoint));
    let choice = explanation.chosen()?;
    choice
        .selection
        .chosen
        .iter()
        .any(|route| node.is_tunnel(route.next_hop.interface))
        .then(|| Recursion {
            node: node.name().to_string(),
            endpoint,
            prefix: choice.prefix,
        })
}

/// Every tunnel endpoint whose node routes it into the tunnel, now: each
/// gateway instance's at the edge (the instances whose tunnel it has),
/// then on-prem's at the hub.
pub(super) fn tunnel_recursions(nodes: &Nodes) -> Vec<Recursion> {
    INSTANCES
        .iter()
        .filter(|instance| nodes.edge.interface_id(instance.tunnel).is_some())
        .map(|instance| check(&nodes.edge, instance.endpoint))
        .chain([check(&nodes.hub, ONPREM_TUNNEL_ENDPOINT)])
        .flatten()
        .collect()
}
