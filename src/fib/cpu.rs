//! Runtime CPU dispatch for the lookups. The default x86-64 target has no
//! `popcnt` (so `count_ones` compiles to a dozen shifts and adds, and the trie
//! counts bits on every level) and no BMI2 (variable shifts go through `cl`).
//! Lookups check once per call (std caches the CPUID result) and, on a CPU
//! that has them, run a copy of the same code compiled with
//! [`BIT_FEATURES`]. The check is a constant on a target that has them
//! already (`-C target-cpu=native`).

/// The features of the dispatched copies (the string of their
/// `#[target_feature(enable = ...)]`, repeated there as it must be a literal).
pub const BIT_FEATURES: &str = "popcnt,bmi1,bmi2";

/// Whether the dispatched copies of the lookups may run on this CPU.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(crate) fn has_bit_instructions() -> bool {
    std::arch::is_x86_feature_detected!("popcnt")
        && std::arch::is_x86_feature_detected!("bmi1")
        && std::arch::is_x86_feature_detected!("bmi2")
}

/// Whether the lookups use [`BIT_FEATURES`] on this machine (for reports).
pub fn lookups_use_bit_instructions() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        has_bit_instructions()
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}
