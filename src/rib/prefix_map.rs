//! A hash map keyed by IP prefix, compact for a full IPv4 table: IPv4 keys
//! are 5 bytes (address and length, `Ipv4Net`) instead of `IpNet`'s 18, in a
//! map of their own beside the IPv6 one. foldhash with a random seed per map
//! (keys come from BGP peers, so the seed must not be guessable).
//! The RIB and each peer's Adj-RIB-In keep their routes in one.

use std::collections::HashMap;
use std::hash::Hash;

use foldhash::fast::RandomState;
use ipnet::{IpNet, Ipv4Net, Ipv6Net};

/// Values by prefix, in no order.
#[derive(Debug, Clone)]
pub(crate) struct PrefixMap<V> {
    v4: HashMap<Ipv4Net, V, RandomState>,
    v6: HashMap<Ipv6Net, V, RandomState>,
}

impl<V> Default for PrefixMap<V> {
    fn default() -> Self {
        Self {
            v4: HashMap::default(),
            v6: HashMap::default(),
        }
    }
}

/// What [`PrefixMap::upsert`] found.
pub(crate) enum Slot<'a, V, T> {
    /// The prefix was absent: the new value is stored.
    Inserted,
    /// The prefix was present: its value, and what was given back unused.
    Present(&'a mut V, T),
}

fn upsert_in<K: Hash + Eq, V, T>(
    map: &mut HashMap<K, V, RandomState>,
    key: K,
    given: T,
    vacant: impl FnOnce(T) -> V,
) -> Slot<'_, V, T> {
    use std::collections::hash_map::Entry;
    match map.entry(key) {
        Entry::Occupied(entry) => Slot::Present(entry.into_mut(), given),
        Entry::Vacant(entry) => {
            entry.insert(vacant(given));
            Slot::Inserted
        }
    }
}

impl<V> PrefixMap<V> {
    /// Prefixes stored.
    pub(crate) fn len(&self) -> usize {
        self.v4.len() + self.v6.len()
    }

    /// No prefix stored.
    pub(crate) fn is_empty(&self) -> bool {
        self.v4.is_empty() && self.v6.is_empty()
    }

    /// The value for exactly `prefix`.
    pub(crate) fn get(&self, prefix: &IpNet) -> Option<&V> {
        match prefix {
            IpNet::V4(net) => self.v4.get(net),
            IpNet::V6(net) => self.v6.get(net),
        }
    }

    /// Stores `value`, returning the one it replaced.
    pub(crate) fn insert(&mut self, prefix: IpNet, value: V) -> Option<V> {
        match prefix {
            IpNet::V4(net) => self.v4.insert(net, value),
            IpNet::V6(net) => self.v6.insert(net, value),
        }
    }

    /// Stores `vacant(given)` when `prefix` is absent; else hands back the
    /// value present and `given` (one lookup either way).
    pub(crate) fn upsert<T>(
        &mut self,
        prefix: IpNet,
        given: T,
        vacant: impl FnOnce(T) -> V,
    ) -> Slot<'_, V, T> {
        match prefix {
            IpNet::V4(net) => upsert_in(&mut self.v4, net, given, vacant),
            IpNet::V6(net) => upsert_in(&mut self.v6, net, given, vacant),
        }
    }

    /// Removes and returns the value for `prefix`.
    pub(crate) fn remove(&mut self, prefix: &IpNet) -> Option<V> {
        match prefix {
            IpNet::V4(net) => self.v4.remove(net),
            IpNet::V6(net) => self.v6.remove(net),
        }
    }

    /// Every prefix with its value.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (IpNet, &V)> {
        let v4 = self.v4.iter().map(|(net, value)| (IpNet::V4(*net), value));
        let v6 = self.v6.iter().map(|(net, value)| (IpNet::V6(*net), value));
        v4.chain(v6)
    }

    /// Every prefix with its value, to change.
    pub(crate) fn iter_mut(&mut self) -> impl Iterator<Item = (IpNet, &mut V)> {
        let v4 = self
            .v4
            .iter_mut()
            .map(|(net, value)| (IpNet::V4(*net), value));
        let v6 = self
            .v6
            .iter_mut()
            .map(|(net, value)| (IpNet::V6(*net), value));
        v4.chain(v6)
    }

    /// Every prefix.
    pub(crate) fn keys(&self) -> impl Iterator<Item = IpNet> + '_ {
        self.iter().map(|(prefix, _)| prefix)
    }

    /// Empties the map, yielding what it held.
    pub(crate) fn drain(&mut self) -> impl Iterator<Item = (IpNet, V)> + '_ {
        let v4 = self.v4.drain().map(|(net, value)| (IpNet::V4(net), value));
        let v6 = self.v6.drain().map(|(net, value)| (IpNet::V6(net), value));
        v4.chain(v6)
    }

    /// Room for `additional` more IPv4 prefixes (full tables are IPv4).
    pub(crate) fn reserve_v4(&mut self, additional: usize) {
        self.v4.reserve(additional);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_families_round_trip_and_keys_are_compact() {
        assert_eq!(size_of::<Ipv4Net>(), 5);
        let mut map = PrefixMap::default();
        let v4: IpNet = "10.0.0.0/8".parse().unwrap();
        let v6: IpNet = "2001:db8::/32".parse().unwrap();
        assert!(map.insert(v4, 1).is_none());
        assert!(matches!(map.upsert(v6, 2, |given| given), Slot::Inserted));
        match map.upsert(v6, 9, |given| given) {
            Slot::Present(value, given) => *value += given - 8,
            Slot::Inserted => panic!("present"),
        }
        assert_eq!(
            (map.get(&v4), map.get(&v6), map.len()),
            (Some(&1), Some(&3), 2)
        );
        let mut keys: Vec<IpNet> = map.keys().collect();
        keys.sort();
        assert_eq!(keys, [v4, v6]);
        assert_eq!(map.remove(&v4), Some(1));
        assert_eq!(map.drain().count(), 1);
        assert!(map.is_empty());
    }
}
