//! How well a score separates bad from good (BRIEF P8: model evaluation): the area
//! under the ROC curve and the Kolmogorov–Smirnov statistic, each row weighed. The
//! output gate releases them weighing each row as 1 / (its subject's rows), so that
//! every subject counts once; the example models' trainer reports them with every row
//! weighing 1. One implementation for both, so a figure a data scientist computes
//! offline and the one the gate releases cannot disagree.

/// The rows of `scores` from the lowest score to the highest ([`f64::total_cmp`]'s
/// order, ties in row order): one sort of a contiguous array.
pub fn rank_order(scores: &[f64]) -> Vec<usize> {
    let mut keyed: Vec<(u64, usize)> = scores
        .iter()
        .enumerate()
        .map(|(i, s)| (total_order(*s), i))
        .collect();
    keyed.sort_unstable();
    keyed.into_iter().map(|(_, i)| i).collect()
}

/// `x` as an integer that sorts as [`f64::total_cmp`] sorts the floats.
fn total_order(x: f64) -> u64 {
    let bits = x.to_bits() as i64;
    let ordered = bits ^ ((((bits >> 63) as u64) >> 1) as i64);
    (ordered as u64) ^ (1 << 63)
}

/// How well a score separates the bad rows from the good ones.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Separation {
    /// The weighted share of (bad, good) pairs in which the bad scores higher, a tie
    /// counting half (the Mann–Whitney statistic): 1 ranks perfectly, 0.5 is chance.
    pub auc: f64,
    /// The largest gap between the cumulative weighted shares of bads and goods over
    /// every threshold.
    pub ks: f64,
    /// The weight of the bad rows.
    pub bad_weight: f64,
    /// The weight of the good rows.
    pub good_weight: f64,
}

/// The separation of `scores` (higher = riskier) for `bads`, each row weighing
/// `weights[i]`; `order` is [`rank_order`] of `scores`. The three slices have equal
/// lengths. With no bad or no good row, the AUC and the KS are NaN.
pub fn separation(scores: &[f64], bads: &[bool], weights: &[f64], order: &[usize]) -> Separation {
    let n = scores.len();
    // The runs of tied scores, lowest first, with their bad and good weights.
    let mut ties: Vec<(f64, f64)> = Vec::new();
    let mut i = 0;
    while i < n {
        let mut j = i;
        while j + 1 < n && scores[order[j + 1]] == scores[order[i]] {
            j += 1;
        }
        ties.push(order[i..=j].iter().fold((0.0, 0.0), |(b, g), r| {
            if bads[*r] {
                (b + weights[*r], g)
            } else {
                (b, g + weights[*r])
            }
        }));
        i = j + 1;
    }
    let bad_weight: f64 = ties.iter().map(|t| t.0).sum();
    let good_weight: f64 = ties.iter().map(|t| t.1).sum();
    let mut good_below = 0.0;
    let mut pairs = 0.0;
    for (bad, good) in &ties {
        pairs += bad * (good_below + good / 2.0);
        good_below += good;
    }
    // KS: scanning thresholds from the highest score down.
    let (mut cum_bad, mut cum_good, mut ks) = (0.0, 0.0, 0.0f64);
    for (bad, good) in ties.iter().rev() {
        cum_bad += bad;
        cum_good += good;
        ks = ks.max((cum_bad / bad_weight - cum_good / good_weight).abs());
    }
    if bad_weight == 0.0 || good_weight == 0.0 {
        ks = f64::NAN;
    }
    Separation {
        auc: pairs / (bad_weight * good_weight),
        ks,
        bad_weight,
        good_weight,
    }
}

/// The AUC of `scores` for binary `labels` (1.0 = positive), every row weighing 1.
pub fn auc(scores: &[f64], labels: &[f64]) -> f64 {
    let bads: Vec<bool> = labels.iter().map(|y| *y > 0.5).collect();
    separation(scores, &bads, &vec![1.0; scores.len()], &rank_order(scores)).auc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_is_one_for_a_perfect_ranking_a_half_for_ties_and_zero_reversed() {
        let labels = [0.0, 0.0, 1.0, 1.0];
        assert_eq!(auc(&[0.1, 0.2, 0.8, 0.9], &labels), 1.0);
        assert_eq!(auc(&[0.5; 4], &labels), 0.5);
        assert_eq!(auc(&[0.9, 0.8, 0.2, 0.1], &labels), 0.0);
        // One positive below one negative out of four pairs.
        assert_eq!(auc(&[0.1, 0.6, 0.5, 0.9], &labels), 0.75);
    }

    #[test]
    fn the_auc_is_the_share_of_pairs_ranked_right_counted_one_by_one() {
        // Against the definition, pair by pair, on scores with many ties.
        let scores: Vec<f64> = (0..300).map(|i| ((i * 37) % 23) as f64).collect();
        let labels: Vec<f64> = (0..300)
            .map(|i| f64::from(u8::from((i * 37) % 23 > 12 || i % 7 == 0)))
            .collect();
        let (mut right, mut pairs) = (0.0, 0.0);
        for b in (0..300).filter(|i| labels[*i] == 1.0) {
            for g in (0..300).filter(|i| labels[*i] == 0.0) {
                pairs += 1.0;
                right += match scores[b].total_cmp(&scores[g]) {
                    std::cmp::Ordering::Greater => 1.0,
                    std::cmp::Ordering::Equal => 0.5,
                    std::cmp::Ordering::Less => 0.0,
                };
            }
        }
        assert!((auc(&scores, &labels) - right / pairs).abs() < 1e-12);
    }

    #[test]
    fn a_row_weighing_two_counts_as_two_rows() {
        let scores = [0.1, 0.4, 0.35, 0.8];
        let bads = [false, false, true, true];
        let weighed = separation(&scores, &bads, &[1.0, 2.0, 1.0, 1.0], &rank_order(&scores));
        let doubled = [0.1, 0.4, 0.4, 0.35, 0.8];
        let twice = separation(
            &doubled,
            &[false, false, false, true, true],
            &[1.0; 5],
            &rank_order(&doubled),
        );
        assert_eq!(weighed, twice);
        // Bads at 0.35 and 0.8, goods at 0.1 and 0.4 (twice): 4 of 6 pairs right.
        assert!((weighed.auc - 4.0 / 6.0).abs() < 1e-12);
        // Above 0.4: one bad of two, no good.
        assert!((weighed.ks - 0.5).abs() < 1e-12);
    }

    #[test]
    fn without_a_bad_or_a_good_row_nothing_is_separated() {
        let scores = [0.1, 0.2];
        let s = separation(&scores, &[false, false], &[1.0; 2], &rank_order(&scores));
        assert!(s.auc.is_nan() && s.ks.is_nan());
    }

    #[test]
    fn the_rank_order_is_the_order_of_total_cmp() {
        let scores = [0.5, -0.0, 0.0, f64::NEG_INFINITY, -1.5, f64::INFINITY, 0.5];
        let order = rank_order(&scores);
        assert_eq!(order, vec![3, 4, 1, 2, 0, 6, 5]);
    }

    #[test]
    fn scores_sort_as_integers_as_they_do_as_floats() {
        let mut floats = vec![
            3.5,
            -0.0,
            0.0,
            -2.25,
            f64::INFINITY,
            f64::NEG_INFINITY,
            1e-300,
            -1e300,
            7.0,
            -7.0,
        ];
        let mut by_integers = floats.clone();
        floats.sort_by(f64::total_cmp);
        by_integers.sort_by_key(|x| total_order(*x));
        assert_eq!(
            floats.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
            by_integers.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
        );
    }
}
