//! The generator's world: cities with real coordinates, and the networks that
//! serve them — residential fixed-line and mobile ISPs per country, hosting
//! providers, VPN and Tor exits — with address ranges to draw client IPs from.
//!
//! The AS numbers are the real operators' (3320 Deutsche Telekom, 7922 Comcast,
//! 16509 Amazon, …) so the data reads naturally, but the address prefixes are
//! **illustrative**: shaped like theirs, not their allocations; never use them
//! as geolocation truth. Each network's IPv4 prefix is cut into 64 equal blocks, one
//! per city it serves (the city's position in [`World::served`]), so addresses
//! of one city cluster the way real ones do; an IPv6-capable network gives each
//! city a /48 and each household a /64 in it.
//!
//! Time zones are fixed UTC offsets (standard time; daylight saving is not
//! modelled).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A city: where people live, travel to, or where a data centre is.
pub(super) struct City {
    pub name: &'static str,
    /// Subdivision name ("" = none).
    pub region: &'static str,
    pub country: &'static str,
    pub lat: f64,
    pub lon: f64,
    /// Geolocation accuracy radius of a fixed-line address here, km.
    pub accuracy_km: u16,
    /// Local time minus UTC, minutes.
    pub utc_offset_min: i32,
    /// Relative share of the generated accounts living here (0 = none).
    pub people: u32,
}

const fn city(
    name: &'static str,
    region: &'static str,
    country: &'static str,
    (lat, lon): (f64, f64),
    accuracy_km: u16,
    utc_offset_min: i32,
    people: u32,
) -> City {
    City {
        name,
        region,
        country,
        lat,
        lon,
        accuracy_km,
        utc_offset_min,
        people,
    }
}

#[rustfmt::skip]
pub(super) const CITIES: &[City] = &[
    city("Berlin", "Land Berlin", "DE", (52.520, 13.405), 20, 60, 5),
    city("Munich", "Bavaria", "DE", (48.137, 11.575), 20, 60, 3),
    city("Hamburg", "Hamburg", "DE", (53.551, 9.993), 20, 60, 3),
    city("Frankfurt am Main", "Hesse", "DE", (50.110, 8.682), 10, 60, 2),
    city("Nuremberg", "Bavaria", "DE", (49.452, 11.077), 20, 60, 1),
    city("London", "England", "GB", (51.507, -0.128), 10, 0, 8),
    city("Manchester", "England", "GB", (53.481, -2.243), 20, 0, 3),
    city("Edinburgh", "Scotland", "GB", (55.953, -3.188), 20, 0, 2),
    city("Paris", "Île-de-France", "FR", (48.857, 2.352), 10, 60, 6),
    city("Lyon", "Auvergne-Rhône-Alpes", "FR", (45.764, 4.836), 20, 60, 2),
    city("Marseille", "Provence-Alpes-Côte d'Azur", "FR", (43.297, 5.370), 20, 60, 2),
    city("Roubaix", "Hauts-de-France", "FR", (50.690, 3.181), 5, 60, 0),
    city("New York", "New York", "US", (40.713, -74.006), 10, -300, 8),
    city("Chicago", "Illinois", "US", (41.878, -87.630), 10, -360, 5),
    city("San Francisco", "California", "US", (37.775, -122.419), 10, -480, 4),
    city("Austin", "Texas", "US", (30.267, -97.743), 20, -360, 3),
    city("Seattle", "Washington", "US", (47.606, -122.332), 20, -480, 3),
    city("Ashburn", "Virginia", "US", (39.044, -77.488), 5, -300, 0),
    city("Amsterdam", "North Holland", "NL", (52.368, 4.904), 10, 60, 3),
    city("Rotterdam", "South Holland", "NL", (51.924, 4.478), 20, 60, 2),
    city("Madrid", "Madrid", "ES", (40.417, -3.704), 20, 60, 4),
    city("Barcelona", "Catalonia", "ES", (41.385, 2.173), 20, 60, 3),
    city("Rome", "Lazio", "IT", (41.903, 12.496), 20, 60, 3),
    city("Milan", "Lombardy", "IT", (45.464, 9.190), 20, 60, 3),
    city("Warsaw", "Mazovia", "PL", (52.230, 21.012), 20, 60, 3),
    city("Krakow", "Lesser Poland", "PL", (50.065, 19.945), 50, 60, 2),
    city("Stockholm", "Stockholm", "SE", (59.329, 18.069), 20, 60, 2),
    city("Gothenburg", "Västra Götaland", "SE", (57.709, 11.975), 50, 60, 1),
    city("Toronto", "Ontario", "CA", (43.653, -79.383), 20, -300, 3),
    city("Vancouver", "British Columbia", "CA", (49.283, -123.121), 20, -480, 2),
    city("Tokyo", "Tokyo", "JP", (35.676, 139.650), 10, 540, 4),
    city("Osaka", "Osaka", "JP", (34.694, 135.502), 20, 540, 2),
    city("Sydney", "New South Wales", "AU", (-33.869, 151.209), 20, 600, 3),
    city("Melbourne", "Victoria", "AU", (-37.814, 144.963), 20, 600, 2),
    city("São Paulo", "São Paulo", "BR", (-23.551, -46.633), 50, -180, 3),
    city("Rio de Janeiro", "Rio de Janeiro", "BR", (-22.907, -43.173), 50, -180, 2),
    city("Mumbai", "Maharashtra", "IN", (19.076, 72.878), 50, 330, 3),
    city("Bengaluru", "Karnataka", "IN", (12.972, 77.595), 50, 330, 3),
    city("Moscow", "Moscow", "RU", (55.756, 37.617), 50, 180, 0),
    city("Hanoi", "Hanoi", "VN", (21.028, 105.834), 50, 420, 0),
    city("Lagos", "Lagos", "NG", (6.524, 3.379), 100, 60, 0),
    city("Jakarta", "Jakarta", "ID", (-6.200, 106.845), 50, 420, 0),
    city("Dublin", "Leinster", "IE", (53.350, -6.260), 10, 0, 0),
    city("Singapore", "", "SG", (1.290, 103.852), 5, 480, 0),
    city("Helsinki", "Uusimaa", "FI", (60.170, 24.938), 10, 120, 0),
    city("Zurich", "Zurich", "CH", (47.377, 8.541), 10, 60, 0),
];

/// How a network connects people.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Access {
    /// Residential fixed line (DSL, cable, fibre).
    Fixed,
    /// Mobile carrier (CGNAT, coarse geolocation).
    Mobile,
    /// Hosting provider / data centre.
    Hosting,
    /// Commercial VPN exits.
    Vpn,
    /// Tor exit relays.
    Tor,
}

/// An autonomous system and the addresses drawn for it.
pub(super) struct Network {
    pub asn: u32,
    pub access: Access,
    /// IPv4 prefix (illustrative).
    pub v4: [u8; 4],
    pub v4_len: u8,
    /// First 32 bits of an illustrative IPv6 /32; 0 = no IPv6.
    pub v6: u32,
    /// Residential: the country served. Otherwise "" (see `sites`).
    pub country: &'static str,
    /// Hosting, VPN, Tor: the cities of its sites.
    pub sites: &'static [&'static str],
}

const fn isp(
    asn: u32,
    access: Access,
    country: &'static str,
    v4: [u8; 4],
    v4_len: u8,
    v6: u32,
) -> Network {
    Network {
        asn,
        access,
        v4,
        v4_len,
        v6,
        country,
        sites: &[],
    }
}

const fn dc(
    asn: u32,
    access: Access,
    v4: [u8; 4],
    v4_len: u8,
    sites: &'static [&'static str],
) -> Network {
    Network {
        asn,
        access,
        v4,
        v4_len,
        v6: 0,
        country: "",
        sites,
    }
}

use Access::{Fixed, Hosting, Mobile, Tor, Vpn};

#[rustfmt::skip]
pub(super) const NETWORKS: &[Network] = &[
    isp(3320, Fixed, "DE", [84, 128, 0, 0], 10, 0x2003_0000),   // Deutsche Telekom
    isp(3209, Fixed, "DE", [88, 64, 0, 0], 12, 0x2a02_0810),    // Vodafone Germany
    isp(6805, Mobile, "DE", [176, 0, 0, 0], 13, 0x2a01_0598),   // Telefónica Germany
    isp(2856, Fixed, "GB", [86, 128, 0, 0], 10, 0x2a00_23c0),   // BT
    isp(5089, Fixed, "GB", [82, 0, 0, 0], 12, 0x2a02_0c7f),     // Virgin Media
    isp(12576, Mobile, "GB", [31, 64, 0, 0], 14, 0x2a01_4c80),  // EE
    isp(3215, Fixed, "FR", [90, 0, 0, 0], 10, 0x2a01_0cb0),     // Orange
    isp(12322, Fixed, "FR", [78, 192, 0, 0], 10, 0x2a01_0e00),  // Free
    isp(5410, Mobile, "FR", [176, 128, 0, 0], 11, 0),           // Bouygues Telecom
    isp(7922, Fixed, "US", [73, 0, 0, 0], 8, 0x2601_0000),      // Comcast
    isp(7018, Fixed, "US", [99, 0, 0, 0], 10, 0x2600_1700),     // AT&T
    isp(21928, Mobile, "US", [172, 32, 0, 0], 11, 0x2607_fb90), // T-Mobile USA
    isp(1136, Fixed, "NL", [77, 160, 0, 0], 11, 0x2a02_a440),   // KPN
    isp(33915, Fixed, "NL", [84, 80, 0, 0], 13, 0x2001_1c00),   // Ziggo
    isp(50266, Mobile, "NL", [89, 200, 0, 0], 14, 0),           // Odido
    isp(3352, Fixed, "ES", [83, 32, 0, 0], 11, 0),              // Telefónica de España
    isp(12479, Fixed, "ES", [90, 160, 0, 0], 11, 0),            // Orange Espagne
    isp(12430, Mobile, "ES", [95, 120, 0, 0], 13, 0),           // Vodafone Spain
    isp(3269, Fixed, "IT", [79, 0, 0, 0], 11, 0),               // Telecom Italia
    isp(30722, Fixed, "IT", [93, 32, 0, 0], 12, 0),             // Vodafone Italia
    isp(24608, Mobile, "IT", [151, 16, 0, 0], 12, 0),           // Wind Tre
    isp(5617, Fixed, "PL", [83, 0, 0, 0], 11, 0),               // Orange Polska
    isp(12741, Fixed, "PL", [89, 64, 0, 0], 12, 0),             // Netia
    isp(12912, Mobile, "PL", [46, 76, 0, 0], 14, 0),            // T-Mobile Polska
    isp(3301, Fixed, "SE", [78, 64, 0, 0], 12, 0x2001_2040),    // Telia
    isp(39651, Fixed, "SE", [90, 224, 0, 0], 12, 0),            // Com Hem
    isp(1257, Mobile, "SE", [46, 194, 0, 0], 15, 0),            // Tele2
    isp(812, Fixed, "CA", [99, 224, 0, 0], 11, 0x2607_fea8),    // Rogers
    isp(577, Fixed, "CA", [70, 24, 0, 0], 13, 0),               // Bell Canada
    isp(852, Mobile, "CA", [154, 20, 0, 0], 14, 0),             // Telus
    isp(4713, Fixed, "JP", [153, 128, 0, 0], 10, 0x2400_4050),  // NTT OCN
    isp(2516, Fixed, "JP", [106, 128, 0, 0], 10, 0),            // KDDI
    isp(9605, Mobile, "JP", [49, 96, 0, 0], 11, 0),             // NTT Docomo
    isp(1221, Fixed, "AU", [120, 144, 0, 0], 12, 0x2001_8003),  // Telstra
    isp(4804, Fixed, "AU", [49, 176, 0, 0], 12, 0),             // Optus
    isp(1221, Mobile, "AU", [101, 160, 0, 0], 12, 0),           // Telstra mobile
    isp(28573, Fixed, "BR", [177, 0, 0, 0], 12, 0),             // Claro
    isp(18881, Fixed, "BR", [187, 0, 0, 0], 11, 0),             // Vivo
    isp(26599, Mobile, "BR", [191, 176, 0, 0], 12, 0),          // TIM Brasil
    isp(24560, Fixed, "IN", [122, 160, 0, 0], 12, 0),           // Bharti Airtel
    isp(9829, Fixed, "IN", [117, 192, 0, 0], 11, 0),            // BSNL
    isp(55836, Mobile, "IN", [49, 32, 0, 0], 11, 0x2409_4000),  // Reliance Jio
    isp(12389, Fixed, "RU", [95, 24, 0, 0], 13, 0),             // Rostelecom
    isp(8359, Mobile, "RU", [85, 140, 0, 0], 14, 0),            // MTS
    isp(7552, Fixed, "VN", [27, 64, 0, 0], 12, 0),              // Viettel
    isp(29465, Mobile, "NG", [102, 88, 0, 0], 13, 0),           // MTN Nigeria
    isp(7713, Fixed, "ID", [36, 64, 0, 0], 11, 0),              // Telkom Indonesia
    dc(16509, Hosting, [3, 64, 0, 0], 12, &["Frankfurt am Main", "Ashburn", "Dublin", "Singapore", "Tokyo"]), // Amazon
    dc(14061, Hosting, [138, 68, 0, 0], 16, &["Amsterdam", "Frankfurt am Main", "New York", "Singapore", "Bengaluru"]), // DigitalOcean
    dc(24940, Hosting, [88, 198, 0, 0], 16, &["Nuremberg", "Helsinki"]),                 // Hetzner
    dc(16276, Hosting, [51, 68, 0, 0], 16, &["Roubaix", "Frankfurt am Main", "London"]), // OVH
    dc(20473, Hosting, [45, 32, 0, 0], 16, &["Ashburn", "Amsterdam", "Tokyo", "Sydney"]), // Vultr
    dc(9009, Vpn, [146, 70, 0, 0], 16, &["London", "Amsterdam", "Zurich", "New York", "Frankfurt am Main", "Stockholm"]), // M247
    dc(60068, Vpn, [212, 102, 32, 0], 19, &["Zurich", "Madrid", "Singapore", "Ashburn"]), // Datacamp
    dc(60729, Tor, [185, 220, 100, 0], 22, &["Frankfurt am Main", "Nuremberg", "Amsterdam"]), // Tor exits
];

/// The cities and networks, with the lookups the generator needs.
pub(super) struct World {
    /// Per network: the cities it serves (residential: its country's; else its sites).
    pub served: Vec<Vec<u16>>,
    /// Per country (in first-seen order): its code and cities.
    pub countries: Vec<(&'static str, Vec<u16>)>,
}

impl World {
    pub fn new() -> Self {
        let mut countries: Vec<(&'static str, Vec<u16>)> = Vec::new();
        for (i, city) in CITIES.iter().enumerate() {
            let i = u16::try_from(i).expect("few cities");
            match countries.iter_mut().find(|(code, _)| *code == city.country) {
                Some((_, cities)) => cities.push(i),
                None => countries.push((city.country, vec![i])),
            }
        }
        let served = NETWORKS
            .iter()
            .map(|net| {
                if net.sites.is_empty() {
                    countries
                        .iter()
                        .find(|(code, _)| *code == net.country)
                        .map(|(_, cities)| cities.clone())
                        .expect("every ISP's country has cities")
                } else {
                    net.sites.iter().map(|site| city_named(site)).collect()
                }
            })
            .collect();
        Self { served, countries }
    }

    /// The cities of `country`.
    pub fn cities_of(&self, country: &str) -> &[u16] {
        self.countries
            .iter()
            .find(|(code, _)| *code == country)
            .map_or(&[], |(_, cities)| cities.as_slice())
    }

    /// An IPv4 address of `net` in `city`'s block; `host` picks it.
    pub fn ipv4(&self, net: u16, city: u16, host: u32) -> IpAddr {
        let network = &NETWORKS[usize::from(net)];
        let block = self.block(net, city);
        let block_bits = 32 - u32::from(network.v4_len) - 6;
        let base = u32::from(Ipv4Addr::from(network.v4)) | (block << block_bits);
        let size = 1u32 << block_bits;
        // Never the block's first or last address (network, broadcast) nor a .0/.255.
        let offset = if block_bits >= 8 {
            (((host >> 8) % (size >> 8)) << 8) | (1 + (host & 0xff) % 254)
        } else {
            1 + host % (size - 2)
        };
        IpAddr::V4(Ipv4Addr::from(base | offset))
    }

    /// An IPv6 address of `net` in `city`'s /48: `household` picks the /64, `iid`
    /// the interface id. `None` when the network has no IPv6.
    pub fn ipv6(&self, net: u16, city: u16, household: u16, iid: u64) -> Option<IpAddr> {
        let network = &NETWORKS[usize::from(net)];
        (network.v6 != 0).then(|| {
            let bits = (u128::from(network.v6) << 96)
                | (u128::from(self.block(net, city)) << 80)
                | (u128::from(household) << 64)
                | u128::from(iid);
            IpAddr::V6(Ipv6Addr::from(bits))
        })
    }

    /// The block of `city` in `net`'s prefix (0 when it does not serve it: roaming).
    fn block(&self, net: u16, city: u16) -> u32 {
        self.served[usize::from(net)]
            .iter()
            .position(|c| *c == city)
            .map_or(0, |p| u32::try_from(p).expect("few cities"))
    }
}

/// Networks of `access` serving `country` (residential) or any (others).
pub(super) fn networks(access: Access, country: Option<&str>) -> impl Iterator<Item = u16> {
    NETWORKS
        .iter()
        .enumerate()
        .filter(move |(_, net)| net.access == access && country.is_none_or(|c| c == net.country))
        .map(|(i, _)| u16::try_from(i).expect("few networks"))
}

/// The index of the city called `name`.
pub(super) fn city_named(name: &str) -> u16 {
    let i = CITIES
        .iter()
        .position(|c| c.name == name)
        .unwrap_or_else(|| panic!("no city {name}"));
    u16::try_from(i).expect("few cities")
}

/// Great-circle distance between two cities, km.
pub(super) fn distance_km(a: &City, b: &City) -> f64 {
    let (la1, la2) = (a.lat.to_radians(), b.lat.to_radians());
    let dlat = la2 - la1;
    let dlon = (b.lon - a.lon).to_radians();
    let h = (dlat / 2.0).sin().powi(2) + la1.cos() * la2.cos() * (dlon / 2.0).sin().powi(2);
    2.0 * 6371.0 * h.sqrt().asin()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_do_not_overlap_and_cities_fit_in_64_blocks() {
        let world = World::new();
        for (i, a) in NETWORKS.iter().enumerate() {
            assert!(world.served[i].len() <= 64 && !world.served[i].is_empty());
            assert!(a.v4_len <= 22, "AS{} prefix too small", a.asn);
            for b in &NETWORKS[i + 1..] {
                let len = u32::from(a.v4_len.min(b.v4_len));
                let mask = u32::MAX << (32 - len);
                let (x, y) = (
                    u32::from(Ipv4Addr::from(a.v4)),
                    u32::from(Ipv4Addr::from(b.v4)),
                );
                assert_ne!(x & mask, y & mask, "AS{} and AS{} overlap", a.asn, b.asn);
            }
        }
    }

    #[test]
    fn addresses_stay_in_their_block() {
        let world = World::new();
        let berlin = city_named("Berlin");
        let munich = city_named("Munich");
        let IpAddr::V4(a) = world.ipv4(0, berlin, u32::MAX) else {
            panic!()
        };
        let IpAddr::V4(b) = world.ipv4(0, munich, 0) else {
            panic!()
        };
        assert_eq!(a.octets()[..2], [84, 128]);
        assert_eq!(
            b.octets()[..2],
            [84, 129],
            "Munich is the second block of a /10"
        );
        assert!((1..=254).contains(&b.octets()[3]));
        let v6 = world.ipv6(0, munich, 7, 1).unwrap().to_string();
        assert_eq!(v6, "2003:0:1:7::1");
    }

    #[test]
    fn distances_are_right() {
        let city = |name| &CITIES[usize::from(city_named(name))];
        let d = distance_km(city("London"), city("Paris"));
        assert!((330.0..360.0).contains(&d), "{d}");
    }
}
