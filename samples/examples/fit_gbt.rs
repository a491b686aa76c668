//! Fits the example gradient-boosted tree ensemble (`samples/models/gbt`) on the sample
//! data's loan outcomes and prints it as Rust constants. The shipped model was produced
//! with:
//!
//! ```text
//! cargo run --release -p creditpool -- demo            # scale-1 data in ./data, seed 2026
//! cargo run --release -p samples --example fit_gbt -- data > samples/models/gbt/src/trees.rs
//! ```
//!
//! Logistic loss, second-order (Newton) leaves, complete trees of depth 3, L2
//! regularisation; trained on the loans whose id ends in an even digit and evaluated
//! (AUC) on the others.

use datafusion::arrow::array::{AsArray, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Float64Type};
use datafusion::prelude::{ParquetReadOptions, SessionContext};

const TREES: usize = 12;
const DEPTH: usize = 3;
const INTERNAL: usize = (1 << DEPTH) - 1;
const LEARNING_RATE: f64 = 0.3;
const LAMBDA: f64 = 5.0;
const MIN_HESSIAN: f64 = 4.0;
const FEATURES: [&str; 5] = [
    "penalties_5y",
    "abnormal_listings",
    "judgements_unfulfilled",
    "dishonesty_listed",
    "years_established",
];

struct Tree {
    feature: [usize; INTERNAL],
    threshold: [f64; INTERNAL],
    leaf: [f64; 1 << DEPTH],
}

impl Tree {
    fn eval(&self, x: &[f64; 5]) -> f64 {
        let mut node = 0;
        for _ in 0..DEPTH {
            node = 2 * node + 1 + usize::from(x[self.feature[node]] > self.threshold[node]);
        }
        self.leaf[node - INTERNAL]
    }
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// The best split of `rows` by gain, or none.
#[allow(
    clippy::needless_range_loop,
    reason = "f is a feature index into every row"
)]
fn best_split(rows: &[usize], x: &[[f64; 5]], g: &[f64], h: &[f64]) -> Option<(usize, f64)> {
    let (gt, ht): (f64, f64) = rows
        .iter()
        .fold((0.0, 0.0), |(a, b), &i| (a + g[i], b + h[i]));
    let parent = gt * gt / (ht + LAMBDA);
    let mut best: Option<(f64, usize, f64)> = None;
    for f in 0..5 {
        let mut sorted: Vec<usize> = rows.to_vec();
        sorted.sort_by(|&a, &b| x[a][f].total_cmp(&x[b][f]));
        let (mut gl, mut hl) = (0.0, 0.0);
        for k in 0..sorted.len().saturating_sub(1) {
            let i = sorted[k];
            gl += g[i];
            hl += h[i];
            let (here, next) = (x[i][f], x[sorted[k + 1]][f]);
            if here == next || hl < MIN_HESSIAN || ht - hl < MIN_HESSIAN {
                continue;
            }
            let (gr, hr) = (gt - gl, ht - hl);
            let gain = gl * gl / (hl + LAMBDA) + gr * gr / (hr + LAMBDA) - parent;
            if gain > 1e-9 && best.is_none_or(|(b, _, _)| gain > b) {
                best = Some((gain, f, (here + next) / 2.0));
            }
        }
    }
    best.map(|(_, f, t)| (f, t))
}

fn fit_tree(x: &[[f64; 5]], g: &[f64], h: &[f64], rows: Vec<usize>) -> Tree {
    let mut tree = Tree {
        feature: [0; INTERNAL],
        threshold: [f64::INFINITY; INTERNAL],
        leaf: [0.0; 1 << DEPTH],
    };
    let mut level = vec![rows];
    let mut node = 0;
    for _ in 0..DEPTH {
        let mut next = Vec::new();
        for rows in level {
            // A node without a useful split sends every row left.
            let (f, t) = best_split(&rows, x, g, h).unwrap_or((0, f64::INFINITY));
            tree.feature[node] = f;
            tree.threshold[node] = t;
            let (left, right): (Vec<usize>, Vec<usize>) = rows.iter().partition(|&&i| x[i][f] <= t);
            next.push(left);
            next.push(right);
            node += 1;
        }
        level = next;
    }
    for (k, rows) in level.iter().enumerate() {
        let (gs, hs) = rows
            .iter()
            .fold((0.0, 0.0), |(a, b), &i| (a + g[i], b + h[i]));
        tree.leaf[k] = -LEARNING_RATE * gs / (hs + LAMBDA);
    }
    tree
}

#[tokio::main]
async fn main() {
    let dir = std::env::args().nth(1).unwrap_or_else(|| "data".into());
    let ctx = SessionContext::new();
    let catalog = catalog::Catalog::open(&dir).expect("sample data (run `creditpool demo` first)");
    catalog
        .register(&ctx, &samples::features::TABLES)
        .await
        .expect("register");
    ctx.register_parquet(
        "loans",
        format!("{dir}/own-data/demo_loan_outcomes.parquet"),
        ParquetReadOptions::default(),
    )
    .await
    .expect("loans");
    let sql = format!(
        "SELECT f.*, CAST(l.defaulted AS DOUBLE) AS y, l.loan_id FROM loans l \
         JOIN ({}) f ON f.uscc = l.uscc ORDER BY l.loan_id",
        samples::features::table_query()
    );
    let batches: Vec<RecordBatch> = ctx
        .sql(&sql)
        .await
        .expect("plan")
        .collect()
        .await
        .expect("run");
    let (mut train, mut test) = (Vec::new(), Vec::new());
    for b in &batches {
        let cols: Vec<_> = (1..=6)
            .map(|k| b.column(k).as_primitive::<Float64Type>().clone())
            .collect();
        let ids = cast(b.column(7), &DataType::Utf8).expect("loan ids as text");
        let ids = ids.as_string::<i32>();
        for i in 0..b.num_rows() {
            let x = [
                cols[0].value(i),
                cols[1].value(i),
                cols[2].value(i),
                cols[3].value(i),
                cols[4].value(i),
            ];
            let even = ids
                .value(i)
                .bytes()
                .last()
                .is_some_and(|c| (c - b'0').is_multiple_of(2));
            if even {
                train.push((x, cols[5].value(i)))
            } else {
                test.push((x, cols[5].value(i)))
            }
        }
    }
    let x: Vec<[f64; 5]> = train.iter().map(|r| r.0).collect();
    let y: Vec<f64> = train.iter().map(|r| r.1).collect();
    let rate = y.iter().sum::<f64>() / y.len() as f64;
    let base = (rate / (1.0 - rate)).ln();
    let mut f = vec![base; x.len()];
    let mut trees = Vec::new();
    for _ in 0..TREES {
        let p: Vec<f64> = f.iter().map(|&z| sigmoid(z)).collect();
        let g: Vec<f64> = p.iter().zip(&y).map(|(p, y)| p - y).collect();
        let h: Vec<f64> = p.iter().map(|p| p * (1.0 - p)).collect();
        let tree = fit_tree(&x, &g, &h, (0..x.len()).collect());
        for (fi, xi) in f.iter_mut().zip(&x) {
            *fi += tree.eval(xi);
        }
        trees.push(tree);
    }
    let predict = |x: &[f64; 5]| base + trees.iter().map(|t| t.eval(x)).sum::<f64>();
    let train_auc = evaluation::auc(&x.iter().map(predict).collect::<Vec<_>>(), &y);
    let test_x: Vec<[f64; 5]> = test.iter().map(|r| r.0).collect();
    let test_y: Vec<f64> = test.iter().map(|r| r.1).collect();
    let test_auc = evaluation::auc(&test_x.iter().map(predict).collect::<Vec<_>>(), &test_y);

    println!("// Generated by `cargo run --release -p samples --example fit_gbt -- data` on the");
    println!(
        "// scale-1 sample data (seed 2026): {} training loans, default rate {:.4};",
        x.len(),
        rate
    );
    println!(
        "// AUC {train_auc:.3} on them and {test_auc:.3} on {} held-out loans. Do not edit.",
        test_x.len()
    );
    println!();
    println!("use crate::Tree;");
    println!();
    println!("/// Log-odds of default before any tree.");
    println!("pub const BASE: f64 = {base:?};");
    println!();
    println!(
        "/// Features, in the model's argument order: {}.",
        FEATURES.join(", ")
    );
    println!("pub const TREES: [Tree; {TREES}] = [");
    for t in &trees {
        println!("    Tree {{");
        println!("        feature: {:?},", t.feature);
        println!(
            "        threshold: [{}],",
            t.threshold
                .iter()
                .map(|v| if v.is_infinite() {
                    "f64::INFINITY".to_owned()
                } else {
                    format!("{v:?}")
                })
                .collect::<Vec<_>>()
                .join(", ")
        );
        println!("        leaf: {:?},", t.leaf);
        println!("    }},");
    }
    println!("];");
    eprintln!("train AUC {train_auc:.3}, held-out AUC {test_auc:.3}");
}
