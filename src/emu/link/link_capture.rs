//! Capture of a link's frames into a pcap file (Ethernet link type,
//! nanosecond timestamps in virtual time from the 1970 epoch).
//!
//! Both directions go into one file, as a tap on the cable would see them.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use pcap_file::DataLink;
use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};

use crate::emu::time::SimTime;

/// Where on the link frames are recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CapturePoint {
    /// Every frame that arrives at the far end, at its arrival time: what
    /// crossed the link (reordering shows, losses do not).
    #[default]
    Receive,
    /// Every frame accepted for transmission, at the time it was sent:
    /// what a capture on the sending port sees (including frames the wire
    /// loses later; not tail drops, oversize frames or a down link).
    Transmit,
}

/// Largest frame written whole; longer frames are truncated to this in the
/// file (their original length is kept).
pub const SNAPLEN: u32 = 65_535;

/// Why a capture could not be written.
#[derive(Debug, thiserror::Error)]
#[error("pcap capture {path}: {reason}")]
pub struct LinkCaptureError {
    /// The file (or `<writer>`).
    pub path: String,
    /// What failed.
    pub reason: String,
}

/// A pcap error with its cause (pcap-file's I/O error text alone says
/// "Error reading bytes" even when writing).
fn describe(error: &pcap_file::PcapError) -> String {
    match error {
        pcap_file::PcapError::IoError(io) => format!("I/O error: {io}"),
        other => other.to_string(),
    }
}

/// A pcap writer for one link. A write error stops the capture and is kept
/// for [`LinkCapture::finish`]; the simulation goes on.
pub struct LinkCapture {
    label: String,
    point: CapturePoint,
    writer: Option<PcapWriter<Box<dyn Write>>>,
    frames: u64,
    error: Option<String>,
}

impl std::fmt::Debug for LinkCapture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LinkCapture")
            .field("label", &self.label)
            .field("point", &self.point)
            .field("frames", &self.frames)
            .field("error", &self.error)
            .finish()
    }
}

impl LinkCapture {
    /// A capture into `writer`; `label` names it in errors.
    pub fn new(
        writer: Box<dyn Write>,
        label: impl Into<String>,
        point: CapturePoint,
    ) -> Result<Self, LinkCaptureError> {
        let label = label.into();
        let header = PcapHeader {
            datalink: DataLink::ETHERNET,
            snaplen: SNAPLEN,
            ts_resolution: pcap_file::TsResolution::NanoSecond,
            endianness: pcap_file::Endianness::Little,
            ..PcapHeader::default()
        };
        let writer = PcapWriter::with_header(writer, header).map_err(|e| LinkCaptureError {
            path: label.clone(),
            reason: format!("writing the file header: {}", describe(&e)),
        })?;
        Ok(Self {
            label,
            point,
            writer: Some(writer),
            frames: 0,
            error: None,
        })
    }

    /// A capture into a new file at `path` (replaced if it exists).
    pub fn create(path: &Path, point: CapturePoint) -> Result<Self, LinkCaptureError> {
        let label = path.display().to_string();
        let file = File::create(path).map_err(|e| LinkCaptureError {
            path: label.clone(),
            reason: format!("cannot create: {e}"),
        })?;
        Self::new(Box::new(BufWriter::new(file)), label, point)
    }

    /// Where this capture records frames.
    pub fn point(&self) -> CapturePoint {
        self.point
    }

    /// Frames written so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Writes `frame` seen at `at`.
    pub fn record(&mut self, at: SimTime, frame: &[u8]) {
        let Some(writer) = self.writer.as_mut() else {
            return;
        };
        let orig_len = u32::try_from(frame.len()).unwrap_or(u32::MAX);
        let kept = frame.get(..SNAPLEN as usize).unwrap_or(frame);
        let packet = PcapPacket::new(at.since_start(), orig_len.max(kept.len() as u32), kept);
        match writer.write_packet(&packet) {
            Ok(_) => self.frames += 1,
            Err(e) => {
                self.error = Some(format!(
                    "writing frame {} at {at}: {}",
                    self.frames + 1,
                    describe(&e)
                ));
                self.writer = None;
            }
        }
    }

    /// Flushes the file; returns the number of frames written, or the
    /// first error met.
    pub fn finish(mut self) -> Result<u64, LinkCaptureError> {
        if let Some(writer) = self.writer.take() {
            let mut inner = writer.into_writer();
            if let Err(e) = inner.flush() {
                self.error.get_or_insert(format!("flushing: {e}"));
            }
        }
        match self.error {
            None => Ok(self.frames),
            Some(reason) => Err(LinkCaptureError {
                path: self.label,
                reason,
            }),
        }
    }
}
