//! The Delete payload (RFC 7296 section 3.11): a protocol, an SPI size and
//! the SPIs of the SAs the sender deletes. Protocol IKE carries no SPI (the
//! IKE SA is the one the message travels on); ESP carries 4-octet SPIs, the
//! ones the sender receives on.

use super::{IkeWireError, be16, invalid, need, protocol};

/// Most SPIs erdp reads from one Delete payload: a peer deleting more at
/// once is refused rather than allocating for it.
pub const MAX_DELETED_SPIS: usize = 256;

/// A Delete payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delete {
    /// The IKE SA (and with it every CHILD_SA).
    Ike,
    /// ESP CHILD_SAs, by the SPIs their sender receives on.
    Esp(Vec<u32>),
}

impl Delete {
    /// Parses a Delete body. Protocols other than IKE and ESP (AH) and SPI
    /// sizes that do not fit the protocol are invalid.
    pub fn parse(body: &[u8]) -> Result<Self, IkeWireError> {
        need("Delete payload", body, 0, 4)?;
        let (proto, spi_size, count) = (body[0], usize::from(body[1]), usize::from(be16(body, 2)));
        match (proto, spi_size) {
            (protocol::IKE, 0) if count == 0 => Ok(Delete::Ike),
            (protocol::ESP, 4) => {
                if count > MAX_DELETED_SPIS {
                    return Err(invalid("Delete payload", 2, "too many SPIs"));
                }
                need("Delete SPIs", body, 4, count * 4)?;
                if body.len() != 4 + count * 4 {
                    return Err(invalid("Delete payload", 4, "length is not the SPI count"));
                }
                let spis = body[4..]
                    .chunks_exact(4)
                    .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
                    .collect();
                Ok(Delete::Esp(spis))
            }
            _ => Err(invalid("Delete payload", 0, "protocol or SPI size")),
        }
    }

    /// Writes the body.
    pub fn to_bytes(&self) -> Result<Vec<u8>, IkeWireError> {
        match self {
            Delete::Ike => Ok(vec![protocol::IKE, 0, 0, 0]),
            Delete::Esp(spis) => {
                let count = u16::try_from(spis.len())
                    .ok()
                    .filter(|n| usize::from(*n) <= MAX_DELETED_SPIS)
                    .ok_or_else(|| invalid("Delete payload", 2, "too many SPIs"))?;
                let mut out = Vec::with_capacity(4 + spis.len() * 4);
                out.extend_from_slice(&[protocol::ESP, 4]);
                out.extend_from_slice(&count.to_be_bytes());
                for spi in spis {
                    out.extend_from_slice(&spi.to_be_bytes());
                }
                Ok(out)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_what_does_not_fit() {
        for d in [Delete::Ike, Delete::Esp(vec![0x1234_5678, 0x9abc_def0])] {
            assert_eq!(Delete::parse(&d.to_bytes().unwrap()).unwrap(), d);
        }
        // RFC 7296 section 3.11: ESP, SPI size 4, two SPIs.
        let esp = [3, 4, 0, 2, 0, 0, 1, 0, 0, 0, 2, 0];
        assert_eq!(Delete::parse(&esp).unwrap(), Delete::Esp(vec![256, 512]));
        for bad in [
            &[3, 4, 0, 2, 0, 0, 1, 0][..], // truncated
            &[3, 4, 0, 1, 0, 0, 1, 0, 9],  // trailing byte
            &[3, 8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1],
            &[2, 4, 0, 0], // AH
            &[1, 0, 0, 1], // IKE with a count
            &[3, 4],       // short header
            &[3, 4, 1, 1], // 257 SPIs
        ] {
            assert!(Delete::parse(bad).is_err(), "{bad:?}");
        }
    }
}
