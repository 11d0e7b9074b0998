//! Connection collision resolution (RFC 4271 6.8): when both speakers
//! connect at once, the connection initiated by the speaker with the higher
//! BGP Identifier survives and the other is closed with Cease 6/7
//! "Connection Collision Resolution".

use std::net::Ipv4Addr;

/// Which of two connections to the same peer survives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Collision {
    /// Keep the connection the session already has; close the new one.
    KeepExisting,
    /// Close the existing connection (Cease 6/7) and continue on the new
    /// one, which the peer initiated.
    KeepIncoming,
}

/// RFC 4271 6.8 for a new connection the peer initiated, against an
/// existing one (initiated by us if `existing_initiated_locally`): keep the
/// connection initiated by the higher BGP Identifier (compared as
/// unsigned 32-bit integers).
pub fn resolve(
    local_id: Ipv4Addr,
    remote_id: Ipv4Addr,
    existing_initiated_locally: bool,
) -> Collision {
    if existing_initiated_locally && u32::from(local_id) < u32::from(remote_id) {
        Collision::KeepIncoming
    } else {
        Collision::KeepExisting
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_higher_identifier_keeps_the_connection_it_initiated() {
        let low = Ipv4Addr::new(10, 0, 0, 1);
        let high = Ipv4Addr::new(10, 0, 0, 2);
        // We are lower: the peer's connection wins.
        assert_eq!(resolve(low, high, true), Collision::KeepIncoming);
        // We are higher: ours wins.
        assert_eq!(resolve(high, low, true), Collision::KeepExisting);
        // Compared as integers, not as text: 9.x < 10.x.
        assert_eq!(
            resolve(Ipv4Addr::new(9, 255, 255, 255), high, true),
            Collision::KeepIncoming
        );
        // Both connections from the peer: the first stays.
        assert_eq!(resolve(low, high, false), Collision::KeepExisting);
    }
}
