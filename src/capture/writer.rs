//! A buffered pcap writer (the classic libpcap format, nanosecond magic
//! a1b23c4d) for one output interface: the file header by `pcap-file`, each
//! record as one 16-byte header and the frame, written to the sink directly.
//! Frames are written as given, timestamps preserved to the nanosecond.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use pcap_file::pcap::{PcapHeader, PcapWriter};
use pcap_file::{DataLink, Endianness, TsResolution};

use super::error::CaptureError;
use super::link::LinkType;
use super::reader::MAX_FRAME_LEN;

/// Output buffer size: large enough that a frame rarely costs a syscall.
const WRITE_BUFFER: usize = 256 * 1024;

/// Writes frames to a pcap file. Call [`PcapFileWriter::finish`] to flush
/// and see write errors; dropping it flushes but cannot report failure.
pub struct PcapFileWriter<W: Write = BufWriter<File>> {
    path: PathBuf,
    /// The sink after the file header (pcap-file wrote it); records are
    /// written here directly, a header and a frame each.
    writer: W,
    frames: u64,
    bytes: u64,
}

/// A record header: seconds, nanoseconds, captured and original length.
const RECORD_HEADER_LEN: usize = 16;

impl PcapFileWriter<BufWriter<File>> {
    /// Creates (or truncates) `path` as an Ethernet pcap.
    pub fn create(path: impl AsRef<Path>) -> Result<Self, CaptureError> {
        Self::create_with_link_type(path, LinkType::Ethernet)
    }

    /// Creates (or truncates) `path` as a pcap of `link_type` frames.
    pub fn create_with_link_type(
        path: impl AsRef<Path>,
        link_type: LinkType,
    ) -> Result<Self, CaptureError> {
        let path = path.as_ref();
        let file = File::create(path).map_err(|source| CaptureError::Create {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_writer(
            path,
            BufWriter::with_capacity(WRITE_BUFFER, file),
            link_type,
        )
    }
}

impl<W: Write> PcapFileWriter<W> {
    /// The snapshot length written in the header.
    pub const SNAPLEN: u32 = MAX_FRAME_LEN as u32;

    /// Writes the pcap header to `writer`; `name` is used in errors.
    pub fn from_writer(
        name: impl Into<PathBuf>,
        writer: W,
        link_type: LinkType,
    ) -> Result<Self, CaptureError> {
        let path = name.into();
        let header = PcapHeader {
            version_major: 2,
            version_minor: 4,
            ts_correction: 0,
            ts_accuracy: 0,
            snaplen: Self::SNAPLEN,
            datalink: DataLink::from(link_type.number()),
            ts_resolution: TsResolution::NanoSecond,
            endianness: Endianness::Little,
        };
        let writer = PcapWriter::with_header(writer, header)
            .map_err(|error| CaptureError::Write {
                path: path.clone(),
                frames: 0,
                reason: error_text(&error),
            })?
            .into_writer();
        Ok(Self {
            path,
            writer,
            frames: 0,
            bytes: 0,
        })
    }

    /// Appends a complete frame captured at `timestamp_ns` (nanoseconds
    /// since the Unix epoch).
    pub fn write_frame(&mut self, timestamp_ns: u64, frame: &[u8]) -> Result<(), CaptureError> {
        let len = u32::try_from(frame.len()).unwrap_or(u32::MAX);
        self.write_frame_with_original_len(timestamp_ns, frame, len)
    }

    /// Appends a frame whose original length on the wire was
    /// `original_len` (at least the captured length).
    pub(crate) fn write_frame_with_original_len(
        &mut self,
        timestamp_ns: u64,
        frame: &[u8],
        original_len: u32,
    ) -> Result<(), CaptureError> {
        let header = record_header(timestamp_ns, frame.len(), original_len).map_err(|error| {
            CaptureError::Write {
                path: self.path.clone(),
                frames: self.frames,
                reason: error_text(&error),
            }
        })?;
        // Two copies into the (buffered) sink, no per-field writes.
        let written = self
            .writer
            .write_all(&header)
            .and_then(|()| self.writer.write_all(frame));
        written.map_err(|error| CaptureError::Write {
            path: self.path.clone(),
            frames: self.frames,
            reason: error.to_string(),
        })?;
        self.frames += 1;
        self.bytes += frame.len() as u64;
        Ok(())
    }

    /// Frames written so far.
    pub fn frames_written(&self) -> u64 {
        self.frames
    }

    /// Frame bytes (without pcap headers) written so far.
    pub fn bytes_written(&self) -> u64 {
        self.bytes
    }

    /// Flushes and gives back the underlying writer (e.g. an in-memory
    /// `Vec<u8>` in tests and benchmarks).
    pub fn into_inner(self) -> Result<W, CaptureError> {
        let frames = self.frames;
        let path = self.path;
        let mut inner = self.writer;
        inner.flush().map_err(|error| CaptureError::Write {
            path,
            frames,
            reason: error.to_string(),
        })?;
        Ok(inner)
    }

    /// Flushes and closes; returns the number of frames written.
    pub fn finish(self) -> Result<u64, CaptureError> {
        let frames = self.frames;
        self.into_inner().map(|_| frames)
    }
}

/// The little-endian record header of a `len`-byte frame captured at
/// `timestamp_ns`, refused as pcap-file refuses it (seconds beyond 32 bits,
/// a frame over the snapshot length): the same bytes and errors as
/// `PcapWriter::write_packet`, without its four separate field writes.
fn record_header(
    timestamp_ns: u64,
    len: usize,
    original_len: u32,
) -> Result<[u8; RECORD_HEADER_LEN], pcap_file::PcapError> {
    let timestamp = Duration::from_nanos(timestamp_ns);
    let seconds = u32::try_from(timestamp.as_secs())
        .map_err(|_| pcap_file::PcapError::InvalidField("PcapPacket: timestamp_secs > u32::MAX"))?;
    let captured = u32::try_from(len)
        .map_err(|_| pcap_file::PcapError::InvalidField("PcapPacket: incl_len > u32::MAX"))?;
    if captured > PcapFileWriter::<std::io::Sink>::SNAPLEN {
        return Err(pcap_file::PcapError::InvalidField(
            "PcapPacket: incl_len > snap_len",
        ));
    }
    let original_len = original_len.max(captured);
    let mut header = [0u8; RECORD_HEADER_LEN];
    for (at, field) in [seconds, timestamp.subsec_nanos(), captured, original_len]
        .into_iter()
        .enumerate()
    {
        if let Some(slot) = header.get_mut(at * 4..at * 4 + 4) {
            slot.copy_from_slice(&field.to_le_bytes());
        }
    }
    Ok(header)
}

/// The error with its source chain (pcap-file's I/O errors carry the
/// reason in their source).
fn error_text(error: &pcap_file::PcapError) -> String {
    match error {
        pcap_file::PcapError::IoError(io) => io.to_string(),
        other => other.to_string(),
    }
}
