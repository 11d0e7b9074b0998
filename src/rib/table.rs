//! [`Rib`]: every candidate route per prefix, the selection mode, and the
//! FIB it feeds. Adding or withdrawing a route reselects that prefix and
//! stages the result in the FIB; [`Rib::publish`] makes it visible to readers.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;

use ipnet::IpNet;

use super::RibError;
use super::explain::{Explanation, PrefixChoice};
use super::path::{Candidates, RoutePath};
use super::prefix_map::{PrefixMap, Slot};
use super::route::{Route, RouteKey};
use super::selection::{Selection, SelectionMode, select};
use crate::fib::{FibReader, FibWriter, InterfaceId, NextHop, PublishReport};

/// ECMP paths kept per prefix unless [`Rib::with_max_paths`] says otherwise.
pub const DEFAULT_MAX_PATHS: usize = 8;

/// The routing table of one node.
#[derive(Debug)]
pub struct Rib {
    mode: SelectionMode,
    max_paths: usize,
    /// Candidates per prefix; the next-hop group each prefix got is what
    /// the FIB holds for it (the RIB is the FIB's only writer).
    prefixes: PrefixMap<Candidates>,
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
            prefixes: PrefixMap::default(),
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
        let prefixes: Vec<IpNet> = self.prefixes.keys().collect();
        prefixes
            .into_iter()
            .try_for_each(|prefix| self.reselect(prefix))
    }

    /// Adds a route, replacing the one with the same [`RouteKey`] (returned).
    pub fn add(&mut self, route: Route) -> Result<Option<Route>, RibError> {
        let prefix = route.prefix;
        let replaced = self.put(prefix, Arc::new(RoutePath::from(route)))?;
        Ok(replaced.map(|path| path.route(prefix)))
    }

    /// Adds the route `path` gives `prefix`, replacing the one with the same
    /// key; the prefixes of one BGP UPDATE share `path`.
    pub fn add_shared(&mut self, prefix: IpNet, path: &Arc<RoutePath>) -> Result<(), RibError> {
        self.put(prefix, Arc::clone(path)).map(|_| ())
    }

    fn put(
        &mut self,
        prefix: IpNet,
        path: Arc<RoutePath>,
    ) -> Result<Option<Arc<RoutePath>>, RibError> {
        if prefix.trunc() != prefix {
            return Err(RibError::HostBitsSet {
                prefix,
                network: prefix.trunc(),
            });
        }
        let replaced = match self.prefixes.upsert(prefix, path, Candidates::One) {
            Slot::Inserted => None,
            Slot::Present(candidates, path) => candidates.put(prefix, path),
        };
        self.reselect(prefix)?;
        Ok(replaced)
    }

    /// Withdraws the route with this key, returning it.
    pub fn withdraw(&mut self, key: &RouteKey) -> Result<Option<Route>, RibError> {
        let Some(candidates) = self.prefixes.remove(&key.prefix) else {
            return Ok(None);
        };
        let removed = match candidates.take(key) {
            Ok((left, removed)) => {
                if let Some(left) = left {
                    self.prefixes.insert(key.prefix, left);
                }
                removed
            }
            Err(untouched) => {
                self.prefixes.insert(key.prefix, untouched);
                return Ok(None);
            }
        };
        self.reselect(key.prefix)?;
        Ok(Some(removed.route(key.prefix)))
    }

    /// Withdraws every route `matches` accepts (a session going down);
    /// returns how many.
    pub fn withdraw_where(
        &mut self,
        mut matches: impl FnMut(&Route) -> bool,
    ) -> Result<usize, RibError> {
        let mut changed = Vec::new();
        let mut emptied = Vec::new();
        let mut removed = 0;
        for (prefix, candidates) in self.prefixes.iter_mut() {
            let (count, any_left) = candidates.retain(prefix, &mut matches);
            if count != 0 {
                removed += count;
                changed.push(prefix);
                if !any_left {
                    emptied.push(prefix);
                }
            }
        }
        for prefix in &emptied {
            self.prefixes.remove(prefix);
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

    /// The candidates for an exact prefix, in the order they arrived.
    pub fn candidates(&self, prefix: IpNet) -> Vec<Route> {
        self.prefixes
            .get(&prefix)
            .map_or_else(Vec::new, |candidates| candidates.routes(prefix))
    }

    /// Selection for an exact prefix (`None` without candidates).
    pub fn selection(&self, prefix: IpNet) -> Option<Selection> {
        select(self.mode, &self.candidates(prefix), self.max_paths)
    }

    /// Every prefix with at least one route, in no particular order (the
    /// effective-routes view of `erdp verify` sorts them).
    pub fn prefixes(&self) -> impl Iterator<Item = IpNet> + '_ {
        self.prefixes.keys()
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

    /// Reruns selection for `prefix` and stages the result in the FIB
    /// (removes it from the FIB when it has no candidate left).
    fn reselect(&mut self, prefix: IpNet) -> Result<(), RibError> {
        // A lone candidate is chosen by every mode: skip the decision
        // process and its copies (a full table from one peer is all lone
        // candidates).
        let lone;
        let decided: Vec<NextHop>;
        let hops: &[NextHop] = match self.prefixes.get(&prefix) {
            None => &[],
            Some(Candidates::One(only)) => {
                lone = [only.next_hop];
                &lone
            }
            Some(candidates) => {
                decided = select(self.mode, &candidates.routes(prefix), self.max_paths)
                    .map(|selection| selection.chosen.iter().map(|r| r.next_hop).collect())
                    .unwrap_or_default();
                &decided
            }
        };
        let new_group = self.fib.groups_mut().acquire(hops);
        let staged = match new_group {
            Some(group) => self.fib.insert(prefix, group),
            None => self.fib.remove(prefix),
        };
        match staged {
            Ok(old) => {
                if let Some(old) = old {
                    self.fib.groups_mut().release(old);
                }
                Ok(())
            }
            Err(err) => {
                if let Some(group) = new_group {
                    self.fib.groups_mut().release(group);
                }
                Err(err.into())
            }
        }
    }
}
