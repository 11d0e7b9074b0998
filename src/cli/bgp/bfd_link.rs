//! The UDP side of `erdp bgp --bfd` (RFC 5881): a socket on port 3784
//! that reports each datagram's TTL or hop limit (the session refuses
//! anything below 255), and a socket with a source port from 49152 that
//! sends with TTL 255, both non-blocking, around one [`Session`].

use std::io::IoSliceMut;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::time::Duration;

use nix::sys::socket::{
    ControlMessageOwned, MsgFlags, SockaddrStorage, recvmsg, setsockopt, sockopt,
};

use crate::bfd::{BfdConfig, Session};
use crate::wire::bfd::{BFD_PORT, BFD_SOURCE_PORT_MIN, BFD_TTL};

/// One BFD session to the BGP peer over UDP.
pub(super) struct BfdLink {
    pub(super) session: Session,
    receiver: UdpSocket,
    sender: UdpSocket,
    peer: SocketAddr,
    /// Room for the TTL control message, reused for every datagram.
    control: Vec<u8>,
}

impl BfdLink {
    /// Binds both sockets; the session starts sending at `now`.
    pub(super) fn open(config: BfdConfig, peer: IpAddr, now: Duration) -> Result<Self, String> {
        let any: IpAddr = match peer {
            IpAddr::V4(_) => Ipv4Addr::UNSPECIFIED.into(),
            IpAddr::V6(_) => Ipv6Addr::UNSPECIFIED.into(),
        };
        let receiver = UdpSocket::bind((any, BFD_PORT))
            .map_err(|e| format!("cannot listen on UDP port {BFD_PORT}: {e}"))?;
        let ttl_option = match peer {
            IpAddr::V4(_) => setsockopt(&receiver, sockopt::Ipv4RecvTtl, &true),
            IpAddr::V6(_) => setsockopt(&receiver, sockopt::Ipv6RecvHopLimit, &true),
        };
        ttl_option.map_err(|e| format!("cannot ask for the TTL of received packets: {e}"))?;
        // RFC 5881 4: the source port is in 49152-65535.
        let sender = (BFD_SOURCE_PORT_MIN..=u16::MAX)
            .find_map(|port| UdpSocket::bind((any, port)).ok())
            .ok_or("no free UDP source port from 49152")?;
        let ttl = match peer {
            IpAddr::V4(_) => sender
                .set_ttl(u32::from(BFD_TTL))
                .map_err(|e| e.to_string()),
            IpAddr::V6(_) => setsockopt(&sender, sockopt::Ipv6Ttl, &i32::from(BFD_TTL))
                .map_err(|e| e.to_string()),
        };
        ttl.map_err(|e| format!("cannot send with TTL 255: {e}"))?;
        for socket in [&receiver, &sender] {
            socket
                .set_nonblocking(true)
                .map_err(|e| format!("cannot make the BFD socket non-blocking: {e}"))?;
        }
        Ok(Self {
            session: Session::new(config, now),
            receiver,
            sender,
            peer: SocketAddr::new(peer, BFD_PORT),
            control: nix::cmsg_space!(i32),
        })
    }

    /// Hands every waiting datagram from the peer to the session (with its
    /// TTL), runs the timers and sends what the session has to send.
    pub(super) fn turn(&mut self, now: Duration) {
        let mut buffer = [0u8; 128];
        loop {
            let mut iov = [IoSliceMut::new(&mut buffer)];
            let received = recvmsg::<SockaddrStorage>(
                self.receiver.as_raw_fd(),
                &mut iov,
                Some(&mut self.control),
                MsgFlags::MSG_DONTWAIT,
            );
            let Ok(message) = received else { break };
            let ttl =
                message
                    .cmsgs()
                    .ok()
                    .into_iter()
                    .flatten()
                    .find_map(|control| match control {
                        ControlMessageOwned::Ipv4Ttl(ttl) => Some(i64::from(ttl)),
                        ControlMessageOwned::Ipv6HopLimit(limit) => Some(i64::from(limit)),
                        _ => None,
                    });
            let from = message.address.as_ref().and_then(source_ip);
            let len = message.bytes;
            // Datagrams from elsewhere belong to no session of ours.
            if from != Some(self.peer.ip()) {
                continue;
            }
            // No TTL reported: 0, which the session refuses.
            let ttl = ttl.and_then(|ttl| u8::try_from(ttl).ok()).unwrap_or(0);
            // Refusals are counted by the session.
            let _ = self
                .session
                .receive(now, ttl, &buffer[..len.min(buffer.len())]);
        }
        self.session.poll(now);
        while let Some(packet) = self.session.transmit() {
            // A lost packet is what BFD is there to notice.
            let _ = self.sender.send_to(&packet, self.peer);
        }
    }
}

fn source_ip(address: &SockaddrStorage) -> Option<IpAddr> {
    if let Some(v4) = address.as_sockaddr_in() {
        return Some(IpAddr::V4(v4.ip()));
    }
    address.as_sockaddr_in6().map(|v6| {
        let ip = v6.ip();
        ip.to_ipv4_mapped().map_or(IpAddr::V6(ip), IpAddr::V4)
    })
}
