//! Dead Peer Detection (RFC 7296 section 2.4): when nothing has been heard
//! from the peer for [`IkeConfig::dpd_delay`], an empty INFORMATIONAL
//! request asks whether it is alive; [`Ike::poll`] declares it dead when
//! the check stays unanswered (retransmissions exhausted, or silence for
//! [`IkeConfig::dpd_timeout`]). The driver reports ESP from the peer with
//! [`Ike::traffic_received`]: protected traffic proves liveness, so a busy
//! tunnel sends no checks.
//!
//! [`IkeConfig::dpd_delay`]: super::IkeConfig::dpd_delay
//! [`IkeConfig::dpd_timeout`]: super::IkeConfig::dpd_timeout

use std::time::Duration;

use super::exchange::{Request, State};
use super::{Ike, IkeDrop, Output};
use crate::wire::ike::{PayloadChain, exchange};

impl Ike {
    /// The peer was heard from at `now` outside IKE (an ESP packet of one of
    /// its CHILD_SAs opened): no liveness check is needed before
    /// `now + dpd_delay`.
    pub fn traffic_received(&mut self, now: Duration) {
        for sa in self.sas.values_mut() {
            if sa.state == State::Established {
                sa.last_heard = sa.last_heard.max(now);
            }
        }
    }

    /// Sends a liveness check on every established SA that has been idle
    /// for `dpd_delay` and has no request outstanding.
    pub(super) fn start_liveness_checks(&mut self, now: Duration, out: &mut Output) {
        let Some(delay) = self.config.dpd_delay else {
            return;
        };
        self.each_idle_sa(
            |sa| now >= sa.last_heard + delay,
            |ike, sa| {
                let id = sa.next_request_id;
                let chain = PayloadChain::new();
                match ike.seal(sa, exchange::INFORMATIONAL, id, false, chain) {
                    Some(bytes) => {
                        ike.send_request(sa, id, bytes, now, out);
                        if let Some(p) = sa.pending.as_mut() {
                            p.request = Request::Liveness;
                        }
                    }
                    None => ike.count_drop(IkeDrop::Internal),
                }
            },
        );
    }
}
