//! Fuzz harnesses for erdp (issue 7): one module per cargo-fuzz target, each
//! with `run(data: &[u8])` (what the target calls) and a structured `check`
//! that holds the target's oracles. A broken oracle panics with a message
//! that says which invariant failed, so libFuzzer records the input.
//!
//! The same file tree is compiled into the root crate's `tests/fuzz_*.rs`
//! (through `#[path]`), where proptest drives `check` with its own
//! strategies and every kept input in `tests/fuzz_inputs/` is replayed, so the
//! invariants hold in `cargo test` without cargo-fuzz. Code here may
//! therefore name only `erdp`, `arbitrary`, `etherparse`, `ipnet` and `std`.
//!
//! Adding a target: a module here with `pub fn run(data: &[u8])`, a
//! one-line `fuzz_targets/<name>.rs`, a `[[bin]]` in `fuzz/Cargo.toml`, and
//! a `tests/fuzz_<name>.rs` mirror. `.ci/steps/50-fuzz.sh` runs every target
//! `cargo fuzz list` shows.
#![forbid(unsafe_code)]

pub mod bfd;
pub mod bgp;
pub mod config;
pub mod esp_decap;
pub mod esp_fixtures;
pub mod esp_model;
pub mod fib;
pub mod forward;
pub mod forward_frames;
pub mod fragment;
pub mod ike;
pub mod pcap_replay;

/// The first `limit` bytes of `data` in hex, for failure messages.
pub fn hex_prefix(data: &[u8], limit: usize) -> String {
    let shown = data.get(..limit).unwrap_or(data);
    let mut text: String = shown.iter().map(|b| format!("{b:02x}")).collect();
    if shown.len() < data.len() {
        text.push_str(&format!("... ({} bytes)", data.len()));
    }
    text
}

/// Where `needle` occurs in `haystack` (first match). Compares a short head
/// first so a miss costs about one pass over the haystack.
pub fn find_bytes(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    if needle.len() > haystack.len() {
        return None;
    }
    let head = &needle[..needle.len().min(16)];
    (0..=haystack.len() - needle.len())
        .find(|&at| haystack[at..].starts_with(head) && haystack[at..at + needle.len()] == *needle)
}

/// Every kept input of `target` under the repository at `root`: crash
/// regressions in `tests/fuzz_inputs/<target>/` and the hand-picked seeds
/// in `fuzz/seeds/<target>/`, sorted by path. Missing folders are empty.
pub fn kept_inputs(root: &std::path::Path, target: &str) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let dirs = [
        root.join("tests/fuzz_inputs").join(target),
        root.join("fuzz/seeds").join(target),
    ];
    let mut paths: Vec<std::path::PathBuf> = dirs
        .iter()
        .filter_map(|dir| std::fs::read_dir(dir).ok())
        .flatten()
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.is_file())
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let data = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            (path, data)
        })
        .collect()
}
