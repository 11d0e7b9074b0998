//! Packets in caller-owned buffers.
//!
//! The forwarding core never allocates per packet: the caller owns a
//! [`PacketBuf`] per slot, reuses it for every frame, and the core grows the
//! packet into the buffer's headroom (encapsulation) or tailroom (ESP trailer
//! and ICV) in place.

mod buf;

pub use buf::{BufError, PacketBuf};
