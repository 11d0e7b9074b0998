//! Route lookups for a whole batch at once: before the per-frame pass, the
//! worker reads the IPv4 destination of every frame that announces IPv4 and
//! looks them all up with the FIB's batch lookup ([`Fib::lookup_v4_batch`],
//! whose lanes overlap their cache misses). The per-frame pass then takes a
//! frame's route from here when the packet it forwards has that
//! destination, and from the single lookup otherwise (IPv6, inner packets
//! after decapsulation, generated packets, frames the pass rejects).

use std::cell::Cell;
use std::net::{IpAddr, Ipv4Addr};

use super::forward::Pipeline;
use crate::fib::{Fib, FibMatch};
use crate::packet::PacketBuf;
use crate::wire::{ETHERNET_HEADER_LEN, EtherType, ether_type_of};

/// The destination address of an IPv4 header (RFC 791), in a frame.
const FRAME_IPV4_DESTINATION: std::ops::Range<usize> =
    ETHERNET_HEADER_LEN + 16..ETHERNET_HEADER_LEN + 20;

/// A route found ahead of time: the destination it was looked up for and
/// the match (`None`: no route).
pub(crate) type RouteHint = Option<(Ipv4Addr, Option<FibMatch>)>;

/// Reused buffers of the batch lookup (no allocation once grown to the
/// largest batch).
#[derive(Debug, Default)]
pub(crate) struct RoutePrefetch {
    /// Frame position of each key.
    positions: Vec<usize>,
    keys: Vec<u32>,
    hits: Vec<Option<FibMatch>>,
    /// Per frame: its hint.
    hints: Vec<RouteHint>,
}

impl RoutePrefetch {
    /// Looks up the IPv4 destination of every IPv4 frame of `frames` in
    /// `fib`. Nothing is validated here: a destination read from a frame
    /// the pass later rejects is simply never used.
    pub(crate) fn fill(&mut self, fib: &Fib, frames: &[PacketBuf]) {
        self.positions.clear();
        self.keys.clear();
        self.hints.clear();
        self.hints.resize(frames.len(), None);
        for (position, frame) in frames.iter().enumerate() {
            let bytes = frame.as_slice();
            if ether_type_of(bytes) != Some(EtherType::IPV4) {
                continue;
            }
            if let Some(d) = bytes
                .get(FRAME_IPV4_DESTINATION)
                .and_then(|d| d.first_chunk::<4>())
            {
                self.positions.push(position);
                self.keys.push(u32::from_be_bytes(*d));
            }
        }
        self.hits.clear();
        self.hits.resize(self.keys.len(), None);
        fib.lookup_v4_batch(&self.keys, &mut self.hits);
        for ((position, key), hit) in self.positions.iter().zip(&self.keys).zip(&self.hits) {
            if let Some(hint) = self.hints.get_mut(*position) {
                *hint = Some((Ipv4Addr::from(*key), *hit));
            }
        }
    }

    /// The hint of frame `position` (`None` when the batch lookup is off
    /// or the frame is not IPv4).
    pub(crate) fn hint(&self, position: usize) -> RouteHint {
        self.hints.get(position).copied().flatten()
    }
}

impl Pipeline<'_> {
    /// The route of the frame the pass is about to process, found by the
    /// batch lookup.
    #[inline]
    pub(crate) fn set_route_hint(&self, hint: RouteHint) {
        self.route_hint.set(hint);
    }

    /// Longest-prefix match of `destination`: the batch lookup's answer
    /// when it was for this address, else a single lookup.
    #[inline]
    pub(crate) fn route(&self, destination: IpAddr) -> Option<FibMatch> {
        if let (Some((hinted, hit)), IpAddr::V4(address)) = (self.route_hint.get(), destination)
            && hinted == address
        {
            return hit;
        }
        self.fib.lookup(destination)
    }
}

/// Keeps the prefetch's hint cell type in one place.
pub(crate) type HintCell = Cell<RouteHint>;
