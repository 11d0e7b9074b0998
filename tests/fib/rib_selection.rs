//! Route selection: every rule of every mode, ECMP, withdrawals, the FIB the
//! RIB feeds, and the seed's designs: (1) the VPN advertises more specific
//! prefixes than ExpressRoute, so Azure picks the VPN by longest prefix;
//! (2) separate prefixes per path; and the on-prem edge preferring the VPN by
//! local-pref for identical prefixes.

use std::net::IpAddr;

use erdp::rib::{
    InterfaceId, NextHop, Origin, Rib, RibError, Route, Rule, SelectionMode, Session, select,
};
use ipnet::IpNet;

const ER_PRIMARY: InterfaceId = InterfaceId(0);
const ER_SECONDARY: InterfaceId = InterfaceId(1);
const VPN: InterfaceId = InterfaceId(2);

fn net(text: &str) -> IpNet {
    text.parse().unwrap()
}

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

fn er(prefix: &str, link: InterfaceId) -> Route {
    let via = if link == ER_PRIMARY {
        "192.168.0.1"
    } else {
        "192.168.0.5"
    };
    Route::bgp(
        net(prefix),
        NextHop::via(link, ip(via)),
        Session::ExpressRoute,
    )
    .with_as_path(&[12076])
}

fn vpn(prefix: &str) -> Route {
    Route::bgp(
        net(prefix),
        NextHop::via(VPN, ip("169.254.21.1")),
        Session::Vpn,
    )
    .with_as_path(&[65515])
}

/// The single winner of `routes` under `mode`, and the deciding rule.
fn winner(mode: SelectionMode, routes: &[Route]) -> (Route, Rule) {
    let selection = select(mode, routes, 8).unwrap();
    assert_eq!(selection.chosen.len(), 1, "{selection:?}");
    (selection.chosen[0].clone(), selection.rule)
}

#[test]
fn administrative_preference_comes_first_in_every_mode() {
    let prefix = "10.0.0.0/24";
    let connected = Route::connected(net(prefix), InterfaceId(9));
    let static_route = Route::static_route(net(prefix), NextHop::via(VPN, ip("10.9.9.9")));
    let bgp = er(prefix, ER_PRIMARY)
        .with_local_pref(1000)
        .with_weight(1000);
    for mode in SelectionMode::ALL {
        let all = [bgp.clone(), static_route.clone(), connected.clone()];
        assert_eq!(
            winner(mode, &all),
            (connected.clone(), Rule::AdminPreference)
        );
        let two = [bgp.clone(), static_route.clone()];
        assert_eq!(
            winner(mode, &two),
            (static_route.clone(), Rule::AdminPreference)
        );
    }
}

#[test]
fn bgp_mode_applies_each_rule_in_order() {
    use SelectionMode::Bgp;
    let base = || er("10.1.0.0/16", ER_PRIMARY);
    let other = || vpn("10.1.0.0/16");
    // Weight beats local-pref.
    let (won, rule) = winner(Bgp, &[base().with_weight(10), other().with_local_pref(500)]);
    assert_eq!((won.session, rule), (Session::ExpressRoute, Rule::Weight));
    // Local-pref beats AS path length.
    let (won, rule) = winner(
        Bgp,
        &[
            base().with_local_pref(200).with_as_path(&[1, 2, 3]),
            other(),
        ],
    );
    assert_eq!(
        (won.session, rule),
        (Session::ExpressRoute, Rule::LocalPref)
    );
    // Shorter AS path beats origin.
    let (won, rule) = winner(
        Bgp,
        &[
            base().with_as_path(&[1, 2]).with_origin(Origin::Igp),
            other().with_origin(Origin::Incomplete),
        ],
    );
    assert_eq!((won.session, rule), (Session::Vpn, Rule::AsPathLength));
    // Origin: igp < egp < incomplete, before MED.
    let (won, rule) = winner(
        Bgp,
        &[
            base().with_origin(Origin::Egp),
            other().with_origin(Origin::Igp).with_med(50),
        ],
    );
    assert_eq!((won.session, rule), (Session::Vpn, Rule::Origin));
    // MED: lower wins between routes from the same neighbour AS...
    let same_as = other().with_as_path(&[12076]).with_med(10);
    let (won, rule) = winner(Bgp, &[base().with_med(20), same_as]);
    assert_eq!((won.session, rule), (Session::Vpn, Rule::Med));
    // ...and is not compared across neighbour ASes: both stay, ECMP.
    let selection = select(Bgp, &[base().with_med(20), other().with_med(10)], 8).unwrap();
    assert_eq!(
        (selection.chosen.len(), selection.rule),
        (2, Rule::EqualCost)
    );
}

#[test]
fn ecmp_over_both_expressroute_links_and_tie_break_beyond_max_paths() {
    let routes = [
        er("10.1.0.0/16", ER_SECONDARY),
        er("10.1.0.0/16", ER_PRIMARY),
    ];
    let selection = select(SelectionMode::Bgp, &routes, 8).unwrap();
    assert_eq!(selection.rule, Rule::EqualCost);
    let links: Vec<InterfaceId> = selection
        .chosen
        .iter()
        .map(|r| r.next_hop.interface)
        .collect();
    assert_eq!(links, [ER_PRIMARY, ER_SECONDARY]);
    let single = select(SelectionMode::Bgp, &routes, 1).unwrap();
    assert_eq!(single.chosen[0].next_hop.interface, ER_PRIMARY);
    assert_eq!(single.losers[0].1, Rule::TieBreak);

    // In the FIB: one group of two members, flows spread by hash.
    let mut rib = Rib::new(SelectionMode::ExpressRouteFirst);
    for route in routes {
        rib.add(route).unwrap();
    }
    rib.publish();
    let fib = rib.reader().load_full();
    let found = fib.lookup(ip("10.1.2.3")).unwrap();
    assert_eq!(found.prefix_len, 16);
    assert_eq!(fib.groups().members(found.group).len(), 2);
    let mut used = [false; 2];
    for flow in 0..64u64 {
        let hop = fib
            .select(found.group, flow.wrapping_mul(0x9E37_79B9_7F4A_7C15))
            .unwrap();
        used[hop.interface.0 as usize] = true;
    }
    assert_eq!(used, [true, true]);
}

#[test]
fn expressroute_first_prefers_expressroute_then_connection_weight_then_as_path() {
    use SelectionMode::ExpressRouteFirst;
    // ExpressRoute beats a VPN route with better BGP attributes.
    let short_vpn = vpn("10.2.0.0/16").with_as_path(&[]).with_local_pref(500);
    let long_er = er("10.2.0.0/16", ER_PRIMARY).with_as_path(&[1, 2, 3, 4]);
    let (won, rule) = winner(ExpressRouteFirst, &[short_vpn.clone(), long_er.clone()]);
    assert_eq!(
        (won.session, rule),
        (
            Session::ExpressRoute,
            Rule::SessionPreference(Session::ExpressRoute)
        )
    );
    // Between circuits, the higher connection weight wins over AS path.
    let heavy = er("10.2.0.0/16", ER_SECONDARY)
        .with_connection_weight(100)
        .with_as_path(&[1, 2, 3, 4, 5]);
    let (won, rule) = winner(ExpressRouteFirst, &[long_er.clone(), heavy]);
    assert_eq!(
        (won.next_hop.interface, rule),
        (ER_SECONDARY, Rule::ConnectionWeight)
    );
    // Equal weights: shorter AS path.
    let shorter = er("10.2.0.0/16", ER_SECONDARY).with_as_path(&[1]);
    let (won, rule) = winner(ExpressRouteFirst, &[long_er, shorter]);
    assert_eq!(
        (won.next_hop.interface, rule),
        (ER_SECONDARY, Rule::AsPathLength)
    );
    // Weight and local-pref are router-local BGP knobs Azure does not use.
    let a = er("10.2.0.0/16", ER_PRIMARY).with_weight(100);
    let b = er("10.2.0.0/16", ER_SECONDARY).with_local_pref(500);
    assert_eq!(
        select(ExpressRouteFirst, &[a, b], 8).unwrap().rule,
        Rule::EqualCost
    );
}

#[test]
fn vpn_first_prefers_the_vpn() {
    let routes = [
        er("10.3.0.0/16", ER_PRIMARY).with_as_path(&[]),
        vpn("10.3.0.0/16").with_as_path(&[1, 2, 3]),
    ];
    let (won, rule) = winner(SelectionMode::VpnFirst, &routes);
    assert_eq!(
        (won.session, rule),
        (Session::Vpn, Rule::SessionPreference(Session::Vpn))
    );
}

#[test]
fn as_path_mode_ignores_the_session_until_a_tie() {
    let er_long = er("10.4.0.0/16", ER_PRIMARY).with_as_path(&[12076, 65001, 65001]);
    let vpn_short = vpn("10.4.0.0/16").with_as_path(&[65515]);
    let (won, rule) = winner(SelectionMode::AsPath, &[er_long, vpn_short.clone()]);
    assert_eq!((won.session, rule), (Session::Vpn, Rule::AsPathLength));
    let er_equal = er("10.4.0.0/16", ER_PRIMARY).with_as_path(&[12076]);
    let (won, rule) = winner(SelectionMode::AsPath, &[er_equal, vpn_short]);
    assert_eq!(
        (won.session, rule),
        (
            Session::ExpressRoute,
            Rule::SessionPreference(Session::ExpressRoute)
        )
    );
}

/// Azure's side of design 1: on-prem advertises 10.10.0.0/16 over both
/// paths and the more specific /17s only over the VPN.
#[test]
fn design_1_azure_picks_the_vpn_for_the_more_specific_prefixes() {
    let mut azure = Rib::new(SelectionMode::ExpressRouteFirst);
    for route in [
        er("10.10.0.0/16", ER_PRIMARY),
        er("10.10.0.0/16", ER_SECONDARY),
        vpn("10.10.0.0/16"),
        vpn("10.10.0.0/17"),
        vpn("10.10.128.0/17"),
    ] {
        azure.add(route).unwrap();
    }
    azure.publish();
    let fib = azure.reader().load_full();
    for destination in ["10.10.1.1", "10.10.200.7"] {
        let explanation = azure.explain(ip(destination));
        assert_eq!(explanation.rule(), Some(Rule::LongestPrefix));
        assert_eq!(explanation.chosen_routes()[0].session, Session::Vpn);
        assert_eq!(explanation.less_specific()[0].prefix, net("10.10.0.0/16"));
        let found = fib.lookup(ip(destination)).unwrap();
        assert_eq!(found.prefix_len, 17);
        assert_eq!(fib.groups().members(found.group)[0].interface, VPN);
        let text = explanation.to_string();
        assert!(
            text.contains("longest prefix match: /17 over 10.10.0.0/16"),
            "{text}"
        );
    }
    // Withdraw the /17s (tunnel down): back to ExpressRoute, both links.
    let withdrawn = azure
        .withdraw_where(|route| route.session == Session::Vpn && route.prefix.prefix_len() == 17)
        .unwrap();
    assert_eq!(withdrawn, 2);
    azure.publish();
    let found = azure.reader().load().lookup(ip("10.10.1.1")).unwrap();
    assert_eq!(found.prefix_len, 16);
    let fib = azure.reader().load_full();
    assert_eq!(fib.groups().members(found.group).len(), 2);
    assert_eq!(
        azure.explain(ip("10.10.1.1")).rule(),
        Some(Rule::SessionPreference(Session::ExpressRoute))
    );
}

#[test]
fn design_2_separate_prefixes_go_their_own_way() {
    let mut azure = Rib::new(SelectionMode::ExpressRouteFirst);
    azure.add(er("10.20.0.0/16", ER_PRIMARY)).unwrap();
    azure.add(vpn("10.30.0.0/16")).unwrap();
    azure.publish();
    let plain = azure.explain(ip("10.20.5.5"));
    assert_eq!(plain.chosen_routes()[0].session, Session::ExpressRoute);
    assert_eq!(plain.rule(), Some(Rule::OnlyCandidate));
    let tunnel = azure.explain(ip("10.30.5.5"));
    assert_eq!(tunnel.chosen_routes()[0].session, Session::Vpn);
    assert!(azure.explain(ip("10.40.0.1")).chosen().is_none());
    assert_eq!(azure.reader().load().lookup(ip("10.40.0.1")), None);
}

#[test]
fn on_prem_edge_prefers_the_vpn_by_local_pref_for_identical_prefixes() {
    let mut on_prem = Rib::new(SelectionMode::Bgp);
    on_prem.add(er("10.100.0.0/16", ER_PRIMARY)).unwrap();
    on_prem.add(er("10.100.0.0/16", ER_SECONDARY)).unwrap();
    on_prem
        .add(vpn("10.100.0.0/16").with_local_pref(200))
        .unwrap();
    on_prem.publish();
    let explanation = on_prem.explain(ip("10.100.1.4"));
    assert_eq!(explanation.chosen_routes().len(), 1);
    assert_eq!(explanation.chosen_routes()[0].session, Session::Vpn);
    assert_eq!(explanation.rule(), Some(Rule::LocalPref));
    let losers = &explanation.chosen().unwrap().selection.losers;
    assert_eq!(losers.len(), 2);
    assert!(losers.iter().all(|(route, rule)| route.session == Session::ExpressRoute && *rule == Rule::LocalPref));
    assert_eq!(explanation.bypassed_sessions(), [Session::ExpressRoute]);
    let found = on_prem.reader().load().lookup(ip("10.100.1.4")).unwrap();
    let fib = on_prem.reader().load_full();
    assert_eq!(
        fib.groups().members(found.group),
        [NextHop::via(VPN, ip("169.254.21.1"))]
    );
}

#[test]
fn identical_prefixes_on_azure_side_leak_over_plain_expressroute() {
    let mut azure = Rib::new(SelectionMode::ExpressRouteFirst);
    azure.add(er("10.100.0.0/16", ER_PRIMARY)).unwrap();
    azure.add(vpn("10.100.0.0/16")).unwrap();
    let explanation = azure.explain(ip("10.100.1.4"));
    assert_eq!(
        explanation.chosen_routes()[0].session,
        Session::ExpressRoute
    );
    assert_eq!(explanation.bypassed_sessions(), [Session::Vpn]);
    // Switching the hub to VPN preference fixes it.
    azure.set_mode(SelectionMode::VpnFirst).unwrap();
    azure.publish();
    let explanation = azure.explain(ip("10.100.1.4"));
    assert_eq!(explanation.chosen_routes()[0].session, Session::Vpn);
    let found = azure.reader().load().lookup(ip("10.100.1.4")).unwrap();
    assert_eq!(
        azure.reader().load().groups().members(found.group)[0].interface,
        VPN
    );
}

#[test]
fn replacing_and_withdrawing_routes_updates_the_fib() {
    let mut rib = Rib::new(SelectionMode::Bgp);
    let route = er("10.5.0.0/16", ER_PRIMARY);
    assert_eq!(rib.add(route.clone()).unwrap(), None);
    // Same key: replaced (implicit withdraw), not duplicated.
    let replaced = rib.add(route.clone().with_local_pref(300)).unwrap();
    assert_eq!(replaced, Some(route.clone()));
    assert_eq!(rib.candidates(net("10.5.0.0/16")).len(), 1);
    rib.publish();
    assert!(rib.reader().load().lookup(ip("10.5.0.1")).is_some());
    assert!(rib.withdraw(&route.key()).unwrap().is_some());
    assert_eq!(rib.withdraw(&route.key()).unwrap(), None);
    assert!(rib.is_empty());
    rib.publish();
    assert_eq!(rib.reader().load().lookup(ip("10.5.0.1")), None);
    assert!(rib.reader().load().groups().is_empty());
}

#[test]
fn host_bits_are_an_error() {
    let mut rib = Rib::default();
    let mut bad = vpn("10.0.0.0/8");
    bad.prefix = net("10.1.0.0/8");
    let err = rib.add(bad).unwrap_err();
    assert!(matches!(err, RibError::HostBitsSet { .. }));
    assert_eq!(
        err.to_string(),
        "route prefix 10.1.0.0/8 has host bits set (the network is 10.0.0.0/8)"
    );
    assert!(rib.is_empty());
}

#[test]
fn mode_names_round_trip() {
    for mode in SelectionMode::ALL {
        assert_eq!(mode.name().parse::<SelectionMode>().unwrap(), mode);
        let json = serde_json::to_string(&mode).unwrap();
        assert_eq!(json, format!("\"{mode}\""));
        assert_eq!(serde_json::from_str::<SelectionMode>(&json).unwrap(), mode);
    }
    let err = "ecmp".parse::<SelectionMode>().unwrap_err();
    assert!(err.to_string().contains("expressroute-first"), "{err}");
}

#[test]
fn explanation_lists_losers_and_names_interfaces() {
    let mut rib = Rib::new(SelectionMode::ExpressRouteFirst);
    rib.name_interface(ER_PRIMARY, "er-primary");
    rib.name_interface(VPN, "vpn0");
    rib.add(er("10.6.0.0/16", ER_PRIMARY)).unwrap();
    rib.add(vpn("10.6.0.0/16")).unwrap();
    let text = rib.explain(ip("10.6.0.9")).to_string();
    assert!(
        text.starts_with("10.6.0.9 -> 10.6.0.0/16 (mode expressroute-first)"),
        "{text}"
    );
    assert!(
        text.contains("chosen  10.6.0.0/16 via 192.168.0.1 dev er-primary (bgp/ExpressRoute"),
        "{text}"
    );
    assert!(
        text.contains(
            "within  10.6.0.0/16: routing preference: ExpressRoute over VPN (2 candidates)"
        ),
        "{text}"
    );
    assert!(
        text.contains("lost    10.6.0.0/16 via 169.254.21.1 dev vpn0 (bgp/VPN"),
        "{text}"
    );
    assert_eq!(
        rib.explain(ip("192.0.2.1")).to_string(),
        "192.0.2.1: no route (mode expressroute-first)\n"
    );
}
