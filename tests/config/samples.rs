//! The sample node configurations under `pcaps/configs/` load and validate,
//! and say what the seed's designs say.

use std::path::PathBuf;

use erdp::config::{InterfaceKind, NodeConfig, PolicyAction};
use erdp::rib::{RouteSource, SelectionMode, Session};

fn sample(name: &str) -> NodeConfig {
    let path: PathBuf = [env!("CARGO_MANIFEST_DIR"), "pcaps", "configs", name]
        .iter()
        .collect();
    NodeConfig::load(&path).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn every_sample_loads() {
    let dir: PathBuf = [env!("CARGO_MANIFEST_DIR"), "pcaps", "configs"]
        .iter()
        .collect();
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            NodeConfig::load(&path).unwrap_or_else(|e| panic!("{e}"));
            count += 1;
        }
    }
    assert!(count >= 4, "{count} samples");
}

#[test]
fn design1_onprem_edge_prefers_the_vpn_by_local_pref() {
    let config = sample("design1-onprem-edge.toml");
    assert_eq!(config.name, "onprem-edge");
    assert_eq!(config.route_selection, SelectionMode::Bgp);
    let vpn = config.interface_id("vpn").unwrap();
    let er = config.interface_id("er").unwrap();
    let InterfaceKind::EspTunnel(tunnel) = &config.interface(vpn).unwrap().kind else {
        panic!("vpn is a tunnel");
    };
    assert_eq!(tunnel.mtu, 1400);
    assert_eq!(tunnel.mss_clamp, Some(1350));
    let (sa_out, sa_in) = tunnel.static_sas().expect("static SAs");
    assert_eq!(sa_out.spi, 0x1001);
    assert_eq!(sa_in.replay_window, 1024);
    let vnet: Vec<_> = config
        .routes
        .iter()
        .filter(|r| r.prefix.to_string() == "10.1.0.0/16")
        .collect();
    assert_eq!(vnet.len(), 2);
    let over_er = vnet.iter().find(|r| r.next_hop.interface == er).unwrap();
    let over_vpn = vnet.iter().find(|r| r.next_hop.interface == vpn).unwrap();
    assert_eq!(over_er.session, Session::ExpressRoute);
    assert_eq!(*over_er.bgp.as_path, [12076, 65515]);
    assert_eq!(over_vpn.bgp.local_pref, 200);
    assert_eq!(over_vpn.source, RouteSource::Bgp);
    assert_eq!(config.policies[0].action, PolicyAction::Report);
    assert_eq!(config.policies[0].destinations.len(), 2);
}

#[test]
fn design1_azure_gateway_uses_expressroute_first_and_more_specifics() {
    let config = sample("design1-azure-gateway.toml");
    assert_eq!(config.route_selection, SelectionMode::ExpressRouteFirst);
    let vpn = config.interface_id("vpn").unwrap();
    let halves = config
        .routes
        .iter()
        .filter(|r| r.next_hop.interface == vpn && r.prefix.prefix_len() == 17)
        .count();
    assert_eq!(halves, 2);
}

#[test]
fn the_two_edges_share_their_keys_crosswise() {
    let onprem = sample("design1-onprem-edge.toml");
    let azure = sample("design1-azure-gateway.toml");
    let tunnel = |c: &NodeConfig| match &c.interfaces[2].kind {
        InterfaceKind::EspTunnel(t) => t.clone(),
        InterfaceKind::Ethernet(_) => panic!("interface 2 is the tunnel"),
    };
    let (a, b) = (tunnel(&onprem), tunnel(&azure));
    let ((a_out, a_in), (b_out, b_in)) = (a.static_sas().unwrap(), b.static_sas().unwrap());
    assert_eq!(a_out.spi, b_in.spi);
    assert_eq!(a_in.spi, b_out.spi);
    assert_eq!(a_out.key.expose_bytes(), b_in.key.expose_bytes());
    assert_eq!(a.local, b.remote);
    assert_eq!(a.remote, b.local);
}
