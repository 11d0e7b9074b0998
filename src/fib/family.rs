//! The two address families the FIB holds, as compile-time parameters: IPv4
//! (32-bit keys) and IPv6 (128-bit keys), and how a key is cut into the
//! direct-pointing index and the 6-bit strides of a Poptrie (Asai and Ohara,
//! SIGCOMM 2015).

/// Bits resolved by the direct-pointing table (2^18 entries, 1 MiB).
///
/// 18 puts the IPv4 /24 (63% of a full table) exactly at the end of the first
/// node level and the IPv6 /48 at the end of the fifth.
pub const DIRECT_BITS: u8 = 18;
/// Entries in the direct-pointing table.
pub(crate) const DIRECT_LEN: usize = 1 << DIRECT_BITS;
/// Bits consumed per internal node: 6, so a node's 64 slots fit a `u64` bitmap.
pub const STRIDE: u8 = 6;
/// [`Family::EXPAND_BITS`] of IPv6: a multiple of [`STRIDE`].
const V6_EXPAND_BITS: u8 = 12;
const _: () = assert!(V6_EXPAND_BITS.is_multiple_of(STRIDE) && DIRECT_BITS + V6_EXPAND_BITS <= 64);

/// An address family: IPv4 or IPv6. Selects key width and key slicing.
pub(crate) trait Family: Copy + Send + Sync + 'static {
    /// "IPv4" or "IPv6", for messages and statistics.
    const NAME: &'static str;
    /// The address as an unsigned integer (host order, most significant bit first).
    type Key: Copy + Send + Sync + 'static;

    /// Bits resolved by a second, uncompressed direct level under each
    /// direct-table entry that holds routes longer than [`DIRECT_BITS`]
    /// (0: none). Dense IPv6 regions pay one table instead of two node levels.
    const EXPAND_BITS: u8;

    /// The top [`DIRECT_BITS`] bits of the key: always below [`DIRECT_LEN`].
    fn direct_index(key: Self::Key) -> usize;
    /// The [`Family::EXPAND_BITS`] bits after the top [`DIRECT_BITS`].
    fn expand_index(key: Self::Key) -> usize;
    /// The 6 bits of the key starting at bit `depth` (0 = most significant),
    /// zero-padded past the end of the address.
    fn slot(key: Self::Key, depth: u8) -> u32;
    /// Whether the slot at `depth` lies in the key's top 64 bits, where
    /// [`Family::top_slot`] reads it.
    fn slot_in_top_half(depth: u8) -> bool;
    /// [`Family::slot`] for a `depth` where [`Family::slot_in_top_half`]:
    /// 64-bit shifts only (the batch lookup picks it once per level).
    fn top_slot(key: Self::Key, depth: u8) -> u32;
    /// The key left-aligned in a `u128` (the form the builder works in).
    fn to_wide(key: Self::Key) -> u128;
}

/// IPv4: 32-bit keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum V4 {}

/// IPv6: 128-bit keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum V6 {}

impl Family for V4 {
    const NAME: &'static str = "IPv4";
    type Key = u32;
    const EXPAND_BITS: u8 = 0;

    #[inline(always)]
    fn direct_index(key: u32) -> usize {
        (key >> (32 - DIRECT_BITS)) as usize
    }

    #[inline(always)]
    fn expand_index(_key: u32) -> usize {
        0
    }

    #[inline(always)]
    fn slot(key: u32, depth: u8) -> u32 {
        // Shifting left drops the bits above `depth` and pulls in zeros, so
        // the last stride (bits 30..36) is zero-padded without a branch.
        ((u64::from(key) << (32 + u32::from(depth))) >> (64 - STRIDE)) as u32
    }

    #[inline(always)]
    fn slot_in_top_half(_depth: u8) -> bool {
        true
    }

    #[inline(always)]
    fn top_slot(key: u32, depth: u8) -> u32 {
        Self::slot(key, depth)
    }

    #[inline(always)]
    fn to_wide(key: u32) -> u128 {
        u128::from(key) << 96
    }
}

impl Family for V6 {
    const NAME: &'static str = "IPv6";
    type Key = u128;
    /// Real IPv6 prefixes are /29 to /48 inside a few hundred /18s: bits
    /// 18..30 in one table skip the two node levels every lookup takes there.
    const EXPAND_BITS: u8 = V6_EXPAND_BITS;

    #[inline(always)]
    fn direct_index(key: u128) -> usize {
        (key >> (128 - DIRECT_BITS)) as usize
    }

    #[inline(always)]
    fn expand_index(key: u128) -> usize {
        let bits = (key >> 64) as u64 >> (64 - DIRECT_BITS - V6_EXPAND_BITS);
        (bits & ((1 << V6_EXPAND_BITS) - 1)) as usize
    }

    #[inline(always)]
    fn slot(key: u128, depth: u8) -> u32 {
        // The levels down to /64 (where nearly every real prefix ends) read
        // the top half only: 64-bit shifts instead of 128-bit ones.
        if Self::slot_in_top_half(depth) {
            Self::top_slot(key, depth)
        } else {
            wide_slot(key, depth)
        }
    }

    #[inline(always)]
    fn slot_in_top_half(depth: u8) -> bool {
        depth <= 64 - STRIDE
    }

    #[inline(always)]
    fn top_slot(key: u128, depth: u8) -> u32 {
        (((key >> 64) as u64) << (depth & 63) >> (64 - STRIDE)) as u32
    }

    #[inline(always)]
    fn to_wide(key: u128) -> u128 {
        key
    }
}

/// The 6-bit slot at `depth` (< 128) of a left-aligned key, zero-padded past
/// bit 127 (the last IPv6 level, depth 126, has 2 real bits).
#[inline(always)]
pub(crate) fn wide_slot(wide: u128, depth: u8) -> u32 {
    ((wide << (u32::from(depth) & 127)) >> (128 - STRIDE)) as u32
}

/// The direct-table index (region) of a left-aligned key.
#[inline]
pub(crate) fn wide_region(wide: u128) -> usize {
    (wide >> (128 - DIRECT_BITS)) as usize
}

/// A left-aligned mask of the first `len` bits (`len` <= 128).
#[inline]
pub(crate) fn wide_mask(len: u8) -> u128 {
    match len {
        0 => 0,
        len => u128::MAX << (128 - u32::from(len.min(128))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v4_slots_cover_the_address_then_pad_with_zeros() {
        let key = 0b1010_1100_0000_0000_0000_0000_0000_0011u32;
        assert_eq!(V4::direct_index(key), (key >> 14) as usize);
        assert_eq!(V4::slot(key, 0), 0b101011);
        assert_eq!(V4::slot(key, 30), 0b110000);
        assert_eq!(V4::slot(key, 30), wide_slot(V4::to_wide(key), 30));
        for depth in [18, 24, 30] {
            assert_eq!(V4::slot(key, depth), wide_slot(V4::to_wide(key), depth));
        }
    }

    #[test]
    fn v6_last_level_keeps_two_bits() {
        let key = 0b11u128;
        assert_eq!(V6::slot(key, 126), 0b110000);
        assert_eq!(V6::slot(key, 122), 0b000011);
        assert_eq!(V6::slot(key, 120), 0);
        let key = 0xfedc_ba98_7654_3210_0123_4567_89ab_cdefu128;
        for depth in (0..128).step_by(usize::from(STRIDE)) {
            assert_eq!(V6::slot(key, depth), wide_slot(key, depth), "depth {depth}");
        }
        assert_eq!(V6::direct_index(u128::MAX), DIRECT_LEN - 1);
    }

    #[test]
    fn masks() {
        assert_eq!(wide_mask(0), 0);
        assert_eq!(wide_mask(128), u128::MAX);
        assert_eq!(wide_mask(1), 1 << 127);
        assert_eq!(wide_region(u128::MAX), DIRECT_LEN - 1);
    }
}
