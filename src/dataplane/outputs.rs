//! [`Outputs`]: what one batch produced, in caller-owned storage reused
//! batch after batch: one [`Fate`] per input frame, and the packets the node
//! generated (ARP replies, neighbour advertisements, echo replies, ICMP
//! errors, and the fragments after the first of a fragmented packet), each
//! with its own fate and the index of the input that caused it.

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
    generated: GeneratedFrames,
}

/// The packets the node generated in a batch: a pool of buffers of which
/// the first `len` are in use.
#[derive(Debug, Default)]
pub(crate) struct GeneratedFrames {
    frames: Vec<PacketBuf>,
    fates: Vec<Fate>,
    causes: Vec<usize>,
    len: usize,
}

impl Outputs {
    /// Empty outputs; storage grows on first use.
    pub fn new() -> Self {
        Self::default()
    }

    /// Outputs with room for `batch` inputs and as many generated packets
    /// (an input generates at most one reply or error, or the fragments of
    /// a fragmented packet: storage grows once for those).
    pub fn with_capacity(batch: usize) -> Self {
        Self {
            fates: Vec::with_capacity(batch),
            generated: GeneratedFrames {
                frames: (0..batch).map(|_| PacketBuf::new()).collect(),
                fates: Vec::with_capacity(batch),
                causes: Vec::with_capacity(batch),
                len: 0,
            },
        }
    }

    /// One fate per input frame, in input order.
    pub fn fates(&self) -> &[Fate] {
        &self.fates
    }

    /// The generated packets, in the order they were made.
    pub fn generated(&self) -> impl ExactSizeIterator<Item = Generated<'_>> {
        let g = &self.generated;
        g.frames
            .iter()
            .zip(&g.fates)
            .zip(&g.causes)
            .take(g.len)
            .map(|((frame, fate), cause)| Generated {
                frame,
                fate,
                cause: *cause,
            })
    }

    /// Generated packet `index` (in the order they were made).
    pub fn generated_at(&self, index: usize) -> Option<Generated<'_>> {
        let g = &self.generated;
        if index >= g.len {
            return None;
        }
        Some(Generated {
            frame: g.frames.get(index)?,
            fate: g.fates.get(index)?,
            cause: *g.causes.get(index)?,
        })
    }

    /// Number of generated packets.
    pub fn generated_len(&self) -> usize {
        self.generated.len
    }

    /// Exchanges generated packet `index` with `replacement` (an empty
    /// buffer from the caller's pool), so the caller owns the packet without
    /// a copy or an allocation. Returns false for an index out of range.
    pub fn swap_generated(&mut self, index: usize, replacement: &mut PacketBuf) -> bool {
        if index >= self.generated.len {
            return false;
        }
        match self.generated.frames.get_mut(index) {
            Some(frame) => {
                std::mem::swap(frame, replacement);
                true
            }
            None => false,
        }
    }

    /// Generated packet `index`, writable (the driver lends it to a route,
    /// which may swap it out).
    pub(crate) fn generated_frame_mut(&mut self, index: usize) -> Option<&mut PacketBuf> {
        if index >= self.generated.len {
            return None;
        }
        self.generated.frames.get_mut(index)
    }

    /// The generated packets, for a worker filling them without inputs.
    pub(crate) fn generated_mut(&mut self) -> &mut GeneratedFrames {
        &mut self.generated
    }

    /// Forgets the previous batch (storage is kept).
    pub(crate) fn clear(&mut self) {
        self.fates.clear();
        self.generated.fates.clear();
        self.generated.causes.clear();
        self.generated.len = 0;
    }

    /// Appends `fate` for the next input and lends it out for filling in
    /// place, with the generated packets.
    pub(crate) fn next(&mut self, fate: Fate) -> (&mut Fate, &mut GeneratedFrames) {
        self.fates.push(fate);
        let len = self.fates.len();
        // The push above makes the last element exist.
        (&mut self.fates[len - 1], &mut self.generated)
    }
}

impl GeneratedFrames {
    /// A buffer for the next generated packet (not yet counted as made).
    pub(crate) fn reserve(&mut self) -> &mut PacketBuf {
        if self.frames.len() <= self.len {
            self.frames.push(PacketBuf::new());
        }
        // The push above guarantees the slot exists.
        &mut self.frames[self.len]
    }

    /// The reserved buffer, again (between `reserve` and `commit`).
    pub(crate) fn reserved(&mut self) -> Option<&mut PacketBuf> {
        self.frames.get_mut(self.len)
    }

    /// The last `count` packets committed, with their fates, oldest first
    /// (to finish packets made together, such as the pieces of one
    /// datagram sealed in order).
    pub(crate) fn last_committed_mut(
        &mut self,
        count: usize,
    ) -> impl Iterator<Item = (&mut PacketBuf, &mut Fate)> {
        let start = self.len.saturating_sub(count);
        let frames = self.frames.get_mut(start..self.len).unwrap_or_default();
        let fates = self.fates.get_mut(start..).unwrap_or_default();
        frames.iter_mut().zip(fates.iter_mut())
    }

    /// Makes the reserved buffer a generated packet with `fate`.
    pub(crate) fn commit(&mut self, fate: Fate, cause: usize) {
        if self.len < self.frames.len() {
            self.fates.push(fate);
            self.causes.push(cause);
            self.len += 1;
        }
    }
}
