//! [`Outputs`]: what one batch produced, in caller-owned storage reused
//! batch after batch: one [`Fate`] per input frame, and the packets the node
//! generated (ARP replies, neighbour advertisements, echo replies, ICMP
//! errors), each with its own fate and the index of the input that caused it.

use super::fate::Fate;
use crate::packet::PacketBuf;

/// A packet the node generated while processing a batch.
#[derive(Debug, Clone, Copy)]
pub struct Generated<'o> {
    /// The frame (as sent when its fate is forwarded).
    pub frame: &'o PacketBuf,
    /// Its fate.
    pub fate: &'o Fate,
    /// Index in the batch of the input frame that caused it.
    pub cause: usize,
}

/// Fates and generated packets of one batch. Create once, pass to every
/// [`super::Worker::process`] call: buffers and vectors are reused, so a
/// steady stream of batches allocates nothing.
#[derive(Debug, Default)]
pub struct Outputs {
    fates: Vec<Fate>,
    /// Generated frames; `generated_len` of them are in use.
    frames: Vec<PacketBuf>,
    generated_fates: Vec<Fate>,
    causes: Vec<usize>,
    generated_len: usize,
}

impl Outputs {
    /// Empty outputs; storage grows on first use.
    pub fn new() -> Self {
        Self::default()
    }

    /// Outputs with room for `batch` inputs and as many generated packets
    /// (each input generates at most one).
    pub fn with_capacity(batch: usize) -> Self {
        Self {
            fates: Vec::with_capacity(batch),
            frames: (0..batch).map(|_| PacketBuf::new()).collect(),
            generated_fates: Vec::with_capacity(batch),
            causes: Vec::with_capacity(batch),
            generated_len: 0,
        }
    }

    /// One fate per input frame, in input order.
    pub fn fates(&self) -> &[Fate] {
        &self.fates
    }

    /// The generated packets, in the order they were made.
    pub fn generated(&self) -> impl ExactSizeIterator<Item = Generated<'_>> {
        self.frames
            .iter()
            .zip(&self.generated_fates)
            .zip(&self.causes)
            .take(self.generated_len)
            .map(|((frame, fate), cause)| Generated {
                frame,
                fate,
                cause: *cause,
            })
    }

    /// Number of generated packets.
    pub fn generated_len(&self) -> usize {
        self.generated_len
    }

    /// Exchanges generated packet `index` with `replacement` (an empty
    /// buffer from the caller's pool), so the caller owns the packet without
    /// a copy or an allocation. Returns false for an index out of range.
    pub fn swap_generated(&mut self, index: usize, replacement: &mut PacketBuf) -> bool {
        if index >= self.generated_len {
            return false;
        }
        match self.frames.get_mut(index) {
            Some(frame) => {
                std::mem::swap(frame, replacement);
                true
            }
            None => false,
        }
    }

    /// Forgets the previous batch (storage is kept).
    pub(crate) fn clear(&mut self) {
        self.fates.clear();
        self.generated_fates.clear();
        self.causes.clear();
        self.generated_len = 0;
    }

    pub(crate) fn push_fate(&mut self, fate: Fate) {
        self.fates.push(fate);
    }

    /// A buffer for the next generated packet (not yet counted as made).
    pub(crate) fn reserve(&mut self) -> &mut PacketBuf {
        if self.frames.len() <= self.generated_len {
            self.frames.push(PacketBuf::new());
        }
        let index = self.generated_len;
        // The push above guarantees the slot exists.
        &mut self.frames[index]
    }

    /// The reserved buffer, again (between `reserve` and `commit`).
    pub(crate) fn reserved(&mut self) -> Option<&mut PacketBuf> {
        self.frames.get_mut(self.generated_len)
    }

    /// Makes the reserved buffer a generated packet with `fate`.
    pub(crate) fn commit(&mut self, fate: Fate, cause: usize) {
        if self.generated_len < self.frames.len() {
            self.generated_fates.push(fate);
            self.causes.push(cause);
            self.generated_len += 1;
        }
    }
}
