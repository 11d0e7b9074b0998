//! `erdp attach` without the node: binds two devices (`--bind`-style specs,
//! AF_PACKET or TAP) and patches every frame from one to the other until
//! SIGINT/SIGTERM, then prints each port's counters as JSON. The attach
//! command replaces the patch with the node.
//!
//! `port_bridge [--mmsg] [--capture-dir DIR] IFACE=DEVICE IFACE=tap:NAME`

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use erdp::driver::PortSet;
use erdp::packet::PacketBuf;
use erdp::port::{AfPacketBackend, BindSpec, OpenOptions, Port, Shutdown, TapConfig};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("port_bridge: {error}");
            ExitCode::from(2)
        }
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut options = OpenOptions {
        tap: TapConfig {
            up: true,
            ..TapConfig::default()
        },
        ..OpenOptions::default()
    };
    let mut specs = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--mmsg" => options.af_packet.backend = AfPacketBackend::Mmsg,
            "--capture-dir" => {
                let dir = args.next().ok_or("--capture-dir needs a directory")?;
                options.capture_dir = Some(PathBuf::from(dir));
            }
            spec => specs.push(spec.parse::<BindSpec>()?),
        }
    }
    if specs.len() != 2 {
        return Err("give exactly two bindings, IFACE=DEVICE or IFACE=tap:NAME".into());
    }
    BindSpec::check_unique(&specs)?;

    let shutdown = Shutdown::on_signals()?;
    let mut ports = PortSet::new(64, Duration::from_millis(100));
    for spec in &specs {
        ports.add(spec.open(&options)?);
    }
    eprintln!(
        "port_bridge: patching {} <-> {}; stop with Ctrl-C",
        specs[0].device, specs[1].device
    );
    let mut patch = |ingress: usize, frames: &mut [PacketBuf], ports: &mut [Box<dyn Port>]| {
        if let Some(egress) = ports.get_mut(1 - ingress) {
            // Failures are counted in the egress port's tx_errors.
            let _ = egress.send_batch(frames);
        }
    };
    let summary = ports.run(&shutdown, &mut patch)?;
    let counters: serde_json::Map<String, serde_json::Value> = ports
        .counters()
        .into_iter()
        .map(|(name, counters)| Ok((name, serde_json::to_value(counters)?)))
        .collect::<Result<_, serde_json::Error>>()?;
    println!(
        "{}",
        serde_json::json!({ "run": summary, "ports": counters })
    );
    let errors = ports.close();
    for error in &errors {
        eprintln!("port_bridge: {error}");
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err("capture files are incomplete".into())
    }
}
