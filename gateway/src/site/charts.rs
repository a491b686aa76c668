//! Charts drawn on the server as SVG (issue 19: no charting service, no script): the
//! coordinates are computed here and the templates write them into `<svg>` elements,
//! with a table of the same figures beside each chart for readers who do not see it.

use workbench::gate::Decile;

/// The side of a chart's plotting area, in SVG units.
const SIDE: f64 = 200.0;
/// The margin around it, for the axes' labels.
const MARGIN: f64 = 30.0;

/// A ROC curve: the share of bads caught against the share of goods, decile by
/// decile from the riskiest, drawn from the deciles the gate released (no other figure
/// leaves the gate for it).
pub(crate) struct Roc {
    /// The curve's points, as SVG `points` (from (0, 0) to (1, 1)).
    pub points: String,
    /// Each point's shares, for the table beside the chart: (decile, goods %, bads %,
    /// the decile's bad rate).
    pub steps: Vec<(usize, String, String, String)>,
    /// The chart's width and height.
    pub size: f64,
    /// Where the plotting area starts.
    pub margin: f64,
    /// Where it ends.
    pub far: f64,
}

impl Roc {
    /// The curve of `deciles` (riskiest first).
    pub(crate) fn of_deciles(deciles: &[Decile]) -> Roc {
        let bads: Vec<f64> = deciles
            .iter()
            .map(|d| d.subjects as f64 * d.bad_rate)
            .collect();
        let goods: Vec<f64> = deciles
            .iter()
            .map(|d| d.subjects as f64 * (1.0 - d.bad_rate))
            .collect();
        let (all_bads, all_goods) = (bads.iter().sum::<f64>(), goods.iter().sum::<f64>());
        let share = |part: f64, all: f64| if all > 0.0 { part / all } else { 0.0 };
        let mut points = vec![point(0.0, 0.0)];
        let mut steps = Vec::with_capacity(deciles.len());
        let (mut caught, mut passed) = (0.0, 0.0);
        for (i, d) in deciles.iter().enumerate() {
            caught += bads[i];
            passed += goods[i];
            let (x, y) = (share(passed, all_goods), share(caught, all_bads));
            points.push(point(x, y));
            steps.push((
                d.decile,
                format!("{:.1}%", x * 100.0),
                format!("{:.1}%", y * 100.0),
                format!("{:.1}%", d.bad_rate * 100.0),
            ));
        }
        Roc {
            points: points.join(" "),
            steps,
            size: SIDE + 2.0 * MARGIN,
            margin: MARGIN,
            far: MARGIN + SIDE,
        }
    }
}

/// A point of the unit square in the chart's coordinates (y grows downwards in SVG).
fn point(x: f64, y: f64) -> String {
    format!("{:.1},{:.1}", MARGIN + x * SIDE, MARGIN + (1.0 - y) * SIDE)
}

/// A bar chart of the deciles' bad rates.
pub(crate) struct Bars {
    /// Each bar: its decile, x, y, width, height and the rate in words.
    pub bars: Vec<Bar>,
    /// The highest rate drawn (the top of the axis), in words.
    pub top: String,
    /// The chart's width.
    pub width: f64,
    /// Its height.
    pub height: f64,
    /// Where the plotting area starts.
    pub margin: f64,
    /// The baseline's y.
    pub base: f64,
    /// The right end of the baseline.
    pub right: f64,
}

/// One bar.
pub(crate) struct Bar {
    /// The decile (1: riskiest).
    pub decile: usize,
    /// Left edge.
    pub x: String,
    /// Top edge.
    pub y: String,
    /// Width.
    pub width: String,
    /// Height.
    pub height: String,
    /// The rate in words.
    pub rate: String,
    /// The label's x (the bar's centre).
    pub label_x: String,
}

impl Bars {
    /// The bad rate of each of `deciles`.
    pub(crate) fn of_deciles(deciles: &[Decile]) -> Bars {
        let width = SIDE * 1.5;
        let top = deciles
            .iter()
            .map(|d| d.bad_rate)
            .fold(0.0f64, f64::max)
            .max(0.01);
        let slot = width / deciles.len().max(1) as f64;
        let bars = deciles
            .iter()
            .enumerate()
            .map(|(i, d)| {
                let height = d.bad_rate / top * SIDE;
                Bar {
                    decile: d.decile,
                    x: format!("{:.1}", MARGIN + i as f64 * slot + slot * 0.15),
                    y: format!("{:.1}", MARGIN + SIDE - height),
                    width: format!("{:.1}", slot * 0.7),
                    height: format!("{height:.1}"),
                    rate: format!("{:.1}%", d.bad_rate * 100.0),
                    label_x: format!("{:.1}", MARGIN + i as f64 * slot + slot / 2.0),
                }
            })
            .collect();
        Bars {
            bars,
            top: format!("{:.1}%", top * 100.0),
            width: width + 2.0 * MARGIN,
            height: SIDE + 2.0 * MARGIN,
            margin: MARGIN,
            base: MARGIN + SIDE,
            right: MARGIN + width,
        }
    }
}

/// A figure against the target it must meet, drawn as a bar with the target marked.
pub(crate) struct Against {
    /// What it measures.
    pub label: String,
    /// The figure in words (or that none is measured yet).
    pub value: String,
    /// The target in words.
    pub target: String,
    /// Whether the figure meets it (true when none is measured yet).
    pub met: bool,
    /// The bar's width.
    pub bar: String,
    /// The target's x.
    pub mark: String,
}

/// The drawing width of an [`Against`] bar.
pub(crate) const AGAINST_WIDTH: f64 = 320.0;

impl Against {
    /// `value` against `target` on a scale from 0 to `top` (at least the target), the
    /// lower the better when `lower`.
    pub(crate) fn new(
        label: impl Into<String>,
        value: Option<f64>,
        target: f64,
        lower: bool,
        say: fn(f64) -> String,
    ) -> Against {
        let top = value.unwrap_or(0.0).max(target) * 1.25;
        let x = |v: f64| {
            if top > 0.0 {
                (v / top * AGAINST_WIDTH).clamp(0.0, AGAINST_WIDTH)
            } else {
                0.0
            }
        };
        Against {
            label: label.into(),
            value: value.map_or_else(|| "尚无数据".to_owned(), say),
            target: say(target),
            met: value.is_none_or(|v| if lower { v <= target } else { v >= target }),
            bar: format!("{:.1}", x(value.unwrap_or(0.0))),
            mark: format!("{:.1}", x(target)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decile(decile: usize, subjects: u64, bad_rate: f64) -> Decile {
        Decile {
            decile,
            subjects,
            scored_rows: subjects,
            bad_rate,
        }
    }

    #[test]
    fn the_roc_curve_runs_from_the_origin_to_the_far_corner() {
        // P8: the evaluation's chart is drawn from the released deciles alone.
        let deciles: Vec<Decile> = (1..=10)
            .map(|i| decile(i, 100, if i <= 2 { 0.5 } else { 0.05 }))
            .collect();
        let roc = Roc::of_deciles(&deciles);
        let points: Vec<&str> = roc.points.split(' ').collect();
        assert_eq!(points.len(), 11);
        assert_eq!(points[0], "30.0,230.0");
        assert_eq!(points[10], "230.0,30.0");
        // The riskiest two deciles hold 100 of the 140 bads: the curve rises steeply.
        assert_eq!(
            roc.steps[1],
            (2, "11.6%".into(), "71.4%".into(), "50.0%".into())
        );
    }

    #[test]
    fn bars_scale_to_the_highest_rate_and_survive_no_bads() {
        let bars = Bars::of_deciles(&[decile(1, 10, 0.4), decile(2, 10, 0.1)]);
        assert_eq!(bars.bars[0].height, "200.0");
        assert_eq!(bars.bars[1].height, "50.0");
        assert_eq!(bars.top, "40.0%");
        let flat = Bars::of_deciles(&[decile(1, 10, 0.0)]);
        assert_eq!(flat.bars[0].height, "0.0");
        let roc = Roc::of_deciles(&[decile(1, 10, 0.0)]);
        assert!(!roc.points.contains("NaN"), "{}", roc.points);
    }

    #[test]
    fn a_figure_is_drawn_against_its_target() {
        // Q10: a p99 of 1.2 s against the 3 s ceiling meets it; the bar is shorter.
        let fast = Against::new("p99", Some(1200.0), 3000.0, true, |v| format!("{v} ms"));
        assert!(fast.met);
        assert_eq!(fast.mark, "256.0");
        assert_eq!(fast.bar, "102.4");
        // An availability under its target does not.
        let down = Against::new("可用性", Some(0.99), 0.999, false, |v| format!("{v}"));
        assert!(!down.met);
        let none = Against::new("错误率", None, 0.0001, true, |v| format!("{v}"));
        assert!(none.met && none.value == "尚无数据" && none.bar == "0.0");
    }
}
