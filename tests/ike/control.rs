//! Two nodes negotiate their tunnel with IKE through their own dataplanes,
//! in memory and on a virtual clock (no root, no sockets): the design-1
//! on-premises edge (initiator) and Azure gateway (responder) with `ike`
//! tables instead of static SAs, their ExpressRoute ports joined frame for
//! frame. Each node delivers IKE to its control plane as `control`; the
//! control plane's datagrams leave through the node (`Driver::originate`).
//! The CHILD_SA comes up and carries traffic; it is rekeyed by lifetime
//! while traffic flows, with every packet decrypted; a silent peer is
//! declared dead, after which the edge fails closed, or, with
//! `on_dead_peer = "fallback"`, withdraws the VPN routes so traffic takes
//! ExpressRoute, where the must-encrypt policy catches it.

use crate::support;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use erdp::config::NodeConfig;
use erdp::control::{ControlPlane, TunnelState};
use erdp::dataplane::{Delivery, DropReason, Fate, Node, Outcome, Outputs, Worker};
use erdp::driver::FateRoute;
use erdp::packet::PacketBuf;
use support::capture::TempDir;
use support::dataplane::{config_path, from_onprem_host};

const STEP: Duration = Duration::from_millis(250);

/// A sample config with its tunnel keyed by IKE (`ike` is the inline
/// table's fields after `psk_file`).
fn with_ike(sample: &str, psk: &Path, ike: &str) -> Arc<Node> {
    let text = std::fs::read_to_string(config_path(sample)).unwrap();
    let start = text.find("sa_out = ").unwrap();
    let end = start + text[start..].find("\n\n").unwrap();
    let text = format!(
        "{}ike = {{ psk_file = {:?}, {ike} }}{}",
        &text[..start],
        psk.display().to_string(),
        &text[end..]
    );
    let config = NodeConfig::from_toml_str(&text, sample).unwrap_or_else(|e| panic!("{e}"));
    Arc::new(Node::new(config).unwrap())
}

/// Collects the frames a batch sends on the ExpressRoute port.
struct Wire {
    er: erdp::fib::InterfaceId,
    frames: Vec<Vec<u8>>,
}

impl FateRoute for Wire {
    type Error = std::convert::Infallible;
    fn input(&mut self, _: usize, frame: &mut PacketBuf, fate: &Fate) -> Result<(), Self::Error> {
        if fate.egress() == Some(self.er) {
            self.frames.push(frame.as_slice().to_vec());
        }
        Ok(())
    }
    fn generated(&mut self, _: usize, f: &mut PacketBuf, fate: &Fate) -> Result<(), Self::Error> {
        self.input(0, f, fate)
    }
}

/// One node with its worker and control plane.
struct Side {
    node: Arc<Node>,
    driver: erdp::driver::Driver,
    control: ControlPlane,
    worker: Worker,
    out: Outputs,
}

impl Side {
    fn new(node: Arc<Node>) -> Side {
        Side {
            driver: erdp::driver::Driver::new(node.worker(), 16, erdp::driver::Order::InputsFirst),
            control: ControlPlane::new(&node),
            worker: node.worker(),
            out: Outputs::new(),
            node,
        }
    }

    fn er(&self) -> erdp::fib::InterfaceId {
        self.node.interface_id("er").unwrap()
    }

    /// Timers, then the control plane's packets out on the wire.
    fn tick(&mut self, now: Duration) -> Vec<Vec<u8>> {
        self.control.poll(now, &self.node);
        let packets = self.control.take_packets();
        let refs: Vec<&[u8]> = packets.iter().map(Vec::as_slice).collect();
        let mut wire = Wire {
            er: self.er(),
            frames: Vec::new(),
        };
        let Ok(()) = self.driver.originate(&refs, &mut wire);
        wire.frames
    }

    /// Frames arriving on the ExpressRoute port: control traffic to the
    /// control plane (its answers returned), the rest forwarded; returns
    /// what leaves on er and the fates.
    fn arrive(&mut self, now: Duration, frames: &[Vec<u8>]) -> (Vec<Vec<u8>>, Vec<Fate>) {
        let mut bufs = load(frames);
        let er = self.er();
        self.worker.process(er, &mut bufs, &mut self.out);
        let fates = self.out.fates().to_vec();
        let mut back = Vec::new();
        for (buf, fate) in bufs.iter().zip(&fates) {
            if fate.outcome == Outcome::Delivered(Delivery::Control) {
                self.control.receive(now, buf.as_slice(), &self.node);
            } else if fate.egress() == Some(er) {
                back.push(buf.as_slice().to_vec());
            }
        }
        back.extend(self.tick(now));
        (back, fates)
    }

    /// Frames from the LAN side (`lan` or `vnet`): what leaves on er.
    fn send(&mut self, ingress: &str, frames: &[Vec<u8>]) -> (Vec<Vec<u8>>, Vec<Fate>) {
        let mut bufs = load(frames);
        let id = self.node.interface_id(ingress).unwrap();
        self.worker.process(id, &mut bufs, &mut self.out);
        let fates = self.out.fates().to_vec();
        let er = self.er();
        let out = bufs
            .iter()
            .zip(&fates)
            .filter(|(_, f)| f.egress() == Some(er))
            .map(|(b, _)| b.as_slice().to_vec())
            .collect();
        (out, fates)
    }
}

fn load(frames: &[Vec<u8>]) -> Vec<PacketBuf> {
    frames
        .iter()
        .map(|f| {
            let mut b = PacketBuf::new();
            b.load(f, PacketBuf::DEFAULT_HEADROOM).unwrap();
            b
        })
        .collect()
}

/// Runs both sides for `steps` clock steps from `*now`, frames crossing
/// the wire (edge to gateway always; gateway to edge unless `cut`).
fn run(edge: &mut Side, gateway: &mut Side, now: &mut Duration, steps: u32, cut: bool) {
    let mut to_gateway = Vec::new();
    let mut to_edge = Vec::new();
    for _ in 0..steps {
        *now += STEP;
        to_gateway.extend(edge.tick(*now));
        to_edge.extend(gateway.tick(*now));
        // A few exchanges per step: answers go back within the step.
        for _ in 0..4 {
            let (back, _) = gateway.arrive(*now, &std::mem::take(&mut to_gateway));
            if !cut {
                to_edge.extend(back);
            }
            let (back, _) = edge.arrive(*now, &std::mem::take(&mut to_edge));
            to_gateway.extend(back);
        }
    }
}

/// Sends one packet from the on-prem host to the VNet: the edge's fate,
/// and the gateway's fate of what crossed the wire (if anything did).
fn ping(edge: &mut Side, gateway: &mut Side, now: Duration) -> (Fate, Option<Fate>) {
    let (wire, fates) = edge.send("lan", &[from_onprem_host("10.1.0.10", 200)]);
    let at_gateway = (!wire.is_empty()).then(|| gateway.arrive(now, &wire).1[0]);
    (fates[0], at_gateway)
}

fn pair(test: &str, edge_ike: &str) -> (Side, Side, TempDir) {
    let dir = TempDir::new(test);
    let psk = dir.path("vpn.psk");
    std::fs::write(&psk, "a shared secret\n").unwrap();
    let edge = with_ike("design1-onprem-edge.toml", &psk, edge_ike);
    let gateway = with_ike(
        "design1-azure-gateway.toml",
        &psk,
        "role = \"responder\", child_lifetime = 60, rekey_margin = 10",
    );
    (Side::new(edge), Side::new(gateway), dir)
}

#[test]
fn ike_brings_the_tunnel_up_rekeys_it_under_traffic_and_dpd_fails_closed() {
    let (mut edge, mut gateway, _dir) = pair(
        "control-up",
        "role = \"initiator\", child_lifetime = 30, rekey_margin = 5, dpd_delay = 5, dpd_timeout = 20",
    );
    let vpn = edge.node.interface_id("vpn").unwrap();
    let mut now = Duration::ZERO;

    // Before IKE: fail closed.
    let (fate, crossed) = ping(&mut edge, &mut gateway, now);
    assert_eq!(fate.outcome, Outcome::Dropped(DropReason::TunnelNoSa));
    assert!(crossed.is_none(), "nothing left the edge");

    run(&mut edge, &mut gateway, &mut now, 8, false);
    let tunnel = edge.control.tunnel(vpn).unwrap();
    assert_eq!(
        tunnel.state(),
        TunnelState::Up,
        "{:?}",
        tunnel.last_failure()
    );
    let (out_spi, in_spis) = edge.node.tunnel_spis(vpn);
    let out_spi = out_spi.expect("an outbound SA");
    assert_eq!(in_spis.len(), 1);
    let gateway_vpn = gateway.node.interface_id("vpn").unwrap();
    assert_eq!(gateway.node.tunnel_spis(gateway_vpn).1, vec![out_spi]);
    assert!(edge.control.counters().received > 0);
    assert_eq!(edge.control.counters().no_listener, 0);

    let (fate, crossed) = ping(&mut edge, &mut gateway, now);
    assert_eq!(fate.encrypted.map(|e| e.spi), Some(out_spi));
    let at_gateway = crossed.expect("ESP crossed");
    assert_eq!(
        at_gateway.outcome,
        Outcome::Forwarded(gateway.node.interface_id("vnet").unwrap())
    );
    assert_eq!(at_gateway.decrypted.map(|d| d.spi), Some(out_spi));

    // Past the edge's rekey time (30 s - 5 s), pinging all along: every
    // packet is decrypted at the gateway, and the SPI changes.
    let mut spis = std::collections::BTreeSet::new();
    for _ in 0..40 {
        run(&mut edge, &mut gateway, &mut now, 4, false);
        let (fate, crossed) = ping(&mut edge, &mut gateway, now);
        let used = fate.encrypted.expect("encrypted, never in clear");
        spis.insert(used.spi);
        let at_gateway = crossed.expect("crossed");
        assert_eq!(
            at_gateway.decrypted.map(|d| d.spi),
            Some(used.spi),
            "lost in the rekey"
        );
    }
    assert!(spis.len() >= 2, "the CHILD_SA was rekeyed: {spis:x?}");
    let history = edge.control.tunnel(vpn).unwrap().history();
    assert!(history.len() >= 2, "{history:?}");
    assert!(history[0].deleted_at_s.is_some(), "the old SA was deleted");
    assert!(!edge.control.wireshark_lines().is_empty());

    // The gateway goes silent: after the DPD delay and timeout the edge
    // declares it dead and fails closed.
    run(&mut edge, &mut gateway, &mut now, 4 * 40, true);
    let tunnel = edge.control.tunnel(vpn).unwrap();
    assert_eq!(tunnel.state(), TunnelState::Down);
    assert!(
        tunnel
            .last_failure()
            .unwrap_or_default()
            .contains("dead peer"),
        "{:?}",
        tunnel.last_failure()
    );
    assert!(!edge.node.tunnel_has_sa(vpn));
    let (fate, crossed) = ping(&mut edge, &mut gateway, now);
    assert_eq!(fate.outcome, Outcome::Dropped(DropReason::TunnelNoSa));
    assert!(crossed.is_none());
}

#[test]
fn with_fallback_a_dead_peer_withdraws_the_vpn_routes() {
    let (mut edge, mut gateway, _dir) = pair(
        "control-fallback",
        "role = \"initiator\", dpd_delay = 5, dpd_timeout = 20, on_dead_peer = \"fallback\"",
    );
    let vpn = edge.node.interface_id("vpn").unwrap();
    let mut now = Duration::ZERO;
    run(&mut edge, &mut gateway, &mut now, 8, false);
    assert_eq!(edge.control.tunnel(vpn).unwrap().state(), TunnelState::Up);
    run(&mut edge, &mut gateway, &mut now, 4 * 40, true);
    assert_eq!(edge.control.tunnel(vpn).unwrap().state(), TunnelState::Down);
    // The VNet's VPN route is gone: the packet takes ExpressRoute, where
    // the design's must-encrypt policy (action "drop") refuses it.
    let (fate, _) = ping(&mut edge, &mut gateway, now);
    let route = fate.route.expect("routed");
    assert_eq!(route.next_hop.interface, edge.er());
    assert!(fate.encrypted.is_none());
    assert!(
        matches!(
            fate.outcome,
            Outcome::Dropped(DropReason::PolicyViolation) | Outcome::Forwarded(_)
        ),
        "{fate:?}"
    );
}

#[test]
fn control_datagrams_nobody_listens_to_are_counted() {
    use support::dataplane::{AZURE_ER_MAC, Harness, ONPREM_ER_MAC, udp4_ports};
    let (mut edge, _gateway, _dir) = pair("control-nobody", "role = \"responder\"");
    // IKE to the edge's tunnel endpoint from a peer no tunnel names: the
    // node delivers it as control, the control plane counts it.
    let stranger = udp4_ports(
        ONPREM_ER_MAC,
        AZURE_ER_MAC,
        "172.16.0.2",
        "172.16.0.1",
        64,
        500,
        500,
        40,
    );
    let (_, fates) = edge.arrive(Duration::from_secs(1), std::slice::from_ref(&stranger));
    assert_eq!(fates[0].outcome, Outcome::Delivered(Delivery::Control));
    assert_eq!(edge.control.counters().no_listener, 1);
    assert_eq!(edge.control.counters().received, 0);
    // A node without ike tables keeps delivering it as before.
    let mut plain = Harness::sample("design1-onprem-edge.toml");
    let batch = plain.one("er", stranger);
    assert_eq!(batch.only().1.outcome, Outcome::Delivered(Delivery::Other));
}
