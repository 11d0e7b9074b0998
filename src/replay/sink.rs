//! The output side of a replay: one pcap per Ethernet interface with the
//! frames as sent, `drops.pcap` with every dropped frame as it arrived and
//! `drops.jsonl` saying why (one JSON object per line, in the same order),
//! plus the per-flow table. Generic over the byte sink so benchmarks can
//! write to memory.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};

use serde::Serialize;

use super::engine::ReplayError;
use super::input::{CaptureDrop, InputRecord};
use crate::capture::{LinkType, PcapFileWriter};
use crate::dataplane::{Fate, Node, Outcome};
use crate::fib::InterfaceId;
use crate::output::OutputDir;
use crate::packet::PacketBuf;
use crate::report::FlowTable;

/// The dropped frames, in the order they were dropped.
pub const DROPS_PCAP_FILE: &str = "drops.pcap";
/// Why each frame of `drops.pcap` was dropped: JSON lines, same order.
pub const DROPS_INDEX_FILE: &str = "drops.jsonl";

/// File names a node interface may not take (they would clash).
const RESERVED: [&str; 3] = ["drops", "report", "wireshark-esp-sa"];

/// One line of `drops.jsonl`.
#[derive(Serialize)]
struct DropLine<'a> {
    /// Position in drops.pcap, from 1 (Wireshark's frame number there).
    drop: u64,
    /// The input frame number (from 1) that was dropped or that caused
    /// the dropped generated packet.
    input_frame: u64,
    ingress: Option<&'a str>,
    reason: &'a str,
    /// True for a packet the node generated (an ICMP error, a reply).
    generated: bool,
}

/// Where a replay's results go.
pub struct Sink<W: Write> {
    names: Vec<String>,
    interfaces: Vec<Option<PcapFileWriter<W>>>,
    drops: PcapFileWriter<W>,
    drops_index: W,
    drops_written: u64,
    pub(crate) flows: FlowTable,
    pub(crate) capture_drops: BTreeMap<&'static str, u64>,
    pub(crate) capture_drop_bytes: u64,
    line: Vec<u8>,
    /// Fates are written and folded into the flow table (false only for
    /// [`Sink::without_outputs`]).
    outputs: bool,
}

impl Sink<BufWriter<File>> {
    /// Files in `out`, published when `out` is committed.
    pub(crate) fn create_in(out: &mut OutputDir, node: &Node) -> Result<Self, ReplayError> {
        Self::new(node, |name| {
            Ok(BufWriter::with_capacity(256 * 1024, out.create(name)?))
        })
    }
}

impl Sink<std::io::Sink> {
    /// A sink that writes nothing and keeps no flow table: `erdp replay`'s
    /// engine with its outputs off, the baseline benches/forward.rs sets a
    /// full replay beside (issue 19). Not for a real replay: its report
    /// lists no flows.
    #[doc(hidden)]
    pub fn without_outputs(node: &Node) -> Result<Self, ReplayError> {
        let mut sink = Self::new(node, |_| Ok(std::io::sink()))?;
        sink.outputs = false;
        Ok(sink)
    }
}

impl<W: Write> Sink<W> {
    /// Opens one writer per Ethernet interface of `node` and the drops with
    /// `open(file name)`.
    pub fn new(
        node: &Node,
        mut open: impl FnMut(&str) -> Result<W, ReplayError>,
    ) -> Result<Self, ReplayError> {
        let mut interfaces = Vec::new();
        for (index, name) in node.interface_names().iter().enumerate() {
            if node.is_tunnel(InterfaceId(index as u32)) {
                interfaces.push(None);
                continue;
            }
            let safe = !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
                && !name.starts_with('.')
                && !RESERVED.contains(&name.as_str());
            if !safe {
                return Err(ReplayError::InterfaceFileName(name.clone()));
            }
            let file = format!("{name}.pcap");
            let writer = PcapFileWriter::from_writer(&file, open(&file)?, LinkType::Ethernet)?;
            interfaces.push(Some(writer));
        }
        let drops = PcapFileWriter::from_writer(
            DROPS_PCAP_FILE,
            open(DROPS_PCAP_FILE)?,
            LinkType::Ethernet,
        )?;
        Ok(Self {
            names: node.interface_names().to_vec(),
            interfaces,
            drops,
            drops_index: open(DROPS_INDEX_FILE)?,
            drops_written: 0,
            flows: FlowTable::new(),
            capture_drops: BTreeMap::new(),
            capture_drop_bytes: 0,
            line: Vec::with_capacity(160),
            outputs: true,
        })
    }

    /// Keeps at most `cap` flows one by one (before the first frame).
    pub(crate) fn set_flow_cap(&mut self, cap: usize) {
        self.flows = FlowTable::with_cap(cap);
    }

    /// Records an input frame's fate; `arrived` is the frame as given to
    /// the node, `frame` the buffer as the node left it.
    pub(crate) fn input(
        &mut self,
        record: &InputRecord,
        arrived: &[u8],
        frame: &PacketBuf,
        fate: &Fate,
    ) -> Result<(), ReplayError> {
        if !self.outputs {
            return Ok(());
        }
        self.flows
            .observe(fate, record.number, arrived.len(), frame.len());
        self.write_fate(record, frame.as_slice(), arrived, fate, false)
    }

    /// Records a packet the node generated because of `cause`.
    pub(crate) fn generated(
        &mut self,
        cause: &InputRecord,
        frame: &PacketBuf,
        fate: &Fate,
    ) -> Result<(), ReplayError> {
        if !self.outputs {
            return Ok(());
        }
        self.write_fate(cause, frame.as_slice(), frame.as_slice(), fate, true)
    }

    /// Records a frame the node never saw.
    pub(crate) fn capture_drop(
        &mut self,
        record: &InputRecord,
        reason: CaptureDrop,
    ) -> Result<(), ReplayError> {
        *self.capture_drops.entry(reason.as_str()).or_default() += 1;
        self.capture_drop_bytes += record.bytes.len() as u64;
        if !self.outputs {
            return Ok(());
        }
        self.write_drop(record, &record.bytes, reason.as_str(), false)
    }

    fn write_fate(
        &mut self,
        record: &InputRecord,
        sent: &[u8],
        as_arrived: &[u8],
        fate: &Fate,
        generated: bool,
    ) -> Result<(), ReplayError> {
        match fate.outcome {
            Outcome::Forwarded(egress) => {
                if let Some(Some(writer)) = self.interfaces.get_mut(egress.0 as usize) {
                    writer.write_frame(record.timestamp_ns, sent)?;
                }
                Ok(())
            }
            Outcome::Delivered(_) => Ok(()),
            Outcome::Dropped(reason) => {
                self.write_drop(record, as_arrived, reason.as_str(), generated)
            }
        }
    }

    fn write_drop(
        &mut self,
        record: &InputRecord,
        frame: &[u8],
        reason: &str,
        generated: bool,
    ) -> Result<(), ReplayError> {
        self.drops.write_frame(record.timestamp_ns, frame)?;
        self.drops_written += 1;
        let line = DropLine {
            drop: self.drops_written,
            input_frame: record.number,
            ingress: record
                .ingress
                .and_then(|i| self.names.get(i.0 as usize))
                .map(String::as_str),
            reason,
            generated,
        };
        self.line.clear();
        serde_json::to_writer(&mut self.line, &line)
            .map_err(|e| ReplayError::Index(std::io::Error::other(e)))?;
        self.line.push(b'\n');
        self.drops_index
            .write_all(&self.line)
            .map_err(ReplayError::Index)
    }

    /// Flushes every file.
    pub(crate) fn finish(self) -> Result<(), ReplayError> {
        for writer in self.interfaces.into_iter().flatten() {
            writer.finish()?;
        }
        self.drops.finish()?;
        let mut index = self.drops_index;
        index.flush().map_err(ReplayError::Index)
    }
}
