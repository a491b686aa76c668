//! Sketches of released groups' subjects, for the gate's differencing check (issue 14,
//! class 4): two aggregates whose groups differ by fewer than k subjects give those
//! subjects' values by subtraction. Each released group keeps an invertible Bloom lookup
//! table (IBLT; Goodrich and Mitzenmacher 2011, as used for set reconciliation by
//! Eppstein et al. 2011) of its subjects' keyed hashes: subtracting two tables and
//! peeling the result lists the symmetric difference of the two sets exactly when it is
//! small, whatever the sets' sizes, in a fixed 1,944 bytes per group. A difference too
//! large to peel is larger than any k the gate uses.

/// Cells in each of the three partitions.
const PARTITION: usize = 27;
/// Cells in all.
const CELLS: usize = 3 * PARTITION;
/// Bytes of one cell: count, key sum, check sum.
const CELL_BYTES: usize = 24;

/// One released group's subjects, sketched.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sketch {
    count: [i64; CELLS],
    keys: [u64; CELLS],
    checks: [u64; CELLS],
}

/// A 64-bit mix (SplitMix64's finaliser) used to place and check keys; keys are already
/// keyed hashes, so this needs no secret.
fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

fn cells_of(key: u64) -> [usize; 3] {
    std::array::from_fn(|j| {
        let h = mix(key ^ (j as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
        j * PARTITION + (h % PARTITION as u64) as usize
    })
}

fn check_of(key: u64) -> u64 {
    mix(key.rotate_left(17) ^ 0x5851_f42d_4c95_7f2d)
}

impl Default for Sketch {
    fn default() -> Self {
        Sketch {
            count: [0; CELLS],
            keys: [0; CELLS],
            checks: [0; CELLS],
        }
    }
}

impl Sketch {
    /// The sketch of a set of distinct keys.
    pub fn of(keys: impl IntoIterator<Item = u64>) -> Sketch {
        let mut sketch = Sketch::default();
        for key in keys {
            sketch.toggle(key, 1);
        }
        sketch
    }

    /// Adds a key not in the set yet.
    pub fn add(&mut self, key: u64) {
        self.toggle(key, 1);
    }

    fn toggle(&mut self, key: u64, sign: i64) {
        let check = check_of(key);
        for i in cells_of(key) {
            self.count[i] += sign;
            self.keys[i] ^= key;
            self.checks[i] ^= check;
        }
    }

    /// The size of the symmetric difference of the two sets, when it is small enough to
    /// be listed (up to about 50 keys); `None` when it is larger.
    pub fn difference(&self, other: &Sketch) -> Option<usize> {
        let mut d = Sketch::default();
        for i in 0..CELLS {
            d.count[i] = self.count[i] - other.count[i];
            d.keys[i] = self.keys[i] ^ other.keys[i];
            d.checks[i] = self.checks[i] ^ other.checks[i];
        }
        let mut found = 0;
        loop {
            let pure = (0..CELLS).find(|&i| {
                (d.count[i] == 1 || d.count[i] == -1) && d.checks[i] == check_of(d.keys[i])
            });
            let Some(i) = pure else {
                break;
            };
            let (key, sign) = (d.keys[i], d.count[i]);
            d.toggle(key, -sign);
            found += 1;
            if found > CELLS {
                return None;
            }
        }
        let empty = (0..CELLS).all(|i| d.count[i] == 0 && d.keys[i] == 0 && d.checks[i] == 0);
        empty.then_some(found)
    }

    /// The sketch as stored.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(CELLS * CELL_BYTES);
        for i in 0..CELLS {
            out.extend_from_slice(&self.count[i].to_le_bytes());
            out.extend_from_slice(&self.keys[i].to_le_bytes());
            out.extend_from_slice(&self.checks[i].to_le_bytes());
        }
        out
    }

    /// A stored sketch; `None` if the bytes are not one.
    pub fn from_bytes(bytes: &[u8]) -> Option<Sketch> {
        if bytes.len() != CELLS * CELL_BYTES {
            return None;
        }
        let mut sketch = Sketch::default();
        for (i, cell) in bytes.chunks_exact(CELL_BYTES).enumerate() {
            let word = |k: usize| <[u8; 8]>::try_from(&cell[8 * k..8 * k + 8]).ok();
            sketch.count[i] = i64::from_le_bytes(word(0)?);
            sketch.keys[i] = u64::from_le_bytes(word(1)?);
            sketch.checks[i] = u64::from_le_bytes(word(2)?);
        }
        Some(sketch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(range: std::ops::Range<u64>) -> impl Iterator<Item = u64> {
        range.map(|i| mix(i ^ 0xdead_beef))
    }

    #[test]
    fn small_differences_of_large_sets_are_counted_exactly() {
        let all = Sketch::of(keys(0..100_000));
        assert_eq!(all.difference(&all), Some(0));
        // All but one, all but nine, and some swapped in and out.
        for missing in [1u64, 2, 5, 9, 20] {
            let fewer = Sketch::of(keys(missing..100_000));
            assert_eq!(all.difference(&fewer), Some(missing as usize), "{missing}");
            assert_eq!(fewer.difference(&all), Some(missing as usize));
        }
        let swapped = Sketch::of(keys(3..100_003));
        assert_eq!(all.difference(&swapped), Some(6));
        // Across many sets of every small difference, never a wrong count.
        for start in 0..300u64 {
            let d = (start % 12) + 1;
            let a = Sketch::of(keys(start * 1_000..start * 1_000 + 500));
            let b = Sketch::of(keys(start * 1_000 + d..start * 1_000 + 500));
            assert_eq!(a.difference(&b), Some(d as usize), "{start}");
        }
    }

    #[test]
    fn large_differences_are_not_mistaken_for_small_ones() {
        let a = Sketch::of(keys(0..10_000));
        for other in [
            keys(5_000..15_000).collect::<Vec<_>>(),
            keys(0..200).collect(),
        ] {
            let b = Sketch::of(other);
            assert!(a.difference(&b).is_none_or(|d| d > 50));
        }
    }

    #[test]
    fn a_sketch_survives_storage_and_refuses_other_bytes() {
        let s = Sketch::of(keys(0..1_000));
        let bytes = s.to_bytes();
        assert_eq!(bytes.len(), 1_944);
        assert_eq!(Sketch::from_bytes(&bytes), Some(s));
        assert_eq!(Sketch::from_bytes(&bytes[1..]), None);
    }
}
