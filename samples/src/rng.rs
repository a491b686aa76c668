//! A small, fixed pseudo-random generator.
//!
//! The sample data must be byte-identical for the same seed on every machine and for
//! every future build, so we do not depend on a general-purpose crate whose streams
//! may change between versions. SplitMix64 is tiny, fast, passes BigCrush, and is
//! specified by its code below.
//!
//! Streams are derived per (seed, table, subject): every subject's records depend only
//! on those three numbers, so tables can be generated in parallel, and a subject's
//! latent risk can be recomputed by any table without passing state around.

/// SplitMix64.
#[derive(Clone, Debug)]
pub struct Rng {
    state: u64,
}

const GOLDEN_GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A stable 64-bit hash of a short label (FNV-1a), used to name streams.
pub const fn label(s: &str) -> u64 {
    let bytes = s.as_bytes();
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        h ^= bytes[i] as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01B3);
        i += 1;
    }
    h
}

impl Rng {
    /// The stream for one subject of one table.
    pub fn stream(seed: u64, stream: u64, index: u64) -> Rng {
        Rng {
            state: mix(mix(seed ^ mix(stream)).wrapping_add(index.wrapping_mul(GOLDEN_GAMMA))),
        }
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(GOLDEN_GAMMA);
        mix(self.state)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform integer in [0, n); `n` must be positive.
    pub fn below(&mut self, n: u64) -> u64 {
        // Lemire's multiply-shift; the tiny bias is irrelevant for sample data.
        ((u128::from(self.next_u64()) * u128::from(n.max(1))) >> 64) as u64
    }

    /// Uniform integer in [lo, hi].
    pub fn between(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1).max(1) as u64) as i64
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// One element of a non-empty slice.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// One element chosen with the given relative weights.
    pub fn weighted<'a, T>(&mut self, items: &'a [(T, u32)]) -> &'a T {
        let total: u64 = items.iter().map(|(_, w)| u64::from(*w)).sum();
        let mut x = self.below(total);
        for (item, w) in items {
            if x < u64::from(*w) {
                return item;
            }
            x -= u64::from(*w);
        }
        &items[items.len() - 1].0
    }

    /// Standard normal (Box–Muller).
    pub fn normal(&mut self) -> f64 {
        let u1 = self.unit().max(f64::MIN_POSITIVE);
        let u2 = self.unit();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// Poisson-distributed count with mean `lambda` (Knuth; our means are small).
    pub fn poisson(&mut self, lambda: f64) -> u32 {
        if lambda <= 0.0 {
            return 0;
        }
        let limit = (-lambda.min(30.0)).exp();
        let mut k = 0;
        let mut p = self.unit();
        while p > limit && k < 200 {
            k += 1;
            p *= self.unit();
        }
        k
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_fixed_forever() {
        // If this changes, every generated file changes: bump the generator version.
        let mut r = Rng::stream(42, label("enterprises"), 7);
        assert_eq!(
            r.next_u64(),
            Rng::stream(42, label("enterprises"), 7).next_u64()
        );
        let first: Vec<u64> = (0..3).map(|_| r.below(1000)).collect();
        let mut again = Rng::stream(42, label("enterprises"), 7);
        again.next_u64();
        assert_eq!(first, (0..3).map(|_| again.below(1000)).collect::<Vec<_>>());
        assert_ne!(
            Rng::stream(42, label("a"), 7).next_u64(),
            Rng::stream(42, label("b"), 7).next_u64()
        );
        assert_eq!(label(""), 0xcbf2_9ce4_8422_2325);
    }

    #[test]
    fn distributions_have_the_right_means() {
        let mut r = Rng::stream(1, 2, 3);
        let n = 20_000;
        let mean_unit: f64 = (0..n).map(|_| r.unit()).sum::<f64>() / f64::from(n);
        assert!((mean_unit - 0.5).abs() < 0.01, "{mean_unit}");
        let mean_poisson: f64 =
            (0..n).map(|_| f64::from(r.poisson(2.5))).sum::<f64>() / f64::from(n);
        assert!((mean_poisson - 2.5).abs() < 0.05, "{mean_poisson}");
        let mean_normal: f64 = (0..n).map(|_| r.normal()).sum::<f64>() / f64::from(n);
        assert!(mean_normal.abs() < 0.03, "{mean_normal}");
        assert!((0..1000).all(|_| (3..=5).contains(&r.between(3, 5))));
    }
}
