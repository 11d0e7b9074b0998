//! The ceilings `erdp bench` measures beside the node, in the same run:
//! copying the frames into packet buffers (every node pass starts with that
//! copy, since the node rewrites frames in place: the memory ceiling) and
//! ESP encapsulation alone (`OutboundSa::encapsulate`, RFC 4303) of the
//! inner packets of the frames the node sends into a tunnel (the crypto
//! ceiling). Both on one thread, as the one-worker node.

use std::hint::black_box;
use std::time::{Duration, Instant};

use crate::config::{InterfaceKind, NodeConfig};
use crate::esp::{OutboundSa, TunnelEndpoints};
use crate::fib::InterfaceId;
use crate::packet::PacketBuf;
use crate::wire::ETHERNET_HEADER_LEN;

/// Frames between clock reads.
const CHUNK: usize = 64;

/// Copies every frame into a reused buffer, over and over, for `time`;
/// returns (frames, elapsed).
pub(crate) fn copy_rate(frames: &[&[u8]], time: Duration) -> (u64, Duration) {
    let mut buf = PacketBuf::new();
    timed(frames, time, |frame| {
        let _ = black_box(buf.load(frame, PacketBuf::DEFAULT_HEADROOM));
        black_box(buf.as_slice());
    })
}

/// Encapsulates the inner packet of every `(tunnel, frame)` with a fresh
/// copy of that tunnel's outbound SA, over and over, for `time`; returns
/// (packets, elapsed), or `None` when no frame goes into a tunnel.
pub(crate) fn esp_encap_rate(
    config: &NodeConfig,
    frames: &[(InterfaceId, &[u8])],
    time: Duration,
) -> Option<(u64, Duration)> {
    let sas: Vec<Option<OutboundSa>> = config
        .interfaces
        .iter()
        .map(|interface| match &interface.kind {
            InterfaceKind::EspTunnel(t) => {
                let endpoints = TunnelEndpoints {
                    local: t.local,
                    remote: t.remote,
                };
                let (sa_out, _) = t.static_sas()?;
                OutboundSa::with_endpoints(sa_out, endpoints).ok()
            }
            InterfaceKind::Ethernet(_) => None,
        })
        .collect();
    let inputs: Vec<(&OutboundSa, &[u8])> = frames
        .iter()
        .filter_map(|(tunnel, frame)| {
            let sa = sas.get(tunnel.0 as usize)?.as_ref()?;
            Some((sa, frame.get(ETHERNET_HEADER_LEN..)?))
        })
        .collect();
    if inputs.is_empty() {
        return None;
    }
    let mut buf = PacketBuf::new();
    Some(timed(&inputs, time, |(sa, inner)| {
        if buf.load(inner, PacketBuf::DEFAULT_HEADROOM).is_ok() {
            let _ = black_box(sa.encapsulate(&mut buf));
        }
    }))
}

/// Calls `each` on the items in a loop until `time` has passed (checked
/// every [`CHUNK`] items).
fn timed<T: Copy>(items: &[T], time: Duration, mut each: impl FnMut(T)) -> (u64, Duration) {
    let start = Instant::now();
    let mut done = 0u64;
    if items.is_empty() {
        return (0, start.elapsed());
    }
    loop {
        for chunk in items.chunks(CHUNK) {
            for item in chunk {
                each(*item);
            }
            done += chunk.len() as u64;
            if start.elapsed() >= time {
                return (done, start.elapsed());
            }
        }
    }
}
