//! `erdp esp`: seal inner packets into ESP and open ESP captures with a
//! configured SA (RFC 4303 tunnel mode), print Wireshark's ESP SA settings
//! for an SA, and make fresh keys: argument parsing over
//! [`crate::capture::rewrite_ip_packets`] (captures read like `erdp replay`
//! reads them, written as pcap) and [`crate::esp`].

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand};
use ring::rand::{SecureRandom, SystemRandom};
use serde::Serialize;

use super::EXIT_CHECK_FAILED;
use super::error::{self, CliError};
use super::stdout::outln;
use crate::capture::{IpPacket, Rewrite, rewrite_ip_packets};
use crate::esp::{
    Algorithm, EspDrop, InboundSa, LifetimeEvent, OutboundSa, SaConfig, SaStats, SecretKey,
    wireshark_esp_sa_line,
};
use crate::packet::PacketBuf;

/// ESP tunnel tools.
#[derive(Debug, Args)]
pub(crate) struct EspArgs {
    #[command(subcommand)]
    pub command: EspCommand,
}

/// The `erdp esp` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum EspCommand {
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
pub(crate) struct SaSource {
    /// TOML file with the SA (see docs/esp.md).
    #[arg(long, value_name = "FILE")]
    pub sa: PathBuf,
    /// Read the SA from this table of the file (e.g. `sa_out`) instead of
    /// the top level; dots separate nested tables, and a list of tables is
    /// indexed by an element's `name` or position (a node configuration's
    /// `interface.vpn.sa_out`).
    #[arg(long, value_name = "NAME")]
    pub table: Option<String>,
}

/// Input and output captures (Ethernet, raw IP or Linux cooked; the output
/// keeps the input's link type).
#[derive(Debug, Args)]
pub(crate) struct CaptureIo {
    /// Capture to read (pcap or pcapng): inner packets for `seal`, ESP for
    /// `open`.
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
pub(crate) struct SealArgs {
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
pub(crate) struct OpenArgs {
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
pub(crate) struct WiresharkArgs {
    #[command(flatten)]
    pub source: SaSource,
    /// Print only the `esp_sa` line (for scripts).
    #[arg(long)]
    pub line_only: bool,
}

/// Arguments of `erdp esp new-key`.
#[derive(Debug, Args)]
pub(crate) struct NewKeyArgs {
    /// aes-128-gcm, aes-256-gcm, chacha20-poly1305, aes-128-cbc-hmac-sha256 or
    /// aes-256-cbc-hmac-sha256.
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
pub(crate) fn run(args: EspArgs) -> ExitCode {
    let result = match args.command {
        EspCommand::Seal(a) => seal(&a),
        EspCommand::Open(a) => open(&a),
        EspCommand::Wireshark(a) => wireshark(&a),
        EspCommand::NewKey(a) => new_key(a.algorithm),
    };
    error::exit("esp", result)
}

/// Reads one SA from a TOML file (or a table inside it).
pub(crate) fn load_sa(path: &Path, table: Option<&str>) -> Result<SaConfig, CliError> {
    let file = |e: &dyn std::fmt::Display| CliError::File(format!("{}: {e}", path.display()));
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::File(format!("cannot read SA file {}: {e}", path.display())))?;
    let config = match table {
        None => SaConfig::from_toml(&text).map_err(|e| file(&e))?,
        Some(name) => {
            let root: toml::Table = toml::from_str(&text).map_err(|e| file(&e))?;
            let value = find_table(toml::Value::Table(root), name).map_err(|e| file(&e))?;
            value
                .try_into::<SaConfig>()
                .map_err(|e| CliError::File(format!("{} [{name}]: {e}", path.display())))?
        }
    };
    config.validate().map_err(|e| file(&e))?;
    Ok(config)
}

/// The table at dotted `path` in `root`; in a list of tables, a part names
/// an element by its `name` or its position. Errors say what is there.
fn find_table(root: toml::Value, path: &str) -> Result<toml::Value, String> {
    let mut value = root;
    let mut at = String::new();
    for part in path.split('.') {
        let next = match &value {
            toml::Value::Table(table) => table.get(part).cloned(),
            toml::Value::Array(items) => items
                .iter()
                .find(|item| item.get("name").and_then(toml::Value::as_str) == Some(part))
                .or_else(|| part.parse::<usize>().ok().and_then(|i| items.get(i)))
                .cloned(),
            _ => None,
        };
        if !at.is_empty() {
            at.push('.');
        }
        at.push_str(part);
        value = next.ok_or_else(|| format!("no table [{at}]"))?;
    }
    match &value {
        toml::Value::Table(table) if table.contains_key("spi") => Ok(value),
        toml::Value::Table(table) => {
            let inside: Vec<&str> = table
                .iter()
                .filter(|(_, v)| v.get("spi").is_some())
                .map(|(k, _)| k.as_str())
                .collect();
            if inside.is_empty() {
                Err(format!("[{at}] is not an SA (it has no spi)"))
            } else {
                Err(format!(
                    "[{at}] is not an SA; its SAs: {} (e.g. --table {at}.{})",
                    inside.join(", "),
                    inside[0]
                ))
            }
        }
        toml::Value::Array(items) => {
            let names: Vec<String> = items
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    item.get("name")
                        .and_then(toml::Value::as_str)
                        .map_or_else(|| i.to_string(), str::to_owned)
                })
                .collect();
            Err(format!(
                "[{at}] is a list of tables ({}): name one, e.g. --table {at}.{}.sa_out",
                names.join(", "),
                names.last().map_or("0", String::as_str)
            ))
        }
        other => Err(format!("[{at}] is a {}, not an SA table", other.type_str())),
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
                Ok(text) => outln!("{text}"),
                Err(e) => eprintln!("erdp esp: cannot write JSON: {e}"),
            }
            return;
        }
        let verb = if self.command == "seal" {
            "sealed"
        } else {
            "opened"
        };
        outln!(
            "{verb} {} of {} frames with SPI {} ({}) -> {}",
            self.processed,
            self.frames,
            self.spi,
            self.algorithm,
            self.output
        );
        if self.skipped > 0 {
            let what = if self.command == "seal" {
                "not IP"
            } else {
                "not ESP for this SA"
            };
            outln!("skipped {} frames ({what})", self.skipped);
        }
        outln!("dropped {}", self.dropped);
        for (reason, n) in &self.drops {
            outln!("  {reason}: {n}");
        }
        for event in &self.lifetime_events {
            outln!("lifetime: {event}");
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

/// Rewrites the IP packets of `input` into `output` with `process`
/// (`Ok(Some(_))`: write, `Ok(None)`: skip, `Err`: a counted drop).
fn transform_capture(
    input: &Path,
    output: &Path,
    mut process: impl FnMut(&mut PacketBuf) -> Result<Option<u64>, EspDrop>,
) -> Result<Tally, CliError> {
    let mut drops = Tally::default();
    let counts = rewrite_ip_packets(input, output, |packet| match packet {
        IpPacket::TooLarge => {
            drops.count_drop(EspDrop::BufferTooSmall);
            Rewrite::Drop
        }
        IpPacket::Loaded(buf) => match process(buf) {
            Ok(Some(_)) => Rewrite::Write,
            Ok(None) => Rewrite::Skip,
            Err(reason) => {
                drops.count_drop(reason);
                Rewrite::Drop
            }
        },
    })?;
    Ok(Tally {
        frames: counts.frames,
        processed: counts.written,
        skipped: counts.skipped,
        drops: drops.drops,
    })
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
) -> Result<ExitCode, CliError> {
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

fn seal(args: &SealArgs) -> Result<ExitCode, CliError> {
    let config = load_sa(&args.source.sa, args.source.table.as_deref())?;
    let sa = OutboundSa::new(&config)?;
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

fn open(args: &OpenArgs) -> Result<ExitCode, CliError> {
    let config = load_sa(&args.source.sa, args.source.table.as_deref())?;
    let sa = InboundSa::new(&config)?;
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

fn wireshark(args: &WiresharkArgs) -> Result<ExitCode, CliError> {
    let config = load_sa(&args.source.sa, args.source.table.as_deref())?;
    eprintln!("erdp esp wireshark: the output contains the SA's key; keep it private.");
    if args.line_only {
        let line = wireshark_esp_sa_line(&config).ok_or_else(|| {
            CliError::Argument(
                "Wireshark 4.0 cannot decrypt ChaCha20-Poly1305 ESP (RFC 7634)".to_owned(),
            )
        })?;
        outln!("{line}");
        return Ok(ExitCode::SUCCESS);
    }
    outln!("# ESP SA 0x{:08x} ({})", config.spi, config.algorithm);
    let Some(line) = wireshark_esp_sa_line(&config) else {
        outln!("# Wireshark 4.0 cannot decrypt ChaCha20-Poly1305 ESP (RFC 7634); no esp_sa line.");
        return Ok(ExitCode::SUCCESS);
    };
    if config.esn {
        outln!(
            "# This SA uses ESN; Wireshark 4.0's ESP SA table has no ESN setting, so its \
             ICV check fails for this SA."
        );
    }
    outln!("# Append to ~/.config/wireshark/esp_sa (Preferences > Protocols > ESP > ESP SAs):");
    outln!("{line}");
    outln!("# The same for tshark:");
    outln!(
        "tshark -o esp.enable_encryption_decode:TRUE -o esp.enable_authentication_check:TRUE \
         -o 'uat:esp_sa:{line}'"
    );
    Ok(ExitCode::SUCCESS)
}

fn new_key(algorithm: Algorithm) -> Result<ExitCode, CliError> {
    let mut bytes = zeroize::Zeroizing::new(vec![0u8; algorithm.keymat_len()]);
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| CliError::System("the system random generator failed".to_owned()))?;
    let key = SecretKey::from_bytes(&bytes);
    outln!("{}", key.expose_hex().as_str());
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_found_through_lists_by_name_or_position() {
        let root: toml::Value = toml::from_str(
            "[[interface]]\nname = \"lan\"\n[[interface]]\nname = \"vpn\"\n\
             sa_out = { spi = 1 }\nsa_in = { spi = 2 }\n",
        )
        .unwrap();
        let spi = |path: &str| find_table(root.clone(), path).map(|v| v["spi"].clone());
        assert_eq!(spi("interface.vpn.sa_out"), Ok(toml::Value::Integer(1)));
        assert_eq!(spi("interface.1.sa_in"), Ok(toml::Value::Integer(2)));
        let list = spi("interface").unwrap_err();
        assert!(list.contains("list of tables (lan, vpn)"), "{list}");
        assert!(list.contains("--table interface.vpn.sa_out"), "{list}");
        let tunnel = spi("interface.vpn").unwrap_err();
        assert!(tunnel.contains("its SAs: sa_in, sa_out"), "{tunnel}");
        assert_eq!(spi("interface.wan"), Err("no table [interface.wan]".into()));
        let lan = spi("interface.lan").unwrap_err();
        assert!(lan.contains("no spi"), "{lan}");
    }

    #[test]
    fn numbers_parse_in_decimal_and_hex() {
        assert_eq!(parse_u64("0xFFFFFFF0"), Ok(0xFFFF_FFF0));
        assert_eq!(parse_u64("17"), Ok(17));
        assert!(parse_u64("x").is_err());
    }
}
