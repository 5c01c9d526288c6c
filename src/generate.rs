//! Deterministic synthetic catalogues for benchmarks and tests: the same `--authors` and
//! `--seed` always give the same CSV, in the import format, with a realistic skew (a few
//! prolific authors and huge publishers, most small) and awkward names (commas, quotes,
//! non-ASCII) sprinkled in.

use std::io::Write;

use crate::error::Result;
use crate::import::HEADER;

const FIRST_NAMES: &[&str] = &[
    "Ada", "Alex", "Amélie", "Carol", "Chloé", "Dmitri", "Elena", "Isaac", "Jean-Luc", "John",
    "José", "Li", "Mary Ann", "Noor", "Pearl", "Ravi", "Søren", "Stephen", "Tom", "Yuki", "Zoë",
];
const LAST_NAMES: &[&str] = &[
    "Asimov",
    "Buck",
    "Clancy",
    "Dostoevsky",
    "García",
    "King",
    "Le Carre",
    "Lovelace",
    "Michaelides",
    "Müller",
    "O'Brien",
    "Shaben",
    "Smith, Jr.",
    "Tanaka",
    "Wang",
    "\"Doc\" Brown",
];
const WORDS: &[&str] = &[
    "Abyss",
    "Autumn",
    "City",
    "Dead",
    "Earth",
    "Empire",
    "Foundation",
    "Games",
    "Garden",
    "Hunt",
    "Night",
    "October",
    "Patient",
    "Red",
    "Silent",
    "Spy",
    "Stand",
    "Storm",
    "Tailor",
    "Zone",
    "Ñandú",
    "Café",
];
const PUBLISHER_WORDS: &[&str] = &[
    "Random",
    "House",
    "Penguin",
    "Simon",
    "Schuster",
    "Berkley",
    "Harper",
    "Orbit",
    "Tor",
    "Éditions",
    "Verlag",
    "Press",
    "Books",
    "& Sons",
];

/// A small, fast, well-mixed generator (SplitMix64); good enough for data and load
/// generation, not for secrets.
pub struct SplitMix(pub u64);

impl SplitMix {
    /// The next number of the sequence.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[usize::try_from(self.below(items.len() as u64)).unwrap_or(0)]
    }

    /// Skewed towards small values: `max` raised to a uniform draw to the power `power`,
    /// so most draws are 1–3 and a few reach `max`.
    fn skewed(&mut self, max: u64, power: i32) -> u64 {
        let unit = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        let value = (max as f64).powf(unit.powi(power));
        (value as u64).clamp(1, max)
    }
}

/// Writes a catalogue of `authors` authors (about eight rows each) as CSV to `output`;
/// returns the number of data rows.
pub fn generate_csv(authors: u64, seed: u64, output: impl Write) -> Result<u64> {
    let mut random = SplitMix(seed);
    let publishers = (authors / 10).max(10);
    let mut writer = csv::Writer::from_writer(output);
    writer.write_record(HEADER).map_err(csv_error)?;
    let mut rows = 0;
    for author in 0..authors {
        let first = random.pick(FIRST_NAMES);
        let last = format!("{} {}", random.pick(LAST_NAMES), suffix(author));
        for book in 0..random.skewed(120, 6) {
            let title = format!("{} {} {}", random.pick(WORDS), random.pick(WORDS), book + 1);
            for _ in 0..random.skewed(4, 2) {
                // Squaring the uniform draw makes low-numbered publishers the huge ones.
                let publisher = random.below(publishers).pow(2) / publishers;
                let name = format!(
                    "{} {} {}",
                    random_word(publisher, 0),
                    random_word(publisher, 1),
                    suffix(publisher)
                );
                writer
                    .write_record([first, &last, &title, &name])
                    .map_err(csv_error)?;
                rows += 1;
            }
        }
    }
    writer.flush()?;
    Ok(rows)
}

/// A publisher's name part, fixed per publisher so its rows agree.
fn random_word(publisher: u64, part: u64) -> &'static str {
    let mut random = SplitMix(publisher * 2 + part);
    random.pick(PUBLISHER_WORDS)
}

/// A short distinct tag for `n`, so generated names do not collide: 0 -> "A", 27 -> "BB".
fn suffix(n: u64) -> String {
    let mut n = n;
    let mut tag = Vec::new();
    loop {
        tag.push(b'A' + u8::try_from(n % 26).unwrap_or(0));
        n /= 26;
        if n == 0 {
            break;
        }
    }
    tag.reverse();
    String::from_utf8(tag).unwrap_or_default()
}

fn csv_error(error: csv::Error) -> crate::Error {
    let message = error.to_string();
    match error.into_kind() {
        csv::ErrorKind::Io(io) => crate::Error::Io(io),
        _ => crate::Error::CsvWrite(message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_file() {
        let generate = |seed| {
            let mut out = Vec::new();
            generate_csv(50, seed, &mut out).unwrap();
            out
        };
        assert_eq!(generate(7), generate(7));
        assert_ne!(generate(7), generate(8));
    }

    #[test]
    fn a_catalogue_has_about_eight_rows_per_author() {
        let rows = generate_csv(2000, 1, std::io::sink()).unwrap();
        assert!((12_000..=20_000).contains(&rows), "{rows} rows");
    }
}
