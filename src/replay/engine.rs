//! The replay loop: frames from [`Input`] through the node (one worker on
//! the calling thread, or the node's [`WorkerPool`]), fates to the [`Sink`]
//! in input order, then the [`ReplayReport`]. The report does not depend on
//! the number of workers.

use std::cell::RefCell;
use std::io::{Read, Write};
use std::sync::Arc;

use indicatif::ProgressBar;
use thiserror::Error;

use super::input::{Input, InputRecord, ethernet_names};
use super::report::{Promiscuous, ReplayReport};
use super::sink::Sink;
use crate::capture::{CaptureError, CaptureReader};
use crate::dataplane::{Fate, Node, Outputs, PoolError, WorkerPool};
use crate::fib::InterfaceId;
use crate::output::OutputError;
use crate::packet::PacketBuf;
use crate::report::DEFAULT_FLOW_CAP;

/// Frames per batch given to a worker.
pub const DEFAULT_BATCH: usize = 64;

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
    if options.workers <= 1 {
        run_inline(node, &mut input, &mut sink, options.batch_size.max(1))?;
    } else {
        run_pool(node, &mut input, &mut sink, options)?;
    }
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

/// Hands one processed frame (and what it generated) to the sink, after
/// the capture drops that came before it.
fn emit<'g, R: Read, W: Write>(
    sink: &mut Sink<W>,
    input: &mut Input<'_, R>,
    frame: &PacketBuf,
    fate: &Fate,
    generated: impl IntoIterator<Item = (&'g PacketBuf, &'g Fate)>,
) -> Result<(), ReplayError> {
    while let Some(record) = input.pop_capture_drop() {
        emit_capture_drop(sink, input, record)?;
    }
    let Some(record) = input.pop_processed() else {
        return Ok(());
    };
    sink.input(&record, frame, fate)?;
    for (frame, fate) in generated {
        sink.generated(&record, frame, fate)?;
    }
    input.recycle(record);
    Ok(())
}

/// One worker on this thread, batches of frames from one ingress.
fn run_inline<R: Read, W: Write>(
    node: &Arc<Node>,
    input: &mut Input<'_, R>,
    sink: &mut Sink<W>,
    batch_size: usize,
) -> Result<(), ReplayError> {
    let mut worker = node.worker();
    let mut frames: Vec<PacketBuf> = (0..=batch_size).map(|_| PacketBuf::new()).collect();
    let mut outputs = Outputs::with_capacity(batch_size);
    let mut filled = 0usize;
    let mut batch_ingress = InterfaceId(0);
    loop {
        let next = match frames.get_mut(filled) {
            Some(buf) => input.next(buf)?,
            None => None,
        };
        let full = filled == batch_size;
        let switch = next.is_some_and(|ingress| filled > 0 && ingress != batch_ingress);
        if filled > 0 && (next.is_none() || switch || full) {
            let (batch, _) = frames.split_at_mut(filled);
            worker.process(batch_ingress, batch, &mut outputs);
            let mut generated = 0usize;
            for (index, (frame, fate)) in batch.iter().zip(outputs.fates()).enumerate() {
                // A reply or error, or the fragments after the first.
                let first = generated;
                while outputs
                    .generated_at(generated)
                    .is_some_and(|g| g.cause == index)
                {
                    generated += 1;
                }
                let made = (first..generated).filter_map(|k| outputs.generated_at(k));
                emit(sink, input, frame, fate, made.map(|g| (g.frame, g.fate)))?;
            }
            if next.is_some() {
                // The frame just read waits at `filled`: make it the first.
                frames.swap(0, filled);
            }
            filled = 0;
        }
        match next {
            Some(ingress) => {
                batch_ingress = ingress;
                filled += 1;
            }
            None => return Ok(()),
        }
    }
}

/// The node's worker pool; results come back in input order.
fn run_pool<R: Read, W: Write>(
    node: &Arc<Node>,
    input: &mut Input<'_, R>,
    sink: &mut Sink<W>,
    options: &ReplayOptions,
) -> Result<(), ReplayError> {
    let mut pool = WorkerPool::new(Arc::clone(node), options.workers, options.batch_size)?;
    let shared = RefCell::new((input, sink));
    let failure: RefCell<Option<ReplayError>> = RefCell::new(None);
    pool.run_ordered(
        |buf| {
            let mut state = shared.borrow_mut();
            match state.0.next(buf) {
                Ok(next) => next,
                Err(error) => {
                    failure.borrow_mut().get_or_insert(error);
                    None
                }
            }
        },
        |done| {
            let mut state = shared.borrow_mut();
            let (input, sink) = &mut *state;
            let more = done
                .more_generated
                .iter()
                .map(|(frame, fate)| (frame, fate));
            let made = done.generated.into_iter().chain(more);
            if let Err(error) = emit(*sink, *input, done.frame, done.fate, made) {
                failure.borrow_mut().get_or_insert(error);
            }
        },
    )?;
    match failure.into_inner() {
        Some(error) => Err(error),
        None => Ok(()),
    }
}
