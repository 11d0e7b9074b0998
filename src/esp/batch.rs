//! Batches: the forwarder hands the SAs packets in caller-owned buffers a
//! batch at a time; each batch is processed in blocks of at most
//! [`MAX_BATCH`] packets, so per-block state lives on the stack (one bit or
//! one slot per packet) and locks and counters are touched once per block.

/// Packets per block of the batch calls ([`super::OutboundSa::encapsulate_batch`],
/// [`super::InboundSa::decapsulate_batch`], [`super::SaDatabase::decapsulate_batch`]).
pub const MAX_BATCH: usize = 64;

/// Runs `block` over `bufs` and `results` in matching blocks of at most
/// [`MAX_BATCH`], as far as both go; returns how many packets that is.
#[inline]
pub(crate) fn in_blocks<B, R>(
    bufs: &mut [B],
    results: &mut [R],
    mut block: impl FnMut(&mut [B], &mut [R]),
) -> usize {
    let n = bufs.len().min(results.len());
    let (bufs, results) = (&mut bufs[..n], &mut results[..n]);
    for (bufs, results) in bufs
        .chunks_mut(MAX_BATCH)
        .zip(results.chunks_mut(MAX_BATCH))
    {
        block(bufs, results);
    }
    n
}
