//! [`WorkerPool`]: N workers sharing one [`Node`], worker 0 on the caller's
//! thread and the others fed batches over bounded crossbeam channels. A frame goes to the worker its flow hashes
//! to (the 5-tuple; ESP for the node hashes by its outer addresses, since
//! the inner 5-tuple is encrypted), so every flow is processed in order and
//! an SA's sequence numbers follow each flow's packet order. Results carry
//! each frame's index; [`Reorder`] and [`WorkerPool::run_ordered`] put them
//! back in input order.

use std::collections::VecDeque;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError, SendTimeoutError, Sender, bounded, unbounded};
use etherparse::EtherType;
use thiserror::Error;

use super::fastpath;
use super::fate::Fate;
use super::node::Node;
use super::outputs::Outputs;
use super::worker::Worker;
use crate::fib::InterfaceId;
use crate::packet::PacketBuf;
use crate::wire::{ETHERNET_HEADER_LEN, FlowHasher, FlowKey, ether_type_of};

/// Batches queued per worker before `submit` waits (backpressure).
const QUEUED_BATCHES: usize = 4;
/// How often a waiting caller checks that the workers are alive.
const LIVENESS_CHECK: Duration = Duration::from_millis(200);
/// Mixed into the node's flow hash seed so worker choice and ECMP choice
/// are independent.
const AFFINITY_SEED_MIX: u64 = 0x776f_726b_6572_7321; // "workers!"

/// Why the pool stopped.
#[derive(Debug, Error)]
pub enum PoolError {
    /// A worker thread could not be started.
    #[error("cannot start worker thread: {0}")]
    Spawn(#[from] std::io::Error),
    /// A worker thread ended while batches were in flight (a bug: it
    /// panicked).
    #[error("a worker thread stopped with {0} batches in flight")]
    WorkerStopped(usize),
}

/// A batch on its way to a worker and back.
#[derive(Debug, Default)]
struct Batch {
    ingress: InterfaceId,
    worker: usize,
    indices: Vec<u64>,
    frames: Vec<PacketBuf>,
    outputs: Outputs,
}

/// A processed batch: frames of one ingress interface, all from one worker,
/// in the order they were submitted to it.
#[derive(Debug)]
pub struct Completed(Batch);

/// One processed frame of a [`Completed`] batch.
#[derive(Debug, Clone, Copy)]
pub struct Processed<'c> {
    /// The index given to [`WorkerPool::submit`].
    pub index: u64,
    /// The frame as sent when forwarded.
    pub frame: &'c PacketBuf,
    /// Its fate.
    pub fate: &'c Fate,
}

impl Completed {
    /// The interface the frames arrived on.
    pub fn ingress(&self) -> InterfaceId {
        self.0.ingress
    }

    /// The worker that processed them.
    pub fn worker(&self) -> usize {
        self.0.worker
    }

    /// Number of frames.
    pub fn len(&self) -> usize {
        self.0.indices.len()
    }

    /// True when the batch holds no frame.
    pub fn is_empty(&self) -> bool {
        self.0.indices.is_empty()
    }

    /// The frames with their indices and fates.
    pub fn iter(&self) -> impl Iterator<Item = Processed<'_>> {
        self.0
            .indices
            .iter()
            .zip(&self.0.frames)
            .zip(self.0.outputs.fates())
            .map(|((index, frame), fate)| Processed {
                index: *index,
                frame,
                fate,
            })
    }

    /// The packets the node generated, each with the index of the frame
    /// that caused it.
    pub fn generated(&self) -> impl Iterator<Item = (u64, &PacketBuf, &Fate)> {
        self.0.outputs.generated().map(|g| {
            let cause = self.0.indices.get(g.cause).copied().unwrap_or(u64::MAX);
            (cause, g.frame, g.fate)
        })
    }
}

/// Which worker a frame goes to: the hash of its flow (the 5-tuple; ESP
/// for the node hashes by its outer addresses, since the inner 5-tuple is
/// encrypted), so each flow stays on one worker and in order.
#[derive(Debug, Clone)]
pub struct FlowAffinity {
    hasher: FlowHasher,
    workers: u32,
}

impl FlowAffinity {
    /// Affinity over `workers` workers (at least 1) of `node`.
    pub fn new(node: &Node, workers: usize) -> Self {
        let seed = node.config().flow_hash_seed ^ AFFINITY_SEED_MIX;
        Self {
            hasher: FlowHasher::with_seed(seed),
            workers: u32::try_from(workers.max(1)).unwrap_or(u32::MAX),
        }
    }

    /// Number of workers.
    pub fn workers(&self) -> usize {
        self.workers as usize
    }

    /// The worker a frame belongs to: its flow's hash, or worker 0 for
    /// frames without an IP flow (ARP, malformed).
    pub fn worker_for(&self, frame: &[u8]) -> usize {
        // Only the EtherType is needed here (a tagged or short frame is
        // not IPv4/IPv6 and goes to worker 0, as the node drops it anyway);
        // the node parses and checks the whole header itself.
        let flow = match ether_type_of(frame) {
            Some(EtherType::IPV4 | EtherType::IPV6) => {
                frame.get(ETHERNET_HEADER_LEN..).and_then(|ip| {
                    // The node's own fast path first (same key, a
                    // differential test holds them equal), then the rest.
                    fastpath::ipv4_meta(ip)
                        .map(|meta| meta.flow)
                        .or_else(|| FlowKey::parse(ip).ok())
                })
            }
            _ => None,
        };
        flow.map_or(0, |flow| {
            FlowHasher::bucket(self.hasher.hash(&flow), self.workers) as usize
        })
    }
}

/// One frame back in input order, from [`WorkerPool::run_ordered`]. The
/// frames are lent writable, so a caller can swap one out without a copy.
#[derive(Debug)]
pub struct Ordered<'a> {
    /// Position in the input (0, 1, 2, ...).
    pub index: u64,
    /// The interface it arrived on.
    pub ingress: InterfaceId,
    /// The frame as sent when forwarded.
    pub frame: &'a mut PacketBuf,
    /// Its fate.
    pub fate: &'a Fate,
    /// The packet the node generated because of it, if any: a reply, an
    /// ICMP error, or the second fragment of a fragmented packet.
    pub generated: Option<(&'a mut PacketBuf, &'a Fate)>,
    /// The fragments after the second, if it was cut into more than two.
    pub more_generated: &'a mut [(PacketBuf, Fate)],
}

/// Worker threads sharing a node. Dropping the pool stops them.
#[derive(Debug)]
pub struct WorkerPool {
    /// Worker 0, run on the caller's thread inside [`Self::submit`] and
    /// [`Self::flush`]: with N workers the pool uses N threads, not N + 1
    /// (a feeding thread competing with every worker for the cores).
    inline: Worker,
    /// Batches worker 0 processed, waiting for [`Self::recv`].
    ready: VecDeque<Batch>,
    /// Queues of workers 1.. (index 0 is worker 1).
    jobs: Vec<Sender<Batch>>,
    results: Receiver<Batch>,
    handles: Vec<JoinHandle<()>>,
    pending: Vec<Batch>,
    spare: Vec<Batch>,
    spare_frames: Vec<PacketBuf>,
    /// Generated packets of a batch by cause, while it is unpacked.
    scratch: Vec<Option<(PacketBuf, Fate)>>,
    batch_size: usize,
    in_flight: usize,
    affinity: FlowAffinity,
}

impl WorkerPool {
    /// Starts `workers` workers (at least 1) on `node`, taking batches of
    /// up to `batch_size` frames (at least 1): worker 0 on the caller's
    /// thread, the others on threads of their own.
    pub fn new(node: Arc<Node>, workers: usize, batch_size: usize) -> Result<Self, PoolError> {
        let workers = workers.max(1);
        let (result_tx, results) = unbounded();
        let mut jobs = Vec::with_capacity(workers);
        let mut handles = Vec::with_capacity(workers);
        for id in 1..workers {
            let (job_tx, job_rx) = bounded::<Batch>(QUEUED_BATCHES);
            let mut worker = node.worker();
            let result_tx = result_tx.clone();
            let handle = std::thread::Builder::new()
                .name(format!("erdp-worker-{id}"))
                .spawn(move || {
                    for mut batch in job_rx.iter() {
                        worker.process(batch.ingress, &mut batch.frames, &mut batch.outputs);
                        if result_tx.send(batch).is_err() {
                            break;
                        }
                    }
                })?;
            jobs.push(job_tx);
            handles.push(handle);
        }
        let affinity = FlowAffinity::new(&node, workers);
        Ok(Self {
            inline: node.worker(),
            ready: VecDeque::new(),
            pending: (0..workers)
                .map(|worker| Batch {
                    worker,
                    ..Batch::default()
                })
                .collect(),
            jobs,
            results,
            handles,
            spare: Vec::new(),
            spare_frames: Vec::new(),
            scratch: Vec::new(),
            batch_size: batch_size.max(1),
            in_flight: 0,
            affinity,
        })
    }

    /// Number of workers (worker 0 runs on the caller's thread).
    pub fn workers(&self) -> usize {
        self.jobs.len() + 1
    }

    /// Batches sent and not yet received back.
    pub fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// An empty frame buffer (recycled when possible) to load a frame into
    /// with [`PacketBuf::DEFAULT_HEADROOM`] before [`Self::submit`].
    pub fn buffer(&mut self) -> PacketBuf {
        self.spare_frames.pop().unwrap_or_default()
    }

    /// The worker a frame belongs to (see [`FlowAffinity::worker_for`]).
    pub fn worker_for(&self, frame: &[u8]) -> usize {
        self.affinity.worker_for(frame)
    }

    /// Queues one frame that arrived on `ingress`; `index` comes back with
    /// its result. Sends the worker's batch when full (waiting while that
    /// worker's queue is full).
    pub fn submit(
        &mut self,
        ingress: InterfaceId,
        index: u64,
        frame: PacketBuf,
    ) -> Result<(), PoolError> {
        let worker = self.worker_for(frame.as_slice());
        let needs_send = self
            .pending
            .get(worker)
            .is_some_and(|b| !b.frames.is_empty() && b.ingress != ingress);
        if needs_send {
            self.send(worker)?;
        }
        if let Some(batch) = self.pending.get_mut(worker) {
            batch.ingress = ingress;
            batch.indices.push(index);
            batch.frames.push(frame);
            if batch.frames.len() >= self.batch_size {
                self.send(worker)?;
            }
        }
        Ok(())
    }

    /// Sends every partly filled batch.
    pub fn flush(&mut self) -> Result<(), PoolError> {
        for worker in 0..self.pending.len() {
            let has_frames = self
                .pending
                .get(worker)
                .is_some_and(|b| !b.frames.is_empty());
            if has_frames {
                self.send(worker)?;
            }
        }
        Ok(())
    }

    fn send(&mut self, worker: usize) -> Result<(), PoolError> {
        let mut fresh = self.spare.pop().unwrap_or_default();
        fresh.worker = worker;
        let Some(slot) = self.pending.get_mut(worker) else {
            return Ok(());
        };
        let mut batch = std::mem::replace(slot, fresh);
        self.in_flight += 1;
        if worker == 0 {
            self.inline
                .process(batch.ingress, &mut batch.frames, &mut batch.outputs);
            self.ready.push_back(batch);
            return Ok(());
        }
        let Some(jobs) = self.jobs.get(worker - 1) else {
            self.in_flight -= 1;
            return Ok(());
        };
        loop {
            // Blocks while the worker's queue is full (woken as soon as it
            // takes a batch); keeps an eye on its liveness meanwhile.
            match jobs.send_timeout(batch, LIVENESS_CHECK) {
                Ok(()) => break,
                Err(SendTimeoutError::Timeout(back)) => {
                    batch = back;
                    if self
                        .handles
                        .get(worker - 1)
                        .is_some_and(JoinHandle::is_finished)
                    {
                        return Err(PoolError::WorkerStopped(self.in_flight));
                    }
                }
                Err(SendTimeoutError::Disconnected(_)) => {
                    return Err(PoolError::WorkerStopped(self.in_flight));
                }
            }
        }
        Ok(())
    }

    /// A processed batch if one is ready.
    pub fn try_recv(&mut self) -> Option<Completed> {
        let batch = match self.ready.pop_front() {
            Some(batch) => batch,
            None => self.results.try_recv().ok()?,
        };
        self.in_flight = self.in_flight.saturating_sub(1);
        Some(Completed(batch))
    }

    /// Waits for a processed batch; `Ok(None)` when none is in flight (call
    /// [`Self::flush`] first to send partial batches).
    pub fn recv(&mut self) -> Result<Option<Completed>, PoolError> {
        if let Some(batch) = self.ready.pop_front() {
            self.in_flight = self.in_flight.saturating_sub(1);
            return Ok(Some(Completed(batch)));
        }
        while self.in_flight > 0 {
            match self.results.recv_timeout(LIVENESS_CHECK) {
                Ok(batch) => {
                    self.in_flight -= 1;
                    return Ok(Some(Completed(batch)));
                }
                Err(RecvTimeoutError::Timeout) => {
                    if self.handles.iter().any(JoinHandle::is_finished) {
                        return Err(PoolError::WorkerStopped(self.in_flight));
                    }
                }
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(PoolError::WorkerStopped(self.in_flight));
                }
            }
        }
        Ok(None)
    }

    /// Gives a batch's buffers back for reuse (no allocation in steady
    /// state).
    pub fn recycle(&mut self, completed: Completed) {
        let mut batch = completed.0;
        self.spare_frames.append(&mut batch.frames);
        batch.indices.clear();
        self.spare.push(batch);
    }

    /// Runs every frame `fill` provides through the pool and hands the
    /// results to `each` in input order. `fill` loads the next frame into
    /// the buffer it is given (with [`PacketBuf::DEFAULT_HEADROOM`]) and
    /// returns its ingress, or `None` at the end. Returns the number of
    /// frames processed.
    pub fn run_ordered(
        &mut self,
        mut fill: impl FnMut(&mut PacketBuf) -> Option<InterfaceId>,
        mut each: impl FnMut(Ordered<'_>),
    ) -> Result<u64, PoolError> {
        let mut reorder: Reorder<Item> = Reorder::new(0);
        let mut next_index = 0u64;
        let window = (self.batch_size * self.workers() * (QUEUED_BATCHES + 2)) as u64;
        let mut done = false;
        loop {
            // Keep a bounded number of frames outstanding; full batches are
            // sent by `submit`.
            while !done && next_index - reorder.next() < window {
                let mut frame = self.buffer();
                match fill(&mut frame) {
                    Some(ingress) => {
                        self.submit(ingress, next_index, frame)?;
                        next_index += 1;
                    }
                    None => {
                        self.spare_frames.push(frame);
                        done = true;
                    }
                }
            }
            if done || self.in_flight == 0 {
                self.flush()?;
            }
            if let Some(completed) = self.recv()? {
                self.unpack(completed, &mut reorder);
            }
            while let Some((index, mut item)) = reorder.pop() {
                each(Ordered {
                    index,
                    ingress: item.ingress,
                    frame: &mut item.frame,
                    fate: &item.fate,
                    generated: item.generated.as_mut().map(|(f, fate)| (f, &*fate)),
                    more_generated: &mut item.more_generated,
                });
                self.spare_frames.push(item.frame);
                let more = item.more_generated.into_iter().map(|(frame, _)| frame);
                self.spare_frames.extend(more);
                if let Some((frame, _)) = item.generated {
                    self.spare_frames.push(frame);
                }
            }
            if done && self.in_flight == 0 && reorder.next() == next_index {
                break;
            }
        }
        Ok(next_index)
    }

    /// Moves a batch's frames (and generated packets) into the reorder
    /// buffer, swapping in spare buffers.
    fn unpack(&mut self, completed: Completed, reorder: &mut Reorder<Item>) {
        let mut batch = completed.0;
        let mut generated = std::mem::take(&mut self.scratch);
        generated.clear();
        generated.resize_with(batch.indices.len(), || None);
        // Fragments after the second by cause (allocated only when a batch
        // fragments into more than two).
        let mut more: Vec<(usize, PacketBuf, Fate)> = Vec::new();
        for k in 0..batch.outputs.generated_len() {
            let Some((cause, fate)) = batch.outputs.generated_at(k).map(|g| (g.cause, *g.fate))
            else {
                continue;
            };
            let mut frame = self.spare_frames.pop().unwrap_or_default();
            if batch.outputs.swap_generated(k, &mut frame)
                && let Some(slot) = generated.get_mut(cause)
            {
                if slot.is_some() {
                    more.push((cause, frame, fate));
                } else {
                    *slot = Some((frame, fate));
                }
            }
        }
        let fates = batch.outputs.fates();
        debug_assert_eq!(fates.len(), batch.frames.len(), "one fate per frame");
        let items = batch
            .indices
            .drain(..)
            .zip(batch.frames.drain(..))
            .zip(fates.iter().copied())
            .zip(generated.drain(..));
        for (position, (((index, frame), fate), generated)) in items.enumerate() {
            let more_generated = if more.is_empty() {
                Vec::new()
            } else {
                let (mine, rest): (Vec<_>, Vec<_>) =
                    more.drain(..).partition(|(cause, _, _)| *cause == position);
                more = rest;
                mine.into_iter()
                    .map(|(_, frame, fate)| (frame, fate))
                    .collect()
            };
            let item = Item {
                ingress: batch.ingress,
                frame,
                fate,
                generated,
                more_generated,
            };
            if let Err(item) = reorder.insert(index, item) {
                self.spare_frames.push(item.frame);
            }
        }
        self.scratch = generated;
        self.spare.push(batch);
    }
}

impl Drop for WorkerPool {
    fn drop(&mut self) {
        self.jobs.clear(); // workers see their channel close and return
        for handle in self.handles.drain(..) {
            let _ = handle.join();
        }
    }
}

/// A frame held until the frames before it are done.
#[derive(Debug)]
struct Item {
    ingress: InterfaceId,
    frame: PacketBuf,
    fate: Fate,
    generated: Option<(PacketBuf, Fate)>,
    more_generated: Vec<(PacketBuf, Fate)>,
}

/// Restores input order: items go in by index, in any order, and come out
/// in index order from `start`. A ring of slots, reused, so steady use does
/// not allocate.
#[derive(Debug)]
pub struct Reorder<T> {
    next: u64,
    slots: VecDeque<Option<T>>,
}

impl<T> Reorder<T> {
    /// An empty buffer whose first index is `start`.
    pub fn new(start: u64) -> Self {
        Self {
            next: start,
            slots: VecDeque::new(),
        }
    }

    /// The index the next [`Self::pop`] returns.
    pub fn next(&self) -> u64 {
        self.next
    }

    /// True when nothing is held.
    pub fn is_empty(&self) -> bool {
        self.slots.iter().all(Option::is_none)
    }

    /// Holds `item` under `index`; gives it back if that index was already
    /// returned or is held.
    pub fn insert(&mut self, index: u64, item: T) -> Result<(), T> {
        let Some(offset) = index.checked_sub(self.next) else {
            return Err(item);
        };
        let Ok(offset) = usize::try_from(offset) else {
            return Err(item);
        };
        if self.slots.len() <= offset {
            self.slots.resize_with(offset + 1, || None);
        }
        match self.slots.get_mut(offset) {
            Some(slot @ None) => {
                *slot = Some(item);
                Ok(())
            }
            _ => Err(item),
        }
    }

    /// The next item in index order, if it has arrived.
    pub fn pop(&mut self) -> Option<(u64, T)> {
        if !matches!(self.slots.front(), Some(Some(_))) {
            return None;
        }
        let item = self.slots.pop_front().flatten()?;
        let index = self.next;
        self.next += 1;
        Some((index, item))
    }

    /// True when items are held but the next one is missing.
    pub fn pop_blocked(&self) -> bool {
        matches!(self.slots.front(), Some(None)) && !self.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reorder_releases_in_index_order() {
        let mut r = Reorder::new(10);
        assert_eq!(r.insert(12, 'c'), Ok(()));
        assert_eq!(r.pop(), None);
        assert_eq!(r.insert(10, 'a'), Ok(()));
        assert_eq!(r.insert(10, 'x'), Err('x'));
        assert_eq!(r.pop(), Some((10, 'a')));
        assert!(r.pop_blocked());
        assert_eq!(r.insert(11, 'b'), Ok(()));
        assert_eq!(r.pop(), Some((11, 'b')));
        assert_eq!(r.pop(), Some((12, 'c')));
        assert_eq!(r.pop(), None);
        assert!(r.is_empty());
        assert_eq!(r.insert(5, 'z'), Err('z'));
        assert_eq!(r.next(), 13);
    }
}
