//! The replay: frames from [`Input`] (the capture-reading side) through the
//! node by the [`crate::driver`] (one worker on the calling thread, or the
//! node's [`WorkerPool`]), fates to the [`Sink`] (the capture-writing side)
//! in input order, then the [`ReplayReport`]. The report does not depend on
//! the number of workers.

use std::io::{Read, Write};
use std::sync::Arc;

use indicatif::ProgressBar;
use thiserror::Error;

use super::input::{Input, InputRecord, ethernet_names};
use super::report::{Promiscuous, ReplayReport};
use super::sink::Sink;
use crate::capture::{CaptureError, CaptureReader};
use crate::dataplane::{Fate, Node, PoolError, WorkerPool};
use crate::driver::{Driver, FateRoute, FrameSource, Order, run_batched, run_pooled};
use crate::fib::InterfaceId;
use crate::output::OutputError;
use crate::packet::PacketBuf;
use crate::report::DEFAULT_FLOW_CAP;

/// Frames per batch given to a worker.
pub(crate) const DEFAULT_BATCH: usize = 64;

/// How to replay.
#[derive(Debug, Clone)]
pub struct ReplayOptions {
    /// The ingress for frames whose capture interface does not name an
    /// Ethernet interface of the node (all frames of a pcap file).
    pub ingress: Option<String>,
    /// Worker threads; 1 processes on the calling thread.
    pub workers: usize,
    /// Frames per batch.
    pub batch_size: usize,
    /// A progress bar to advance by input bytes consumed.
    pub progress: Option<ProgressBar>,
    /// Take any unicast destination MAC as the ingress port's (a capture
    /// taken between other devices); broadcast and multicast are unchanged.
    pub promiscuous: bool,
    /// The most flows (and violations) the report lists one by one; the
    /// packets of later flows are folded into `untracked_flows`.
    pub flow_cap: usize,
}

impl Default for ReplayOptions {
    fn default() -> Self {
        Self {
            ingress: None,
            workers: 1,
            batch_size: DEFAULT_BATCH,
            progress: None,
            promiscuous: false,
            flow_cap: DEFAULT_FLOW_CAP,
        }
    }
}

/// Why a replay stopped.
#[derive(Debug, Error)]
pub enum ReplayError {
    /// Reading the capture or writing an output pcap failed.
    #[error("{0}")]
    Capture(#[from] CaptureError),
    /// A frame's capture interface matches no node interface and no
    /// `--ingress` was given.
    #[error(
        "frame {frame}: capture interface {capture_interface}{} names no Ethernet interface of the node ({node_interfaces}); give --ingress",
        name.as_ref().map(|n| format!(" ({n:?})")).unwrap_or_default()
    )]
    NoIngress {
        frame: u64,
        capture_interface: u32,
        name: Option<String>,
        node_interfaces: String,
    },
    /// `--ingress` names no Ethernet interface of the node.
    #[error("--ingress {name:?}: not an Ethernet interface of the node ({node_interfaces})")]
    UnknownIngress {
        name: String,
        node_interfaces: String,
    },
    /// An interface name cannot be a file name in the output directory.
    #[error(
        "interface {0:?}: cannot name an output file (use letters, digits, '-', '_', '.'; not drops, report or wireshark-esp-sa)"
    )]
    InterfaceFileName(String),
    /// The output directory cannot be used, or a file in it created.
    #[error("{0}")]
    Output(#[from] OutputError),
    /// Writing `drops.jsonl` or the report failed.
    #[error("cannot write the drops index or report: {0}")]
    Index(std::io::Error),
    /// The worker pool failed.
    #[error("{0}")]
    Pool(#[from] PoolError),
}

/// Replays every frame of `reader` through `node` into `sink` and returns
/// the report. The sink is flushed at the end.
pub fn replay<R: Read, W: Write>(
    node: &Arc<Node>,
    reader: CaptureReader<R>,
    mut sink: Sink<W>,
    options: &ReplayOptions,
) -> Result<ReplayReport, ReplayError> {
    let default_ingress = match &options.ingress {
        Some(name) => Some(
            node.interface_id(name)
                .filter(|id| !node.is_tunnel(*id))
                .ok_or_else(|| ReplayError::UnknownIngress {
                    name: name.clone(),
                    node_interfaces: ethernet_names(node),
                })?,
        ),
        None => None,
    };
    sink.set_flow_cap(options.flow_cap);
    let mut input = Input::new(
        reader,
        node,
        default_ingress,
        options.progress.clone(),
        options.promiscuous,
    );
    drive(node, &mut input, &mut sink, options)?;
    while let Some(record) = input.pop_capture_drop() {
        emit_capture_drop(&mut sink, &mut input, record)?;
    }
    if let Some(bar) = &options.progress {
        bar.set_position(input.reader().bytes_consumed());
    }
    let mut report = ReplayReport::new(node, input.reader(), &sink);
    if options.promiscuous {
        report.promiscuous = Some(Promiscuous {
            readdressed: input.readdressed,
        });
    }
    sink.finish()?;
    Ok(report)
}

fn emit_capture_drop<R: Read, W: Write>(
    sink: &mut Sink<W>,
    input: &mut Input<'_, R>,
    record: InputRecord,
) -> Result<(), ReplayError> {
    if let Some(reason) = record.capture_drop {
        sink.capture_drop(&record, reason)?;
    }
    input.recycle(record);
    Ok(())
}

/// The capture-reading side and the capture-writing side of a replay, as
/// the driver sees them: frames come from [`Input`], their fates go to the
/// [`Sink`] in input order, after the capture drops that came before them.
struct ReplayIo<'i, 'n, R, W: Write> {
    input: &'i mut Input<'n, R>,
    sink: &'i mut Sink<W>,
    /// The input frame whose results are being routed.
    current: Option<InputRecord>,
}

impl<R: Read, W: Write> ReplayIo<'_, '_, R, W> {
    /// Gives the last frame's record back.
    fn finish_current(&mut self) {
        if let Some(record) = self.current.take() {
            self.input.recycle(record);
        }
    }
}

impl<R: Read, W: Write> FrameSource for ReplayIo<'_, '_, R, W> {
    type Error = ReplayError;

    fn next_frame(&mut self, buf: &mut PacketBuf) -> Result<Option<InterfaceId>, ReplayError> {
        self.input.next(buf)
    }
}

impl<R: Read, W: Write> FateRoute for ReplayIo<'_, '_, R, W> {
    type Error = ReplayError;

    fn input(&mut self, _: usize, frame: &mut PacketBuf, fate: &Fate) -> Result<(), ReplayError> {
        self.finish_current();
        while let Some(record) = self.input.pop_capture_drop() {
            emit_capture_drop(self.sink, self.input, record)?;
        }
        let Some(record) = self.input.pop_processed() else {
            return Ok(());
        };
        let arrived = self.input.arrival(&record);
        let result = self.sink.input(&record, arrived, frame, fate);
        self.current = Some(record);
        result
    }

    fn generated(
        &mut self,
        _: usize,
        frame: &mut PacketBuf,
        fate: &Fate,
    ) -> Result<(), ReplayError> {
        match &self.current {
            Some(record) => self.sink.generated(record, frame, fate),
            None => Ok(()),
        }
    }
}

/// Drives every frame of `input` through the node (one worker on this
/// thread, or the node's worker pool) into `sink`.
fn drive<R: Read, W: Write>(
    node: &Arc<Node>,
    input: &mut Input<'_, R>,
    sink: &mut Sink<W>,
    options: &ReplayOptions,
) -> Result<(), ReplayError> {
    let mut io = ReplayIo {
        input,
        sink,
        current: None,
    };
    let result = if options.workers <= 1 {
        let batch = options.batch_size.max(1);
        let mut driver = Driver::new(node.worker(), batch, Order::ByCause);
        run_batched(&mut driver, &mut io, batch)
    } else {
        let mut pool = WorkerPool::new(Arc::clone(node), options.workers, options.batch_size)?;
        run_pooled(&mut pool, &mut io)
    };
    io.finish_current();
    result
}
