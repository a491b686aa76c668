//! Model evaluation measures.

/// Area under the ROC curve of `scores` for binary `labels` (1.0 = positive), with ties
/// given their average rank (the Mann-Whitney U statistic).
pub fn auc(scores: &[f64], labels: &[f64]) -> f64 {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let mut rank = vec![0.0; scores.len()];
    let mut k = 0;
    while k < order.len() {
        let mut end = k;
        while end + 1 < order.len() && scores[order[end + 1]] == scores[order[k]] {
            end += 1;
        }
        for &i in &order[k..=end] {
            rank[i] = (k + end) as f64 / 2.0 + 1.0;
        }
        k = end + 1;
    }
    let positives = labels.iter().filter(|&&y| y > 0.5).count() as f64;
    let negatives = labels.len() as f64 - positives;
    let rank_sum: f64 = (0..labels.len())
        .filter(|&i| labels[i] > 0.5)
        .map(|i| rank[i])
        .sum();
    (rank_sum - positives * (positives + 1.0) / 2.0) / (positives * negatives)
}

#[cfg(test)]
mod tests {
    use super::auc;

    #[test]
    fn auc_is_one_for_a_perfect_ranking_a_half_for_ties_and_zero_reversed() {
        let labels = [0.0, 0.0, 1.0, 1.0];
        assert_eq!(auc(&[0.1, 0.2, 0.8, 0.9], &labels), 1.0);
        assert_eq!(auc(&[0.5; 4], &labels), 0.5);
        assert_eq!(auc(&[0.9, 0.8, 0.2, 0.1], &labels), 0.0);
        // One positive below one negative out of four pairs.
        assert_eq!(auc(&[0.1, 0.6, 0.5, 0.9], &labels), 0.75);
    }
}
