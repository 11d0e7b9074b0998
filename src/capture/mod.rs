//! Capture files: a pcap/pcapng reader that copies frames into caller-owned
//! [`PacketBuf`](crate::packet::PacketBuf)s and a buffered pcap writer with
//! nanosecond timestamps, both on the `pcap-file` crate; plus link-type
//! normalisation of raw-IP and Linux cooked frames into Ethernet, and the
//! rewrite of a capture's IP packets into a new capture (`erdp esp`).

mod error;
mod link;
mod reader;
mod rewrite;
mod window;
mod writer;

pub use error::{CaptureError, Position};
pub use link::{LinkError, LinkType, frame_ip_into, split_ip, to_ethernet};
pub use reader::{
    CaptureFormat, CaptureInterface, CaptureReader, FrameMeta, MAX_BLOCK_LEN, MAX_FRAME_LEN,
};
pub use rewrite::{IpPacket, Rewrite, RewriteCounts, RewriteError, rewrite_ip_packets};
pub use window::FrameSpan;
pub use writer::PcapFileWriter;
