//! Account names: `first.last`, `flast`, `firstlast` or `first_last`, sometimes
//! with a number, drawn from an international list; unique across the run.
//! Attackers also try names that are not accounts (from leaked lists of other
//! services), made the same way so the name alone gives nothing away.

use std::collections::HashSet;

use rand::Rng;
use rand::seq::IndexedRandom;

#[rustfmt::skip]
const FIRST: &[&str] = &[
    "anna", "ben", "chloe", "david", "emma", "felix", "giulia", "hana", "ivan", "julia",
    "kenji", "lena", "marco", "nina", "oliver", "paula", "quentin", "rosa", "sam", "tomas",
    "ursula", "victor", "wei", "xavier", "yuki", "zoe", "ahmed", "bianca", "carlos", "dana",
    "elif", "finn", "grace", "hugo", "ines", "jonas", "karin", "liam", "maya", "noah",
    "olga", "pedro", "priya", "rahul", "sofia", "theo", "vera", "william", "ana", "lucas",
];

#[rustfmt::skip]
const LAST: &[&str] = &[
    "schmidt", "smith", "martin", "garcia", "rossi", "nowak", "johansson", "tanaka", "silva",
    "kumar", "muller", "jones", "bernard", "lopez", "russo", "kowalski", "andersson", "sato",
    "santos", "sharma", "weber", "brown", "dubois", "martinez", "ferrari", "wisniewski",
    "nilsson", "suzuki", "oliveira", "patel", "fischer", "taylor", "moreau", "sanchez",
    "bianchi", "lewandowski", "larsson", "watanabe", "pereira", "singh", "wagner", "wilson",
    "laurent", "gomez", "romano", "wojcik", "persson", "ito", "costa", "gupta",
];

/// Every name handed out, by id; accounts first, then names attackers tried.
pub(super) struct Names {
    pub all: Vec<String>,
    taken: HashSet<String>,
}

impl Names {
    pub fn with_capacity(n: usize) -> Self {
        Self {
            all: Vec::with_capacity(n),
            taken: HashSet::with_capacity(n),
        }
    }

    /// A new name, never handed out before; returns its id.
    pub fn fresh(&mut self, rng: &mut impl Rng) -> u32 {
        let first = FIRST.choose(rng).expect("names");
        let last = LAST.choose(rng).expect("names");
        let mut name = match rng.random_range(0..10) {
            0..=3 => format!("{first}.{last}"),
            4..=5 => format!("{}{last}", &first[..1]),
            6..=7 => format!("{first}{last}"),
            _ => format!("{first}_{last}"),
        };
        if rng.random_bool(0.3) {
            name.push_str(&rng.random_range(1..100).to_string());
        }
        while self.taken.contains(&name) {
            name.push(char::from(b'0' + rng.random_range(0..10)));
        }
        self.taken.insert(name.clone());
        self.all.push(name);
        u32::try_from(self.all.len() - 1).expect("fewer than 4 billion names")
    }
}
