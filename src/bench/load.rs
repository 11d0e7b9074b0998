//! A capture loaded into memory for `erdp bench`: every frame made
//! Ethernet (as replay does) with its ingress interface; frames that cannot
//! be (too large, a raw-IP frame that is not IP) are counted and left out.

use std::path::Path;

use crate::capture::{CaptureError, CaptureReader, to_ethernet};
use crate::config::InterfaceKind;
use crate::dataplane::{Node, ShardFrame};
use crate::fib::InterfaceId;
use crate::packet::PacketBuf;
use crate::replay::RAW_IP_SOURCE_MAC;
use crate::wire::MacAddr;

use super::BenchError;

/// The frames of a capture, ready to loop through a node.
#[derive(Debug, Default)]
pub(crate) struct LoadedCapture {
    /// Each frame's ingress and Ethernet bytes, in capture order.
    pub frames: Vec<(InterfaceId, Vec<u8>)>,
    /// Frames of the capture left out (too large, not convertible to
    /// Ethernet).
    pub skipped: u64,
}

impl LoadedCapture {
    /// Reads `path`; a frame's ingress is the node's Ethernet interface
    /// named like its capture interface (pcapng `if_name`), else `ingress`.
    pub(crate) fn load(
        path: &Path,
        node: &Node,
        ingress: Option<&str>,
    ) -> Result<Self, BenchError> {
        let default_ingress = match ingress {
            Some(name) => Some(
                node.interface_id(name)
                    .filter(|id| !node.is_tunnel(*id))
                    .ok_or_else(|| BenchError::UnknownIngress(name.to_owned()))?,
            ),
            None => None,
        };
        let mut reader = CaptureReader::open(path)?;
        let mut loaded = LoadedCapture::default();
        let mut buf = PacketBuf::new();
        loop {
            let meta = match reader.next_frame(&mut buf) {
                Ok(Some(meta)) => meta,
                Ok(None) => break,
                Err(CaptureError::FrameTooLarge { .. }) => {
                    loaded.skipped += 1;
                    continue;
                }
                Err(error) => return Err(error.into()),
            };
            let named = reader
                .interface_name(meta.interface)
                .and_then(|n| node.interface_id(n))
                .filter(|id| !node.is_tunnel(*id));
            let ingress = named
                .or(default_ingress)
                .ok_or(BenchError::NoIngress(meta.number))?;
            if to_ethernet(
                &mut buf,
                meta.link_type,
                port_mac(node, ingress),
                RAW_IP_SOURCE_MAC,
            )
            .is_err()
            {
                loaded.skipped += 1;
                continue;
            }
            loaded.frames.push((ingress, buf.as_slice().to_vec()));
        }
        if loaded.frames.is_empty() {
            return Err(BenchError::Empty);
        }
        Ok(loaded)
    }

    /// The frames as inputs of [`crate::dataplane::shard`].
    pub(crate) fn shard_frames(&self) -> impl Iterator<Item = ShardFrame<'_>> {
        self.frames.iter().map(|(ingress, bytes)| ShardFrame {
            ingress: *ingress,
            bytes,
        })
    }

    /// Bytes of all frames.
    pub(crate) fn bytes(&self) -> u64 {
        self.frames.iter().map(|(_, f)| f.len() as u64).sum()
    }
}

fn port_mac(node: &Node, ingress: InterfaceId) -> MacAddr {
    match node.config().interface(ingress).map(|i| &i.kind) {
        Some(InterfaceKind::Ethernet(e)) => e.mac,
        _ => MacAddr::BROADCAST,
    }
}
