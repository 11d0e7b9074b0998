//! Helpers for tests that look at output directories.

use std::path::Path;

/// The names in `dir`, sorted.
pub fn sorted_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}
