//! Tests of CIDR parsing and matching, and of first-match hard rules.

use super::*;
use crate::signals::Anonymous;

fn cidr(text: &str) -> Cidr {
    text.parse().unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

#[test]
fn cidrs_parse_and_refuse_with_a_reason() {
    let ok = [
        ("198.51.100.0/24", "198.51.100.0/24"),
        ("0.0.0.0/0", "0.0.0.0/0"),
        ("203.0.113.7", "203.0.113.7/32"),
        ("203.0.113.7/32", "203.0.113.7/32"),
        ("2001:db8::/32", "2001:db8::/32"),
        ("::/0", "::/0"),
        ("2001:db8::1", "2001:db8::1/128"),
        ("::ffff:198.51.100.0/120", "198.51.100.0/24"),
        ("::ffff:203.0.113.7", "203.0.113.7/32"),
    ];
    for (text, shown) in ok {
        assert_eq!(cidr(text).to_string(), shown, "{text}");
    }
    let refused = [
        (
            "198.51.100.7/24",
            "\"198.51.100.7/24\" has host bits set; the network is 198.51.100.0/24",
        ),
        (
            "2001:db8::1/32",
            "\"2001:db8::1/32\" has host bits set; the network is 2001:db8::/32",
        ),
        (
            "198.51.100.0/33",
            "\"198.51.100.0/33\": the prefix length must be 0 to 32",
        ),
        (
            "2001:db8::/129",
            "\"2001:db8::/129\": the prefix length must be 0 to 128",
        ),
        (
            "198.51.100.0/",
            "\"198.51.100.0/\": the prefix length must be 0 to 32",
        ),
        (
            "198.51.100.0/-1",
            "\"198.51.100.0/-1\": the prefix length must be 0 to 32",
        ),
        (
            "198.51.100/24",
            "\"198.51.100/24\" is not an IP network (e.g. \"198.51.100.0/24\")",
        ),
        (
            "corp",
            "\"corp\" is not an IP network (e.g. \"198.51.100.0/24\")",
        ),
        ("", "\"\" is not an IP network (e.g. \"198.51.100.0/24\")"),
    ];
    for (text, problem) in refused {
        assert_eq!(text.parse::<Cidr>().unwrap_err(), problem, "{text}");
    }
}

#[test]
fn cidrs_contain_their_addresses_v4_and_v6() {
    // (network, address, contained)
    let cases = [
        ("198.51.100.0/24", "198.51.100.0", true),
        ("198.51.100.0/24", "198.51.100.255", true),
        ("198.51.100.0/24", "198.51.101.0", false),
        ("198.51.100.0/24", "198.51.99.255", false),
        ("198.51.100.128/25", "198.51.100.127", false),
        ("198.51.100.128/25", "198.51.100.200", true),
        ("203.0.113.7/32", "203.0.113.7", true),
        ("203.0.113.7/32", "203.0.113.8", false),
        ("0.0.0.0/0", "192.0.2.1", true),
        ("0.0.0.0/0", "2001:db8::1", false),
        ("198.51.100.0/24", "::ffff:198.51.100.9", true),
        ("198.51.100.0/24", "::ffff:198.51.101.9", false),
        ("2001:db8:100::/48", "2001:db8:100:ffff::1", true),
        ("2001:db8:100::/48", "2001:db8:101::1", false),
        ("2001:db8::1/128", "2001:db8::1", true),
        ("2001:db8::1/128", "2001:db8::2", false),
        ("::/0", "2001:db8::1", true),
        ("::/0", "192.0.2.1", false),
        ("2001:db8::/32", "198.51.100.1", false),
        ("2001:db8:8000::/33", "2001:db8:7fff::1", false),
        ("2001:db8:8000::/33", "2001:db8:8000::1", true),
    ];
    for (network, address, contained) in cases {
        assert_eq!(
            cidr(network).contains(ip(address)),
            contained,
            "{address} in {network}"
        );
    }
}

fn rule(name: &str, action: Action) -> HardRule {
    HardRule {
        name: name.to_owned(),
        action,
        countries: vec![],
        asns: vec![],
        cidrs: vec![],
        anonymous: vec![],
    }
}

#[test]
fn the_first_matching_rule_decides_on_any_of_its_lists() {
    let rules = vec![
        HardRule {
            countries: vec!["KP".into()],
            ..rule("embargo", Action::Deny)
        },
        HardRule {
            cidrs: vec![cidr("198.51.100.0/24"), cidr("2001:db8:100::/48")],
            ..rule("office", Action::Allow)
        },
        HardRule {
            asns: vec![64_511],
            anonymous: vec![AnonymousKind::Tor],
            ..rule("bad", Action::Deny)
        },
    ];
    let geo = |ip_text: Option<&str>, country: Option<&str>, asn: Option<u32>, tor: bool| Geo {
        ip: ip_text.map(ip),
        country: country.map(str::to_owned),
        location: None,
        asn,
        anonymous: Anonymous::default().with(AnonymousKind::Tor, tor),
    };
    // (what, geo, matching rule and what it matched on)
    let cases = [
        ("nothing known", Geo::default(), None),
        (
            "a country",
            geo(None, Some("KP"), None, false),
            Some(("embargo", "KP")),
        ),
        (
            "country case does not matter",
            geo(None, Some("kp"), None, false),
            Some(("embargo", "kp")),
        ),
        (
            "the first rule wins",
            geo(Some("198.51.100.1"), Some("KP"), None, true),
            Some(("embargo", "KP")),
        ),
        (
            "the office over tor",
            geo(Some("198.51.100.1"), Some("GB"), Some(64_511), true),
            Some(("office", "198.51.100.0/24")),
        ),
        (
            "office v6",
            geo(Some("2001:db8:100::9"), None, None, false),
            Some(("office", "2001:db8:100::/48")),
        ),
        (
            "an ASN",
            geo(Some("203.0.113.1"), Some("GB"), Some(64_511), false),
            Some(("bad", "AS64511")),
        ),
        (
            "tor",
            geo(Some("203.0.113.1"), Some("GB"), Some(3), true),
            Some(("bad", "tor")),
        ),
        (
            "none of them",
            geo(Some("203.0.113.1"), Some("GB"), Some(3), false),
            None,
        ),
    ];
    for (what, geo, expected) in cases {
        let found = first_match(&rules, &geo).map(|m| {
            let on = match m.on {
                MatchedOn::Country(c) => c.to_owned(),
                MatchedOn::Asn(asn) => format!("AS{asn}"),
                MatchedOn::Cidr(_, cidr) => cidr.to_string(),
                MatchedOn::Anonymous(kind) => kind.to_string(),
            };
            (m.rule.name.clone(), on)
        });
        let expected = expected.map(|(name, on)| (name.to_owned(), on.to_owned()));
        assert_eq!(found, expected, "{what}");
    }
}

#[test]
fn reasons_name_the_rule_what_matched_and_the_effect() {
    let tor = HardRule {
        anonymous: vec![AnonymousKind::Tor],
        ..rule("tor-exits", Action::Deny)
    };
    let geo = Geo {
        anonymous: Anonymous {
            tor: true,
            ..Anonymous::default()
        },
        ..Geo::default()
    };
    let reason = first_match(std::slice::from_ref(&tor), &geo)
        .unwrap()
        .reason();
    assert_eq!(
        (reason.code.as_str(), reason.weight, reason.detail.as_str()),
        (
            "hard_rule:tor-exits",
            100,
            "the address is a Tor exit node, listed by hard rule \"tor-exits\" \
             (deny: refused whatever the score)"
        )
    );
    let country = HardRule {
        countries: vec!["FR".into()],
        ..rule("home", Action::Allow)
    };
    let geo = Geo {
        country: Some("FR".into()),
        ..Geo::default()
    };
    let reason = first_match(std::slice::from_ref(&country), &geo)
        .unwrap()
        .reason();
    assert_eq!((reason.code.as_str(), reason.weight), ("hard_rule:home", 0));
    assert_eq!(
        reason.detail,
        "the address is in FR, listed by hard rule \"home\" \
         (allow: level low whatever the score; hard limits still apply)"
    );
    assert_eq!(
        (Action::Deny.as_str(), Action::Allow.as_str()),
        ("deny", "allow")
    );
}
