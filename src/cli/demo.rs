//! `erdp demo`: the routing tables alone, no traffic (the main job is
//! `erdp run`). Builds the RIB and FIB of both edges of the designs, asks them where sample destinations
//! go and why, and flags plaintext leaks (identical prefixes on both paths,
//! where Azure's ExpressRoute preference wins over the tunnel).

use std::fmt::Write as _;
use std::net::IpAddr;
use std::process::ExitCode;

use super::stdout::out;
use crate::rib::{
    Explanation, InterfaceId, NextHop, Rib, RibError, Route, Rule, SelectionMode, Session,
};

const ER_PRIMARY: InterfaceId = InterfaceId(0);
const ER_SECONDARY: InterfaceId = InterfaceId(1);
const TUNNEL: InterfaceId = InterfaceId(2);

/// Azure's ASN for ExpressRoute (12076), the VNet gateway's (65515) and the
/// on-premises network's (65001).
const AS_MICROSOFT: u32 = 12076;
const AS_AZURE_GATEWAY: u32 = 65515;
const AS_ON_PREM: u32 = 65001;

fn addr(text: &str) -> IpAddr {
    text.parse().unwrap_or(IpAddr::from([0, 0, 0, 0]))
}

/// The same prefix over both ExpressRoute links (primary, secondary).
fn over_expressroute(prefix: &str, as_path: &[u32]) -> [Route; 2] {
    let prefix = prefix.parse().unwrap_or_default();
    [
        (ER_PRIMARY, "192.168.100.1"),
        (ER_SECONDARY, "192.168.100.5"),
    ]
    .map(|(link, via)| {
        Route::bgp(prefix, NextHop::via(link, addr(via)), Session::ExpressRoute)
            .with_as_path(as_path)
    })
}

fn over_vpn(prefix: &str, as_path: &[u32]) -> Route {
    let prefix = prefix.parse().unwrap_or_default();
    Route::bgp(
        prefix,
        NextHop::via(TUNNEL, addr("169.254.21.1")),
        Session::Vpn,
    )
    .with_as_path(as_path)
}

fn named(mode: SelectionMode, tunnel: &str) -> Rib {
    let mut rib = Rib::new(mode);
    rib.name_interface(ER_PRIMARY, "er-primary");
    rib.name_interface(ER_SECONDARY, "er-secondary");
    rib.name_interface(TUNNEL, tunnel);
    rib
}

/// Azure's gateway: ExpressRoute first for identical prefixes (the default).
/// On-prem advertises 10.10/16 on ExpressRoute and its /17s on the VPN
/// (design 1), 10.20/16 only on the VPN and 10.30/16 only on ExpressRoute
/// (design 2), and, by mistake, 10.40/16 identically on both.
fn azure_edge() -> Result<Rib, RibError> {
    let mut rib = named(SelectionMode::ExpressRouteFirst, "vpn-gw");
    let path = [AS_ON_PREM];
    for prefix in ["10.10.0.0/16", "10.30.0.0/16", "10.40.0.0/16"] {
        for route in over_expressroute(prefix, &path) {
            rib.add(route)?;
        }
    }
    for prefix in [
        "10.10.0.0/17",
        "10.10.128.0/17",
        "10.20.0.0/16",
        "10.40.0.0/16",
    ] {
        rib.add(over_vpn(prefix, &path))?;
    }
    rib.add(Route::connected(
        "10.50.0.0/16".parse().unwrap_or_default(),
        InterfaceId(3),
    ))?;
    rib.name_interface(InterfaceId(3), "vnet");
    rib.publish();
    Ok(rib)
}

/// The on-premises edge: plain BGP, the VPN preferred by local-pref 200 for
/// the identical VNet prefix learned on both paths.
fn on_prem_edge() -> Result<Rib, RibError> {
    let mut rib = named(SelectionMode::Bgp, "ipsec0");
    for route in over_expressroute("10.50.0.0/16", &[AS_MICROSOFT, AS_AZURE_GATEWAY]) {
        rib.add(route)?;
    }
    rib.add(over_vpn("10.50.0.0/16", &[AS_AZURE_GATEWAY]).with_local_pref(200))?;
    rib.publish();
    Ok(rib)
}

/// What happened to traffic to one destination.
enum Verdict {
    Encrypted,
    PlainByDesign,
    Leak,
    Local,
    NoRoute,
}

fn verdict(explanation: &Explanation) -> Verdict {
    let Some(route) = explanation.chosen_routes().first() else {
        return Verdict::NoRoute;
    };
    match route.session {
        Session::Vpn => Verdict::Encrypted,
        Session::Other => Verdict::Local,
        Session::ExpressRoute if explanation.bypassed_sessions().contains(&Session::Vpn) => {
            Verdict::Leak
        }
        Session::ExpressRoute => Verdict::PlainByDesign,
    }
}

/// One summary line: destination, path, FIB check, reason.
fn summary(rib: &Rib, destination: IpAddr, leaks: &mut usize) -> String {
    let explanation = rib.explain(destination);
    let fib = rib.reader().load();
    let fib_paths: Vec<InterfaceId> = fib
        .lookup(destination)
        .map(|found| {
            fib.groups()
                .members(found.group)
                .iter()
                .map(|hop| hop.interface)
                .collect()
        })
        .unwrap_or_default();
    let rib_paths: Vec<InterfaceId> = explanation
        .chosen_routes()
        .iter()
        .map(|route| route.next_hop.interface)
        .collect();
    let agrees = if fib_paths == rib_paths {
        "fib ok"
    } else {
        "FIB DIFFERS"
    };
    let (path, note) = match verdict(&explanation) {
        Verdict::Encrypted => ("VPN tunnel (encrypted)", String::new()),
        Verdict::PlainByDesign => (
            "plain ER   (plaintext)",
            " [no VPN route: design 2, by intent]".to_owned(),
        ),
        Verdict::Local => ("local", String::new()),
        Verdict::NoRoute => ("no route", String::new()),
        Verdict::Leak => {
            *leaks += 1;
            (
                "plain ER   (PLAINTEXT)",
                " <-- LEAK: a VPN route exists but lost".to_owned(),
            )
        }
    };
    let prefix = explanation
        .chosen()
        .map(|choice| choice.prefix.to_string())
        .unwrap_or_default();
    let mut why = match (explanation.rule(), explanation.less_specific().first()) {
        (Some(Rule::LongestPrefix), Some(shorter)) => {
            format!(
                "{}: /{} over {}",
                Rule::LongestPrefix,
                prefix_len(&explanation),
                shorter.prefix
            )
        }
        (Some(rule), _) => rule.to_string(),
        (None, _) => "nothing matches".to_owned(),
    };
    match (rib_paths.len(), explanation.rule()) {
        (0 | 1, _) => {}
        (links, Some(Rule::EqualCost)) => {
            let _ = write!(why, " over {links} links");
        }
        (links, _) => {
            let _ = write!(why, " (ECMP over {links} links)");
        }
    }
    format!("  {destination:<12} {path:<22}  {prefix:<15} {agrees}  why: {why}{note}\n")
}

fn prefix_len(explanation: &Explanation) -> u8 {
    explanation
        .chosen()
        .map_or(0, |choice| choice.prefix.prefix_len())
}

fn report() -> Result<(String, usize), RibError> {
    let mut text = String::from(
        "erdp demo: the edges' routing tables alone, no traffic (the main job, with packets, is `erdp run`): where does traffic go, and would it leave encrypted?\n\n",
    );
    let mut leaks = 0;
    let azure = azure_edge()?;
    text.push_str("Azure gateway -> on-premises (mode expressroute-first)\n");
    for destination in [
        "10.10.1.5",
        "10.10.200.9",
        "10.20.7.7",
        "10.30.7.7",
        "10.40.7.7",
        "10.50.0.4",
        "172.16.0.1",
    ] {
        text.push_str(&summary(&azure, addr(destination), &mut leaks));
    }
    let on_prem = on_prem_edge()?;
    text.push_str("\nOn-premises edge -> Azure (mode bgp)\n");
    text.push_str(&summary(&on_prem, addr("10.50.3.4"), &mut leaks));

    text.push_str("\nWhy, in full:\n");
    for (rib, destination) in [
        (&azure, "10.10.1.5"),
        (&azure, "10.40.7.7"),
        (&on_prem, "10.50.3.4"),
    ] {
        let _ = write!(text, "{}", rib.explain(addr(destination)));
    }
    let _ = writeln!(
        text,
        "\n{leaks} plaintext leak(s). Fix for identical prefixes: advertise more specific prefixes over the VPN \
         (design 1), separate prefixes (design 2), or set Azure's routing preference to VPN."
    );
    Ok((text, leaks))
}

/// Runs the demo: prints the report; exit 0 (the leak is part of the demo).
pub(crate) fn run() -> ExitCode {
    match report() {
        Ok((text, _leaks)) => {
            out!("{text}");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("erdp: building the demo routing tables: {err}");
            ExitCode::from(super::EXIT_CHECK_FAILED)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_flags_exactly_the_identical_prefix_leak() {
        let (text, leaks) = report().unwrap();
        assert_eq!(leaks, 1, "{text}");
        assert!(
            text.contains("10.40.7.7    plain ER   (PLAINTEXT)"),
            "{text}"
        );
        assert!(text.contains("10.10.1.5    VPN tunnel (encrypted)  10.10.0.0/17    fib ok  why: longest prefix match: /17 over 10.10.0.0/16"), "{text}");
        assert!(
            text.contains("10.30.7.7    plain ER   (plaintext)"),
            "{text}"
        );
        assert!(text.contains("10.50.3.4    VPN tunnel (encrypted)  10.50.0.0/16    fib ok  why: higher local-pref"), "{text}");
        assert!(!text.contains("FIB DIFFERS"), "{text}");
    }
}
