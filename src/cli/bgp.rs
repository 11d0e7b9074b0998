//! `erdp bgp`: one BGP session over a real TCP connection (std sockets),
//! driving the sans-I/O [`crate::bgp::Peer`] with the wall clock. Learned
//! routes go through the node's RIB into a FIB. Commands on stdin
//! (`announce P`, `withdraw P`, `routes`, `time`, `stop`), one event a line
//! on stdout. With `--bfd`, a [`crate::bfd::Session`] runs over UDP beside
//! it (RFC 5881) and its going down ends the BGP session at once.

use std::io::{BufRead, ErrorKind, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::process::ExitCode;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use clap::Args;
use ipnet::IpNet;

use super::EXIT_USAGE;
use super::stdout::outln;
use crate::bfd::{BfdConfig, BfdEvent};
use crate::bgp::{Event, MaxPrefix, Peer, PeerConfig, State};
use crate::fib::RouteFile;
use crate::rib::Rib;
use crate::wire::bfd::BfdState;
use crate::wire::bgp::{BGP_PORT, Family};

mod bfd_link;
use bfd_link::BfdLink;

/// How long one turn waits for bytes from the peer.
const TURN: Duration = Duration::from_millis(20);
/// Longest a learned route waits for the FIB while UPDATEs keep streaming.
const PUBLISH_EVERY: Duration = Duration::from_millis(100);

/// Arguments of `erdp bgp`.
#[derive(Debug, Args)]
#[command(
    after_help = "Stdin commands: `announce PREFIX`, `withdraw PREFIX`, `routes` (prints \
`route PREFIX via NEXT-HOP path [..] fib PREFIX` for each learned route, then `routes-end N`), \
`time` (prints `time SECONDS`, erdp's clock), `stop` (Cease, Administrative Shutdown). \
Stdout: `state S at SECONDS`, `notification sent|received C/S (..)`, \
`update +A -W`, `end-of-rib FAMILY`, with --bfd `bfd state S diag D (..) at SECONDS`. \
Run inside a namespace with `ip netns exec`."
)]
pub(crate) struct BgpArgs {
    /// Our AS.
    #[arg(long)]
    pub local_as: u32,
    /// The peer's AS.
    #[arg(long)]
    pub peer_as: u32,
    /// The peer's address (port 179).
    #[arg(long)]
    pub peer: IpAddr,
    /// Our IPv4 address: BGP Identifier (unless --router-id) and the NEXT_HOP of IPv4 routes.
    #[arg(long)]
    pub local: Ipv4Addr,
    /// Our IPv6 next hop for IPv6 routes.
    #[arg(long)]
    pub local_v6: Option<Ipv6Addr>,
    /// BGP Identifier (default: --local).
    #[arg(long)]
    pub router_id: Option<Ipv4Addr>,
    /// Wait for the peer to connect (listen on port 179) instead of connecting.
    #[arg(long)]
    pub passive: bool,
    /// Hold time proposed, seconds (Azure: 180).
    #[arg(long, default_value_t = 180)]
    pub hold: u16,
    /// Keepalive interval, seconds (Azure: 60).
    #[arg(long, default_value_t = 60)]
    pub keepalive: u16,
    /// Seconds between connection attempts.
    #[arg(long, default_value_t = 5)]
    pub connect_retry: u64,
    /// Most prefixes accepted; above it the session ends with Cease 6/1.
    #[arg(long)]
    pub max_prefix: Option<u32>,
    /// Restart this many seconds after a max-prefix Cease.
    #[arg(long)]
    pub max_prefix_restart: Option<u64>,
    /// Prefixes to advertise from the start (repeat).
    #[arg(long = "announce", value_name = "PREFIX")]
    pub announce: Vec<IpNet>,
    /// Prefixes to advertise from the start, from a route list file (one
    /// prefix a line, `#` comments, gzip accepted): a full table.
    #[arg(long, value_name = "FILE")]
    pub announce_file: Option<std::path::PathBuf>,
    /// Run BFD to the peer (RFC 5880 asynchronous mode, RFC 5881 single hop:
    /// UDP 3784, TTL 255); BFD going down ends the session at once with
    /// Cease 6/10 (BFD Down, RFC 9384) instead of waiting for the hold timer.
    #[arg(long)]
    pub bfd: bool,
    /// BFD interval both ways, milliseconds (Azure's MSEE: 300).
    #[arg(long, default_value_t = 300, value_name = "MS")]
    pub bfd_interval: u64,
    /// BFD detection multiplier (Azure's MSEE: 3).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u8).range(1..))]
    pub bfd_multiplier: u8,
}

/// Runs the session until `stop` or end of stdin.
pub(crate) fn run(args: BgpArgs) -> ExitCode {
    let mut config = PeerConfig::new(
        args.local_as,
        args.peer_as,
        args.router_id.unwrap_or(args.local),
    );
    config.local_v4 = Some(args.local);
    config.local_v6 = args.local_v6;
    config.hold_time = args.hold;
    config.keepalive = args.keepalive;
    config.passive = args.passive;
    config.connect_retry = Duration::from_secs(args.connect_retry);
    config.idle_hold = Some(Duration::from_secs(1));
    config.import.max_prefix = args.max_prefix.map(|limit| MaxPrefix {
        limit,
        restart_after: args.max_prefix_restart.map(Duration::from_secs),
    });
    let listener = if args.passive {
        match TcpListener::bind((Ipv4Addr::UNSPECIFIED, BGP_PORT)) {
            Ok(listener) if listener.set_nonblocking(true).is_ok() => Some(listener),
            Ok(_) | Err(_) => {
                eprintln!("erdp bgp: cannot listen on port {BGP_PORT}");
                return ExitCode::from(EXIT_USAGE);
            }
        }
    } else {
        None
    };
    let start = Instant::now();
    let bfd = if args.bfd {
        let interval = Duration::from_millis(args.bfd_interval.max(1));
        let discriminator = std::process::id().max(1);
        let config = BfdConfig::new(interval, args.bfd_multiplier, discriminator);
        match BfdLink::open(config, args.peer, Duration::ZERO) {
            Ok(link) => Some(link),
            Err(error) => {
                eprintln!("erdp bgp: --bfd: {error}");
                return ExitCode::from(EXIT_USAGE);
            }
        }
    } else {
        None
    };
    let mut driver = Driver {
        peer: Peer::new(config),
        bfd,
        rib: Rib::default(),
        stream: None,
        listener,
        remote: SocketAddr::new(args.peer, BGP_PORT),
        start,
        published_at: Duration::ZERO,
        backlog: false,
    };
    driver.peer.announce(&args.announce);
    if let Some(path) = &args.announce_file {
        match RouteFile::load(path) {
            Ok(file) => {
                let mut seen = std::collections::HashSet::with_capacity(file.routes.len());
                let prefixes: Vec<IpNet> = file
                    .routes
                    .iter()
                    .map(|route| route.prefix)
                    .filter(|prefix| seen.insert(*prefix))
                    .collect();
                driver.peer.announce(&prefixes);
            }
            Err(error) => {
                eprintln!("erdp bgp: --announce-file {error}");
                return ExitCode::from(EXIT_USAGE);
            }
        }
    }
    let commands = stdin_lines();
    let now = driver.now();
    driver.peer.start(now);
    loop {
        match commands.try_recv() {
            Ok(line) => {
                if !driver.command(line.trim()) {
                    break;
                }
            }
            Err(mpsc::TryRecvError::Disconnected) => break,
            Err(mpsc::TryRecvError::Empty) => {}
        }
        driver.turn();
    }
    ExitCode::SUCCESS
}

/// Stdin lines on a channel (closed at end of input).
fn stdin_lines() -> mpsc::Receiver<String> {
    let (send, receive) = mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if send.send(line).is_err() {
                break;
            }
        }
    });
    receive
}

struct Driver {
    peer: Peer,
    bfd: Option<BfdLink>,
    rib: Rib,
    stream: Option<TcpStream>,
    listener: Option<TcpListener>,
    remote: SocketAddr,
    start: Instant,
    /// When the RIB last published to the FIB.
    published_at: Duration,
    /// This turn read bytes: more may be streaming in.
    backlog: bool,
}

impl Driver {
    fn now(&self) -> Duration {
        self.start.elapsed()
    }

    /// One stdin command; false to stop.
    fn command(&mut self, line: &str) -> bool {
        let (verb, rest) = line.split_once(' ').unwrap_or((line, ""));
        let prefix = rest.trim().parse::<IpNet>();
        match (verb, prefix) {
            ("announce", Ok(prefix)) => self.peer.announce(&[prefix.trunc()]),
            ("withdraw", Ok(prefix)) => self.peer.withdraw(&[prefix.trunc()]),
            ("routes", _) => self.print_routes(),
            ("time", _) => outln!("time {:.3}", self.now().as_secs_f64()),
            ("stop", _) => {
                let now = self.now();
                if let Err(error) = self.peer.stop(now, &mut self.rib) {
                    outln!("error {error}");
                }
                self.flush_and_handle_events();
                return false;
            }
            _ => outln!("error unknown command {line:?}"),
        }
        self.flush_and_handle_events();
        true
    }

    fn print_routes(&mut self) {
        // What the RIB learned is what the FIB shows.
        self.rib.publish();
        let fib = self.rib.reader().load_full();
        let mut routes: Vec<_> = self.peer.adj_rib_in().iter().collect();
        routes.sort_by_key(|(prefix, _)| *prefix);
        for (prefix, path) in &routes {
            let as_path: Vec<String> = path
                .attributes
                .as_path
                .iter()
                .flat_map(|p| p.asns())
                .map(|asn| asn.to_string())
                .collect();
            let installed = fib
                .lookup(prefix.network())
                .map(|found| {
                    let via = fib
                        .select(found.group, 0)
                        .and_then(|hop| hop.via)
                        .map_or_else(|| "-".to_string(), |via| via.to_string());
                    format!("{} via {via}", found.prefix(prefix.network()))
                })
                .unwrap_or_else(|| "none".into());
            // A received path always has a next-hop address.
            let via = path.next_hop().via.map(|via| via.to_string());
            outln!(
                "route {prefix} via {} path [{}] fib {installed}",
                via.unwrap_or_default(),
                as_path.join(" ")
            );
        }
        outln!("routes-end {}", routes.len());
    }

    /// Accepts or reads, runs the timers, sends, reports events.
    fn turn(&mut self) {
        if let (Some(listener), None) = (&self.listener, &self.stream)
            && let Ok((stream, _)) = listener.accept()
            && self.peer.state() == State::Active
            && stream.set_nonblocking(false).is_ok()
        {
            // A connection in any other state is closed unanswered.
            let _ = stream.set_nodelay(true);
            let _ = stream.set_read_timeout(Some(TURN));
            self.stream = Some(stream);
            let now = self.now();
            self.peer.connected(now);
        }
        let mut buffer = [0u8; 65536];
        self.backlog = false;
        match self.stream.as_mut().map(|s| s.read(&mut buffer)) {
            None => std::thread::sleep(TURN),
            Some(Ok(len)) if len > 0 => {
                self.backlog = true;
                let now = self.now();
                if let Err(error) = self.peer.receive(now, &buffer[..len], &mut self.rib) {
                    outln!("error {error}");
                }
            }
            Some(Err(error))
                if matches!(
                    error.kind(),
                    ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                ) => {}
            // End of stream or a socket error: the connection is gone.
            Some(_) => {
                self.stream = None;
                let now = self.now();
                let _ = self.peer.connection_closed(now, &mut self.rib);
            }
        }
        self.run_bfd();
        let now = self.now();
        if let Err(error) = self.peer.poll(now, &mut self.rib) {
            outln!("error {error}");
        }
        // While a table streams in, publish every PUBLISH_EVERY rather than
        // every read (each publish copies the FIB's changed regions; readers
        // keep the previous FIB meanwhile); at once when the peer pauses.
        if !self.backlog || now.saturating_sub(self.published_at) >= PUBLISH_EVERY {
            self.rib.publish();
            self.published_at = now;
        }
        self.flush_and_handle_events();
    }

    /// BFD's packets in and out; a session that was Up going down takes
    /// BGP down, unless the peer turned BFD off (AdminDown, RFC 5882 3.2).
    fn run_bfd(&mut self) {
        let now = self.now();
        let Some(link) = self.bfd.as_mut() else {
            return;
        };
        link.turn(now);
        for BfdEvent::StateChanged {
            from,
            to,
            diagnostic,
            remote_state,
            at,
        } in link.session.take_events()
        {
            outln!(
                "bfd state {to} diag {diagnostic} at {:.3}",
                at.as_secs_f64()
            );
            if (from, to) == (BfdState::Up, BfdState::Down) && remote_state != BfdState::AdminDown {
                if let Err(error) = self.peer.bfd_down(at, &mut self.rib) {
                    outln!("error {error}");
                }
                self.flush_and_handle_events();
            }
        }
    }

    fn flush_and_handle_events(&mut self) {
        let output = self.peer.take_output();
        if let Some(stream) = self.stream.as_mut()
            && !output.is_empty()
            && stream.write_all(&output).is_err()
        {
            self.stream = None;
            let now = self.now();
            let _ = self.peer.connection_closed(now, &mut self.rib);
        }
        for event in self.peer.take_events() {
            match event {
                Event::Connect => self.connect(),
                Event::Disconnect => {
                    if let Some(stream) = self.stream.take() {
                        let _ = stream.shutdown(std::net::Shutdown::Both);
                    }
                }
                Event::StateChanged { to, at, .. } => {
                    outln!("state {to} at {:.3}", at.as_secs_f64())
                }
                Event::NotificationSent(n) => outln!("notification sent {n}"),
                Event::NotificationReceived(n) => outln!("notification received {n}"),
                Event::Updated {
                    announced,
                    withdrawn,
                    treat_as_withdraw,
                } => match treat_as_withdraw {
                    Some(error) => {
                        outln!("update +{announced} -{withdrawn} treat-as-withdraw {error}")
                    }
                    None => outln!("update +{announced} -{withdrawn}"),
                },
                Event::EndOfRib(family) => outln!("end-of-rib {}", family_name(family)),
            }
        }
        let _ = super::stdout::Stdout.flush();
    }

    fn connect(&mut self) {
        match TcpStream::connect_timeout(&self.remote, Duration::from_secs(2)) {
            Ok(stream) => {
                let _ = stream.set_nodelay(true);
                let _ = stream.set_read_timeout(Some(TURN));
                self.stream = Some(stream);
                let now = self.now();
                self.peer.connected(now);
                self.flush_and_handle_events();
            }
            Err(error) => {
                outln!("connect {} failed: {error}", self.remote);
                let now = self.now();
                self.peer.connect_failed(now);
            }
        }
    }
}

fn family_name(family: Family) -> &'static str {
    match family {
        Family::Ipv4Unicast => "ipv4-unicast",
        Family::Ipv6Unicast => "ipv6-unicast",
    }
}
