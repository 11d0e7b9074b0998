//! Next hops and next-hop groups: what a FIB entry points at.
//!
//! A FIB leaf holds a [`NextHopGroupId`]; the group lists one or more
//! equal-cost next hops (ECMP, e.g. the two links of an ExpressRoute circuit)
//! and the caller's flow hash picks one, so a flow always takes the same link.

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

/// An egress interface index (the node configuration maps names to ids).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default,
)]
pub struct InterfaceId(pub u32);

impl fmt::Display for InterfaceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "if{}", self.0)
    }
}

/// Where a packet goes next: out of `interface`, to `via` when the next hop
/// is a router (`None`: the destination is on the link).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct NextHop {
    /// The egress interface.
    pub interface: InterfaceId,
    /// The next router's address, if any.
    pub via: Option<IpAddr>,
}

impl NextHop {
    /// A next hop through router `via` out of `interface`.
    pub fn via(interface: InterfaceId, via: IpAddr) -> Self {
        Self {
            interface,
            via: Some(via),
        }
    }

    /// A directly connected destination on `interface`.
    pub fn direct(interface: InterfaceId) -> Self {
        Self {
            interface,
            via: None,
        }
    }
}

impl fmt::Display for NextHop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.via {
            Some(via) => write!(f, "via {via} dev {}", self.interface),
            None => write!(f, "dev {}", self.interface),
        }
    }
}

/// Index of a next-hop group in [`NextHopGroups`]; what the FIB stores.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default,
)]
pub struct NextHopGroupId(pub u32);

impl fmt::Display for NextHopGroupId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "nhg{}", self.0)
    }
}

/// A flat table of next-hop groups, deduplicated by member list and
/// reference-counted so ids of unused groups are reused.
///
/// Members are kept sorted, so `[a, b]` and `[b, a]` are the same group and a
/// flow hash maps to the same member whatever order the routes arrived in.
#[derive(Debug, Clone, Default)]
pub struct NextHopGroups {
    groups: Vec<GroupSlot>,
    by_members: HashMap<Box<[NextHop]>, NextHopGroupId>,
    free: Vec<NextHopGroupId>,
}

#[derive(Debug, Clone, Default)]
struct GroupSlot {
    members: Box<[NextHop]>,
    refs: u32,
}

impl NextHopGroups {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// The id of the group with exactly these members (any order, duplicates
    /// ignored), creating it if needed, and takes one reference to it.
    /// Returns `None` for an empty member list.
    pub fn acquire(&mut self, members: &[NextHop]) -> Option<NextHopGroupId> {
        // Already sorted without duplicates (a lone next hop always is): an
        // existing group is found without copying the members.
        if members.windows(2).all(|pair| pair[0] < pair[1])
            && let Some(&id) = self.by_members.get(members)
        {
            if let Some(slot) = self.groups.get_mut(id.0 as usize) {
                slot.refs += 1;
            }
            return Some(id);
        }
        let mut sorted = members.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        if sorted.is_empty() {
            return None;
        }
        let key = sorted.into_boxed_slice();
        if let Some(&id) = self.by_members.get(&key) {
            if let Some(slot) = self.groups.get_mut(id.0 as usize) {
                slot.refs += 1;
            }
            return Some(id);
        }
        let slot = GroupSlot {
            members: key.clone(),
            refs: 1,
        };
        let id = match self.free.pop() {
            Some(id) => {
                self.groups[id.0 as usize] = slot;
                id
            }
            None => {
                self.groups.push(slot);
                NextHopGroupId((self.groups.len() - 1) as u32)
            }
        };
        self.by_members.insert(key, id);
        Some(id)
    }

    /// Drops one reference; a group with none left is removed and its id
    /// becomes reusable. Unknown ids are ignored.
    pub fn release(&mut self, id: NextHopGroupId) {
        let Some(slot) = self.groups.get_mut(id.0 as usize) else {
            return;
        };
        if slot.refs == 0 {
            return;
        }
        slot.refs -= 1;
        if slot.refs == 0 {
            let members = std::mem::take(&mut slot.members);
            self.by_members.remove(&members);
            self.free.push(id);
        }
    }

    /// The members of a group (empty for an unknown or released id).
    pub fn members(&self, id: NextHopGroupId) -> &[NextHop] {
        self.groups
            .get(id.0 as usize)
            .map_or(&[], |slot| &slot.members)
    }

    /// ECMP: the member a flow with this hash takes. The hash is mapped onto
    /// the members by multiply-shift (no division), so any well-mixed 64-bit
    /// hash spreads flows evenly. `None` for an unknown or released id.
    #[inline]
    pub fn select(&self, id: NextHopGroupId, flow_hash: u64) -> Option<&NextHop> {
        let members = self.members(id);
        let pick = (u128::from(flow_hash) * members.len() as u128) >> 64;
        members.get(pick as usize)
    }

    /// Groups currently in use.
    pub fn len(&self) -> usize {
        self.groups.len() - self.free.len()
    }

    /// No group in use.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// References held on a group (0 for an unknown or released id).
    pub fn refs(&self, id: NextHopGroupId) -> u32 {
        self.groups.get(id.0 as usize).map_or(0, |slot| slot.refs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hop(interface: u32, last: u8) -> NextHop {
        NextHop::via(InterfaceId(interface), IpAddr::from([10, 0, 0, last]))
    }

    #[test]
    fn groups_deduplicate_regardless_of_order() {
        let mut groups = NextHopGroups::new();
        let a = groups.acquire(&[hop(1, 1), hop(2, 2)]);
        let b = groups.acquire(&[hop(2, 2), hop(1, 1), hop(1, 1)]);
        assert_eq!(a, b);
        assert_eq!(groups.len(), 1);
        let id = a.unwrap();
        assert_eq!(groups.refs(id), 2);
        assert_eq!(groups.members(id), &[hop(1, 1), hop(2, 2)]);
        assert_eq!(groups.acquire(&[]), None);
    }

    #[test]
    fn released_ids_are_reused() {
        let mut groups = NextHopGroups::new();
        let a = groups.acquire(&[hop(1, 1)]).unwrap();
        groups.release(a);
        assert!(groups.is_empty());
        assert!(groups.members(a).is_empty());
        assert_eq!(groups.select(a, 7), None);
        let b = groups.acquire(&[hop(3, 3)]).unwrap();
        assert_eq!(a, b);
        assert_eq!(groups.members(b), &[hop(3, 3)]);
        groups.release(NextHopGroupId(99));
    }

    #[test]
    fn select_spreads_hashes_over_members() {
        let mut groups = NextHopGroups::new();
        let id = groups.acquire(&[hop(1, 1), hop(2, 2)]).unwrap();
        assert_eq!(groups.select(id, 0), Some(&hop(1, 1)));
        assert_eq!(groups.select(id, u64::MAX), Some(&hop(2, 2)));
        let mut counts = [0usize; 2];
        for i in 0..1000u64 {
            let hash = i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
            let pick = groups.select(id, hash).unwrap();
            counts[usize::from(*pick == hop(2, 2))] += 1;
        }
        assert!(counts[0] > 400 && counts[1] > 400, "{counts:?}");
    }
}
