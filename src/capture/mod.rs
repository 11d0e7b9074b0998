//! Capture files: a pcap/pcapng reader that copies frames into caller-owned
//! [`PacketBuf`](crate::packet::PacketBuf)s and a buffered pcap writer with
//! nanosecond timestamps, both on the `pcap-file` crate; plus link-type
//! normalisation of raw-IP and Linux cooked frames into Ethernet.

mod error;
mod link;
mod reader;
mod writer;

pub use error::{CaptureError, Position};
pub use link::{LinkError, LinkType, frame_ip_into, split_ip, to_ethernet};
pub use reader::{
    CaptureFormat, CaptureInterface, CaptureReader, FrameMeta, MAX_BLOCK_LEN, MAX_FRAME_LEN,
};
pub use writer::PcapFileWriter;
