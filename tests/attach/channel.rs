//! The `erdp attach` loop without devices: design-1 nodes (the sample
//! configs) served by PortSet + NodeHandler over in-memory channel ports.
//! Forwarded frames and generated ones (ARP replies, echo replies, ICMP
//! errors) leave on the right port; two nodes chained by a channel carry
//! traffic through the ESP tunnel both ways; bindings are checked; the CLI
//! refuses missing and extra bindings with exit code 2 (no root needed).

use crate::support;

use std::process::Command;
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use erdp::dataplane::{DropReason, Node, NodeCounters};
use erdp::driver::{
    BindingError, HandlerCounters, NodeHandler, PortSet, RunSummary, check_bindings,
};
use erdp::packet::PacketBuf;
use erdp::port::{ChannelPort, ChannelPortConfig, Port, Shutdown};
use etherparse::{NetSlice, TransportSlice};
use std::net::Ipv4Addr;
use support::dataplane::*;

const ESP: u8 = 50;

/// A node served by a PortSet on its own thread until stopped.
struct RunningNode {
    node: Arc<Node>,
    shutdown: Shutdown,
    /// The ports come back with the result, so a peer that stops later
    /// never sees them disconnect.
    thread: Option<JoinHandle<(RunSummary, HandlerCounters, PortSet)>>,
}

impl RunningNode {
    /// Serves `ports` (each named after an interface of the sample config).
    fn start(config: &str, ports: Vec<ChannelPort>) -> Self {
        let node = Arc::new(Node::new(sample_config(config)).unwrap());
        let shutdown = Shutdown::new();
        let names: Vec<String> = ports.iter().map(|p| p.name().to_owned()).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let mut handler = NodeHandler::new(node.worker(), &names, 16).unwrap();
        let mut set = PortSet::new(16, Duration::from_millis(5));
        for port in ports {
            set.add(Box::new(port));
        }
        let stop = shutdown.clone();
        let thread = thread::spawn(move || {
            let summary = set.run(&stop, &mut handler).unwrap();
            (summary, handler.counters(), set)
        });
        Self {
            node,
            shutdown,
            thread: Some(thread),
        }
    }

    /// Stops the loop; returns its summary, the handler's and node's
    /// counters, and the ports (still open).
    fn stop(mut self) -> (RunSummary, HandlerCounters, NodeCounters, PortSet) {
        self.shutdown.request();
        let (summary, sent, ports) = self.thread.take().unwrap().join().unwrap();
        (summary, sent, self.node.counters(), ports)
    }
}

impl Drop for RunningNode {
    fn drop(&mut self) {
        self.shutdown.request();
    }
}

/// Waits up to a second for `n` frames on `port`.
fn receive(port: &mut ChannelPort, n: usize) -> Vec<Vec<u8>> {
    let deadline = Instant::now() + Duration::from_secs(1);
    let mut bufs = vec![PacketBuf::new(); 16];
    let mut frames = Vec::new();
    while frames.len() < n && Instant::now() < deadline {
        let got = port
            .recv_batch(&mut bufs, Duration::from_millis(20))
            .unwrap();
        frames.extend(bufs[..got].iter().map(|b| b.as_slice().to_vec()));
    }
    frames
}

/// Nothing more arrives on `port` for 50 ms.
fn assert_quiet(port: &mut ChannelPort) {
    let mut bufs = vec![PacketBuf::new(); 4];
    let got = port
        .recv_batch(&mut bufs, Duration::from_millis(50))
        .unwrap();
    assert_eq!(got, 0, "unexpected frame: {:02x?}", bufs[0].as_slice());
}

fn ipv4(frame: &[u8]) -> etherparse::Ipv4Header {
    match parse(frame).net {
        Some(NetSlice::Ipv4(ip)) => ip.header().to_header(),
        other => panic!("not IPv4: {other:?}"),
    }
}

fn pair(a: &str, b: &str) -> (ChannelPort, ChannelPort) {
    ChannelPort::pair(a, b, ChannelPortConfig::default())
}

#[test]
fn forwarded_and_generated_frames_leave_on_their_ports() {
    let (lan, mut host) = pair("lan", "host");
    let (er, mut circuit) = pair("er", "circuit");
    let edge = RunningNode::start("design1-onprem-edge.toml", vec![lan, er]);

    // The VNet prefix leaves encrypted on er, toward the gateway's MAC.
    host.send(&from_onprem_host("10.1.0.10", 100)).unwrap();
    // The gateway subnet is reached in plaintext over ER.
    host.send(&from_onprem_host("10.100.255.10", 100)).unwrap();
    let on_circuit = receive(&mut circuit, 2);
    assert_eq!(on_circuit.len(), 2);
    let esp = ipv4(&on_circuit[0]);
    assert_eq!(esp.protocol.0, ESP);
    assert_eq!(Ipv4Addr::from(esp.source).to_string(), "172.16.0.1");
    assert_eq!(Ipv4Addr::from(esp.destination).to_string(), "10.100.255.4");
    assert_eq!(macs(&on_circuit[0]), (AZURE_ER_MAC, ONPREM_ER_MAC));
    let plain = ipv4(&on_circuit[1]);
    assert_eq!(plain.protocol, etherparse::IpNumber::UDP);
    assert_eq!(
        Ipv4Addr::from(plain.destination).to_string(),
        "10.100.255.10"
    );
    assert_eq!(plain.time_to_live, 63);

    // Generated: an ARP reply, an echo reply, an ICMP unreachable, all back
    // on the LAN port.
    host.send(&arp_request(ONPREM_HOST_MAC, "10.0.1.10", "10.0.0.1"))
        .unwrap();
    host.send(&echo4(
        ONPREM_LAN_MAC,
        ONPREM_HOST_MAC,
        "10.0.1.10",
        "10.0.0.1",
        32,
    ))
    .unwrap();
    host.send(&from_onprem_host("192.0.2.1", 20)).unwrap();
    let back = receive(&mut host, 3);
    assert_eq!(back.len(), 3, "{back:02x?}");
    assert_eq!(&back[0][12..14], &[0x08, 0x06], "ARP");
    assert_eq!(&back[0][20..22], &[0, 2], "an ARP reply");
    assert_eq!(&back[0][22..28], &ONPREM_LAN_MAC, "with the LAN MAC");
    for (frame, icmp_type) in [(&back[1], 0u8), (&back[2], 3u8)] {
        assert_eq!(macs(frame), (ONPREM_HOST_MAC, ONPREM_LAN_MAC));
        match parse(frame).transport {
            Some(TransportSlice::Icmpv4(icmp)) => assert_eq!(icmp.type_u8(), icmp_type),
            other => panic!("not ICMP: {other:?}"),
        }
    }
    assert_quiet(&mut circuit);

    let (summary, sent, counters, _) = edge.stop();
    assert_eq!(summary.frames, 5);
    assert_eq!(sent.queued, 5);
    assert_eq!((sent.send_failed, sent.unbound_egress), (0, 0));
    assert_eq!(counters.input.packets, 5);
    assert_eq!(counters.input.forwarded, 2);
    assert_eq!(counters.input.dropped_of(DropReason::NoRoute), 1);
    assert_eq!(counters.generated.forwarded, 3);
    assert!(counters.input.is_conserved() && counters.generated.is_conserved());
}

#[test]
fn two_nodes_carry_traffic_through_the_tunnel_both_ways() {
    let (lan, mut host) = pair("lan", "host");
    let (edge_er, gateway_er) = pair("er", "er");
    let (vnet, mut vm) = pair("vnet", "vm");
    let edge = RunningNode::start("design1-onprem-edge.toml", vec![lan, edge_er]);
    let gateway = RunningNode::start("design1-azure-gateway.toml", vec![gateway_er, vnet]);

    let count = 40;
    for _ in 0..count {
        host.send(&from_onprem_host("10.1.0.10", 200)).unwrap();
    }
    let arrived = receive(&mut vm, count);
    assert_eq!(arrived.len(), count);
    for frame in &arrived {
        assert_eq!(macs(frame), (AZURE_VM_MAC, AZURE_VNET_MAC));
        let ip = ipv4(frame);
        assert_eq!(Ipv4Addr::from(ip.source).to_string(), "10.0.1.10");
        assert_eq!(ip.time_to_live, 62, "two routers");
    }
    for _ in 0..count {
        vm.send(&from_azure_vm("10.0.1.10", 200)).unwrap();
    }
    let replies = receive(&mut host, count);
    assert_eq!(replies.len(), count);
    assert_eq!(
        Ipv4Addr::from(ipv4(&replies[0]).source).to_string(),
        "10.1.0.10"
    );

    let (_, _, edge_counters, _edge_ports) = edge.stop();
    let (_, _, gateway_counters, _) = gateway.stop();
    for counters in [&edge_counters, &gateway_counters] {
        let vpn = counters
            .interfaces
            .iter()
            .find(|i| i.name == "vpn")
            .unwrap();
        assert_eq!(vpn.encrypted.packets, count as u64, "{counters:#?}");
        assert_eq!(vpn.decrypted.packets, count as u64, "{counters:#?}");
        assert_eq!(counters.input.dropped, 0, "{counters:#?}");
        assert!(counters.policies.iter().all(|p| p.violations == 0));
    }
}

#[test]
fn bindings_must_cover_every_ethernet_interface_and_nothing_else() {
    let node = Node::new(sample_config("design1-onprem-edge.toml")).unwrap();
    assert_eq!(check_bindings(&node, &["er", "lan"]), Ok(()));
    let missing = check_bindings(&node, &["lan"]).unwrap_err();
    assert_eq!(
        missing,
        BindingError::Unbound {
            node: "onprem-edge".into(),
            missing: vec!["er".into()]
        }
    );
    let tunnel = check_bindings(&node, &["lan", "er", "vpn"]).unwrap_err();
    assert!(tunnel.to_string().contains("esp-tunnel"), "{tunnel}");
    let unknown = check_bindings(&node, &["lan", "er", "wan"]).unwrap_err();
    assert!(unknown.to_string().contains("lan, er, vpn"), "{unknown}");
}

/// Runs the built binary; returns its exit code and stderr.
fn erdp(args: &[&str]) -> (Option<i32>, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_erdp"))
        .args(args)
        .output()
        .unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn the_cli_refuses_missing_extra_and_bad_bindings_with_exit_2() {
    let config = config_path("design1-onprem-edge.toml");
    let config = config.to_str().unwrap();
    for (binds, expected) in [
        (
            vec!["lan=veth0"],
            "no --bind for the Ethernet interface(s) er",
        ),
        (vec!["lan=veth0", "er=veth1", "vpn=veth2"], "esp-tunnel"),
        (
            vec!["lan=veth0", "er=veth1", "wan=veth2"],
            "no interface \"wan\"",
        ),
        (vec!["lan=veth0", "er=veth0"], "device is bound twice"),
        (vec!["lan=veth0", "er"], "no '='"),
    ] {
        let mut args = vec!["attach", "--config", config];
        for bind in &binds {
            args.extend(["--bind", bind]);
        }
        let (code, stderr) = erdp(&args);
        assert_eq!(code, Some(2), "{binds:?}: {stderr}");
        assert!(stderr.contains(expected), "{binds:?}: {stderr}");
    }
    let (code, stderr) = erdp(&["attach", "--config", "/nonexistent.toml", "--bind", "a=b"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("/nonexistent.toml"), "{stderr}");
}
