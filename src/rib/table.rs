//! [`Rib`]: every candidate route per prefix, the selection mode, and the
//! FIB it feeds. Adding or withdrawing a route reselects that prefix and
//! stages the result in the FIB; [`Rib::publish`] makes it visible to readers.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

use ipnet::IpNet;

use super::RibError;
use super::explain::{Explanation, PrefixChoice};
use super::route::{Route, RouteKey};
use super::selection::{Selection, SelectionMode, select};
use crate::fib::{FibReader, FibWriter, InterfaceId, NextHop, NextHopGroupId, PublishReport};

/// ECMP paths kept per prefix unless [`Rib::with_max_paths`] says otherwise.
pub const DEFAULT_MAX_PATHS: usize = 8;

#[derive(Debug, Default)]
struct PrefixEntry {
    candidates: Vec<Route>,
    /// The next-hop group installed in the FIB for this prefix.
    group: Option<NextHopGroupId>,
}

/// The routing table of one node.
#[derive(Debug)]
pub struct Rib {
    mode: SelectionMode,
    max_paths: usize,
    prefixes: HashMap<IpNet, PrefixEntry>,
    fib: FibWriter,
    interface_names: BTreeMap<InterfaceId, String>,
}

impl Default for Rib {
    fn default() -> Self {
        Self::new(SelectionMode::default())
    }
}

impl Rib {
    /// An empty RIB choosing by `mode`, with an empty FIB.
    pub fn new(mode: SelectionMode) -> Self {
        Self {
            mode,
            max_paths: DEFAULT_MAX_PATHS,
            prefixes: HashMap::new(),
            fib: FibWriter::new(),
            interface_names: BTreeMap::new(),
        }
    }

    /// Keeps at most `max_paths` (at least 1) equal routes per prefix.
    pub fn with_max_paths(mut self, max_paths: usize) -> Self {
        self.max_paths = max_paths.max(1);
        self
    }

    /// Names an interface for explanations ("er-primary", "vpn0").
    pub fn name_interface(&mut self, id: InterfaceId, name: impl Into<String>) {
        self.interface_names.insert(id, name.into());
    }

    /// The selection mode in force.
    pub fn mode(&self) -> SelectionMode {
        self.mode
    }

    /// Changes the selection mode and reselects every prefix.
    pub fn set_mode(&mut self, mode: SelectionMode) -> Result<(), RibError> {
        self.mode = mode;
        let prefixes: Vec<IpNet> = self.prefixes.keys().copied().collect();
        prefixes
            .into_iter()
            .try_for_each(|prefix| self.reselect(prefix))
    }

    /// Adds a route, replacing the one with the same [`RouteKey`] (returned).
    pub fn add(&mut self, route: Route) -> Result<Option<Route>, RibError> {
        let prefix = route.prefix;
        if prefix.trunc() != prefix {
            return Err(RibError::HostBitsSet {
                prefix,
                network: prefix.trunc(),
            });
        }
        let candidates = &mut self.prefixes.entry(prefix).or_default().candidates;
        let key = route.key();
        let replaced = match candidates.iter_mut().find(|old| old.key() == key) {
            Some(old) => Some(std::mem::replace(old, route)),
            None => {
                // Most prefixes have one or two candidates: grow by one
                // instead of Vec's first step of four (a full table's
                // lone routes would waste three slots each).
                candidates.reserve_exact(1);
                candidates.push(route);
                None
            }
        };
        self.reselect(prefix)?;
        Ok(replaced)
    }

    /// Withdraws the route with this key, returning it.
    pub fn withdraw(&mut self, key: &RouteKey) -> Result<Option<Route>, RibError> {
        let Some(entry) = self.prefixes.get_mut(&key.prefix) else {
            return Ok(None);
        };
        let Some(at) = entry.candidates.iter().position(|r| r.key() == *key) else {
            return Ok(None);
        };
        let removed = entry.candidates.remove(at);
        self.reselect(key.prefix)?;
        Ok(Some(removed))
    }

    /// Withdraws every route `matches` accepts (a session going down);
    /// returns how many.
    pub fn withdraw_where(
        &mut self,
        mut matches: impl FnMut(&Route) -> bool,
    ) -> Result<usize, RibError> {
        let mut changed = Vec::new();
        let mut removed = 0;
        for (prefix, entry) in &mut self.prefixes {
            let before = entry.candidates.len();
            entry.candidates.retain(|route| !matches(route));
            if entry.candidates.len() != before {
                removed += before - entry.candidates.len();
                changed.push(*prefix);
            }
        }
        changed
            .into_iter()
            .try_for_each(|prefix| self.reselect(prefix))?;
        Ok(removed)
    }

    /// Makes every change since the last publish visible to FIB readers.
    pub fn publish(&mut self) -> PublishReport {
        self.fib.publish()
    }

    /// A FIB handle for forwarding threads.
    pub fn reader(&self) -> FibReader {
        self.fib.reader()
    }

    /// The candidates for an exact prefix.
    pub fn candidates(&self, prefix: IpNet) -> &[Route] {
        self.prefixes
            .get(&prefix)
            .map_or(&[], |entry| &entry.candidates)
    }

    /// Selection for an exact prefix (`None` without candidates).
    pub fn selection(&self, prefix: IpNet) -> Option<Selection> {
        select(self.mode, self.candidates(prefix), self.max_paths)
    }

    /// Every prefix with at least one route, in no particular order (the
    /// effective-routes view of `erdp verify` sorts them).
    pub fn prefixes(&self) -> impl Iterator<Item = IpNet> + '_ {
        self.prefixes.keys().copied()
    }

    /// Prefixes with at least one route.
    pub fn len(&self) -> usize {
        self.prefixes.len()
    }

    /// No route at all.
    pub fn is_empty(&self) -> bool {
        self.prefixes.is_empty()
    }

    /// Which route a packet to `destination` takes and why: every matching
    /// prefix, longest first, with its selection.
    pub fn explain(&self, destination: IpAddr) -> Explanation {
        let max_len = match destination {
            IpAddr::V4(_) => 32,
            IpAddr::V6(_) => 128,
        };
        let matches = (0..=max_len)
            .rev()
            .filter_map(|len| {
                let prefix = IpNet::new(destination, len).ok()?.trunc();
                let selection = self.selection(prefix)?;
                Some(PrefixChoice { prefix, selection })
            })
            .collect();
        Explanation {
            destination,
            mode: self.mode,
            matches,
            interface_names: self.interface_names.clone(),
        }
    }

    /// Reruns selection for `prefix` and stages the result in the FIB.
    fn reselect(&mut self, prefix: IpNet) -> Result<(), RibError> {
        let Some(entry) = self.prefixes.get_mut(&prefix) else {
            return Ok(());
        };
        // A lone candidate is chosen by every mode: skip the decision
        // process and its copies (a full table from one peer is all lone
        // candidates).
        let lone;
        let decided: Vec<NextHop>;
        let hops: &[NextHop] = match entry.candidates.as_slice() {
            [only] => {
                lone = [only.next_hop];
                &lone
            }
            candidates => {
                decided = select(self.mode, candidates, self.max_paths)
                    .map(|selection| selection.chosen.iter().map(|r| r.next_hop).collect())
                    .unwrap_or_default();
                &decided
            }
        };
        let new_group = self.fib.groups_mut().acquire(hops);
        let staged = match new_group {
            Some(group) => self.fib.insert(prefix, group).map(|_| ()),
            None => self.fib.remove(prefix).map(|_| ()),
        };
        if let Err(err) = staged {
            if let Some(group) = new_group {
                self.fib.groups_mut().release(group);
            }
            return Err(err.into());
        }
        if let Some(old) = std::mem::replace(&mut entry.group, new_group) {
            self.fib.groups_mut().release(old);
        }
        if entry.candidates.is_empty() {
            self.prefixes.remove(&prefix);
        }
        Ok(())
    }
}
