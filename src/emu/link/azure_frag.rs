//! Azure's VNet fragmentation on a link: Microsoft documents ("Virtual
//! network TCP/IP performance tuning") that Azure fragments packets larger
//! than 1,400 bytes and drops fragments that arrive out of order (later
//! made an opt-in: reassembly of out-of-order fragments). A channel with
//! [`AzureFragmentation`] cuts IPv4 packets without DF over the limit into
//! fragments when they enter (RFC 791 3.2, with `wire`'s fragmenter) and,
//! unless `reassemble_out_of_order`, drops at delivery every fragment that
//! is not the next one of its datagram.

use std::net::Ipv4Addr;

use crate::emu::pool::FramePool;
use crate::packet::PacketBuf;
use crate::wire::{ETHERNET_HEADER_LEN, EtherType, Ipv4FragmentFields, Ipv4Fragmenter, Ipv4Packet};

/// The IP packet size above which Azure fragments (the page above).
pub const AZURE_FRAGMENT_ABOVE: usize = 1400;

/// Datagrams whose fragment order a channel follows at once; an older one
/// is forgotten (its later fragments then count as out of order).
const TRACKED: usize = 32;

/// Azure's fragmentation behaviour on one direction of a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AzureFragmentation {
    /// IPv4 packets larger than this (IP bytes) are fragmented to it.
    pub fragment_above: usize,
    /// Deliver out-of-order fragments (the opt-in); by default they are
    /// dropped.
    pub reassemble_out_of_order: bool,
}

impl Default for AzureFragmentation {
    /// 1,400 bytes, out-of-order fragments dropped.
    fn default() -> Self {
        Self {
            fragment_above: AZURE_FRAGMENT_ABOVE,
            reassemble_out_of_order: false,
        }
    }
}

/// The IPv4 packet of an Ethernet frame, when it is one.
fn ipv4(frame: &[u8]) -> Option<Ipv4Packet<&[u8]>> {
    let ether_type = frame.get(12..14)?;
    if u16::from_be_bytes([ether_type[0], ether_type[1]]) != EtherType::IPV4.0 {
        return None;
    }
    Ipv4Packet::new_checked_ignoring_checksum(frame.get(ETHERNET_HEADER_LEN..)?).ok()
}

impl AzureFragmentation {
    /// Cuts `frame` into fragments from `pool` appended to `out` when it is
    /// IPv4 without DF over the limit; false (nothing appended) otherwise.
    pub(crate) fn split(
        &self,
        frame: &[u8],
        pool: &mut FramePool,
        out: &mut Vec<PacketBuf>,
    ) -> bool {
        let Some(packet) = ipv4(frame) else {
            return false;
        };
        if packet.total_len() <= self.fragment_above || packet.dont_fragment() {
            return false;
        }
        let (Some(l2), Some(ip)) = (
            frame.get(..ETHERNET_HEADER_LEN),
            frame.get(ETHERNET_HEADER_LEN..),
        ) else {
            return false;
        };
        let Ok(plan) = Ipv4Fragmenter::new(ip, self.fragment_above) else {
            return false;
        };
        let start = out.len();
        for piece in plan.clone() {
            let mut buf = pool.take();
            buf.reset(PacketBuf::DEFAULT_HEADROOM);
            let len = ETHERNET_HEADER_LEN + plan.total_len(&piece);
            let written = buf.push_back(len).ok().and_then(|bytes| {
                let (head, rest) = bytes.split_at_mut(ETHERNET_HEADER_LEN);
                head.copy_from_slice(l2);
                plan.write(&piece, rest).ok()
            });
            out.push(buf);
            if written.is_none() {
                for undone in out.drain(start..) {
                    pool.give(undone);
                }
                return false;
            }
        }
        true
    }
}

/// A datagram being delivered fragment by fragment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct InOrder {
    source: Ipv4Addr,
    destination: Ipv4Addr,
    identification: u16,
    /// The offset the next fragment must have.
    next: usize,
}

/// Follows the fragment order of the datagrams crossing a channel.
#[derive(Debug, Clone)]
pub(crate) struct FragmentOrder {
    datagrams: [Option<InOrder>; TRACKED],
    /// Where the next new datagram goes (oldest first).
    cursor: usize,
}

impl Default for FragmentOrder {
    fn default() -> Self {
        Self {
            datagrams: [None; TRACKED],
            cursor: 0,
        }
    }
}

impl FragmentOrder {
    /// True when `frame` may be delivered: not an IPv4 fragment, or the
    /// next fragment of its datagram (the first starts one).
    pub(crate) fn in_order(&mut self, frame: &[u8]) -> bool {
        let Some(packet) = ipv4(frame) else {
            return true;
        };
        let fields = Ipv4FragmentFields::of(&packet);
        if !fields.is_fragment() {
            return true;
        }
        let (source, destination) = (packet.source(), packet.destination());
        let end = fields.offset + packet.payload().len();
        let found = self.datagrams.iter().position(|d| {
            d.is_some_and(|d| {
                d.source == source
                    && d.destination == destination
                    && d.identification == fields.identification
            })
        });
        match found {
            None if fields.offset == 0 => {
                let slot = self.cursor % TRACKED;
                self.cursor = self.cursor.wrapping_add(1);
                if let Some(at) = self.datagrams.get_mut(slot) {
                    *at = Some(InOrder {
                        source,
                        destination,
                        identification: fields.identification,
                        next: end,
                    });
                }
                true
            }
            None => false,
            Some(index) => {
                let Some(entry) = self.datagrams.get_mut(index) else {
                    return false;
                };
                match entry {
                    Some(d) if d.next == fields.offset => {
                        d.next = end;
                        if !fields.more {
                            *entry = None;
                        }
                        true
                    }
                    _ => {
                        // Out of order: the rest of the datagram is lost too.
                        *entry = None;
                        false
                    }
                }
            }
        }
    }
}
