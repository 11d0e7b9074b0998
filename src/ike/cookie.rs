//! Stateless cookies against IKE_SA_INIT floods (RFC 7296 section 2.6).
//! Past a threshold of half-open SAs the responder answers an
//! IKE_SA_INIT without a valid COOKIE notify with one and keeps no state;
//! only a request that returns it gets a Diffie-Hellman computation and a
//! half-open SA. Cookie = version (1 byte) | HMAC-SHA2-256(secret, Ni |
//! IPi | SPIi): the secret is random, replaced every [`ROTATE_EVERY`], and
//! the previous one still verifies, so a cookie handed out just before a
//! rotation stays good for one more period.

use std::net::IpAddr;
use std::time::Duration;

use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};
use subtle::ConstantTimeEq;

/// How long one secret makes cookies.
pub(crate) const ROTATE_EVERY: Duration = Duration::from_secs(60);
/// Length of a cookie: the version byte and the HMAC.
pub(crate) const COOKIE_LEN: usize = 1 + 32;

struct Secret {
    version: u8,
    key: hmac::Key,
}

/// The responder's cookie secrets (current and previous).
#[derive(Default)]
pub(crate) struct CookieJar {
    current: Option<Secret>,
    previous: Option<Secret>,
    rotated_at: Duration,
}

impl CookieJar {
    /// Replaces the secret when it is older than [`ROTATE_EVERY`] (or
    /// missing). `None` only if the system RNG fails.
    fn rotate_if_due(&mut self, now: Duration, rng: &SystemRandom) -> Option<()> {
        let due = self.current.is_none() || now.saturating_sub(self.rotated_at) >= ROTATE_EVERY;
        if due {
            let mut bytes = zeroize::Zeroizing::new([0u8; 32]);
            rng.fill(bytes.as_mut()).ok()?;
            let version = self
                .current
                .as_ref()
                .map_or(0, |s| s.version.wrapping_add(1));
            self.previous = self.current.take();
            self.current = Some(Secret {
                version,
                key: hmac::Key::new(hmac::HMAC_SHA256, bytes.as_ref()),
            });
            self.rotated_at = now;
        }
        Some(())
    }

    /// The cookie for an initiator's nonce, address and SPI.
    pub(crate) fn make(
        &mut self,
        now: Duration,
        rng: &SystemRandom,
        (ni, ip, spi_i): (&[u8], IpAddr, u64),
    ) -> Option<[u8; COOKIE_LEN]> {
        self.rotate_if_due(now, rng)?;
        let secret = self.current.as_ref()?;
        Some(cookie(secret, ni, ip, spi_i))
    }

    /// True when `cookie` is what the current or the previous secret gives
    /// for these inputs (compared in constant time).
    pub(crate) fn check(&self, cookie_data: &[u8], (ni, ip, spi_i): (&[u8], IpAddr, u64)) -> bool {
        let Some(&version) = cookie_data.first() else {
            return false;
        };
        [&self.current, &self.previous]
            .into_iter()
            .flatten()
            .filter(|s| s.version == version)
            .any(|s| bool::from(cookie(s, ni, ip, spi_i).as_slice().ct_eq(cookie_data)))
    }
}

fn cookie(secret: &Secret, ni: &[u8], ip: IpAddr, spi_i: u64) -> [u8; COOKIE_LEN] {
    let mut context = hmac::Context::with_key(&secret.key);
    context.update(ni);
    match ip {
        IpAddr::V4(a) => context.update(&a.octets()),
        IpAddr::V6(a) => context.update(&a.octets()),
    }
    context.update(&spi_i.to_be_bytes());
    let tag = context.sign();
    let mut out = [0u8; COOKIE_LEN];
    out[0] = secret.version;
    out[1..].copy_from_slice(tag.as_ref());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const IP: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));

    #[test]
    fn cookie_binds_nonce_address_and_spi_and_survives_one_rotation() {
        let rng = SystemRandom::new();
        let mut jar = CookieJar::default();
        let ni = [7u8; 32];
        let c = jar.make(Duration::ZERO, &rng, (&ni, IP, 42)).unwrap();
        assert!(jar.check(&c, (&ni, IP, 42)));
        assert!(!jar.check(&c, (&[8u8; 32], IP, 42)));
        assert!(!jar.check(&c, (&ni, "192.0.2.9".parse().unwrap(), 42)));
        assert!(!jar.check(&c, (&ni, IP, 43)));
        assert!(!jar.check(&c[..COOKIE_LEN - 1], (&ni, IP, 42)));
        assert!(!jar.check(&[], (&ni, IP, 42)));
        let mut flipped = c;
        flipped[5] ^= 1;
        assert!(!jar.check(&flipped, (&ni, IP, 42)));
        // Same secret within the period: the same cookie.
        assert_eq!(
            jar.make(Duration::from_secs(30), &rng, (&ni, IP, 42)),
            Some(c)
        );
        // One rotation later the old cookie still verifies; two, not.
        let c2 = jar.make(ROTATE_EVERY, &rng, (&ni, IP, 42)).unwrap();
        assert_ne!(c, c2);
        assert!(jar.check(&c, (&ni, IP, 42)) && jar.check(&c2, (&ni, IP, 42)));
        jar.make(ROTATE_EVERY * 2, &rng, (&ni, IP, 42)).unwrap();
        assert!(!jar.check(&c, (&ni, IP, 42)));
        assert!(jar.check(&c2, (&ni, IP, 42)));
    }
}
