//! OPEN (RFC 4271 4.2) with capabilities (RFC 5492): multiprotocol IPv4 and
//! IPv6 unicast (RFC 4760), route refresh (RFC 2918), 4-octet AS (RFC 6793).

use std::net::Ipv4Addr;

use super::attributes::AS_TRANS;
use super::notification::{Notification, code, open_error};
use super::{be16, be32, message_type, push_header};

/// Optional parameter type: capabilities (RFC 5492 4).
const PARAM_CAPABILITIES: u8 = 2;

/// Capability codes.
mod capability {
    /// Multiprotocol extensions (RFC 4760 8).
    pub(crate) const MULTIPROTOCOL: u8 = 1;
    /// Route refresh (RFC 2918 2).
    pub(crate) const ROUTE_REFRESH: u8 = 2;
    /// 4-octet AS number (RFC 6793 3).
    pub(crate) const FOUR_OCTET_AS: u8 = 65;
}

/// An address family BGP carries here: AFI and SAFI (RFC 4760).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    /// AFI 1, SAFI 1.
    Ipv4Unicast,
    /// AFI 2, SAFI 1.
    Ipv6Unicast,
}

impl Family {
    /// AFI for IPv4 (RFC 4760, IANA).
    pub const AFI_IPV4: u16 = 1;
    /// AFI for IPv6.
    pub const AFI_IPV6: u16 = 2;
    /// SAFI for unicast.
    pub const SAFI_UNICAST: u8 = 1;

    /// The family of an AFI and SAFI, if it is one we carry.
    pub fn from_afi_safi(afi: u16, safi: u8) -> Option<Self> {
        match (afi, safi) {
            (Self::AFI_IPV4, Self::SAFI_UNICAST) => Some(Self::Ipv4Unicast),
            (Self::AFI_IPV6, Self::SAFI_UNICAST) => Some(Self::Ipv6Unicast),
            _ => None,
        }
    }

    /// AFI and SAFI.
    pub fn afi_safi(self) -> (u16, u8) {
        match self {
            Self::Ipv4Unicast => (Self::AFI_IPV4, Self::SAFI_UNICAST),
            Self::Ipv6Unicast => (Self::AFI_IPV6, Self::SAFI_UNICAST),
        }
    }
}

/// The capabilities we understand; others are ignored (RFC 5492 3).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Capabilities {
    /// Multiprotocol families announced (each at most once).
    pub families: Vec<Family>,
    /// Route refresh (RFC 2918).
    pub route_refresh: bool,
    /// The 4-octet AS number, when the capability is present (RFC 6793).
    pub four_octet_as: Option<u32>,
}

/// An OPEN message.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Open {
    /// The sender's AS: the 4-octet capability's value when present,
    /// else the 2-octet field.
    pub asn: u32,
    /// Proposed hold time in seconds (0, or at least 3).
    pub hold_time: u16,
    /// BGP Identifier.
    pub bgp_id: Ipv4Addr,
    /// Capabilities.
    pub capabilities: Capabilities,
}

impl Open {
    /// Decodes an OPEN body (RFC 4271 6.2 checks; the framing checked 10 bytes).
    pub fn decode(body: &[u8]) -> Result<Self, Notification> {
        let unspecific = || Notification::new(code::OPEN_MESSAGE, open_error::UNSPECIFIC);
        let [
            version,
            a0,
            a1,
            h0,
            h1,
            i0,
            i1,
            i2,
            i3,
            params_len,
            params @ ..,
        ] = body
        else {
            return Err(unspecific());
        };
        if *version != 4 {
            return Err(Notification::with_data(
                code::OPEN_MESSAGE,
                open_error::UNSUPPORTED_VERSION,
                &4u16.to_be_bytes(),
            ));
        }
        if usize::from(*params_len) != params.len() {
            return Err(unspecific());
        }
        let hold_time = u16::from_be_bytes([*h0, *h1]);
        if hold_time == 1 || hold_time == 2 {
            return Err(Notification::new(
                code::OPEN_MESSAGE,
                open_error::UNACCEPTABLE_HOLD_TIME,
            ));
        }
        let bgp_id = Ipv4Addr::new(*i0, *i1, *i2, *i3);
        if bgp_id.is_unspecified() {
            return Err(Notification::new(
                code::OPEN_MESSAGE,
                open_error::BAD_BGP_IDENTIFIER,
            ));
        }
        let capabilities = decode_parameters(params)?;
        let two_octet_as = u32::from(u16::from_be_bytes([*a0, *a1]));
        Ok(Self {
            asn: capabilities.four_octet_as.unwrap_or(two_octet_as),
            hold_time,
            bgp_id,
            capabilities,
        })
    }

    /// Appends the message: AS_TRANS in the 2-octet field when the AS needs 4.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let mut caps = Vec::with_capacity(32);
        for family in &self.capabilities.families {
            let (afi, safi) = family.afi_safi();
            caps.extend_from_slice(&[capability::MULTIPROTOCOL, 4]);
            caps.extend_from_slice(&afi.to_be_bytes());
            caps.extend_from_slice(&[0, safi]);
        }
        if self.capabilities.route_refresh {
            caps.extend_from_slice(&[capability::ROUTE_REFRESH, 0]);
        }
        if let Some(asn) = self.capabilities.four_octet_as {
            caps.extend_from_slice(&[capability::FOUR_OCTET_AS, 4]);
            caps.extend_from_slice(&asn.to_be_bytes());
        }
        let two_octet = u16::try_from(self.asn).unwrap_or(AS_TRANS as u16);
        let params_len = if caps.is_empty() { 0 } else { 2 + caps.len() };
        push_header(out, message_type::OPEN, 10 + params_len);
        out.push(4);
        out.extend_from_slice(&two_octet.to_be_bytes());
        out.extend_from_slice(&self.hold_time.to_be_bytes());
        out.extend_from_slice(&self.bgp_id.octets());
        out.push(params_len as u8);
        if !caps.is_empty() {
            out.extend_from_slice(&[PARAM_CAPABILITIES, caps.len() as u8]);
            out.extend_from_slice(&caps);
        }
    }
}

/// Optional parameters: capabilities only (RFC 5492); anything else is
/// Unsupported Optional Parameter, a malformed one is Unspecific.
fn decode_parameters(mut params: &[u8]) -> Result<Capabilities, Notification> {
    let unspecific = || Notification::new(code::OPEN_MESSAGE, open_error::UNSPECIFIC);
    let mut caps = Capabilities::default();
    while let [kind, len, rest @ ..] = params {
        let value = rest.get(..usize::from(*len)).ok_or_else(unspecific)?;
        params = &rest[value.len()..];
        if *kind != PARAM_CAPABILITIES {
            return Err(Notification::new(
                code::OPEN_MESSAGE,
                open_error::UNSUPPORTED_OPTIONAL_PARAMETER,
            ));
        }
        let mut value = value;
        while let [cap, cap_len, rest @ ..] = value {
            let data = rest.get(..usize::from(*cap_len)).ok_or_else(unspecific)?;
            value = &rest[data.len()..];
            match *cap {
                capability::MULTIPROTOCOL => {
                    let (Some(afi), [_, _, _, safi]) = (be16(data, 0), data) else {
                        return Err(unspecific());
                    };
                    let family = Family::from_afi_safi(afi, *safi);
                    if let Some(family) = family.filter(|f| !caps.families.contains(f)) {
                        caps.families.push(family);
                    }
                }
                capability::ROUTE_REFRESH => caps.route_refresh = true,
                capability::FOUR_OCTET_AS => {
                    let asn = be32(data, 0).filter(|_| data.len() == 4);
                    caps.four_octet_as = Some(asn.ok_or_else(unspecific)?);
                }
                _ => {}
            }
        }
        if !value.is_empty() {
            return Err(unspecific());
        }
    }
    if !params.is_empty() {
        return Err(unspecific());
    }
    Ok(caps)
}

#[cfg(test)]
mod tests {
    use super::super::frame;
    use super::*;

    fn sample(asn: u32) -> Open {
        Open {
            asn,
            hold_time: 180,
            bgp_id: Ipv4Addr::new(192, 0, 2, 1),
            capabilities: Capabilities {
                families: vec![Family::Ipv4Unicast, Family::Ipv6Unicast],
                route_refresh: true,
                four_octet_as: Some(asn),
            },
        }
    }

    #[test]
    fn round_trips_with_two_and_four_octet_asns() {
        for asn in [12076, 4_200_000_000] {
            let open = sample(asn);
            let mut out = Vec::new();
            open.encode(&mut out);
            let framed = frame(&out).unwrap().unwrap();
            assert_eq!(framed.message_type, message_type::OPEN);
            assert_eq!(Open::decode(framed.body), Ok(open));
            let two_octet = u16::from_be_bytes([framed.body[1], framed.body[2]]);
            assert_eq!(u32::from(two_octet), asn.min(AS_TRANS));
        }
    }

    #[test]
    fn without_capabilities_the_two_octet_field_is_the_as() {
        let open = Open {
            capabilities: Capabilities::default(),
            ..sample(65010)
        };
        let mut out = Vec::new();
        open.encode(&mut out);
        assert_eq!(out.len(), 29);
        assert_eq!(Open::decode(&out[19..]), Ok(open));
    }

    #[test]
    fn every_truncation_is_refused() {
        let mut out = Vec::new();
        sample(65001).encode(&mut out);
        let body = &out[19..];
        for cut in 0..body.len() {
            let err = Open::decode(&body[..cut]).unwrap_err();
            assert_eq!(err.code, code::OPEN_MESSAGE, "cut {cut}");
        }
    }

    #[test]
    fn open_errors_have_their_subcodes() {
        let mut out = Vec::new();
        sample(65001).encode(&mut out);
        let body = out[19..].to_vec();
        let with = |at: usize, value: u8| {
            let mut bad = body.clone();
            bad[at] = value;
            Open::decode(&bad).unwrap_err()
        };
        let version = with(0, 3);
        assert_eq!((version.subcode, version.data.as_slice()), (1, &[0, 4][..]));
        assert_eq!(with(4, 2).subcode, open_error::UNACCEPTABLE_HOLD_TIME);
        let mut zero_id = body.clone();
        zero_id[5..9].fill(0);
        assert_eq!(
            Open::decode(&zero_id).unwrap_err().subcode,
            open_error::BAD_BGP_IDENTIFIER
        );
        assert_eq!(
            with(10, 9).subcode,
            open_error::UNSUPPORTED_OPTIONAL_PARAMETER
        );
        // A capability length running past its parameter.
        assert_eq!(with(13, 200).subcode, open_error::UNSPECIFIC);
        // The parameters length disagreeing with the message.
        assert_eq!(with(9, 3).subcode, open_error::UNSPECIFIC);
    }

    #[test]
    fn unknown_capabilities_are_ignored() {
        // Graceful restart (64) with 2 bytes, then route refresh.
        let params = [2u8, 6, 64, 2, 0, 120, 2, 0];
        let mut body = vec![4, 0xfd, 0xe9, 0, 90, 10, 0, 0, 1, params.len() as u8];
        body.extend_from_slice(&params);
        let open = Open::decode(&body).unwrap();
        assert!(open.capabilities.route_refresh);
        assert_eq!(open.asn, 65001);
    }
}
