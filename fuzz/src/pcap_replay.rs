//! Target `pcap_replay`: arbitrary bytes read as a pcap or
//! pcapng file through [`CaptureReader::from_reader`] over a `Cursor`, each
//! frame then normalised to Ethernet ([`to_ethernet`]).
//!
//! Oracles: no panic; the reader ends (every call consumes input, so the
//! calls are bounded by the input's length); frames are numbered 1, 2, ...;
//! every frame's bytes lie inside the bytes consumed to read it (nothing
//! invented); the wire length is at least the captured length; errors name
//! the file; only a too-large frame is recoverable and it is skipped; the
//! end stays the end. Then the frames go through the forwarding node of
//! the `forward` target (the capture's interface picks the ingress port),
//! with all its oracles: one fate per frame, counters that add up, fail
//! closed, well-formed outputs.

use std::io::Cursor;

use erdp::capture::{CaptureReader, to_ethernet};
use erdp::packet::PacketBuf;
use erdp::wire::MacAddr;

use super::{find_bytes, forward, hex_prefix};

/// The name errors must carry.
pub const NAME: &str = "fuzz-input.pcap";
/// One input length in three is read into a buffer this small, so that a
/// frame too large for the caller's buffer (skipped, recoverable) happens
/// within libFuzzer's default 4 KiB inputs.
const SMALL_BUFFER: usize = 512;
/// The smallest record either format has (a pcapng block header and
/// trailer): a reader that returns more results than the input holds
/// records of this size is looping.
const MIN_RECORD_LEN: usize = 12;

/// What a run saw, for tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Replayed {
    /// Frames returned.
    pub frames: u64,
    /// Too-large frames skipped.
    pub skipped: u64,
    /// The error that ended the file (the open error when it did not open).
    pub error: Option<String>,
    /// Frames given to the forwarder, by ingress, in capture order (each
    /// run of one ingress is a batch).
    pub batches: Vec<(u8, Vec<Vec<u8>>)>,
    /// What the forwarder did with them.
    pub forwarded: forward::Seen,
}

impl Replayed {
    fn forwarded_input(&mut self, ingress: u8, frame: Vec<u8>) {
        match self.batches.last_mut() {
            Some((last, frames)) if *last == ingress && frames.len() < forward::MAX_FRAMES => {
                frames.push(frame)
            }
            _ => self.batches.push((ingress, vec![frame])),
        }
    }

    /// The frames read, through the forwarding node with the `forward`
    /// target's oracles.
    fn forward(&mut self) {
        self.forwarded = forward::check_frames(&self.batches);
    }
}

/// The fuzz entry.
pub fn run(data: &[u8]) {
    check(data);
}

/// Reads `data` to its end or first fatal error; panics on a broken oracle.
pub fn check(data: &[u8]) -> Replayed {
    let mut replayed = Replayed::default();
    let total = data.len() as u64;
    let mut reader = match CaptureReader::from_reader(NAME, Cursor::new(data), Some(total)) {
        Ok(reader) => reader,
        Err(error) => {
            let text = error.to_string();
            assert!(
                text.contains(NAME),
                "open error without the file name: {text}"
            );
            replayed.error = Some(text);
            return replayed;
        }
    };
    let mut buf = if data.len().is_multiple_of(3) {
        PacketBuf::with_capacity(SMALL_BUFFER, PacketBuf::DEFAULT_HEADROOM)
    } else {
        PacketBuf::new()
    };
    let max_calls = data.len() / MIN_RECORD_LEN + 2;
    for _ in 0..max_calls {
        let before = reader.bytes_consumed();
        let frames_before = reader.frames_read();
        let result = reader.next_frame(&mut buf);
        let after = reader.bytes_consumed();
        assert!(after <= total, "consumed {after} of {total} bytes");
        match result {
            Ok(Some(meta)) => {
                assert!(after > before, "frame {} consumed nothing", meta.number);
                assert_eq!(meta.number, frames_before + 1, "frame numbering");
                assert_eq!(reader.frames_read(), meta.number, "frames_read");
                let frame = buf.as_slice();
                let consumed = &data[before as usize..after as usize];
                assert!(
                    find_bytes(consumed, frame).is_some(),
                    "frame {} ({}) is not in the {} bytes read for it",
                    meta.number,
                    hex_prefix(frame, 32),
                    consumed.len()
                );
                assert!(
                    meta.original_len as usize >= frame.len(),
                    "frame {}: wire length {} below captured {}",
                    meta.number,
                    meta.original_len,
                    frame.len()
                );
                let _ = reader.interface_name(meta.interface);
                // The capture's interface picks the node's ingress port.
                let ingress = (meta.interface % 3) as u8;
                if let Some(frame) = normalise(&mut buf, meta.link_type, ingress) {
                    replayed.forwarded_input(ingress, frame);
                }
                replayed.frames += 1;
            }
            Ok(None) => {
                assert!(
                    matches!(reader.next_frame(&mut buf), Ok(None)),
                    "the end of the file did not stay the end"
                );
                let _ = reader.interfaces();
                replayed.forward();
                return replayed;
            }
            Err(error) => {
                let text = error.to_string();
                assert!(text.contains(NAME), "error without the file name: {text}");
                if error.is_recoverable() {
                    assert!(after > before, "a skipped frame consumed nothing: {text}");
                    assert_eq!(
                        reader.frames_read(),
                        frames_before + 1,
                        "skipped frame count"
                    );
                    replayed.skipped += 1;
                    continue;
                }
                replayed.error = Some(text);
                replayed.forward();
                return replayed;
            }
        }
    }
    panic!("no end after {max_calls} calls on {total} bytes: the reader loops");
}

/// Turns a frame into Ethernet (toward the ingress port's MAC, as the
/// replay does); a refusal is fine, a frame that becomes Ethernet has a
/// full header with the EtherType reported.
fn normalise(buf: &mut PacketBuf, link: erdp::capture::LinkType, ingress: u8) -> Option<Vec<u8>> {
    let destination = MacAddr(forward::ingress_mac(ingress));
    let source = MacAddr(forward::PEER_MAC);
    let ether_type = to_ethernet(buf, link, destination, source).ok()?;
    {
        let frame = buf.as_slice();
        assert!(
            frame.len() >= 14,
            "{link:?} became a {}-byte Ethernet frame",
            frame.len()
        );
        assert_eq!(
            [frame[12], frame[13]],
            ether_type.0.to_be_bytes(),
            "{link:?}: reported EtherType differs from the header"
        );
    }
    Some(buf.as_slice().to_vec())
}
