//! The input side of a replay: frames from the capture, each normalised to
//! Ethernet and given its ingress interface, remembered in a FIFO in input
//! order until their fates come back. Drops are written as they arrived,
//! whatever the node did to the buffer: an Ethernet frame's bytes stay held
//! in the capture reader's window until its fate is written (no copy per
//! frame); a frame made Ethernet here (raw IP, cooked) is copied as given
//! to the node.

use std::collections::VecDeque;
use std::io::Read;

use indicatif::ProgressBar;

use super::engine::ReplayError;
use crate::capture::{CaptureError, CaptureReader, FrameSpan, LinkType, Position, to_ethernet};
use crate::config::InterfaceKind;
use crate::dataplane::Node;
use crate::fib::InterfaceId;
use crate::packet::PacketBuf;
use crate::wire::{MacAddr, adopt_unicast_destination};

/// Source MAC given to frames of raw-IP and cooked captures when an
/// Ethernet header is made for them (locally administered); the
/// destination is the ingress interface's MAC.
pub const RAW_IP_SOURCE_MAC: MacAddr = MacAddr([0x02, 0x00, 0x00, 0x00, 0x00, 0xfe]);

/// A frame the capture gave but the node never saw. Counted and written
/// to the drops like the node's own drops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaptureDrop {
    /// A raw-IP or cooked frame that could not be made Ethernet (too
    /// short, not IP).
    LinkMalformed,
    /// Larger than a packet buffer (the reader skipped it).
    FrameTooLarge,
}

impl CaptureDrop {
    /// The report name.
    pub const fn as_str(self) -> &'static str {
        match self {
            CaptureDrop::LinkMalformed => "capture_link_malformed",
            CaptureDrop::FrameTooLarge => "capture_frame_too_large",
        }
    }
}

/// One input frame on its way through the node.
#[derive(Debug, Default)]
pub(crate) struct InputRecord {
    /// Frame number in the capture, from 1.
    pub(crate) number: u64,
    /// File offset of the frame (or of its record, for a frame too large).
    pub(crate) at: u64,
    pub(crate) timestamp_ns: u64,
    pub(crate) ingress: Option<InterfaceId>,
    /// Where the frame sits in the capture, when the node was given it
    /// unchanged (an Ethernet capture): the reader holds those bytes.
    pub(crate) span: Option<FrameSpan>,
    /// Else the frame as given to the node (or as captured, for a capture
    /// drop).
    pub(crate) bytes: Vec<u8>,
    pub(crate) capture_drop: Option<CaptureDrop>,
}

/// Reads frames and remembers them until their fates come back.
pub(crate) struct Input<'n, R> {
    reader: CaptureReader<R>,
    node: &'n Node,
    default_ingress: Option<InterfaceId>,
    pending: VecDeque<InputRecord>,
    spare: Vec<InputRecord>,
    progress: Option<ProgressBar>,
    frames: u64,
    /// Take any unicast destination MAC as the ingress port's.
    promiscuous: bool,
    /// Frames whose destination MAC was taken as the port's.
    pub(crate) readdressed: u64,
}

/// Frames between progress bar updates.
const PROGRESS_EVERY: u64 = 4096;

impl<'n, R: Read> Input<'n, R> {
    pub(crate) fn new(
        reader: CaptureReader<R>,
        node: &'n Node,
        default_ingress: Option<InterfaceId>,
        progress: Option<ProgressBar>,
        promiscuous: bool,
    ) -> Self {
        Self {
            reader,
            node,
            default_ingress,
            pending: VecDeque::new(),
            spare: Vec::new(),
            progress,
            frames: 0,
            promiscuous,
            readdressed: 0,
        }
    }

    pub(crate) fn reader(&self) -> &CaptureReader<R> {
        &self.reader
    }

    /// The frame of `record` as it arrived: held by the reader, or copied.
    pub(crate) fn arrival<'r>(&'r self, record: &'r InputRecord) -> &'r [u8] {
        match record.span {
            Some(span) => self.reader.held(span).unwrap_or_default(),
            None => &record.bytes,
        }
    }

    /// Loads the next frame the node should see into `buf` and returns its
    /// ingress; `None` at the end. Capture drops met on the way are queued.
    pub(crate) fn next(&mut self, buf: &mut PacketBuf) -> Result<Option<InterfaceId>, ReplayError> {
        // Every frame whose fate is not written yet stays readable.
        let oldest = self.pending.front().map(|r| r.at);
        self.reader.hold_from(oldest);
        loop {
            self.frames += 1;
            if self.frames.is_multiple_of(PROGRESS_EVERY)
                && let Some(bar) = &self.progress
            {
                bar.set_position(self.reader.bytes_consumed());
            }
            let meta = match self.reader.next_frame(buf) {
                Ok(Some(meta)) => meta,
                Ok(None) => return Ok(None),
                Err(error @ CaptureError::FrameTooLarge { .. }) => {
                    let at = match &error {
                        CaptureError::FrameTooLarge { at, .. } => *at,
                        _ => Position {
                            frame: 0,
                            offset: 0,
                        },
                    };
                    let mut record = self.record();
                    record.number = at.frame;
                    record.at = at.offset;
                    record.capture_drop = Some(CaptureDrop::FrameTooLarge);
                    self.pending.push_back(record);
                    continue;
                }
                Err(error) => return Err(ReplayError::Capture(error)),
            };
            let ingress = self.ingress(meta.interface, meta.number)?;
            let mut record = self.record();
            record.number = meta.number;
            // Offsets only grow (the reader holds from the oldest).
            record.at = meta.span.offset.min(self.reader.bytes_consumed());
            record.timestamp_ns = meta.timestamp_ns;
            record.ingress = Some(ingress);
            let mac = self.mac(ingress);
            if to_ethernet(buf, meta.link_type, mac, RAW_IP_SOURCE_MAC).is_err() {
                record.bytes.extend_from_slice(buf.as_slice());
                record.capture_drop = Some(CaptureDrop::LinkMalformed);
                self.pending.push_back(record);
                continue;
            }
            // Kept as given to the node: drops.pcap shows the frame as it
            // arrived. An Ethernet frame is still in the reader's window.
            if meta.link_type == LinkType::Ethernet && self.reader.held(meta.span).is_some() {
                record.span = Some(meta.span);
            } else {
                record.bytes.extend_from_slice(buf.as_slice());
            }
            if self.promiscuous && adopt_unicast_destination(buf.as_mut_slice(), mac) {
                self.readdressed += 1;
            }
            self.pending.push_back(record);
            return Ok(Some(ingress));
        }
    }

    /// The oldest capture drop, if it is next in input order.
    pub(crate) fn pop_capture_drop(&mut self) -> Option<InputRecord> {
        if self.pending.front()?.capture_drop.is_some() {
            return self.pending.pop_front();
        }
        None
    }

    /// The oldest frame the node saw (after any capture drops before it,
    /// which the caller pops first).
    pub(crate) fn pop_processed(&mut self) -> Option<InputRecord> {
        self.pending.pop_front()
    }

    /// Gives a record's storage back.
    pub(crate) fn recycle(&mut self, record: InputRecord) {
        self.spare.push(record);
    }

    fn record(&mut self) -> InputRecord {
        let mut record = self.spare.pop().unwrap_or_default();
        record.bytes.clear();
        record.span = None;
        record.capture_drop = None;
        record.ingress = None;
        record.timestamp_ns = 0;
        record
    }

    fn mac(&self, ingress: InterfaceId) -> MacAddr {
        match self.node.config().interface(ingress).map(|i| &i.kind) {
            Some(InterfaceKind::Ethernet(e)) => e.mac,
            _ => MacAddr::BROADCAST,
        }
    }

    /// The ingress of a frame captured on capture interface `interface`:
    /// the node's Ethernet interface of the same name (pcapng `if_name`),
    /// else the default (`--ingress`).
    fn ingress(&self, interface: u32, frame: u64) -> Result<InterfaceId, ReplayError> {
        let name = self.reader.interface_name(interface);
        if let Some(id) = name.and_then(|n| self.node.interface_id(n))
            && !self.node.is_tunnel(id)
        {
            return Ok(id);
        }
        self.default_ingress.ok_or_else(|| ReplayError::NoIngress {
            frame,
            capture_interface: interface,
            name: name.map(str::to_owned),
            node_interfaces: ethernet_names(self.node),
        })
    }
}

/// The node's Ethernet interface names, comma separated.
pub(crate) fn ethernet_names(node: &Node) -> String {
    node.interface_names()
        .iter()
        .enumerate()
        .filter(|(i, _)| !node.is_tunnel(InterfaceId(*i as u32)))
        .map(|(_, n)| n.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}
