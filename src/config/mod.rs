//! Node configuration: one TOML file per node (interfaces, neighbours,
//! routes with BGP attributes, the route selection mode, must-encrypt
//! policies), read with serde and checked before any packet flows.
//!
//! [`NodeConfig::load`] and [`NodeConfig::from_toml_str`] return either a
//! valid [`NodeConfig`] or a [`ConfigError`] whose every problem names the
//! file, line, column and field (`node.toml:42:7: route[3].next_hop: ...`).
//! Configurations built in code are checked with [`NodeConfig::validate`].
//! docs/node-config.md documents every field.

mod error;
mod file;
mod ike;
mod types;
mod validate;

use std::path::{Path, PathBuf};

pub use error::{ConfigError, ConfigIssue, FieldPath, Located, PathSegment};
pub use ike::{
    DEFAULT_CHILD_LIFETIME_S, DEFAULT_DPD_DELAY_S, DEFAULT_DPD_TIMEOUT_S, DEFAULT_REKEY_MARGIN_S,
    DeadPeerAction, IkeRole, MIN_CHILD_LIFETIME_S, TunnelIke, child_lifetime_bytes,
    default_rekey_margin_s, lifetime_issue, parse_identity,
};
pub use types::{
    DEFAULT_ETHERNET_MTU, DEFAULT_TUNNEL_MTU, EthernetConfig, InterfaceConfig, InterfaceKind,
    MAX_MTU, MIN_ETHERNET_MTU, MIN_IPV6_MTU, MIN_MSS_CLAMP, NeighborConfig, NodeConfig,
    PolicyAction, PolicyConfig, TunnelConfig, TunnelKeying,
};
pub use validate::MAX_PATHS_LIMIT;

pub(crate) use error::SourceMap;
use file::RawNode;

impl NodeConfig {
    /// Reads and checks the node configuration in `path`.
    pub fn load(path: impl AsRef<Path>) -> Result<NodeConfig, ConfigError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            file: path.to_path_buf(),
            source,
        })?;
        Self::from_toml_str(&text, path)
    }

    /// Parses and checks a node configuration; `origin` names the text in
    /// errors (a file name, or something like `<inline>`), and its
    /// directory is where relative paths (an `ike` table's `psk_file`) are
    /// read from.
    pub fn from_toml_str(
        text: &str,
        origin: impl Into<PathBuf>,
    ) -> Result<NodeConfig, ConfigError> {
        let origin: PathBuf = origin.into();
        let base = origin.parent().map(Path::to_path_buf).unwrap_or_default();
        let map = SourceMap::new(text, origin);
        let raw: RawNode =
            toml::from_str(text).map_err(|e| ConfigError::Syntax(map.locate_toml_error(&e)))?;
        let config = raw
            .into_config(&base)
            .map_err(|issues| map.invalid(issues))?;
        config.validate().map_err(|issues| map.invalid(issues))?;
        Ok(config)
    }

    /// Checks the semantics (names, SPIs, keys, MTUs, addresses, neighbours,
    /// next hops, prefixes, policies, tunnel underlay); every problem found.
    pub fn validate(&self) -> Result<(), Vec<ConfigIssue>> {
        let issues = validate::validate(self);
        if issues.is_empty() {
            Ok(())
        } else {
            Err(issues)
        }
    }
}
