//! Rewriting the IP packets of a capture into a new capture: every frame is
//! read (pcap or pcapng, as `erdp replay` reads them), its IP packet handed
//! to the caller in a reused buffer, and what the caller keeps written back
//! under the frame's own link header (a pcap of the input's link type).
//! `erdp esp seal` and `open` are this with an SA. The output is written
//! under a temporary name and renamed when complete: an error never leaves
//! a partial capture behind.

use std::io::Read;
use std::path::{Path, PathBuf};

use thiserror::Error;

use super::{CaptureError, CaptureReader, LinkType, PcapFileWriter, frame_ip_into, split_ip};
use crate::packet::PacketBuf;

/// An IP packet of the input, as given to the caller.
#[derive(Debug)]
pub enum IpPacket<'a> {
    /// The packet, loaded with the default headroom: rewrite it in place.
    Loaded(&'a mut PacketBuf),
    /// The frame or its packet is larger than a packet buffer.
    TooLarge,
}

/// What the caller did with a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rewrite {
    /// Write the (rewritten) packet to the output.
    Write,
    /// Not for this rewrite (left out, not an error).
    Skip,
    /// Dropped (the caller counts why).
    Drop,
}

/// What a rewrite did, frame by frame.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RewriteCounts {
    /// Frames read.
    pub frames: u64,
    /// Packets written.
    pub written: u64,
    /// Frames skipped: not IP, or skipped by the caller.
    pub skipped: u64,
    /// Packets dropped.
    pub dropped: u64,
}

/// Why a rewrite stopped.
#[derive(Debug, Error)]
pub enum RewriteError {
    /// Reading the input or writing the output failed.
    #[error("{0}")]
    Capture(#[from] CaptureError),
    /// The input's first interface has a link type we do not read.
    #[error("{}: link type {number} is not supported (supported: {})", path.display(), LinkType::SUPPORTED)]
    UnsupportedLinkType { path: PathBuf, number: u32 },
    /// A frame's link type differs from the first interface's.
    #[error(
        "{}: frame {frame}: link type {} differs from the first interface's {}; the output holds one link type",
        path.display(), found.name(), first.name()
    )]
    MixedLinkTypes {
        path: PathBuf,
        frame: u64,
        found: LinkType,
        first: LinkType,
    },
    /// The complete output could not take its name.
    #[error("{}: cannot write: {source}", path.display())]
    Publish {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Rewrites every IP packet of `input` with `each` into `output`.
pub fn rewrite_ip_packets(
    input: &Path,
    output: &Path,
    each: impl FnMut(IpPacket<'_>) -> Rewrite,
) -> Result<RewriteCounts, RewriteError> {
    let mut reader = CaptureReader::open(input)?;
    let link = first_link_type(&reader)?;
    let partial = partial_path(output);
    let written = PcapFileWriter::create_with_link_type(&partial, link)
        .map_err(RewriteError::from)
        .and_then(|mut writer| {
            let counts = rewrite_frames(&mut reader, link, &mut writer, each)?;
            writer.finish()?;
            Ok(counts)
        })
        .and_then(|counts| {
            std::fs::rename(&partial, output).map_err(|source| RewriteError::Publish {
                path: output.to_owned(),
                source,
            })?;
            Ok(counts)
        });
    if written.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    written
}

/// The link type of the capture's first interface (Ethernet for a pcapng
/// file that declares none).
fn first_link_type<R: Read>(reader: &CaptureReader<R>) -> Result<LinkType, RewriteError> {
    let Some(interface) = reader.interfaces().into_iter().next() else {
        return Ok(LinkType::Ethernet);
    };
    LinkType::from_number(interface.link_type).ok_or_else(|| RewriteError::UnsupportedLinkType {
        path: reader.path().to_owned(),
        number: interface.link_type,
    })
}

/// Where `output` is written until it is complete: a hidden name beside it.
fn partial_path(output: &Path) -> PathBuf {
    let name = output
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    output.with_file_name(format!(".{name}.partial-{}", std::process::id()))
}

fn rewrite_frames<R: Read>(
    reader: &mut CaptureReader<R>,
    link: LinkType,
    writer: &mut PcapFileWriter,
    mut each: impl FnMut(IpPacket<'_>) -> Rewrite,
) -> Result<RewriteCounts, RewriteError> {
    let mut counts = RewriteCounts::default();
    let mut frame = PacketBuf::new();
    let mut buf = PacketBuf::new();
    let mut frame_out = Vec::with_capacity(PacketBuf::DEFAULT_CAPACITY);
    loop {
        let meta = match reader.next_frame(&mut frame) {
            Ok(Some(meta)) => meta,
            Ok(None) => return Ok(counts),
            Err(CaptureError::FrameTooLarge { .. }) => {
                counts.frames += 1;
                counts.count(too_large(&mut each));
                continue;
            }
            Err(error) => return Err(error.into()),
        };
        counts.frames += 1;
        if meta.link_type != link {
            return Err(RewriteError::MixedLinkTypes {
                path: reader.path().to_owned(),
                frame: meta.number,
                found: meta.link_type,
                first: link,
            });
        }
        let Some((link_header, ip)) = split_ip(link, frame.as_slice()) else {
            counts.skipped += 1;
            continue;
        };
        let rewrite = if buf.load(ip, PacketBuf::DEFAULT_HEADROOM).is_err() {
            too_large(&mut each)
        } else {
            each(IpPacket::Loaded(&mut buf))
        };
        if rewrite == Rewrite::Write {
            frame_ip_into(link, link_header, buf.as_slice(), &mut frame_out);
            writer.write_frame(meta.timestamp_ns, &frame_out)?;
        }
        counts.count(rewrite);
    }
}

/// Tells the caller of a packet too large to load; nothing is written for
/// it, whatever the caller says.
fn too_large(each: &mut impl FnMut(IpPacket<'_>) -> Rewrite) -> Rewrite {
    match each(IpPacket::TooLarge) {
        Rewrite::Write => Rewrite::Drop,
        other => other,
    }
}

impl RewriteCounts {
    fn count(&mut self, rewrite: Rewrite) {
        match rewrite {
            Rewrite::Write => self.written += 1,
            Rewrite::Skip => self.skipped += 1,
            Rewrite::Drop => self.dropped += 1,
        }
    }
}
