//! Example model: a logistic-regression scorecard over public-credit features.
//!
//! The coefficients were fitted on the sample data's loan outcomes
//! (`own-data/demo_loan_outcomes`) and are rounded; the score is the usual
//! points-to-double-the-odds scale (600 points at 1:19 odds, 50 points to double).

#![allow(unsafe_code, reason = "the model! macro writes the ABI's exports")]

creditpool_model::model! {
    /// Logistic scorecard over penalties, listings, judgements and age.
    name = "scorecard", version = "1.0.0",
    fn scorecard(penalties_5y: f64, abnormal_listings: f64, judgements_unfulfilled: f64, dishonesty_listed: f64, years_established: f64) -> f64 {
        let logit = -2.6 + 0.55 * penalties_5y + 0.7 * abnormal_listings + 0.8 * judgements_unfulfilled
            + 1.5 * dishonesty_listed - 0.04 * years_established.min(30.0);
        let odds_good = (-logit).exp();
        let factor = 50.0 / std::f64::consts::LN_2;
        (600.0 + factor * (odds_good / 19.0).ln()).clamp(300.0, 900.0)
    }
}
