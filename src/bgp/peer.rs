//! One BGP session as a sans-I/O state machine (RFC 4271 section 8): bytes
//! from the peer and the clock go in; bytes to send, [`Event`]s and RIB
//! changes come out. The driver owns the TCP connection and the clock (real
//! time in `erdp bgp`, virtual time in tests and the emulator).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;

use super::adj_rib_in::{AdjRibIn, ReceivedPath, RibBinding};
use super::collision::{Collision, resolve};
use super::config::PeerConfig;
use crate::rib::{Rib, RibError};
use crate::wire::bgp::{
    self, AsPath, Capabilities, Family, Notification, Open, PathAttributes, RouteRefresh, Update,
    cease, code, message_type, open_error,
};

/// Hold time while waiting for the peer's OPEN (RFC 4271 8: "4 minutes").
const OPEN_HOLD_TIME: Duration = Duration::from_secs(240);

/// The session states of RFC 4271 8.2.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// Not trying.
    Idle,
    /// Waiting for our TCP connection to complete.
    Connect,
    /// Waiting for the peer to connect (passive, or after a failed connect).
    Active,
    /// OPEN sent, waiting for the peer's.
    OpenSent,
    /// OPENs exchanged, waiting for a KEEPALIVE.
    OpenConfirm,
    /// Exchanging routes.
    Established,
}

impl std::fmt::Display for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self, f)
    }
}

/// What happened, for the driver and the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The state changed at `at` (the driver's clock).
    StateChanged {
        /// Previous state.
        from: State,
        /// New state.
        to: State,
        /// When.
        at: Duration,
    },
    /// Open a TCP connection to the peer, then call [`Peer::connected`].
    Connect,
    /// Send what is pending, then close the TCP connection.
    Disconnect,
    /// We sent this NOTIFICATION.
    NotificationSent(Notification),
    /// The peer sent this NOTIFICATION.
    NotificationReceived(Notification),
    /// An UPDATE was applied.
    Updated {
        /// Prefixes announced.
        announced: u32,
        /// Prefixes withdrawn (treat-as-withdraw included).
        withdrawn: u32,
        /// The RFC 7606 error that turned announcements into withdrawals.
        treat_as_withdraw: Option<bgp::AttributeError>,
    },
    /// The peer finished its initial table for a family (RFC 4724).
    EndOfRib(Family),
}

/// Counters for the report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PeerCounters {
    /// Messages received.
    pub messages_in: u64,
    /// UPDATEs received.
    pub updates_in: u64,
    /// UPDATEs treated as withdraw (RFC 7606).
    pub treat_as_withdraw: u64,
    /// Attributes discarded (RFC 7606).
    pub attributes_discarded: u64,
    /// Routes refused because our AS is in their path (RFC 4271 9.1.2).
    pub as_loops: u64,
    /// Sessions established.
    pub established: u64,
}

/// What the OPEN exchange settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Negotiated {
    /// Hold time: the lower of both proposals (0: no keepalives).
    pub hold_time: u16,
    /// Our keepalive interval.
    pub keepalive: Duration,
    /// Both sides announced 4-octet ASNs.
    pub four_octet: bool,
    /// The peer can take ROUTE-REFRESH.
    pub route_refresh: bool,
    /// The peer's BGP Identifier.
    pub peer_id: Ipv4Addr,
}

/// One BGP session.
#[derive(Debug)]
pub struct Peer {
    config: PeerConfig,
    state: State,
    negotiated: Option<Negotiated>,
    connect_retry_at: Option<Duration>,
    hold_at: Option<Duration>,
    keepalive_at: Option<Duration>,
    restart_at: Option<Duration>,
    /// A partial message carried to the next `receive`.
    input: Vec<u8>,
    output: Vec<u8>,
    events: Vec<Event>,
    adj_rib_in: AdjRibIn,
    /// Prefixes we advertise (before export policy), in order.
    advertised: Vec<IpNet>,
    counters: PeerCounters,
    /// The connection came from our connect (Connect), not the peer's (Active).
    initiated_locally: bool,
}

impl Peer {
    /// A session in Idle.
    pub fn new(config: PeerConfig) -> Self {
        Self {
            config,
            state: State::Idle,
            negotiated: None,
            connect_retry_at: None,
            hold_at: None,
            keepalive_at: None,
            restart_at: None,
            input: Vec::new(),
            output: Vec::new(),
            events: Vec::new(),
            adj_rib_in: AdjRibIn::default(),
            advertised: Vec::new(),
            counters: PeerCounters::default(),
            initiated_locally: false,
        }
    }

    /// The state.
    pub fn state(&self) -> State {
        self.state
    }

    /// The configuration.
    pub fn config(&self) -> &PeerConfig {
        &self.config
    }

    /// What the OPEN exchange settled (OpenConfirm and Established).
    pub fn negotiated(&self) -> Option<Negotiated> {
        self.negotiated
    }

    /// Routes received from the peer.
    pub fn adj_rib_in(&self) -> &AdjRibIn {
        &self.adj_rib_in
    }

    /// Counters.
    pub fn counters(&self) -> PeerCounters {
        self.counters
    }

    /// Takes the bytes to send to the peer.
    pub fn take_output(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.output)
    }

    /// Takes the events since the last call.
    pub fn take_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.events)
    }

    /// The earliest time [`Peer::poll`] has work to do.
    pub fn next_deadline(&self) -> Option<Duration> {
        [
            self.connect_retry_at,
            self.hold_at,
            self.keepalive_at,
            self.restart_at,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    fn binding(&self) -> RibBinding {
        RibBinding {
            interface: self.config.interface,
            session: self.config.rib_session,
            internal: self.config.local_as == self.config.peer_as,
        }
    }

    fn set_state(&mut self, to: State, now: Duration) {
        if to != self.state {
            self.events.push(Event::StateChanged {
                from: self.state,
                to,
                at: now,
            });
            if to == State::Established {
                self.counters.established += 1;
            }
            self.state = to;
        }
    }

    /// ManualStart (RFC 4271 8.1.2): active sessions ask for a connection,
    /// passive ones wait for the peer's.
    pub fn start(&mut self, now: Duration) {
        if self.state != State::Idle {
            return;
        }
        self.restart_at = None;
        if self.config.passive {
            self.set_state(State::Active, now);
        } else {
            self.connect_retry_at = Some(now + self.config.connect_retry);
            self.set_state(State::Connect, now);
            self.events.push(Event::Connect);
        }
    }

    /// ManualStop: Cease "Administrative Shutdown", routes withdrawn, Idle
    /// without automatic restart.
    pub fn stop(&mut self, now: Duration, rib: &mut Rib) -> Result<(), RibError> {
        let notification = Notification::new(code::CEASE, cease::ADMINISTRATIVE_SHUTDOWN);
        self.go_down(now, Some(notification), None, rib)
    }

    /// The TCP connection is up (ours or the peer's): send OPEN.
    pub fn connected(&mut self, now: Duration) {
        if !matches!(self.state, State::Connect | State::Active) {
            return;
        }
        self.initiated_locally = self.state == State::Connect;
        self.connect_retry_at = None;
        self.input.clear();
        let families = self.config.families.clone();
        Open {
            asn: self.config.local_as,
            hold_time: self.config.hold_time,
            bgp_id: self.config.router_id,
            capabilities: Capabilities {
                families,
                route_refresh: true,
                four_octet_as: Some(self.config.local_as),
            },
        }
        .encode(&mut self.output);
        self.hold_at = Some(now + OPEN_HOLD_TIME);
        self.set_state(State::OpenSent, now);
    }

    /// Our connection attempt failed: wait in Active for the retry timer.
    pub fn connect_failed(&mut self, now: Duration) {
        if self.state == State::Connect {
            self.set_state(State::Active, now);
        }
    }

    /// The BFD session protecting this one went down (RFC 5882 4.3): the
    /// session ends at once, without waiting for the hold timer. Like FRR,
    /// we send Cease "BFD Down" (RFC 9384, 6/10) in case the path still
    /// carries it one way, withdraw the routes and restart after the idle
    /// hold time. Nothing happens outside OpenSent, OpenConfirm and
    /// Established.
    pub fn bfd_down(&mut self, now: Duration, rib: &mut Rib) -> Result<(), RibError> {
        if !self.is_connected() {
            return Ok(());
        }
        let notification = Notification::new(code::CEASE, cease::BFD_DOWN);
        let restart = self.config.idle_hold;
        self.go_down(now, Some(notification), restart, rib)
    }

    /// The peer's `open` arrived on a second connection it initiated (the
    /// driver read it there). RFC 4271 6.8: against a connection in
    /// OpenConfirm, the higher BGP Identifier keeps the connection it
    /// initiated; an Established session (or one in OpenSent, whose peer
    /// Identifier is not known yet) keeps its connection. On
    /// [`Collision::KeepIncoming`] the existing connection gets Cease 6/7
    /// and a Disconnect, the session returns to Active, and the driver then
    /// calls [`Peer::connected`] for the new connection and hands it the
    /// OPEN with [`Peer::receive`]. On [`Collision::KeepExisting`] the
    /// driver closes the new connection after [`Peer::collision_notification`].
    pub fn incoming_open(&mut self, now: Duration, open: &Open) -> Collision {
        let existing = match (self.state, self.negotiated) {
            (State::OpenConfirm, Some(negotiated)) if negotiated.peer_id == open.bgp_id => {
                resolve(self.config.router_id, open.bgp_id, self.initiated_locally)
            }
            _ => Collision::KeepExisting,
        };
        if existing == Collision::KeepIncoming {
            let notification = Self::collision_notification();
            notification.encode(&mut self.output);
            self.events.push(Event::NotificationSent(notification));
            self.events.push(Event::Disconnect);
            self.negotiated = None;
            self.hold_at = None;
            self.keepalive_at = None;
            self.input.clear();
            self.set_state(State::Active, now);
        }
        existing
    }

    /// The NOTIFICATION that closes the losing connection of a collision.
    pub fn collision_notification() -> Notification {
        Notification::new(code::CEASE, cease::CONNECTION_COLLISION)
    }

    /// The TCP connection closed under us: routes withdrawn, restart later.
    pub fn connection_closed(&mut self, now: Duration, rib: &mut Rib) -> Result<(), RibError> {
        if self.state == State::Idle {
            return Ok(());
        }
        let restart = self.config.idle_hold;
        self.go_down(now, None, restart, rib)
    }

    /// Bytes from the peer. Every complete message is handled; a partial
    /// one waits for the next call (at most one message is buffered).
    pub fn receive(&mut self, now: Duration, bytes: &[u8], rib: &mut Rib) -> Result<(), RibError> {
        if !matches!(
            self.state,
            State::OpenSent | State::OpenConfirm | State::Established
        ) {
            return Ok(());
        }
        let mut pending = std::mem::take(&mut self.input);
        let used = if pending.is_empty() {
            // The common case: no partial message, decode in place.
            let used = self.receive_stream(now, bytes, rib)?;
            pending.extend_from_slice(used.map_or(&[][..], |used| &bytes[used..]));
            None
        } else {
            pending.extend_from_slice(bytes);
            self.receive_stream(now, &pending, rib)?
        };
        if let Some(used) = used {
            pending.drain(..used);
        }
        // What is left is less than one message: framing consumed the rest.
        if self.is_connected() {
            self.input = pending;
        }
        Ok(())
    }

    fn is_connected(&self) -> bool {
        matches!(
            self.state,
            State::OpenSent | State::OpenConfirm | State::Established
        )
    }

    /// Handles the complete messages at the start of `stream`; returns how
    /// many bytes they took (`None`: the session went down).
    fn receive_stream(
        &mut self,
        now: Duration,
        stream: &[u8],
        rib: &mut Rib,
    ) -> Result<Option<usize>, RibError> {
        let mut used = 0;
        while self.is_connected() {
            match bgp::frame(&stream[used..]) {
                Ok(Some(framed)) => {
                    used += framed.len;
                    self.counters.messages_in += 1;
                    if let Err(error) = self.handle(now, framed.message_type, framed.body, rib)? {
                        let restart = self.config.idle_hold;
                        self.go_down(now, Some(error), restart, rib)?;
                        return Ok(None);
                    }
                }
                Ok(None) => return Ok(Some(used)),
                Err(error) => {
                    let restart = self.config.idle_hold;
                    self.go_down(now, Some(error), restart, rib)?;
                    return Ok(None);
                }
            }
        }
        Ok(None)
    }

    /// One message. The inner `Err` is the NOTIFICATION ending the session.
    fn handle(
        &mut self,
        now: Duration,
        message_type: u8,
        body: &[u8],
        rib: &mut Rib,
    ) -> Result<Result<(), Notification>, RibError> {
        if message_type == message_type::NOTIFICATION {
            let received = Notification::decode(body).unwrap_or_else(|error| error);
            self.events.push(Event::NotificationReceived(received));
            let restart = self.config.idle_hold;
            self.go_down(now, None, restart, rib)?;
            return Ok(Ok(()));
        }
        if let Some(hold) = self.negotiated.map(|n| n.hold_time).filter(|&h| h > 0) {
            self.hold_at = Some(now + Duration::from_secs(u64::from(hold)));
        }
        // RFC 6608: FSM error subcodes name the state the surprise came in.
        let fsm_error = |state: State| {
            let subcode = match state {
                State::OpenSent => 1,
                State::OpenConfirm => 2,
                _ => 3,
            };
            Err(Notification::new(code::FSM, subcode))
        };
        Ok(match (self.state, message_type) {
            (State::OpenSent, message_type::OPEN) => match Open::decode(body) {
                Ok(open) => self.accept_open(now, &open),
                Err(error) => Err(error),
            },
            (State::OpenConfirm, message_type::KEEPALIVE) => {
                self.set_state(State::Established, now);
                self.send_table(None);
                Ok(())
            }
            (State::Established, message_type::KEEPALIVE) => Ok(()),
            (State::Established, message_type::UPDATE) => {
                let four_octet = self.negotiated.is_some_and(|n| n.four_octet);
                match Update::decode(body, four_octet) {
                    Ok(update) => self.apply_update(&update, rib)?,
                    Err(error) => Err(error),
                }
            }
            (State::Established, message_type::ROUTE_REFRESH) => match RouteRefresh::decode(body) {
                Ok(refresh) => {
                    if let Some(family) = Family::from_afi_safi(refresh.afi, refresh.safi) {
                        self.send_table(Some(family));
                    }
                    Ok(())
                }
                Err(error) => Err(error),
            },
            (state, _) => fsm_error(state),
        })
    }

    /// Checks the peer's OPEN (RFC 4271 6.2) and negotiates.
    fn accept_open(&mut self, now: Duration, open: &Open) -> Result<(), Notification> {
        if open.asn != self.config.peer_as {
            let two_octet = u16::try_from(open.asn).unwrap_or(bgp::AS_TRANS as u16);
            return Err(Notification::with_data(
                code::OPEN_MESSAGE,
                open_error::BAD_PEER_AS,
                &two_octet.to_be_bytes(),
            ));
        }
        if open.bgp_id == self.config.router_id {
            return Err(Notification::new(
                code::OPEN_MESSAGE,
                open_error::BAD_BGP_IDENTIFIER,
            ));
        }
        if open.hold_time != 0 && open.hold_time < self.config.min_hold_time {
            return Err(Notification::new(
                code::OPEN_MESSAGE,
                open_error::UNACCEPTABLE_HOLD_TIME,
            ));
        }
        let hold_time = open.hold_time.min(self.config.hold_time);
        let keepalive =
            Duration::from_secs(u64::from((hold_time / 3).min(self.config.keepalive).max(1)));
        let negotiated = Negotiated {
            hold_time,
            keepalive,
            four_octet: open.capabilities.four_octet_as.is_some(),
            route_refresh: open.capabilities.route_refresh,
            peer_id: open.bgp_id,
        };
        self.negotiated = Some(negotiated);
        bgp::encode_keepalive(&mut self.output);
        if hold_time == 0 {
            self.hold_at = None;
            self.keepalive_at = None;
        } else {
            self.hold_at = Some(now + Duration::from_secs(u64::from(hold_time)));
            self.keepalive_at = Some(now + keepalive);
        }
        self.set_state(State::OpenConfirm, now);
        Ok(())
    }

    /// Applies an UPDATE to the Adj-RIB-In and the RIB; the inner `Err` is
    /// the Cease when the prefix limit is crossed.
    fn apply_update(
        &mut self,
        update: &Update<'_>,
        rib: &mut Rib,
    ) -> Result<Result<(), Notification>, RibError> {
        self.counters.updates_in += 1;
        self.counters.attributes_discarded += u64::from(update.discarded);
        if let Some(family) = update.end_of_rib() {
            self.events.push(Event::EndOfRib(family));
            return Ok(Ok(()));
        }
        let binding = self.binding();
        let mut withdrawn = 0u32;
        let mp_withdrawn = update.mp_unreach.into_iter().flat_map(|mp| mp.withdrawn);
        for prefix in update.withdrawn.chain(mp_withdrawn) {
            withdrawn += u32::from(self.adj_rib_in.withdraw(prefix, rib)?);
        }
        let as_loop = update
            .attributes
            .as_path
            .as_ref()
            .is_some_and(|path| path.asns().any(|asn| asn == self.config.local_as));
        self.counters.as_loops += u64::from(as_loop);
        let mut announced = 0u32;
        let reach = update.mp_reach;
        if update.treat_as_withdraw.is_some() || as_loop {
            self.counters.treat_as_withdraw += u64::from(update.treat_as_withdraw.is_some());
            for prefix in update.nlri.chain(reach.into_iter().flat_map(|mp| mp.nlri)) {
                withdrawn += u32::from(self.adj_rib_in.withdraw(prefix, rib)?);
            }
        } else {
            let policy = &self.config.import;
            let peer_as = self.config.peer_as;
            if let (Some(next_hop), false) = (update.attributes.next_hop, update.nlri.is_empty()) {
                let attributes = update.attributes.clone();
                let path = ReceivedPath::new(attributes, next_hop.into(), policy, peer_as, binding);
                let path = Arc::new(path);
                for prefix in update.nlri {
                    self.adj_rib_in.insert(prefix, &path, policy, rib)?;
                    announced += 1;
                }
            }
            if let Some(reach) = reach.filter(|mp| !mp.nlri.is_empty()) {
                let next_hop = match (reach.next_hop, reach.link_local) {
                    (IpAddr::V6(global), Some(link_local)) if global.is_unspecified() => {
                        IpAddr::V6(link_local)
                    }
                    (next_hop, _) => next_hop,
                };
                let attributes = update.attributes.clone();
                let path = ReceivedPath::new(attributes, next_hop, policy, peer_as, binding);
                let path = Arc::new(path);
                for prefix in reach.nlri {
                    self.adj_rib_in.insert(prefix, &path, policy, rib)?;
                    announced += 1;
                }
            }
        }
        self.events.push(Event::Updated {
            announced,
            withdrawn,
            treat_as_withdraw: update.treat_as_withdraw,
        });
        if let Some(limit) = self.config.import.max_prefix
            && self.adj_rib_in.accepted() > limit.limit as usize
        {
            // RFC 4486 4: AFI, SAFI and the limit as data.
            let family = match reach.filter(|mp| !mp.nlri.is_empty()) {
                Some(mp) => mp.family,
                None => Family::Ipv4Unicast,
            };
            let (afi, safi) = family.afi_safi();
            let mut data = afi.to_be_bytes().to_vec();
            data.push(safi);
            data.extend_from_slice(&limit.limit.to_be_bytes());
            return Ok(Err(Notification::with_data(
                code::CEASE,
                cease::MAX_PREFIXES,
                &data,
            )));
        }
        Ok(Ok(()))
    }

    /// Timers: connect retry, hold, keepalive, automatic restart.
    pub fn poll(&mut self, now: Duration, rib: &mut Rib) -> Result<(), RibError> {
        if self.restart_at.is_some_and(|at| now >= at) {
            self.restart_at = None;
            self.start(now);
        }
        if self.connect_retry_at.is_some_and(|at| now >= at) {
            self.connect_retry_at = Some(now + self.config.connect_retry);
            if matches!(self.state, State::Connect | State::Active) && !self.config.passive {
                self.set_state(State::Connect, now);
                self.events.push(Event::Connect);
            }
        }
        if self.hold_at.is_some_and(|at| now >= at) {
            let expired = Notification::new(code::HOLD_TIMER_EXPIRED, 0);
            let restart = self.config.idle_hold;
            return self.go_down(now, Some(expired), restart, rib);
        }
        if let (Some(at), Some(negotiated)) = (self.keepalive_at, self.negotiated)
            && now >= at
        {
            bgp::encode_keepalive(&mut self.output);
            self.keepalive_at = Some(now + negotiated.keepalive);
        }
        Ok(())
    }

    /// Ends the session: NOTIFICATION if given, close, routes withdrawn,
    /// Idle; restart after `restart` (the max-prefix rule has its own).
    fn go_down(
        &mut self,
        now: Duration,
        notification: Option<Notification>,
        restart: Option<Duration>,
        rib: &mut Rib,
    ) -> Result<(), RibError> {
        let restart = match &notification {
            Some(n) if (n.code, n.subcode) == (code::CEASE, cease::MAX_PREFIXES) => self
                .config
                .import
                .max_prefix
                .and_then(|limit| limit.restart_after),
            _ => restart,
        };
        if let Some(notification) = notification.filter(|_| self.is_connected()) {
            notification.encode(&mut self.output);
            self.events.push(Event::NotificationSent(notification));
        }
        if self.state != State::Idle {
            self.events.push(Event::Disconnect);
        }
        self.negotiated = None;
        self.connect_retry_at = None;
        self.hold_at = None;
        self.keepalive_at = None;
        self.restart_at = restart.map(|after| now + after);
        self.input.clear();
        self.set_state(State::Idle, now);
        self.adj_rib_in.clear(rib)?;
        Ok(())
    }

    /// Advertises `prefixes` (sent at once when Established, else on establishment).
    pub fn announce(&mut self, prefixes: &[IpNet]) {
        let new: Vec<IpNet> = prefixes
            .iter()
            .filter(|p| !self.advertised.contains(p))
            .copied()
            .collect();
        self.advertised.extend(&new);
        if self.state == State::Established {
            self.send_routes(&new, None);
        }
    }

    /// Stops advertising `prefixes` (withdrawn at once when Established).
    pub fn withdraw(&mut self, prefixes: &[IpNet]) {
        self.advertised.retain(|p| !prefixes.contains(p));
        if self.state != State::Established {
            return;
        }
        let export = &self.config.export;
        for family in [Family::Ipv4Unicast, Family::Ipv6Unicast] {
            let of_family: Vec<IpNet> = prefixes
                .iter()
                .filter(|p| family_of(p) == family && export.permits(p))
                .copied()
                .collect();
            if !of_family.is_empty() {
                bgp::encode_withdraw(family, &of_family, &mut self.output);
            }
        }
    }

    /// Asks the peer to resend a family's routes (RFC 2918).
    pub fn request_refresh(&mut self, family: Family) {
        if self.state == State::Established && self.negotiated.is_some_and(|n| n.route_refresh) {
            let (afi, safi) = family.afi_safi();
            RouteRefresh { afi, safi }.encode(&mut self.output);
        }
    }

    /// Sends every advertised route (of one family, or all) and End-of-RIB.
    fn send_table(&mut self, only: Option<Family>) {
        let advertised = std::mem::take(&mut self.advertised);
        self.send_routes(&advertised, only);
        self.advertised = advertised;
        for family in [Family::Ipv4Unicast, Family::Ipv6Unicast] {
            if only.is_none_or(|f| f == family) && self.config.families.contains(&family) {
                bgp::encode_end_of_rib(family, &mut self.output);
            }
        }
    }

    /// Exports `prefixes` through export policy (RFC 4271 5.1: eBGP
    /// prepends our AS and sets NEXT_HOP to our address).
    fn send_routes(&mut self, prefixes: &[IpNet], only: Option<Family>) {
        let config = &self.config;
        let export = &config.export;
        let external = config.local_as != config.peer_as;
        let mut as_path = AsPath::default();
        let prepends = usize::from(export.prepend) + usize::from(external);
        if prepends > 0 {
            as_path.prepend(config.local_as, prepends);
        }
        let four_octet = self.negotiated.is_some_and(|n| n.four_octet);
        for family in [Family::Ipv4Unicast, Family::Ipv6Unicast] {
            if only.is_some_and(|f| f != family) || !config.families.contains(&family) {
                continue;
            }
            let of_family: Vec<IpNet> = prefixes
                .iter()
                .filter(|p| family_of(p) == family && export.permits(p))
                .copied()
                .collect();
            let (next_hop, v6_next_hop) = match family {
                Family::Ipv4Unicast => (config.local_v4, Ipv6Addr::UNSPECIFIED),
                Family::Ipv6Unicast => (None, config.local_v6.unwrap_or(Ipv6Addr::UNSPECIFIED)),
            };
            if of_family.is_empty() || (family == Family::Ipv4Unicast && next_hop.is_none()) {
                continue;
            }
            let attributes = PathAttributes {
                origin: Some(bgp::Origin::Igp),
                as_path: Some(as_path.clone()),
                next_hop,
                med: export.set_med,
                local_pref: (!external).then(|| export.set_local_pref.unwrap_or(100)),
                ..PathAttributes::default()
            };
            // Our attributes are a few dozen bytes: they always fit.
            let _ = bgp::encode_announce(
                family,
                &attributes,
                v6_next_hop,
                four_octet,
                &of_family,
                &mut self.output,
            );
        }
    }
}

fn family_of(prefix: &IpNet) -> Family {
    match prefix {
        IpNet::V4(_) => Family::Ipv4Unicast,
        IpNet::V6(_) => Family::Ipv6Unicast,
    }
}
