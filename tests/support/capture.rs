//! Helpers for the capture tests: temporary files and reading a whole
//! capture into memory.
#![allow(dead_code)]

use std::io::Cursor;
use std::path::PathBuf;

use erdp::capture::{CaptureError, CaptureReader, FrameMeta};
use erdp::packet::PacketBuf;

/// A fresh temporary directory for one test, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(test: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("erdp-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Every frame of an in-memory capture, or the first error.
pub fn read_all(bytes: &[u8]) -> Result<Vec<(FrameMeta, Vec<u8>)>, CaptureError> {
    let mut reader =
        CaptureReader::from_reader("memory.pcap", Cursor::new(bytes), Some(bytes.len() as u64))?;
    let mut buf = PacketBuf::new();
    let mut frames = Vec::new();
    while let Some(meta) = reader.next_frame(&mut buf)? {
        frames.push((meta, buf.as_slice().to_vec()));
    }
    assert_eq!(
        reader.bytes_consumed(),
        bytes.len() as u64,
        "clean end consumes the file"
    );
    Ok(frames)
}

/// A deterministic frame of `len` bytes: Ethernet header then a pattern.
pub fn frame(len: usize, seed: u8) -> Vec<u8> {
    let mut frame = vec![0u8; len];
    frame[..6].copy_from_slice(&[2, 0, 0, 0, 0, 1]);
    frame[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 2]);
    frame[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
    for (i, byte) in frame.iter_mut().enumerate().skip(14) {
        *byte = seed.wrapping_add(i as u8);
    }
    frame
}
