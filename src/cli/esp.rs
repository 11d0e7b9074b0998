//! `erdp esp`: seal inner packets into ESP and open ESP captures with a
//! configured SA (RFC 4303 tunnel mode), print Wireshark's ESP SA settings
//! for an SA, and make fresh keys. Captures are pcap files.

use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand};
use pcap_file::DataLink;
use pcap_file::pcap::{PcapHeader, PcapPacket, PcapReader, PcapWriter};
use ring::rand::{SecureRandom, SystemRandom};
use serde::Serialize;

use super::{EXIT_CHECK_FAILED, EXIT_USAGE};
use crate::esp::{
    Algorithm, EspDrop, InboundSa, LifetimeEvent, OutboundSa, SALT_LEN, SaConfig, SaStats,
    SecretKey,
};
use crate::packet::PacketBuf;
use crate::wire::{ETHERNET_HEADER_LEN, EtherType};

/// ESP tunnel tools.
#[derive(Debug, Args)]
pub struct EspArgs {
    #[command(subcommand)]
    pub command: EspCommand,
}

/// The `erdp esp` subcommands.
#[derive(Debug, Subcommand)]
pub enum EspCommand {
    /// Encapsulate every IP packet of a capture into ESP with an outbound SA.
    Seal(SealArgs),
    /// Decapsulate the ESP packets of a capture with an inbound SA.
    Open(OpenArgs),
    /// Print Wireshark/tshark ESP SA settings (`esp_sa`) for an SA, so its
    /// captures open decrypted. The output contains the key.
    Wireshark(WiresharkArgs),
    /// Print a fresh random key||salt in hex for an algorithm.
    NewKey(NewKeyArgs),
}

/// Where an SA comes from.
#[derive(Debug, Args)]
pub struct SaSource {
    /// TOML file with the SA (see README "ESP tunnel").
    #[arg(long, value_name = "FILE")]
    pub sa: PathBuf,
    /// Read the SA from this table of the file (e.g. `sa_out`) instead of
    /// the top level; dots separate nested tables.
    #[arg(long, value_name = "NAME")]
    pub table: Option<String>,
}

/// Input and output captures (Ethernet, raw IP or Linux cooked; the output
/// keeps the input's link type).
#[derive(Debug, Args)]
pub struct CaptureIo {
    /// Capture to read: inner packets for `seal`, ESP for `open`.
    #[arg(long, value_name = "PCAP")]
    pub input: PathBuf,
    /// Capture to write: ESP for `seal`, inner packets for `open`.
    #[arg(long, value_name = "PCAP")]
    pub output: PathBuf,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `erdp esp seal`.
#[derive(Debug, Args)]
pub struct SealArgs {
    #[command(flatten)]
    pub source: SaSource,
    #[command(flatten)]
    pub io: CaptureIo,
    /// Sequence number of the first packet (default 1), e.g. to show ESN
    /// crossing 2^32.
    #[arg(long, value_name = "N", value_parser = parse_u64)]
    pub first_seq: Option<u64>,
}

/// Arguments of `erdp esp open`.
#[derive(Debug, Args)]
pub struct OpenArgs {
    #[command(flatten)]
    pub source: SaSource,
    #[command(flatten)]
    pub io: CaptureIo,
    /// The highest sequence number already received, to open a capture taken
    /// in the middle of an SA (ESN infers the high half from it).
    #[arg(long, value_name = "N", value_parser = parse_u64)]
    pub last_seq: Option<u64>,
}

/// Arguments of `erdp esp wireshark`.
#[derive(Debug, Args)]
pub struct WiresharkArgs {
    #[command(flatten)]
    pub source: SaSource,
    /// Print only the `esp_sa` line (for scripts).
    #[arg(long)]
    pub line_only: bool,
}

/// Arguments of `erdp esp new-key`.
#[derive(Debug, Args)]
pub struct NewKeyArgs {
    /// aes-128-gcm, aes-256-gcm or chacha20-poly1305.
    #[arg(long)]
    pub algorithm: Algorithm,
}

fn parse_u64(text: &str) -> Result<u64, String> {
    let parsed = match text.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => text.parse(),
    };
    parsed.map_err(|e| format!("{text:?} is not a number: {e}"))
}

/// Runs `erdp esp ...`.
pub fn run(args: EspArgs) -> ExitCode {
    let result = match args.command {
        EspCommand::Seal(a) => seal(&a),
        EspCommand::Open(a) => open(&a),
        EspCommand::Wireshark(a) => wireshark(&a),
        EspCommand::NewKey(a) => new_key(a.algorithm),
    };
    match result {
        Ok(code) => code,
        Err(message) => {
            eprintln!("erdp esp: {message}");
            ExitCode::from(EXIT_USAGE)
        }
    }
}

/// Reads one SA from a TOML file (or a table inside it).
pub fn load_sa(path: &Path, table: Option<&str>) -> Result<SaConfig, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read SA file {}: {e}", path.display()))?;
    let config = match table {
        None => SaConfig::from_toml(&text).map_err(|e| format!("{}: {e}", path.display()))?,
        Some(name) => {
            let root: toml::Table =
                toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
            let mut value = toml::Value::Table(root);
            for part in name.split('.') {
                value = value
                    .get(part)
                    .cloned()
                    .ok_or_else(|| format!("{}: no table [{name}]", path.display()))?;
            }
            value
                .try_into::<SaConfig>()
                .map_err(|e| format!("{} [{name}]: {e}", path.display()))?
        }
    };
    config
        .validate()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(config)
}

/// How to find the IP packet inside a captured frame, and label a new one.
#[derive(Debug, Clone, Copy)]
enum LinkLayer {
    /// Ethernet II: EtherType at 12, IP at 14.
    Ethernet,
    /// Linux cooked capture v1: protocol at 14, IP at 16.
    LinuxSll,
    /// Raw IP, no link header.
    RawIp,
}

impl LinkLayer {
    fn of(datalink: DataLink) -> Result<Self, String> {
        match datalink {
            DataLink::ETHERNET => Ok(LinkLayer::Ethernet),
            DataLink::LINUX_SLL => Ok(LinkLayer::LinuxSll),
            DataLink::RAW | DataLink::IPV4 | DataLink::IPV6 => Ok(LinkLayer::RawIp),
            other => Err(format!(
                "unsupported link type {other:?}: expected Ethernet, raw IP or Linux cooked"
            )),
        }
    }

    /// (offset of the protocol field, header length).
    fn layout(self) -> Option<(usize, usize)> {
        match self {
            LinkLayer::Ethernet => Some((ETHERNET_HEADER_LEN - 2, ETHERNET_HEADER_LEN)),
            LinkLayer::LinuxSll => Some((14, 16)),
            LinkLayer::RawIp => None,
        }
    }

    /// Splits a frame into link header and IP packet; `None` for non-IP.
    fn split(self, frame: &[u8]) -> Option<(&[u8], &[u8])> {
        let Some((type_at, len)) = self.layout() else {
            return Some((&[], frame));
        };
        let ethertype = EtherType(u16::from_be_bytes(*frame.get(type_at..)?.first_chunk()?));
        if ethertype != EtherType::IPV4 && ethertype != EtherType::IPV6 {
            return None;
        }
        Some((frame.get(..len)?, frame.get(len..)?))
    }

    /// Writes `link_header` + `packet` into `out`, with the protocol field
    /// set for the packet's IP version.
    fn frame_into(self, link_header: &[u8], packet: &[u8], out: &mut Vec<u8>) {
        out.clear();
        out.extend_from_slice(link_header);
        if let Some((type_at, _)) = self.layout() {
            let ethertype = if packet.first().map(|b| b >> 4) == Some(6) {
                EtherType::IPV6
            } else {
                EtherType::IPV4
            };
            // `out` holds the link header, which has the field.
            if let Some(field) = out.get_mut(type_at..type_at + 2) {
                field.copy_from_slice(&ethertype.0.to_be_bytes());
            }
        }
        out.extend_from_slice(packet);
    }
}

/// What one seal or open run did.
#[derive(Debug, Serialize)]
struct Summary {
    command: &'static str,
    spi: String,
    algorithm: Algorithm,
    input: String,
    output: String,
    frames: u64,
    processed: u64,
    skipped: u64,
    dropped: u64,
    drops: Vec<(&'static str, u64)>,
    lifetime_events: Vec<String>,
    sa: SaStats,
}

impl Summary {
    fn print(&self, json: bool) {
        if json {
            match serde_json::to_string_pretty(self) {
                Ok(text) => println!("{text}"),
                Err(e) => eprintln!("erdp esp: cannot write JSON: {e}"),
            }
            return;
        }
        let verb = if self.command == "seal" {
            "sealed"
        } else {
            "opened"
        };
        println!(
            "{verb} {} of {} frames with SPI {} ({}) -> {}",
            self.processed, self.frames, self.spi, self.algorithm, self.output
        );
        if self.skipped > 0 {
            let what = if self.command == "seal" {
                "not IP"
            } else {
                "not ESP for this SA"
            };
            println!("skipped {} frames ({what})", self.skipped);
        }
        println!("dropped {}", self.dropped);
        for (reason, n) in &self.drops {
            println!("  {reason}: {n}");
        }
        for event in &self.lifetime_events {
            println!("lifetime: {event}");
        }
    }

    fn exit_code(&self) -> ExitCode {
        if self.dropped > 0 {
            ExitCode::from(EXIT_CHECK_FAILED)
        } else {
            ExitCode::SUCCESS
        }
    }
}

/// Reads frames from `input`, hands each IP packet to `process` in a reused
/// buffer, and writes what it returns to `output`.
fn transform_capture(
    input: &Path,
    output: &Path,
    mut process: impl FnMut(&mut PacketBuf) -> Result<Option<u64>, EspDrop>,
) -> Result<Tally, String> {
    let file = File::open(input).map_err(|e| format!("cannot open {}: {e}", input.display()))?;
    let mut reader = PcapReader::new(BufReader::new(file))
        .map_err(|e| format!("{}: not a pcap file: {e}", input.display()))?;
    let header = reader.header();
    let link = LinkLayer::of(header.datalink).map_err(|e| format!("{}: {e}", input.display()))?;
    let out =
        File::create(output).map_err(|e| format!("cannot create {}: {e}", output.display()))?;
    let mut writer = PcapWriter::with_header(
        BufWriter::new(out),
        PcapHeader {
            snaplen: header.snaplen.max(65_535),
            ..header
        },
    )
    .map_err(|e| format!("{}: {e}", output.display()))?;
    let mut tally = Tally::default();
    let mut buf = PacketBuf::new();
    let mut frame_out = Vec::with_capacity(PacketBuf::DEFAULT_CAPACITY);
    while let Some(packet) = reader.next_packet() {
        let packet = packet.map_err(|e| format!("{}: {e}", input.display()))?;
        tally.frames += 1;
        let Some((link_header, ip)) = link.split(&packet.data) else {
            tally.skipped += 1;
            continue;
        };
        if buf.load(ip, PacketBuf::DEFAULT_HEADROOM).is_err() {
            tally.count_drop(EspDrop::BufferTooSmall);
            continue;
        }
        match process(&mut buf) {
            Ok(Some(_)) => {
                link.frame_into(link_header, buf.as_slice(), &mut frame_out);
                let len = u32::try_from(frame_out.len()).unwrap_or(u32::MAX);
                writer
                    .write_packet(&PcapPacket::new(packet.timestamp, len, &frame_out))
                    .map_err(|e| format!("{}: {e}", output.display()))?;
                tally.processed += 1;
            }
            Ok(None) => tally.skipped += 1,
            Err(reason) => tally.count_drop(reason),
        }
    }
    Ok(tally)
}

#[derive(Debug, Default)]
struct Tally {
    frames: u64,
    processed: u64,
    skipped: u64,
    drops: Vec<(&'static str, u64)>,
}

impl Tally {
    fn count_drop(&mut self, reason: EspDrop) {
        match self.drops.iter_mut().find(|(r, _)| *r == reason.as_str()) {
            Some((_, n)) => *n += 1,
            None => self.drops.push((reason.as_str(), 1)),
        }
    }

    fn into_summary(
        self,
        command: &'static str,
        config: &SaConfig,
        input: &Path,
        output: &Path,
        sa: SaStats,
        lifetime_events: Vec<String>,
    ) -> Summary {
        Summary {
            command,
            spi: format!("0x{:08x}", config.spi),
            algorithm: config.algorithm,
            input: input.display().to_string(),
            output: output.display().to_string(),
            frames: self.frames,
            processed: self.processed,
            skipped: self.skipped,
            dropped: self.drops.iter().map(|(_, n)| n).sum(),
            drops: self.drops,
            lifetime_events,
            sa,
        }
    }
}

/// A packet step: `Ok(Some((seq, event)))` processed, `Ok(None)` skipped.
type Step<'a> =
    dyn FnMut(&mut PacketBuf) -> Result<Option<(u64, Option<LifetimeEvent>)>, EspDrop> + 'a;

/// Runs `step` over the capture and prints the summary.
fn run_capture(
    command: &'static str,
    config: &SaConfig,
    io: &CaptureIo,
    step: &mut Step<'_>,
    stats: impl FnOnce() -> SaStats,
) -> Result<ExitCode, String> {
    let mut events = Vec::new();
    let tally = transform_capture(&io.input, &io.output, |buf| {
        let done = step(buf)?;
        if let Some((seq, Some(event))) = done {
            events.push(format!("{event:?} at sequence {seq}"));
        }
        Ok(done.map(|(seq, _)| seq))
    })?;
    let summary = tally.into_summary(command, config, &io.input, &io.output, stats(), events);
    summary.print(io.json);
    Ok(summary.exit_code())
}

fn seal(args: &SealArgs) -> Result<ExitCode, String> {
    let config = load_sa(&args.source.sa, args.source.table.as_deref())?;
    let sa = OutboundSa::new(&config).map_err(|e| e.to_string())?;
    if let Some(first) = args.first_seq {
        sa.resume_after(first.saturating_sub(1));
    }
    run_capture(
        "seal",
        &config,
        &args.io,
        &mut |buf| {
            let o = sa.encapsulate(buf)?;
            Ok(Some((o.seq, o.lifetime_event)))
        },
        || sa.stats(),
    )
}

fn open(args: &OpenArgs) -> Result<ExitCode, String> {
    let config = load_sa(&args.source.sa, args.source.table.as_deref())?;
    let sa = InboundSa::new(&config).map_err(|e| e.to_string())?;
    if let Some(last) = args.last_seq {
        sa.replay_window().reset_to(last);
    }
    run_capture(
        "open",
        &config,
        &args.io,
        &mut |buf| {
            // Other traffic (other SPIs, IKE, keepalives) is skipped, not
            // dropped; a malformed outer header is a drop.
            match crate::esp::classify(buf.as_slice(), sa.nat_t_port())? {
                crate::esp::PacketClass::Esp(o) if o.spi == sa.spi() => {}
                _ => return Ok(None),
            }
            let o = sa.decapsulate(buf)?;
            Ok(Some((o.seq, o.lifetime_event)))
        },
        || sa.stats(),
    )
}

/// The `esp_sa` UAT line for Wireshark 4.0 (8 fields: protocol, source,
/// destination, SPI, encryption, key, authentication, authentication key).
/// Addresses are wildcards, so one line serves the SA whichever way its
/// packets were captured; the protocol follows the tunnel's family.
pub fn wireshark_esp_sa_line(config: &SaConfig) -> Option<String> {
    if config.algorithm == Algorithm::ChaCha20Poly1305 {
        return None;
    }
    let protocol = match config.tunnel {
        Some(t) if t.local.is_ipv6() => "IPv6",
        _ => "IPv4",
    };
    Some(format!(
        "\"{protocol}\",\"*\",\"*\",\"0x{:08x}\",\"{}\",\"0x{}\",\"NULL\",\"\"",
        config.spi,
        config.algorithm.wireshark_name(),
        config.key.expose_hex().as_str()
    ))
}

fn wireshark(args: &WiresharkArgs) -> Result<ExitCode, String> {
    let config = load_sa(&args.source.sa, args.source.table.as_deref())?;
    eprintln!("erdp esp wireshark: the output contains the SA's key; keep it private.");
    if args.line_only {
        let line = wireshark_esp_sa_line(&config)
            .ok_or("Wireshark 4.0 cannot decrypt ChaCha20-Poly1305 ESP (RFC 7634)")?;
        println!("{line}");
        return Ok(ExitCode::SUCCESS);
    }
    println!("# ESP SA 0x{:08x} ({})", config.spi, config.algorithm);
    let Some(line) = wireshark_esp_sa_line(&config) else {
        println!(
            "# Wireshark 4.0 cannot decrypt ChaCha20-Poly1305 ESP (RFC 7634); no esp_sa line."
        );
        return Ok(ExitCode::SUCCESS);
    };
    if config.esn {
        println!(
            "# This SA uses ESN; Wireshark 4.0's ESP SA table has no ESN setting, so its \
             ICV check fails for this SA."
        );
    }
    println!("# Append to ~/.config/wireshark/esp_sa (Preferences > Protocols > ESP > ESP SAs):");
    println!("{line}");
    println!("# The same for tshark:");
    println!(
        "tshark -o esp.enable_encryption_decode:TRUE -o esp.enable_authentication_check:TRUE \
         -o 'uat:esp_sa:{line}'"
    );
    Ok(ExitCode::SUCCESS)
}

fn new_key(algorithm: Algorithm) -> Result<ExitCode, String> {
    let mut bytes = zeroize::Zeroizing::new(vec![0u8; algorithm.key_len() + SALT_LEN]);
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| "the system random generator failed".to_owned())?;
    let key = SecretKey::from_bytes(&bytes);
    println!("{}", key.expose_hex().as_str());
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn esp_sa_line_has_the_eight_wireshark_fields() {
        let mut c = SaConfig::new(
            0x1001,
            Algorithm::Aes128Gcm,
            SecretKey::from_hex("000102030405060708090a0b0c0d0e0f10111213").unwrap(),
        );
        c.tunnel = Some(crate::esp::TunnelEndpoints {
            local: "192.0.2.1".parse().unwrap(),
            remote: "198.51.100.2".parse().unwrap(),
        });
        assert_eq!(
            wireshark_esp_sa_line(&c).unwrap(),
            "\"IPv4\",\"*\",\"*\",\"0x00001001\",\
             \"AES-GCM with 16 octet ICV [RFC4106]\",\
             \"0x000102030405060708090a0b0c0d0e0f10111213\",\"NULL\",\"\""
        );
        c.algorithm = Algorithm::ChaCha20Poly1305;
        assert_eq!(wireshark_esp_sa_line(&c), None);
    }

    #[test]
    fn numbers_parse_in_decimal_and_hex() {
        assert_eq!(parse_u64("0xFFFFFFF0"), Ok(0xFFFF_FFF0));
        assert_eq!(parse_u64("17"), Ok(17));
        assert!(parse_u64("x").is_err());
    }
}
