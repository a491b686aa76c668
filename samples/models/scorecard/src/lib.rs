//! Example model: a logistic-regression scorecard over public-credit features.
//!
//! The coefficients were fitted on the sample data's loan outcomes
//! (`own-data/demo_loan_outcomes`) and are rounded. The score is the usual
//! points-to-double-the-odds scale: 600 points at good:bad odds of 19:1, 50 points more
//! each time the odds double. A scorecard is linear in the log-odds, so the logistic
//! regression's logit gives the points directly: ln(odds of good) = −logit.

#![allow(unsafe_code, reason = "the model! macro writes the ABI's exports")]

/// Points for doubling the odds.
const POINTS_TO_DOUBLE: f64 = 50.0;
/// ln(19): the score is 600 at good:bad odds of 19:1.
const LN_ANCHOR_ODDS: f64 = 2.944_438_979_166_440_4;

creditpool_model::model! {
    /// Logistic scorecard over penalties, listings, judgements and age.
    name = "scorecard", version = "1.0.0",
    fn scorecard(penalties_5y: f64, abnormal_listings: f64, judgements_unfulfilled: f64, dishonesty_listed: f64, years_established: f64) -> f64 {
        // Age counts up to 30 years. (A comparison rather than `f64::min`, which on
        // wasm32 is a call into libm for its NaN rule; NaN gives 30 either way.)
        let years = if years_established < 30.0 { years_established } else { 30.0 };
        let logit = -2.6 + 0.55 * penalties_5y + 0.7 * abnormal_listings + 0.8 * judgements_unfulfilled
            + 1.5 * dishonesty_listed - 0.04 * years;
        let factor = POINTS_TO_DOUBLE / std::f64::consts::LN_2;
        (600.0 + factor * (-logit - LN_ANCHOR_ODDS)).clamp(300.0, 900.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_anchor_and_the_doubling_hold() {
        // logit = −ln 19 ⇔ odds 19:1 ⇔ 600 points; with no records and 0 years the
        // logit is −2.6, odds e^2.6 ≈ 13.46:1, i.e. 50·log2(13.46/19) ≈ −24.9 points.
        let clean = scorecard(0.0, 0.0, 0.0, 0.0, 0.0);
        let expected = 600.0 + 50.0 * ((2.6f64).exp() / 19.0).log2();
        assert!((clean - expected).abs() < 1e-9, "{clean} vs {expected}");
        // One more abnormal listing multiplies the bad odds by e^0.7: fewer points.
        let listed = scorecard(0.0, 1.0, 0.0, 0.0, 0.0);
        assert!((clean - listed - 50.0 * 0.7 / std::f64::consts::LN_2).abs() < 1e-9);
        // Clamped to the scale.
        assert_eq!(scorecard(20.0, 20.0, 20.0, 20.0, 0.0), 300.0);
    }
}
