//! The topology as the README draws it, with plotters' SVG backend: the
//! hosts and nodes, the two links of each circuit, the ESP tunnel riding
//! the circuit from the on-premises edge to the Azure hub, each link in
//! the colour of what crossed it ([`LinkUse`]).

use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::page::HtmlError;
use super::run::LinkUse;

const WIDTH: u32 = 1100;
const NODE: (i32, i32) = (124, 40);
const ROW: i32 = 120;
const SECOND_ROW: i32 = 270;

/// A node's centre, by name; the second circuit's MSEE sits below the first.
fn node_position(name: &str) -> Option<(i32, i32)> {
    Some(match name {
        "onprem-host" => (80, ROW),
        "onprem-edge" => (300, ROW),
        "msee" => (580, ROW),
        "msee2" => (580, SECOND_ROW),
        "azure-hub" => (830, ROW),
        "azure-host" => (1020, ROW),
        _ => return None,
    })
}

/// A link's ends and how far its middle bends up (negative) or down, so
/// the two links of a circuit are drawn apart.
fn link_layout(name: &str) -> Option<(&'static str, &'static str, i32)> {
    Some(match name {
        "onprem-lan" => ("onprem-host", "onprem-edge", 0),
        "er-primary" => ("onprem-edge", "msee", -34),
        "er-secondary" => ("onprem-edge", "msee", 34),
        "msee-hub" => ("msee", "azure-hub", 0),
        "azure-vnet" => ("azure-hub", "azure-host", 0),
        "er2-primary" => ("onprem-edge", "msee2", -26),
        "er2-secondary" => ("onprem-edge", "msee2", 26),
        "msee2-hub" => ("msee2", "azure-hub", 0),
        _ => return None,
    })
}

fn colour(link_use: LinkUse) -> RGBColor {
    match link_use {
        LinkUse::Esp => RGBColor(0x1a, 0x7f, 0x37),
        LinkUse::Plain => RGBColor(0xbc, 0x4c, 0x00),
        LinkUse::Mixed => RGBColor(0x9a, 0x67, 0x00),
        LinkUse::Leak => RGBColor(0xcf, 0x22, 0x2e),
        LinkUse::Idle => RGBColor(0x8c, 0x95, 0x9f),
    }
}

const TUNNEL: RGBColor = RGBColor(0x82, 0x50, 0xdf);

/// The drawing: `uses` gives each link's colour (links it does not know
/// are left out), `down` the links down at the end (drawn dashed),
/// `tunnel_esp` whether any flow crossed in ESP, `tunnels` how many
/// tunnels (one per VPN gateway instance) ride the circuit.
pub(crate) fn topology_svg(
    uses: &[(String, LinkUse)],
    down: &[&str],
    tunnel_esp: bool,
    tunnels: usize,
) -> Result<String, HtmlError> {
    let error = |e: &dyn std::fmt::Display| HtmlError::Chart {
        chart: "topology".into(),
        reason: e.to_string(),
    };
    let two_circuits = uses.iter().any(|(name, _)| name.starts_with("er2-"));
    let height = if two_circuits { 330 } else { 210 };
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| error(&e))?;
        let label = |size: i32, c: RGBColor| {
            ("sans-serif", size)
                .into_font()
                .color(&c)
                .pos(Pos::new(HPos::Center, VPos::Center))
        };
        // The tunnel above the circuit, from edge to hub.
        let (edge, hub) = (
            node_position("onprem-edge").unwrap_or_default(),
            node_position("azure-hub").unwrap_or_default(),
        );
        let lift = ROW - 78;
        let tunnel_colour = if tunnel_esp {
            TUNNEL
        } else {
            RGBColor(0x8c, 0x95, 0x9f)
        };
        let tunnel = [
            (edge.0, edge.1 - NODE.1 / 2),
            (edge.0, lift),
            (hub.0, lift),
            (hub.0, hub.1 - NODE.1 / 2),
        ];
        root.draw(&DashedPathElement::new(
            tunnel,
            9,
            6,
            tunnel_colour.stroke_width(3),
        ))
        .map_err(|e| error(&e))?;
        let caption = if tunnels > 1 {
            "ESP tunnels vpn and vpn2, one per VPN gateway instance (over the circuit)"
        } else {
            "ESP tunnel (IKEv2/ESP over the circuit)"
        };
        root.draw(&Text::new(
            caption,
            ((edge.0 + hub.0) / 2, lift - 11),
            label(13, tunnel_colour),
        ))
        .map_err(|e| error(&e))?;
        for (name, link_use) in uses {
            let Some((a, b, bend)) = link_layout(name) else {
                continue;
            };
            let (Some(from), Some(to)) = (node_position(a), node_position(b)) else {
                continue;
            };
            let start = (from.0 + NODE.0 / 2, from.1 + bend / 3);
            let end = (to.0 - NODE.0 / 2, to.1 + bend / 3);
            let middle = ((start.0 + end.0) / 2, (start.1 + end.1) / 2 + bend);
            let style = colour(*link_use).stroke_width(5);
            let points = [start, middle, end];
            if down.contains(&name.as_str()) {
                root.draw(&DashedPathElement::new(points, 7, 5, style))
            } else {
                root.draw(&PathElement::new(points, style))
            }
            .map_err(|e| error(&e))?;
            let text_y = middle.1 + if bend > 0 { 14 } else { -12 };
            root.draw(&Text::new(
                name.clone(),
                (middle.0, text_y),
                label(12, RGBColor(0x1f, 0x23, 0x28)),
            ))
            .map_err(|e| error(&e))?;
        }
        let mut nodes = vec![
            "onprem-host",
            "onprem-edge",
            "msee",
            "azure-hub",
            "azure-host",
        ];
        if two_circuits {
            nodes.push("msee2");
        }
        for node in nodes {
            let Some((x, y)) = node_position(node) else {
                continue;
            };
            let corner = (x - NODE.0 / 2, y - NODE.1 / 2);
            let far = (x + NODE.0 / 2, y + NODE.1 / 2);
            root.draw(&Rectangle::new(
                [corner, far],
                RGBColor(0xf6, 0xf8, 0xfa).filled(),
            ))
            .map_err(|e| error(&e))?;
            root.draw(&Rectangle::new(
                [corner, far],
                BLACK.mix(0.6).stroke_width(1),
            ))
            .map_err(|e| error(&e))?;
            root.draw(&Text::new(
                node,
                (x, y),
                label(13, RGBColor(0x1f, 0x23, 0x28)),
            ))
            .map_err(|e| error(&e))?;
        }
        root.present().map_err(|e| error(&e))?;
    }
    Ok(svg)
}
