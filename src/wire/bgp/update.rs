//! UPDATE (RFC 4271 4.3): withdrawn routes, path attributes and NLRI, with
//! IPv6 carried in MP_REACH_NLRI / MP_UNREACH_NLRI (RFC 4760). Decoding
//! follows RFC 7606: framing and NLRI errors reset the session, attribute
//! errors mostly treat the UPDATE's routes as withdrawn.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

use super::attributes::{
    AttributeError, PathAttributes, attr, decode_attributes, push_attribute_with,
};
use super::notification::{Notification, code, update_error};
use super::open::Family;
use super::{HEADER_LEN, MAX_MESSAGE_LEN, be16, message_type, push_header};

/// Encoded NLRI of one family, checked when made: iterating cannot fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Prefixes<'a> {
    family: Family,
    bytes: &'a [u8],
}

impl<'a> Prefixes<'a> {
    /// Checks `bytes` as a list of (length, prefix) pairs of `family`
    /// (RFC 4271 4.3): `None` if a length exceeds the address width or
    /// runs past the end.
    pub fn checked(family: Family, bytes: &'a [u8]) -> Option<Self> {
        let max = max_len(family);
        let mut rest = bytes;
        while let [len, tail @ ..] = rest {
            if *len > max {
                return None;
            }
            rest = tail.get(usize::from(len.div_ceil(8))..)?;
        }
        Some(Self { family, bytes })
    }

    /// No prefix at all.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The family.
    pub fn family(&self) -> Family {
        self.family
    }
}

fn max_len(family: Family) -> u8 {
    match family {
        Family::Ipv4Unicast => 32,
        Family::Ipv6Unicast => 128,
    }
}

impl Iterator for Prefixes<'_> {
    type Item = IpNet;

    fn next(&mut self) -> Option<IpNet> {
        let (&len, tail) = self.bytes.split_first()?;
        let octets = usize::from(len.div_ceil(8));
        let (bits, rest) = tail.split_at_checked(octets)?;
        self.bytes = rest;
        // Host bits past the length are ignored (RFC 4271 4.3: trailing bits
        // are irrelevant), so every prefix comes out truncated.
        Some(match self.family {
            Family::Ipv4Unicast => {
                let mut address = [0u8; 4];
                address[..octets].copy_from_slice(bits);
                IpNet::V4(Ipv4Net::new(Ipv4Addr::from(address), len).ok()?.trunc())
            }
            Family::Ipv6Unicast => {
                let mut address = [0u8; 16];
                address[..octets].copy_from_slice(bits);
                IpNet::V6(Ipv6Net::new(Ipv6Addr::from(address), len).ok()?.trunc())
            }
        })
    }
}

/// MP_REACH_NLRI: a family's next hop and announced prefixes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MpReach<'a> {
    /// Family.
    pub family: Family,
    /// The (global) next hop.
    pub next_hop: IpAddr,
    /// IPv6 link-local next hop, when the length was 32.
    pub link_local: Option<Ipv6Addr>,
    /// Announced prefixes.
    pub nlri: Prefixes<'a>,
}

/// MP_UNREACH_NLRI: a family's withdrawn prefixes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MpUnreach<'a> {
    /// Family.
    pub family: Family,
    /// Withdrawn prefixes.
    pub withdrawn: Prefixes<'a>,
}

/// A decoded UPDATE: views into the message for prefixes, owned attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Update<'a> {
    /// IPv4 withdrawn routes.
    pub withdrawn: Prefixes<'a>,
    /// Path attributes.
    pub attributes: PathAttributes,
    /// IPv4 NLRI.
    pub nlri: Prefixes<'a>,
    /// MP_REACH_NLRI of a family we carry.
    pub mp_reach: Option<MpReach<'a>>,
    /// MP_UNREACH_NLRI of a family we carry.
    pub mp_unreach: Option<MpUnreach<'a>>,
    /// Set when every announced prefix must be treated as withdrawn
    /// (RFC 7606 2): the first attribute error found.
    pub treat_as_withdraw: Option<AttributeError>,
    /// How many malformed attributes were discarded (RFC 7606 2).
    pub discarded: u16,
}

impl<'a> Update<'a> {
    /// Decodes an UPDATE body. `four_octet`: the session negotiated 4-octet
    /// ASNs. `Err` is the NOTIFICATION that resets the session.
    pub fn decode(body: &'a [u8], four_octet: bool) -> Result<Self, Notification> {
        let malformed =
            || Notification::new(code::UPDATE_MESSAGE, update_error::MALFORMED_ATTRIBUTE_LIST);
        let withdrawn_len = usize::from(be16(body, 0).ok_or_else(malformed)?);
        let withdrawn_end = 2 + withdrawn_len;
        let attributes_len = usize::from(be16(body, withdrawn_end).ok_or_else(malformed)?);
        let attributes_at = withdrawn_end + 2;
        let attribute_bytes = body
            .get(attributes_at..attributes_at + attributes_len)
            .ok_or_else(malformed)?;
        let invalid_network =
            || Notification::new(code::UPDATE_MESSAGE, update_error::INVALID_NETWORK_FIELD);
        let withdrawn = Prefixes::checked(Family::Ipv4Unicast, &body[2..withdrawn_end])
            .ok_or_else(invalid_network)?;
        let nlri = Prefixes::checked(Family::Ipv4Unicast, &body[attributes_at + attributes_len..])
            .ok_or_else(invalid_network)?;
        let decoded = decode_attributes(attribute_bytes, four_octet)?;
        let mut update = Self {
            withdrawn,
            attributes: decoded.attributes,
            nlri,
            mp_reach: decoded.mp_reach,
            mp_unreach: decoded.mp_unreach,
            treat_as_withdraw: decoded.treat_as_withdraw,
            discarded: decoded.discarded,
        };
        update.check_mandatory();
        Ok(update)
    }

    /// RFC 7606 3 (d): a missing well-known mandatory attribute, when there
    /// is something announced, treats the UPDATE as withdraw.
    fn check_mandatory(&mut self) {
        let announces_v4 = !self.nlri.is_empty();
        let announces_mp = self.mp_reach.is_some_and(|mp| !mp.nlri.is_empty());
        if self.treat_as_withdraw.is_some() || !(announces_v4 || announces_mp) {
            return;
        }
        let attributes = &self.attributes;
        let missing = if attributes.origin.is_none() {
            Some(attr::ORIGIN)
        } else if attributes.as_path.is_none() {
            Some(attr::AS_PATH)
        } else if announces_v4 && attributes.next_hop.is_none() {
            Some(attr::NEXT_HOP)
        } else {
            None
        };
        self.treat_as_withdraw = missing.map(|type_code| AttributeError {
            type_code,
            subcode: update_error::MISSING_WELL_KNOWN_ATTRIBUTE,
        });
    }

    /// End-of-RIB marker (RFC 4724 2): an empty UPDATE for IPv4, or only an
    /// empty MP_UNREACH_NLRI for another family.
    pub fn end_of_rib(&self) -> Option<Family> {
        let attributes_empty = self.attributes == PathAttributes::default();
        let plain_empty = self.withdrawn.is_empty() && self.nlri.is_empty();
        match (self.mp_reach, self.mp_unreach) {
            (None, None) if plain_empty && attributes_empty => Some(Family::Ipv4Unicast),
            (None, Some(mp)) if plain_empty && attributes_empty && mp.withdrawn.is_empty() => {
                Some(mp.family)
            }
            _ => None,
        }
    }
}

/// Bytes a prefix takes in NLRI: length octet plus the significant octets.
pub fn prefix_encoded_len(prefix: &IpNet) -> usize {
    1 + usize::from(prefix.prefix_len().div_ceil(8))
}

fn push_prefix(out: &mut Vec<u8>, prefix: &IpNet) {
    let octets = usize::from(prefix.prefix_len().div_ceil(8));
    out.push(prefix.prefix_len());
    match prefix.network() {
        IpAddr::V4(address) => out.extend_from_slice(&address.octets()[..octets]),
        IpAddr::V6(address) => out.extend_from_slice(&address.octets()[..octets]),
    }
}

/// Splits `prefixes` into runs whose encoding fits in `room` bytes.
fn chunks(prefixes: &[IpNet], room: usize) -> impl Iterator<Item = &[IpNet]> {
    let mut rest = prefixes;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let mut used = 0;
        let count = rest
            .iter()
            .take_while(|prefix| {
                used += prefix_encoded_len(prefix);
                used <= room
            })
            .count()
            .max(1);
        let (chunk, tail) = rest.split_at(count.min(rest.len()));
        rest = tail;
        Some(chunk)
    })
}

/// Bytes of an UPDATE around its attributes and NLRI: header, two lengths.
const UPDATE_OVERHEAD: usize = HEADER_LEN + 4;
/// MP attribute framing: flags, type, extended length, AFI, SAFI.
const MP_OVERHEAD: usize = 4 + 3;

/// Appends UPDATEs withdrawing `prefixes` of `family` (IPv4 in the
/// withdrawn field, IPv6 in MP_UNREACH_NLRI), as many as needed.
pub fn encode_withdraw(family: Family, prefixes: &[IpNet], out: &mut Vec<u8>) {
    let (afi, safi) = family.afi_safi();
    let v4 = family == Family::Ipv4Unicast;
    let room = MAX_MESSAGE_LEN - UPDATE_OVERHEAD - if v4 { 0 } else { MP_OVERHEAD };
    for chunk in chunks(prefixes, room) {
        let nlri_len: usize = chunk.iter().map(prefix_encoded_len).sum();
        if v4 {
            push_header(out, message_type::UPDATE, 4 + nlri_len);
            out.extend_from_slice(&(nlri_len as u16).to_be_bytes());
            chunk.iter().for_each(|prefix| push_prefix(out, prefix));
            out.extend_from_slice(&[0, 0]);
        } else {
            push_header(out, message_type::UPDATE, 4 + MP_OVERHEAD + nlri_len);
            out.extend_from_slice(&[0, 0]);
            out.extend_from_slice(&((MP_OVERHEAD + nlri_len) as u16).to_be_bytes());
            push_attribute_with(out, 0x80 | 0x10, attr::MP_UNREACH_NLRI, |v| {
                v.extend_from_slice(&afi.to_be_bytes());
                v.push(safi);
                chunk.iter().for_each(|prefix| push_prefix(v, prefix));
            });
        }
    }
}

/// Appends an End-of-RIB marker for `family` (RFC 4724 2).
pub fn encode_end_of_rib(family: Family, out: &mut Vec<u8>) {
    match family {
        Family::Ipv4Unicast => {
            push_header(out, message_type::UPDATE, 4);
            out.extend_from_slice(&[0, 0, 0, 0]);
        }
        Family::Ipv6Unicast => {
            let (afi, safi) = family.afi_safi();
            push_header(out, message_type::UPDATE, 4 + 6);
            out.extend_from_slice(&[0, 0, 0, 6, 0x80, attr::MP_UNREACH_NLRI, 3]);
            out.extend_from_slice(&afi.to_be_bytes());
            out.push(safi);
        }
    }
}

/// The attributes do not leave room for a single prefix in one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("path attributes of {len} bytes leave no room for NLRI in a 4,096-byte UPDATE")]
pub struct AttributesTooLong {
    /// Encoded attribute bytes.
    pub len: usize,
}

/// Appends UPDATEs announcing `prefixes` of `family` with `attributes`
/// (IPv4 in the NLRI field with NEXT_HOP from the attributes; IPv6 in
/// MP_REACH_NLRI with `v6_next_hop`), as many messages as needed.
pub fn encode_announce(
    family: Family,
    attributes: &PathAttributes,
    v6_next_hop: Ipv6Addr,
    four_octet: bool,
    prefixes: &[IpNet],
    out: &mut Vec<u8>,
) -> Result<usize, AttributesTooLong> {
    let mut common = Vec::with_capacity(64);
    attributes.encode(four_octet, &mut common);
    let v4 = family == Family::Ipv4Unicast;
    // MP_REACH: the MP framing, next-hop length, 16-byte next hop, reserved.
    let mp_fixed = MP_OVERHEAD + 1 + 16 + 1;
    let fixed = UPDATE_OVERHEAD + common.len() + if v4 { 0 } else { mp_fixed };
    let room = MAX_MESSAGE_LEN
        .checked_sub(fixed)
        .filter(|room| *room >= 17)
        .ok_or(AttributesTooLong { len: common.len() })?;
    let mut messages = 0;
    for chunk in chunks(prefixes, room) {
        let nlri_len: usize = chunk.iter().map(prefix_encoded_len).sum();
        let attributes_len = common.len() + if v4 { 0 } else { mp_fixed + nlri_len };
        push_header(
            out,
            message_type::UPDATE,
            4 + attributes_len + if v4 { nlri_len } else { 0 },
        );
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(&(attributes_len as u16).to_be_bytes());
        out.extend_from_slice(&common);
        if v4 {
            chunk.iter().for_each(|prefix| push_prefix(out, prefix));
        } else {
            let (afi, safi) = family.afi_safi();
            push_attribute_with(out, 0x80 | 0x10, attr::MP_REACH_NLRI, |v| {
                v.extend_from_slice(&afi.to_be_bytes());
                v.extend_from_slice(&[safi, 16]);
                v.extend_from_slice(&v6_next_hop.octets());
                v.push(0);
                chunk.iter().for_each(|prefix| push_prefix(v, prefix));
            });
        }
        messages += 1;
    }
    Ok(messages)
}
