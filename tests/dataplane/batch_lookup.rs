//! The worker's batch route lookup (the FIB's batch lookup before the
//! per-frame pass) changes nothing but speed: for every capture of the
//! corpus, a node looking up routes a batch at a time and one looking them
//! up frame by frame give every frame the same fate and the same bytes.

use std::path::PathBuf;
use std::sync::Arc;

use erdp::capture::{CaptureReader, to_ethernet};
use erdp::config::NodeConfig;
use erdp::dataplane::{Node, Outputs};
use erdp::packet::PacketBuf;
use erdp::wire::MacAddr;

fn corpus(name: &str) -> PathBuf {
    [env!("CARGO_MANIFEST_DIR"), "pcaps", "corpus", name]
        .iter()
        .collect()
}

/// Every frame of `capture` as Ethernet.
fn frames(capture: &str) -> Vec<Vec<u8>> {
    let mut reader = CaptureReader::open(corpus(capture)).unwrap();
    let mut buf = PacketBuf::new();
    let mut out = Vec::new();
    while let Ok(Some(meta)) = reader.next_frame(&mut buf) {
        if to_ethernet(
            &mut buf,
            meta.link_type,
            MacAddr::BROADCAST,
            MacAddr::BROADCAST,
        )
        .is_ok()
        {
            out.push(buf.as_slice().to_vec());
        }
    }
    out
}

#[test]
fn batch_and_single_lookups_give_the_same_fates_and_bytes() {
    let cases = [
        (
            "design1-onprem-to-azure.pcap",
            "design1-onprem-edge.toml",
            "lan",
        ),
        (
            "design1-azure-to-onprem.pcap",
            "design1-azure-gateway.toml",
            "vnet",
        ),
        (
            "design2-onprem-to-azure.pcap",
            "design2-onprem-edge.toml",
            "lan",
        ),
        (
            "design2-azure-to-onprem.pcap",
            "design2-azure-gateway.toml",
            "vnet",
        ),
        ("esp-inbound.pcap", "design1-onprem-edge.toml", "er"),
        ("malformed.pcap", "design1-onprem-edge.toml", "lan"),
    ];
    for (capture, config, ingress) in cases {
        let input = frames(capture);
        assert!(!input.is_empty(), "{capture}");
        let mut results = Vec::new();
        for batch_lookup in [true, false] {
            let node = Arc::new(Node::new(NodeConfig::load(corpus(config)).unwrap()).unwrap());
            let port = node.interface_id(ingress).unwrap();
            let mut worker = node.worker();
            worker.set_batch_lookup(batch_lookup);
            let mut outputs = Outputs::with_capacity(16);
            let mut seen = Vec::new();
            // Batches of 16 frames, so a batch mixes flows and outcomes.
            for chunk in input.chunks(16) {
                let mut bufs: Vec<PacketBuf> = chunk
                    .iter()
                    .map(|f| {
                        let mut b = PacketBuf::new();
                        b.load(f, PacketBuf::DEFAULT_HEADROOM).unwrap();
                        b
                    })
                    .collect();
                worker.process(port, &mut bufs, &mut outputs);
                for (buf, fate) in bufs.iter().zip(outputs.fates()) {
                    seen.push((*fate, buf.as_slice().to_vec()));
                }
            }
            results.push(seen);
        }
        assert_eq!(results[0].len(), input.len(), "{capture}");
        assert!(
            results[0].iter().any(|(fate, _)| fate.route.is_some()),
            "{capture}: some frame is routed"
        );
        // ESP sequence numbers and IVs count from 1 in both nodes alike, so
        // even encrypted bytes are equal.
        assert_eq!(results[0], results[1], "{capture}");
    }
}
