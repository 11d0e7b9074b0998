//! UPDATE path attributes (RFC 4271 4.3 and 5.1) with 4-octet AS paths
//! (RFC 6793: AS4_PATH, AS4_AGGREGATOR) and the revised error handling of
//! RFC 7606: each malformed attribute is a session reset, treat-as-withdraw
//! or attribute discard, as section 7 of that RFC assigns.

use std::fmt;
use std::net::Ipv4Addr;

use super::notification::{Notification, code, update_error};
use super::open::Family;
use super::update::{MpReach, MpUnreach, Prefixes};
use super::{be16, be32};

/// The 2-octet stand-in for a 4-octet AS (RFC 6793 9).
pub const AS_TRANS: u32 = 23456;

/// Attribute flag bits (RFC 4271 4.3).
mod flag {
    pub(crate) const OPTIONAL: u8 = 0x80;
    pub(crate) const TRANSITIVE: u8 = 0x40;
    pub(crate) const PARTIAL: u8 = 0x20;
    pub(crate) const EXTENDED_LENGTH: u8 = 0x10;
}

/// Attribute type codes (IANA BGP Path Attributes).
pub(crate) mod attr {
    pub(crate) const ORIGIN: u8 = 1;
    pub(crate) const AS_PATH: u8 = 2;
    pub(crate) const NEXT_HOP: u8 = 3;
    pub(crate) const MULTI_EXIT_DISC: u8 = 4;
    pub(crate) const LOCAL_PREF: u8 = 5;
    pub(crate) const ATOMIC_AGGREGATE: u8 = 6;
    pub(crate) const AGGREGATOR: u8 = 7;
    pub(crate) const COMMUNITIES: u8 = 8;
    pub(crate) const MP_REACH_NLRI: u8 = 14;
    pub(crate) const MP_UNREACH_NLRI: u8 = 15;
    pub(crate) const AS4_PATH: u8 = 17;
    pub(crate) const AS4_AGGREGATOR: u8 = 18;
}

/// ORIGIN (RFC 4271 5.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum Origin {
    /// IGP (0).
    #[default]
    Igp,
    /// EGP (1).
    Egp,
    /// INCOMPLETE (2).
    Incomplete,
}

/// AS_PATH segment types (RFC 4271 4.3, RFC 5065 confederations).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SegmentKind {
    /// AS_SET (1): counts as one AS in the path length.
    Set,
    /// AS_SEQUENCE (2).
    Sequence,
    /// AS_CONFED_SEQUENCE (3): not counted.
    ConfedSequence,
    /// AS_CONFED_SET (4): not counted.
    ConfedSet,
}

impl SegmentKind {
    fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            1 => Self::Set,
            2 => Self::Sequence,
            3 => Self::ConfedSequence,
            4 => Self::ConfedSet,
            _ => return None,
        })
    }

    fn code(self) -> u8 {
        match self {
            Self::Set => 1,
            Self::Sequence => 2,
            Self::ConfedSequence => 3,
            Self::ConfedSet => 4,
        }
    }
}

/// One AS_PATH segment (1 to 255 ASNs).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AsSegment {
    /// Segment type.
    pub kind: SegmentKind,
    /// The ASNs, nearest first.
    pub asns: Vec<u32>,
}

/// An AS_PATH: segments, nearest first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct AsPath {
    /// The segments.
    pub segments: Vec<AsSegment>,
}

impl AsPath {
    /// One AS_SEQUENCE (empty path for no ASNs).
    pub fn sequence(asns: &[u32]) -> Self {
        let segments = asns
            .chunks(255)
            .map(|chunk| AsSegment {
                kind: SegmentKind::Sequence,
                asns: chunk.to_vec(),
            })
            .collect();
        Self { segments }
    }

    /// Length for route selection (RFC 4271 9.1.2.2 a): a set counts one,
    /// confederation segments nothing.
    pub fn selection_len(&self) -> usize {
        self.segments
            .iter()
            .map(|segment| match segment.kind {
                SegmentKind::Sequence => segment.asns.len(),
                SegmentKind::Set => 1,
                SegmentKind::ConfedSequence | SegmentKind::ConfedSet => 0,
            })
            .sum()
    }

    /// Every ASN in order (sets flattened).
    pub fn asns(&self) -> impl Iterator<Item = u32> + '_ {
        self.segments.iter().flat_map(|s| s.asns.iter().copied())
    }

    /// Puts `asn` in front `count` times (eBGP export and policy prepends).
    pub fn prepend(&mut self, asn: u32, count: usize) {
        let mut front: Vec<u32> = std::iter::repeat_n(asn, count).collect();
        match self.segments.first_mut() {
            Some(first) if first.kind == SegmentKind::Sequence => {
                front.append(&mut first.asns);
                first.asns = front;
                if first.asns.len() > 255 {
                    let rest = first.asns.split_off(first.asns.len() - 255);
                    let mut head = Self::sequence(&first.asns).segments;
                    first.asns = rest;
                    head.append(&mut self.segments);
                    self.segments = head;
                }
            }
            _ => {
                let mut head = Self::sequence(&front).segments;
                head.append(&mut self.segments);
                self.segments = head;
            }
        }
    }

    fn count_for_as4(&self) -> usize {
        self.selection_len()
            + self
                .segments
                .iter()
                .filter(|s| matches!(s.kind, SegmentKind::ConfedSequence | SegmentKind::ConfedSet))
                .count()
    }

    /// Merges AS4_PATH into a 2-octet AS_PATH (RFC 6793 4.2.3): the leading
    /// ASNs of AS_PATH that AS4_PATH lacks, then AS4_PATH.
    fn merge_as4(&mut self, as4: AsPath) {
        let (have, new) = (self.count_for_as4(), as4.count_for_as4());
        if have < new {
            return;
        }
        let mut keep = have - new;
        let mut merged = Vec::new();
        for segment in self.segments.drain(..) {
            if keep == 0 {
                break;
            }
            let weight = match segment.kind {
                SegmentKind::Sequence => segment.asns.len(),
                _ => 1,
            };
            if segment.kind == SegmentKind::Sequence && weight > keep {
                merged.push(AsSegment {
                    kind: segment.kind,
                    asns: segment.asns[..keep].to_vec(),
                });
                keep = 0;
            } else {
                keep -= weight.min(keep);
                merged.push(segment);
            }
        }
        merged.extend(as4.segments);
        self.segments = merged;
    }
}

/// An optional attribute we do not interpret, passed on when transitive.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RawAttribute {
    /// Flags as received (the extended-length bit is recomputed on encode).
    pub flags: u8,
    /// Type code.
    pub type_code: u8,
    /// Value.
    pub value: Vec<u8>,
}

/// The path attributes of an UPDATE (MP_REACH and MP_UNREACH apart: they
/// carry NLRI and stay views into the message).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct PathAttributes {
    /// ORIGIN.
    pub origin: Option<Origin>,
    /// AS_PATH (AS4_PATH already merged in on a 2-octet session).
    pub as_path: Option<AsPath>,
    /// NEXT_HOP (IPv4 NLRI).
    pub next_hop: Option<Ipv4Addr>,
    /// MULTI_EXIT_DISC.
    pub med: Option<u32>,
    /// LOCAL_PREF.
    pub local_pref: Option<u32>,
    /// ATOMIC_AGGREGATE present.
    pub atomic_aggregate: bool,
    /// AGGREGATOR: AS and address.
    pub aggregator: Option<(u32, Ipv4Addr)>,
    /// COMMUNITIES (RFC 1997).
    pub communities: Vec<u32>,
    /// Other optional transitive attributes, in order.
    pub other: Vec<RawAttribute>,
}

/// Why an UPDATE's routes are treated as withdrawn (RFC 7606 2): the
/// attribute and the error RFC 4271 would have sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AttributeError {
    /// Attribute type code (0: the attribute list as a whole).
    pub type_code: u8,
    /// UPDATE Message Error subcode.
    pub subcode: u8,
}

impl fmt::Display for AttributeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let described = Notification::new(code::UPDATE_MESSAGE, self.subcode);
        write!(f, "attribute {}: {}", self.type_code, described.describe())
    }
}

/// What decoding the attribute list produced.
pub(crate) struct DecodedAttributes<'a> {
    pub attributes: PathAttributes,
    pub mp_reach: Option<MpReach<'a>>,
    pub mp_unreach: Option<MpUnreach<'a>>,
    /// Set when the routes must be treated as withdrawn.
    pub treat_as_withdraw: Option<AttributeError>,
    /// Attributes discarded (RFC 7606 2, "attribute discard").
    pub discarded: u16,
}

/// How RFC 7606 section 7 handles a malformed attribute of each type.
enum Malformed {
    TreatAsWithdraw(u8),
    Discard,
    Reset(u8),
}

fn malformed_action(type_code: u8, subcode: u8) -> Malformed {
    match type_code {
        attr::ORIGIN
        | attr::AS_PATH
        | attr::NEXT_HOP
        | attr::MULTI_EXIT_DISC
        | attr::LOCAL_PREF
        | attr::COMMUNITIES => Malformed::TreatAsWithdraw(subcode),
        attr::MP_REACH_NLRI | attr::MP_UNREACH_NLRI => Malformed::Reset(subcode),
        _ => Malformed::Discard,
    }
}

/// The flags a known attribute must carry (optional and transitive bits).
fn expected_flags(type_code: u8) -> Option<u8> {
    Some(match type_code {
        attr::ORIGIN
        | attr::AS_PATH
        | attr::NEXT_HOP
        | attr::LOCAL_PREF
        | attr::ATOMIC_AGGREGATE => flag::TRANSITIVE,
        attr::MULTI_EXIT_DISC | attr::MP_REACH_NLRI | attr::MP_UNREACH_NLRI => flag::OPTIONAL,
        attr::AGGREGATOR | attr::COMMUNITIES | attr::AS4_PATH | attr::AS4_AGGREGATOR => {
            flag::OPTIONAL | flag::TRANSITIVE
        }
        _ => return None,
    })
}

/// Decodes the path attribute list of an UPDATE. `Err` is a session reset.
pub(crate) fn decode_attributes(
    mut bytes: &[u8],
    four_octet: bool,
) -> Result<DecodedAttributes<'_>, Notification> {
    let mut out = DecodedAttributes {
        attributes: PathAttributes::default(),
        mp_reach: None,
        mp_unreach: None,
        treat_as_withdraw: None,
        discarded: 0,
    };
    let mut seen = [false; 256];
    let mut as4_path = None;
    let mut as4_aggregator = None;
    while !bytes.is_empty() {
        let (flags, type_code) = match bytes {
            [flags, type_code, ..] => (*flags, *type_code),
            _ => {
                out.treat_as_withdraw = Some(AttributeError {
                    type_code: 0,
                    subcode: update_error::ATTRIBUTE_LENGTH_ERROR,
                });
                break;
            }
        };
        let (header_len, value_len) = if flags & flag::EXTENDED_LENGTH != 0 {
            (4, be16(bytes, 2).map(usize::from))
        } else {
            (3, bytes.get(2).map(|&len| usize::from(len)))
        };
        // RFC 7606 4: an attribute overrunning the attribute list.
        let Some(value) = value_len.and_then(|len| bytes.get(header_len..header_len + len)) else {
            out.treat_as_withdraw = Some(AttributeError {
                type_code,
                subcode: update_error::ATTRIBUTE_LENGTH_ERROR,
            });
            break;
        };
        bytes = &bytes[header_len + value.len()..];
        // RFC 7606 3 (g): a repeated attribute.
        if std::mem::replace(&mut seen[usize::from(type_code)], true) {
            if matches!(type_code, attr::MP_REACH_NLRI | attr::MP_UNREACH_NLRI) {
                return Err(Notification::new(
                    code::UPDATE_MESSAGE,
                    update_error::MALFORMED_ATTRIBUTE_LIST,
                ));
            }
            out.discarded += 1;
            continue;
        }
        let Some(expected) = expected_flags(type_code) else {
            if flags & flag::OPTIONAL == 0 {
                let mut data = vec![flags, type_code];
                data.extend_from_slice(&bytes_len_prefix(value));
                data.extend_from_slice(value);
                return Err(Notification::with_data(
                    code::UPDATE_MESSAGE,
                    update_error::UNRECOGNIZED_WELL_KNOWN_ATTRIBUTE,
                    &data,
                ));
            }
            if flags & flag::TRANSITIVE != 0 {
                out.attributes.other.push(RawAttribute {
                    flags: flags & !flag::EXTENDED_LENGTH,
                    type_code,
                    value: value.to_vec(),
                });
            }
            continue;
        };
        let result = if flags & (flag::OPTIONAL | flag::TRANSITIVE) != expected {
            Err(update_error::ATTRIBUTE_FLAGS_ERROR)
        } else {
            decode_one(
                type_code,
                value,
                four_octet,
                &mut out,
                &mut as4_path,
                &mut as4_aggregator,
            )
        };
        if let Err(subcode) = result {
            match malformed_action(type_code, subcode) {
                Malformed::TreatAsWithdraw(subcode) => {
                    out.treat_as_withdraw
                        .get_or_insert(AttributeError { type_code, subcode });
                }
                Malformed::Discard => out.discarded += 1,
                Malformed::Reset(subcode) => {
                    return Err(Notification::new(code::UPDATE_MESSAGE, subcode));
                }
            }
        }
    }
    // RFC 6793 4.2.3: AS4_PATH and AS4_AGGREGATOR only from 2-octet speakers.
    if !four_octet {
        let attributes = &mut out.attributes;
        if let Some((asn, address)) = as4_aggregator {
            if attributes
                .aggregator
                .is_some_and(|(agg, _)| agg == AS_TRANS)
            {
                attributes.aggregator = Some((asn, address));
            } else {
                as4_path = None;
            }
        }
        if let (Some(path), Some(as4)) = (attributes.as_path.as_mut(), as4_path) {
            path.merge_as4(as4);
        }
    }
    Ok(out)
}

fn bytes_len_prefix(value: &[u8]) -> Vec<u8> {
    match u8::try_from(value.len()) {
        Ok(len) => vec![len],
        Err(_) => (value.len() as u16).to_be_bytes().to_vec(),
    }
}

/// Decodes one known attribute; `Err` is the UPDATE error subcode.
fn decode_one<'a>(
    type_code: u8,
    value: &'a [u8],
    four_octet: bool,
    out: &mut DecodedAttributes<'a>,
    as4_path: &mut Option<AsPath>,
    as4_aggregator: &mut Option<(u32, Ipv4Addr)>,
) -> Result<(), u8> {
    let length_error = update_error::ATTRIBUTE_LENGTH_ERROR;
    let exact_u32 = |value: &[u8]| {
        be32(value, 0)
            .filter(|_| value.len() == 4)
            .ok_or(length_error)
    };
    let attributes = &mut out.attributes;
    match type_code {
        attr::ORIGIN => {
            let [origin] = value else {
                return Err(length_error);
            };
            attributes.origin = Some(match origin {
                0 => Origin::Igp,
                1 => Origin::Egp,
                2 => Origin::Incomplete,
                _ => return Err(update_error::INVALID_ORIGIN_ATTRIBUTE),
            });
        }
        attr::AS_PATH => attributes.as_path = Some(decode_as_path(value, four_octet)?),
        attr::NEXT_HOP => {
            let address = Ipv4Addr::from(exact_u32(value)?);
            // RFC 4271 6.3: a semantically incorrect NEXT_HOP ignores the route.
            if address.is_unspecified() || address.is_multicast() || address.is_broadcast() {
                return Err(update_error::INVALID_NEXT_HOP_ATTRIBUTE);
            }
            attributes.next_hop = Some(address);
        }
        attr::MULTI_EXIT_DISC => attributes.med = Some(exact_u32(value)?),
        attr::LOCAL_PREF => attributes.local_pref = Some(exact_u32(value)?),
        attr::ATOMIC_AGGREGATE if value.is_empty() => attributes.atomic_aggregate = true,
        attr::ATOMIC_AGGREGATE => return Err(length_error),
        attr::AGGREGATOR => {
            let asn = match (value.len(), four_octet) {
                (6, false) => be16(value, 0).map(u32::from),
                (8, true) => be32(value, 0),
                _ => None,
            };
            let address = be32(value, value.len().saturating_sub(4)).map(Ipv4Addr::from);
            attributes.aggregator = Some(asn.zip(address).ok_or(length_error)?);
        }
        attr::COMMUNITIES => {
            if value.is_empty() || !value.len().is_multiple_of(4) {
                return Err(length_error);
            }
            attributes.communities = value.chunks_exact(4).filter_map(|c| be32(c, 0)).collect();
        }
        attr::MP_REACH_NLRI => out.mp_reach = decode_mp_reach(value)?,
        attr::MP_UNREACH_NLRI => out.mp_unreach = decode_mp_unreach(value)?,
        attr::AS4_PATH => *as4_path = Some(decode_as_path(value, true)?),
        attr::AS4_AGGREGATOR => {
            let asn = be32(value, 0)
                .filter(|_| value.len() == 8)
                .ok_or(length_error)?;
            let address = be32(value, 4).map(Ipv4Addr::from).ok_or(length_error)?;
            *as4_aggregator = Some((asn, address));
        }
        _ => {}
    }
    Ok(())
}

/// AS_PATH segments (RFC 7606 7.2: a bad type, an empty segment or a
/// length not filling the attribute exactly are malformed).
fn decode_as_path(mut value: &[u8], four_octet: bool) -> Result<AsPath, u8> {
    let width = if four_octet { 4 } else { 2 };
    let mut path = AsPath::default();
    while let [kind, count, rest @ ..] = value {
        let kind = SegmentKind::from_code(*kind).ok_or(update_error::MALFORMED_AS_PATH)?;
        let len = usize::from(*count) * width;
        let asns = rest
            .get(..len)
            .filter(|_| *count > 0)
            .ok_or(update_error::MALFORMED_AS_PATH)?;
        let asns = asns
            .chunks_exact(width)
            .filter_map(|asn| match width {
                4 => be32(asn, 0),
                _ => be16(asn, 0).map(u32::from),
            })
            .collect();
        path.segments.push(AsSegment { kind, asns });
        value = &rest[len..];
    }
    if value.is_empty() {
        Ok(path)
    } else {
        Err(update_error::MALFORMED_AS_PATH)
    }
}

/// MP_REACH_NLRI (RFC 4760 3): unknown families are ignored, a malformed
/// attribute (bad next-hop length, bad NLRI) is an Optional Attribute Error.
fn decode_mp_reach(value: &[u8]) -> Result<Option<MpReach<'_>>, u8> {
    let error = update_error::OPTIONAL_ATTRIBUTE_ERROR;
    let (Some(afi), Some(&safi), Some(&nh_len)) = (be16(value, 0), value.get(2), value.get(3))
    else {
        return Err(error);
    };
    let nh_end = 4 + usize::from(nh_len);
    let next_hop = value.get(4..nh_end).ok_or(error)?;
    let nlri = value.get(nh_end + 1..).ok_or(error)?;
    let Some(family) = Family::from_afi_safi(afi, safi) else {
        return Ok(None);
    };
    let (next_hop, link_local) = match (family, next_hop.len()) {
        (Family::Ipv4Unicast, 4) => (be32(next_hop, 0).map(|a| Ipv4Addr::from(a).into()), None),
        (Family::Ipv6Unicast, 16 | 32) => {
            let global: [u8; 16] = next_hop[..16].try_into().map_err(|_| error)?;
            let link_local = next_hop
                .get(16..32)
                .and_then(|b| <[u8; 16]>::try_from(b).ok())
                .map(std::net::Ipv6Addr::from);
            (Some(std::net::Ipv6Addr::from(global).into()), link_local)
        }
        _ => (None, None),
    };
    Ok(Some(MpReach {
        family,
        next_hop: next_hop.ok_or(error)?,
        link_local,
        nlri: Prefixes::checked(family, nlri).ok_or(error)?,
    }))
}

/// MP_UNREACH_NLRI (RFC 4760 4).
fn decode_mp_unreach(value: &[u8]) -> Result<Option<MpUnreach<'_>>, u8> {
    let error = update_error::OPTIONAL_ATTRIBUTE_ERROR;
    let (Some(afi), Some(&safi)) = (be16(value, 0), value.get(2)) else {
        return Err(error);
    };
    let Some(family) = Family::from_afi_safi(afi, safi) else {
        return Ok(None);
    };
    Ok(Some(MpUnreach {
        family,
        withdrawn: Prefixes::checked(family, &value[3..]).ok_or(error)?,
    }))
}

/// Appends one attribute, with a 2-byte length when the value needs it or
/// `flags` asks for it.
pub(crate) fn push_attribute(out: &mut Vec<u8>, flags: u8, type_code: u8, value: &[u8]) {
    if value.len() > 255 || flags & flag::EXTENDED_LENGTH != 0 {
        out.extend_from_slice(&[flags | flag::EXTENDED_LENGTH, type_code]);
        out.extend_from_slice(&(value.len() as u16).to_be_bytes());
    } else {
        out.extend_from_slice(&[flags & !flag::EXTENDED_LENGTH, type_code, value.len() as u8]);
    }
    out.extend_from_slice(value);
}

/// Appends an attribute whose value `write` produces.
pub(crate) fn push_attribute_with(
    out: &mut Vec<u8>,
    flags: u8,
    type_code: u8,
    write: impl FnOnce(&mut Vec<u8>),
) {
    let mut value = Vec::new();
    write(&mut value);
    push_attribute(out, flags, type_code, &value);
}

fn encode_as_path(path: &AsPath, four_octet: bool, out: &mut Vec<u8>) {
    for segment in &path.segments {
        for chunk in segment.asns.chunks(255) {
            out.extend_from_slice(&[segment.kind.code(), chunk.len() as u8]);
            for &asn in chunk {
                match four_octet {
                    true => out.extend_from_slice(&asn.to_be_bytes()),
                    false => out.extend_from_slice(&(asn.min(AS_TRANS) as u16).to_be_bytes()),
                }
            }
        }
    }
}

impl PathAttributes {
    /// Appends the attributes (not MP_REACH/MP_UNREACH) for a session with
    /// or without 4-octet ASNs: on a 2-octet session, ASNs above 65535
    /// become AS_TRANS and AS4_PATH/AS4_AGGREGATOR carry the real ones.
    pub fn encode(&self, four_octet: bool, out: &mut Vec<u8>) {
        let wk = flag::TRANSITIVE;
        let opt_trans = flag::OPTIONAL | flag::TRANSITIVE;
        if let Some(origin) = self.origin {
            push_attribute(out, wk, attr::ORIGIN, &[origin as u8]);
        }
        if let Some(path) = &self.as_path {
            push_attribute_with(out, wk, attr::AS_PATH, |v| {
                encode_as_path(path, four_octet, v)
            });
        }
        if let Some(next_hop) = self.next_hop {
            push_attribute(out, wk, attr::NEXT_HOP, &next_hop.octets());
        }
        if let Some(med) = self.med {
            push_attribute(
                out,
                flag::OPTIONAL,
                attr::MULTI_EXIT_DISC,
                &med.to_be_bytes(),
            );
        }
        if let Some(local_pref) = self.local_pref {
            push_attribute(out, wk, attr::LOCAL_PREF, &local_pref.to_be_bytes());
        }
        if self.atomic_aggregate {
            push_attribute(out, wk, attr::ATOMIC_AGGREGATE, &[]);
        }
        if let Some((asn, address)) = self.aggregator {
            push_attribute_with(out, opt_trans, attr::AGGREGATOR, |v| {
                match four_octet {
                    true => v.extend_from_slice(&asn.to_be_bytes()),
                    false => v.extend_from_slice(&(asn.min(AS_TRANS) as u16).to_be_bytes()),
                }
                v.extend_from_slice(&address.octets());
            });
        }
        if !self.communities.is_empty() {
            push_attribute_with(out, opt_trans, attr::COMMUNITIES, |v| {
                self.communities
                    .iter()
                    .for_each(|c| v.extend_from_slice(&c.to_be_bytes()));
            });
        }
        if !four_octet {
            if let Some(path) = self
                .as_path
                .as_ref()
                .filter(|p| p.asns().any(|a| a > 0xffff))
            {
                push_attribute_with(out, opt_trans, attr::AS4_PATH, |v| {
                    encode_as_path(path, true, v)
                });
            }
            if let Some((asn, address)) = self.aggregator.filter(|(asn, _)| *asn > 0xffff) {
                push_attribute_with(out, opt_trans, attr::AS4_AGGREGATOR, |v| {
                    v.extend_from_slice(&asn.to_be_bytes());
                    v.extend_from_slice(&address.octets());
                });
            }
        }
        for other in &self.other {
            // RFC 4271 5: passing on an optional transitive attribute sets Partial.
            push_attribute(
                out,
                other.flags | flag::PARTIAL,
                other.type_code,
                &other.value,
            );
        }
    }
}
