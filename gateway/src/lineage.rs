//! Where each column of a job's result comes from, read off DataFusion's optimised
//! logical plan, so the output gate can apply the sensitivity of the source columns
//! (BRIEF P8, Q3): a column that is exactly a source column keeps that column's
//! sensitivity; a column computed from sensitive columns is derived from them. Plans
//! this module does not understand are treated conservatively: every output column is
//! derived from every column the plan reads.

use std::collections::BTreeSet;

use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::logical_expr::{Expr, JoinType, LogicalPlan};

/// A column of a registered table: (table, column).
pub type SourceColumn = (String, String);

/// Where one result column comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// Exactly this source column, passed through (renamed at most).
    Column(SourceColumn),
    /// Computed from these source columns (possibly none: a constant).
    Derived(BTreeSet<SourceColumn>),
}

impl Origin {
    /// Every source column it depends on.
    pub fn sources(&self) -> BTreeSet<SourceColumn> {
        match self {
            Origin::Column(c) => BTreeSet::from([c.clone()]),
            Origin::Derived(s) => s.clone(),
        }
    }
}

/// Every source column the plan reads anywhere: projected by a scan or used by a
/// scan's filters, in subqueries too.
pub fn columns_read(plan: &LogicalPlan) -> BTreeSet<SourceColumn> {
    let mut read = BTreeSet::new();
    let _ = plan.apply_with_subqueries(|node| {
        if let LogicalPlan::TableScan(scan) = node {
            let table = scan.table_name.table().to_owned();
            for field in scan.projected_schema.fields() {
                read.insert((table.clone(), field.name().clone()));
            }
            for filter in &scan.filters {
                for column in filter.column_refs() {
                    read.insert((table.clone(), column.name.clone()));
                }
            }
        }
        Ok(TreeNodeRecursion::Continue)
    });
    read
}

/// The origin of each output column of `plan`, in order.
pub fn origins(plan: &LogicalPlan) -> Vec<Origin> {
    let width = plan.schema().fields().len();
    match known(plan) {
        Some(origins) if origins.len() == width => origins,
        _ => vec![Origin::Derived(columns_read(plan)); width],
    }
}

/// Origins for the plan shapes understood, `None` otherwise.
fn known(plan: &LogicalPlan) -> Option<Vec<Origin>> {
    match plan {
        LogicalPlan::TableScan(scan) => {
            let table = scan.table_name.table().to_owned();
            Some(
                scan.projected_schema
                    .fields()
                    .iter()
                    .map(|f| Origin::Column((table.clone(), f.name().clone())))
                    .collect(),
            )
        }
        LogicalPlan::Projection(p) => {
            let input = origins(&p.input);
            Some(
                p.expr
                    .iter()
                    .map(|e| of_expr(e, &p.input, &input))
                    .collect(),
            )
        }
        LogicalPlan::Aggregate(a) => {
            let input = origins(&a.input);
            let exprs: Vec<&Expr> = a.group_expr.iter().chain(a.aggr_expr.iter()).collect();
            // Grouping sets add a grouping id; leave those to the conservative rule.
            if exprs.len() != a.schema.fields().len() {
                return None;
            }
            Some(
                exprs
                    .into_iter()
                    .map(|e| match of_expr(e, &a.input, &input) {
                        // An aggregate of a column is derived from it, even MIN or MAX.
                        Origin::Column(c) if a.aggr_expr.contains(e) => {
                            Origin::Derived(BTreeSet::from([c]))
                        }
                        other => other,
                    })
                    .collect(),
            )
        }
        LogicalPlan::Window(w) => {
            let input = origins(&w.input);
            let mut out = input.clone();
            out.extend(w.window_expr.iter().map(|e| derived(e, &w.input, &input)));
            Some(out)
        }
        LogicalPlan::Join(j) => {
            let (left, right) = (origins(&j.left), origins(&j.right));
            match j.join_type {
                JoinType::Inner | JoinType::Left | JoinType::Right | JoinType::Full => {
                    Some(left.into_iter().chain(right).collect())
                }
                JoinType::LeftSemi | JoinType::LeftAnti => Some(left),
                JoinType::RightSemi | JoinType::RightAnti => Some(right),
                _ => None,
            }
        }
        LogicalPlan::Union(u) => {
            let inputs: Vec<Vec<Origin>> = u.inputs.iter().map(|i| origins(i)).collect();
            let width = u.schema.fields().len();
            Some(
                (0..width)
                    .map(|i| {
                        Origin::Derived(
                            inputs
                                .iter()
                                .filter_map(|o| o.get(i))
                                .flat_map(Origin::sources)
                                .collect(),
                        )
                    })
                    .collect(),
            )
        }
        LogicalPlan::Filter(_)
        | LogicalPlan::Sort(_)
        | LogicalPlan::Limit(_)
        | LogicalPlan::Repartition(_)
        | LogicalPlan::SubqueryAlias(_)
        | LogicalPlan::Distinct(datafusion::logical_expr::Distinct::All(_)) => {
            let inputs = plan.inputs();
            let input = inputs.first()?;
            (input.schema().fields().len() == plan.schema().fields().len()).then(|| origins(input))
        }
        LogicalPlan::EmptyRelation(_) | LogicalPlan::Values(_) => {
            Some(vec![
                Origin::Derived(BTreeSet::new());
                plan.schema().fields().len()
            ])
        }
        _ => None,
    }
}

/// An expression over `input`: a bare (possibly aliased) column keeps its origin;
/// anything else is derived from every column it references.
fn of_expr(e: &Expr, input: &LogicalPlan, origins: &[Origin]) -> Origin {
    let mut inner = e;
    while let Expr::Alias(alias) = inner {
        inner = &alias.expr;
    }
    // A registered table's pseudonymised column (`crate::pseudonyms`) is its source
    // column, as the pseudonym that jobs see.
    if let Expr::ScalarFunction(f) = inner
        && f.name() == crate::pseudonyms::FUNCTION
        && let [argument] = f.args.as_slice()
    {
        inner = argument;
    }
    if let Expr::Column(column) = inner
        && let Ok(i) = input.schema().index_of_column(column)
        && let Some(origin) = origins.get(i)
    {
        return origin.clone();
    }
    derived(e, input, origins)
}

fn derived(e: &Expr, input: &LogicalPlan, origins: &[Origin]) -> Origin {
    let mut sources = BTreeSet::new();
    for column in e.column_refs() {
        match input.schema().index_of_column(column) {
            Ok(i) => {
                if let Some(origin) = origins.get(i) {
                    sources.extend(origin.sources());
                }
            }
            // A column this module cannot place: assume the worst.
            Err(_) => sources.extend(columns_read(input)),
        }
    }
    // Subqueries inside the expression read columns of their own.
    let _ = e.apply(|sub| {
        match sub {
            Expr::ScalarSubquery(q)
            | Expr::Exists(datafusion::logical_expr::expr::Exists { subquery: q, .. }) => {
                sources.extend(columns_read(&q.subquery));
            }
            Expr::InSubquery(q) => sources.extend(columns_read(&q.subquery.subquery)),
            _ => {}
        }
        Ok(TreeNodeRecursion::Continue)
    });
    Origin::Derived(sources)
}
