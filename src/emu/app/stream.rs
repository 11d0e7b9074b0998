//! [`ByteStream`]: the deterministic byte stream a TCP bulk transfer sends,
//! so the receiver can check every byte at its offset.
//!
//! The stream is built of 64 KiB blocks: a seeded random base block XORed
//! with a per-block key. Any byte out of place (lost, duplicated, shifted,
//! or a whole block swapped) differs from what the offset predicts. A block
//! is generated once and served as slices, so checking costs a `memcmp`.

use rand::rand_core::Rng;

use super::super::rng::{derive_seed, rng_for};

/// Bytes per block (a power of two).
pub const BLOCK_LEN: usize = 64 * 1024;

/// A stream of pseudo-random bytes addressed by offset.
#[derive(Clone)]
pub struct ByteStream {
    seed: u64,
    base: Box<[u8]>,
    block: Box<[u8]>,
    block_index: u64,
}

impl std::fmt::Debug for ByteStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ByteStream")
            .field("seed", &self.seed)
            .finish()
    }
}

impl ByteStream {
    /// The stream of `seed`.
    pub fn new(seed: u64) -> Self {
        let mut base = vec![0u8; BLOCK_LEN].into_boxed_slice();
        rng_for(seed, "byte stream base").fill_bytes(&mut base);
        let mut stream = Self {
            seed,
            block: base.clone(),
            base,
            block_index: u64::MAX,
        };
        stream.load_block(0);
        stream
    }

    fn load_block(&mut self, index: u64) {
        if self.block_index == index {
            return;
        }
        let key = derive_seed(self.seed ^ index, "stream block");
        for (out, base) in self
            .block
            .chunks_exact_mut(8)
            .zip(self.base.chunks_exact(8))
        {
            let mut word = [0u8; 8];
            word.copy_from_slice(base);
            out.copy_from_slice(&(u64::from_le_bytes(word) ^ key).to_le_bytes());
        }
        self.block_index = index;
    }

    /// Up to `max_len` bytes of the stream from `offset`, stopping at the
    /// end of its block.
    pub fn chunk(&mut self, offset: u64, max_len: usize) -> &[u8] {
        self.load_block(offset / BLOCK_LEN as u64);
        let start = (offset % BLOCK_LEN as u64) as usize;
        let end = start + max_len.min(BLOCK_LEN - start);
        &self.block[start..end]
    }

    /// Fills `out` with the stream from `offset`.
    pub fn fill(&mut self, mut offset: u64, mut out: &mut [u8]) {
        while !out.is_empty() {
            let chunk = self.chunk(offset, out.len());
            let (head, rest) = out.split_at_mut(chunk.len());
            head.copy_from_slice(chunk);
            offset += chunk.len() as u64;
            out = rest;
        }
    }

    /// Compares `data` with the stream from `offset`; the index in `data`
    /// of the first byte that differs, if any.
    pub fn first_mismatch(&mut self, mut offset: u64, mut data: &[u8]) -> Option<usize> {
        let mut checked = 0;
        while !data.is_empty() {
            let chunk = self.chunk(offset, data.len());
            let (head, rest) = data.split_at(chunk.len());
            if head != chunk {
                let at = head.iter().zip(chunk).position(|(a, b)| a != b)?;
                return Some(checked + at);
            }
            checked += head.len();
            offset += head.len() as u64;
            data = rest;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_bytes_at_any_split() {
        let mut a = ByteStream::new(9);
        let mut whole = vec![0u8; 3 * BLOCK_LEN + 100];
        a.fill(0, &mut whole);
        let mut b = ByteStream::new(9);
        let mut offset = 0usize;
        for len in [1, 7, 1460, BLOCK_LEN, 3, 70_000] {
            let mut part = vec![0u8; len];
            b.fill(offset as u64, &mut part);
            assert_eq!(part, whole[offset..offset + len]);
            offset += len;
        }
        assert_eq!(b.first_mismatch(5, &whole[5..BLOCK_LEN * 2 + 9]), None);
    }

    #[test]
    fn finds_the_first_wrong_byte_and_tells_streams_and_blocks_apart() {
        let mut stream = ByteStream::new(1);
        let mut data = vec![0u8; 2 * BLOCK_LEN];
        stream.fill(0, &mut data);
        data[BLOCK_LEN + 17] ^= 1;
        assert_eq!(stream.first_mismatch(0, &data), Some(BLOCK_LEN + 17));
        let block0 = stream.chunk(0, BLOCK_LEN).to_vec();
        let block1 = stream.chunk(BLOCK_LEN as u64, BLOCK_LEN).to_vec();
        assert_ne!(
            block0, block1,
            "blocks differ, so a swapped block is caught"
        );
        let mut other = ByteStream::new(2);
        assert_eq!(other.first_mismatch(0, &block0[..64]), Some(0));
        // A segment shifted by one byte is caught.
        assert!(stream.first_mismatch(1, &block0[..1460]).is_some());
    }
}
