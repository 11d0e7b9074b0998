//! The IKE section of a run's page (`[ike]`): each end of each tunnel
//! with its state and last failure, and every SA pair it had with its
//! SPIs, algorithm, lifetime and when it was installed and deleted (never
//! a key).

use serde::Serialize;

use super::page::{HtmlError, Section};
use crate::control::TunnelState;
use crate::scenario::{IkeTunnelReport, RunReport};

#[derive(Serialize)]
struct TunnelRow {
    node: String,
    tunnel: String,
    state: &'static str,
    class: &'static str,
    sas: usize,
    last_failure: String,
}

#[derive(Serialize)]
struct SaRow {
    node: String,
    tunnel: String,
    inbound: String,
    outbound: String,
    algorithm: String,
    installed: String,
    deleted: String,
    lifetime: String,
}

#[derive(Serialize)]
struct IkeContext {
    tunnels: Vec<TunnelRow>,
    sas: Vec<SaRow>,
}

fn tunnel_row(end: &IkeTunnelReport) -> TunnelRow {
    let t = &end.tunnel;
    let (state, class) = match t.state {
        TunnelState::Up => ("up", "up"),
        TunnelState::Negotiating => ("negotiating", "down"),
        TunnelState::Down => ("down", "down"),
    };
    TunnelRow {
        node: end.node.clone(),
        tunnel: t.interface.clone(),
        state,
        class,
        sas: t.sas.len(),
        last_failure: t.last_failure.clone().unwrap_or_default(),
    }
}

fn sa_rows(end: &IkeTunnelReport) -> impl Iterator<Item = SaRow> + '_ {
    end.tunnel.sas.iter().map(|sa| SaRow {
        node: end.node.clone(),
        tunnel: end.tunnel.interface.clone(),
        inbound: format!("0x{:08x}", sa.inbound_spi),
        outbound: format!("0x{:08x}", sa.outbound_spi),
        algorithm: sa.algorithm.clone(),
        installed: format!("{:.3} s", sa.installed_at_s),
        deleted: sa
            .deleted_at_s
            .map_or("-".into(), |at| format!("{at:.3} s")),
        lifetime: match sa.lifetime_kb {
            Some(kb) => format!("{} s / {kb} KB", sa.lifetime_s),
            None => format!("{} s", sa.lifetime_s),
        },
    })
}

/// The section, when the run's tunnels were keyed by IKE.
pub(super) fn ike_section(report: &RunReport) -> Result<Option<Section>, HtmlError> {
    if report.ike.is_empty() {
        return Ok(None);
    }
    let context = IkeContext {
        tunnels: report.ike.iter().map(tunnel_row).collect(),
        sas: report.ike.iter().flat_map(sa_rows).collect(),
    };
    Section::from_template("ike", "IKE tunnels and SAs", "ike", &context).map(Some)
}
