//! SAs installed, replaced and removed while the node forwards (what IKE
//! does to a tunnel keyed by an `ike` table): until a CHILD_SA is up the
//! tunnel fails closed; a rekey is make-before-break (the old inbound SA
//! still opens the peer's packets until it is removed); sequence numbers
//! continue across every swap and are never reused; workers on other
//! threads never see a torn SA while the controller swaps them.

use crate::support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use erdp::dataplane::{DropReason, Node, Outcome, Outputs};
use erdp::esp::{
    Algorithm, EspDrop, InboundSa, MAX_REPLAY_WINDOW, OutboundSa, SaConfig, SecretKey,
    TunnelEndpoints,
};
use erdp::packet::PacketBuf;
use support::dataplane::*;

use std::path::PathBuf;

const EDGE: &str = "172.16.0.1";
const GATEWAY: &str = "10.100.255.4";

/// The design-1 on-premises edge with its tunnel keyed by IKE.
fn ike_edge(test: &str) -> (Arc<Node>, PathBuf) {
    let dir = std::env::temp_dir().join(format!("erdp-runtime-sas-{test}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let psk = dir.join("vpn.psk");
    std::fs::write(&psk, "secret\n").unwrap();
    let text = sample_text("design1-onprem-edge.toml");
    let start = text.find("sa_out = ").unwrap();
    let end = start + text[start..].find("\n[[neighbor]]").unwrap();
    let text = format!(
        "{}ike = {{ role = \"initiator\", psk_file = {:?} }}\n{}",
        &text[..start],
        psk.display().to_string(),
        &text[end..]
    );
    (node_from_toml(&text), dir)
}

fn sa(spi: u32, key_byte: u8) -> SaConfig {
    let mut sa = SaConfig::new(
        spi,
        Algorithm::Aes256Gcm,
        SecretKey::from_bytes(&[key_byte; 36]),
    );
    sa.replay_window = MAX_REPLAY_WINDOW;
    sa
}

/// The gateway's side of an SA pair: it opens what the edge sends on
/// `out_spi` and seals what the edge receives on `in_spi`.
struct Peer {
    opens: InboundSa,
    seals: OutboundSa,
}

impl Peer {
    fn new((out_spi, out_key): (u32, u8), (in_spi, in_key): (u32, u8)) -> Peer {
        let mut opens = sa(out_spi, out_key);
        opens.tunnel = Some(endpoints(GATEWAY, EDGE));
        let mut seals = sa(in_spi, in_key);
        seals.tunnel = Some(endpoints(GATEWAY, EDGE));
        Peer {
            opens: InboundSa::new(&opens).unwrap(),
            seals: OutboundSa::new(&seals).unwrap(),
        }
    }

    /// Opens an ESP frame the edge sent: the inner packet's sequence.
    fn open(&self, frame: &[u8]) -> u64 {
        let mut buf = PacketBuf::new();
        buf.load(&frame[14..], PacketBuf::DEFAULT_HEADROOM).unwrap();
        self.opens
            .decapsulate(&mut buf)
            .expect("the peer opens it")
            .seq
    }

    /// A frame from the gateway carrying a packet for an on-prem host.
    fn seal(&self) -> Vec<u8> {
        let inner = udp4(
            ONPREM_ER_MAC,
            AZURE_ER_MAC,
            "10.1.0.10",
            "10.0.1.10",
            64,
            100,
        );
        let mut buf = PacketBuf::new();
        buf.load(&inner[14..], PacketBuf::DEFAULT_HEADROOM).unwrap();
        self.seals.encapsulate(&mut buf).unwrap();
        let mut frame = inner[..14].to_vec();
        frame.extend_from_slice(buf.as_slice());
        frame
    }
}

fn endpoints(local: &str, remote: &str) -> TunnelEndpoints {
    TunnelEndpoints {
        local: local.parse().unwrap(),
        remote: remote.parse().unwrap(),
    }
}

/// Installs the edge's half of the pair `Peer::new(out, in)` models.
fn install(node: &Node, (out_spi, out_key): (u32, u8), (in_spi, in_key): (u32, u8)) {
    let vpn = node.interface_id("vpn").unwrap();
    node.install_sas(vpn, &sa(in_spi, in_key), &sa(out_spi, out_key))
        .unwrap();
}

#[test]
fn a_tunnel_without_an_sa_fails_closed() {
    let (node, dir) = ike_edge("closed");
    let mut edge = Harness::new(node);
    let vpn = edge.id("vpn");
    assert!(!edge.node.tunnel_has_sa(vpn));
    let batch = edge.one("lan", from_onprem_host("10.1.0.10", 200));
    let (_, fate) = batch.only();
    assert_eq!(fate.outcome, Outcome::Dropped(DropReason::TunnelNoSa));
    assert!(fate.encrypted.is_none());
    let counters = edge.node.counters();
    assert_eq!(counters.input.dropped_of(DropReason::TunnelNoSa), 1);
    // ESP that arrives before any SA is an unknown SPI, not traffic for
    // the node's stack.
    let early = Peer::new((0x1001, 1), (0x2001, 2)).seal();
    let batch = edge.one("er", early);
    assert_eq!(
        batch.only().1.outcome,
        Outcome::Dropped(DropReason::Esp(EspDrop::UnknownSpi))
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_rekey_is_make_before_break_and_sequences_never_restart() {
    let (node, dir) = ike_edge("rekey");
    let mut edge = Harness::new(node);
    let vpn = edge.id("vpn");
    let old = Peer::new((0x1001, 1), (0x2001, 2));
    install(&edge.node, (0x1001, 1), (0x2001, 2));
    assert_eq!(edge.node.tunnel_spis(vpn), (Some(0x1001), vec![0x2001]));
    for expected in 1..=3u64 {
        let batch = edge.one("lan", from_onprem_host("10.1.0.10", 200));
        let (wire, fate) = batch.only();
        assert_eq!(fate.outcome, Outcome::Forwarded(edge.id("er")));
        let used = fate.encrypted.expect("encrypted");
        assert_eq!((used.spi, used.seq), (0x1001, expected));
        assert_eq!(old.open(wire), expected);
    }
    let batch = edge.one("er", old.seal());
    assert_eq!(batch.only().1.decrypted.map(|d| d.spi), Some(0x2001));

    // The rekey: new pair in, the old inbound SA stays.
    let new = Peer::new((0x1002, 3), (0x2002, 4));
    install(&edge.node, (0x1002, 3), (0x2002, 4));
    assert_eq!(
        edge.node.tunnel_spis(vpn),
        (Some(0x1002), vec![0x2001, 0x2002])
    );
    let batch = edge.one("lan", from_onprem_host("10.1.0.10", 200));
    let (wire, fate) = batch.only();
    let used = fate.encrypted.unwrap();
    assert_eq!((used.spi, used.seq), (0x1002, 1));
    assert_eq!(new.open(wire), 1);
    for (peer, spi) in [(&old, 0x2001), (&new, 0x2002)] {
        let batch = edge.one("er", peer.seal());
        let fate = batch.only().1;
        assert_eq!(fate.outcome, Outcome::Forwarded(edge.id("lan")));
        assert_eq!(fate.decrypted.map(|d| d.spi), Some(spi));
    }

    // The peer's Delete of the old SA: it no longer opens anything. The
    // inbound table is republished; the outbound SA keeps counting.
    assert!(edge.node.remove_inbound_sa(0x2001));
    assert!(!edge.node.remove_inbound_sa(0x2001));
    assert_eq!(edge.node.tunnel_spis(vpn), (Some(0x1002), vec![0x2002]));
    let batch = edge.one("lan", from_onprem_host("10.1.0.10", 200));
    let (wire, fate) = batch.only();
    let used = fate.encrypted.unwrap();
    assert_eq!((used.spi, used.seq), (0x1002, 2));
    assert_eq!(new.open(wire), 2);
    let batch = edge.one("er", old.seal());
    assert_eq!(
        batch.only().1.outcome,
        Outcome::Dropped(DropReason::Esp(EspDrop::UnknownSpi))
    );

    // The peer is dead: fail closed again.
    edge.node.clear_tunnel_sas(vpn);
    assert_eq!(edge.node.tunnel_spis(vpn), (None, vec![]));
    let batch = edge.one("lan", from_onprem_host("10.1.0.10", 200));
    assert_eq!(
        batch.only().1.outcome,
        Outcome::Dropped(DropReason::TunnelNoSa)
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn workers_never_see_a_torn_sa_while_it_is_swapped() {
    const THREADS: usize = 2;
    const BATCHES: usize = 150;
    const BATCH: usize = 16;
    const REKEYS: u32 = 40;
    let (node, dir) = ike_edge("torn");
    let lan = node.interface_id("lan").unwrap();
    install(&node, (0x1000, 0), (0x2000, 0x80));
    // Lockstep loose enough to race: a worker's batch `i` starts once
    // `need(i)` rekeys are installed, and rekey `k` starts once one batch
    // that began under rekey `k - 1` has finished. So every SA carries a
    // whole batch, and each rekey overlaps the workers' other batches.
    let progress = AtomicUsize::new(0);
    let installed = AtomicUsize::new(0);
    let need = |i: usize| i * (REKEYS as usize + 1) / BATCHES;
    let start = |k: usize| (k * BATCHES).div_ceil(REKEYS as usize + 1);
    let sent: Vec<Vec<(u32, u64, Vec<u8>)>> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..THREADS)
            .map(|_| {
                let node = Arc::clone(&node);
                let (progress, installed) = (&progress, &installed);
                s.spawn(move || {
                    let mut worker = node.worker();
                    let mut out = Outputs::new();
                    let mut seen = Vec::new();
                    let frame = from_onprem_host("10.1.0.10", 200);
                    for i in 0..BATCHES {
                        while installed.load(Ordering::Acquire) < need(i) {
                            std::thread::yield_now();
                        }
                        let mut bufs: Vec<PacketBuf> = (0..BATCH)
                            .map(|_| {
                                let mut b = PacketBuf::new();
                                b.load(&frame, PacketBuf::DEFAULT_HEADROOM).unwrap();
                                b
                            })
                            .collect();
                        worker.process(lan, &mut bufs, &mut out);
                        progress.fetch_add(1, Ordering::Release);
                        for (buf, fate) in bufs.iter().zip(out.fates()) {
                            let used = fate.encrypted.expect("an SA is always installed");
                            seen.push((used.spi, used.seq, buf.as_slice().to_vec()));
                        }
                    }
                    seen
                })
            })
            .collect();
        for k in 1..=REKEYS {
            let share = THREADS * start(k as usize - 1) + 1;
            while progress.load(Ordering::Acquire) < share {
                std::thread::yield_now();
            }
            install(&node, (0x1000 + k, k as u8), (0x2000 + k, 0x80 + k as u8));
            if k > 1 {
                assert!(node.remove_inbound_sa(0x2000 + k - 2));
            }
            installed.store(k as usize, Ordering::Release);
        }
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    // Per SPI: sequence numbers 1..=n, each once, across both threads.
    let mut by_spi: BTreeMap<u32, Vec<u64>> = BTreeMap::new();
    for (spi, seq, _) in sent.iter().flatten() {
        by_spi.entry(*spi).or_default().push(*seq);
    }
    assert_eq!(
        by_spi.len(),
        REKEYS as usize + 1,
        "every SA carried traffic"
    );
    let total: usize = by_spi.values().map(Vec::len).sum();
    assert_eq!(total, THREADS * BATCHES * BATCH);
    for (spi, seqs) in &mut by_spi {
        seqs.sort_unstable();
        let expected: Vec<u64> = (1..=seqs.len() as u64).collect();
        assert_eq!(
            *seqs, expected,
            "SPI 0x{spi:08x} reused or skipped a number"
        );
    }
    // Every packet opens under the SA its SPI names: no packet mixed one
    // SA's SPI with another's key.
    let peers: BTreeMap<u32, Peer> = by_spi
        .keys()
        .map(|spi| {
            let k = spi - 0x1000;
            (
                *spi,
                Peer::new((*spi, k as u8), (0x2000 + k, 0x80 + k as u8)),
            )
        })
        .collect();
    for (spi, seq, frame) in sent.iter().flatten() {
        assert_eq!(peers[spi].open(frame), *seq);
    }
    let _ = std::fs::remove_dir_all(dir);
}
