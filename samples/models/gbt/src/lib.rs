//! Example model: a small gradient-boosted tree ensemble (12 trees of depth 3, logistic
//! loss) giving the probability that an enterprise borrower defaults within 12 months.
//!
//! The trees in `trees.rs` were fitted on the sample data's loan outcomes
//! (`own-data/demo_loan_outcomes`) by `samples/examples/fit_gbt.rs`, whose header
//! records the command, the training set and the held-out AUC.

#![allow(unsafe_code, reason = "the model! macro writes the ABI's exports")]

mod trees;

/// Depth of every tree: each is complete, with `2^DEPTH − 1` splits and `2^DEPTH` leaves.
pub const DEPTH: usize = 3;

/// One tree, breadth first: split `k` sends a row right when its feature is greater
/// than the threshold; a split that was not worth making has an infinite threshold.
pub struct Tree {
    /// Feature index (argument order) of each split.
    pub feature: [usize; 7],
    /// Threshold of each split.
    pub threshold: [f64; 7],
    /// Log-odds contribution of each leaf, left to right.
    pub leaf: [f64; 8],
}

impl Tree {
    /// The leaf value for a row.
    pub fn eval(&self, x: &[f64; 5]) -> f64 {
        let mut node = 0;
        for _ in 0..DEPTH {
            node = 2 * node + 1 + usize::from(x[self.feature[node]] > self.threshold[node]);
        }
        self.leaf[node - 7]
    }
}

/// Log-odds of default: the base rate plus every tree's leaf.
pub fn log_odds(x: &[f64; 5]) -> f64 {
    trees::TREES
        .iter()
        .fold(trees::BASE, |sum, tree| sum + tree.eval(x))
}

creditpool_model::model! {
    /// Probability of default within 12 months, from gradient-boosted trees.
    name = "default_risk", version = "1.0.0",
    fn default_risk(penalties_5y: f64, abnormal_listings: f64, judgements_unfulfilled: f64, dishonesty_listed: f64, years_established: f64) -> f64 {
        let z = log_odds(&[penalties_5y, abnormal_listings, judgements_unfulfilled, dishonesty_listed, years_established]);
        1.0 / (1.0 + (-z).exp())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_raise_the_risk_and_it_is_a_probability() {
        let clean = default_risk(0.0, 0.0, 0.0, 0.0, 15.0);
        let listed = default_risk(2.0, 1.0, 1.0, 1.0, 15.0);
        assert!(
            0.0 < clean && clean < listed && listed < 1.0,
            "{clean} {listed}"
        );
    }

    #[test]
    fn every_tree_is_complete_and_uses_the_five_features() {
        for tree in &trees::TREES {
            assert!(tree.feature.iter().all(|&f| f < 5));
            assert!(tree.leaf.iter().all(|v| v.is_finite()));
        }
    }
}
