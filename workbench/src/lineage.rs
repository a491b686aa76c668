//! Where each column of a job's result comes from, read off DataFusion's optimised
//! logical plan, so the output gate can apply the sensitivity of the source columns
//! (BRIEF P8, Q3): a column that is exactly a source column keeps that column's
//! sensitivity; a column computed from sensitive columns is derived from them. Plans
//! this module does not understand are treated conservatively: every output column is
//! derived from every column the plan reads.

use std::collections::BTreeSet;

use datafusion::arrow::datatypes::DataType;
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::logical_expr::{Expr, ExprSchemable, JoinType, LogicalPlan};

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

/// One scan of a table in a plan: a table read twice is two instances.
type Instance = usize;
/// A result column that is exactly one instance's source column, passed through.
type Passed = Option<(Instance, String)>;

/// Whether each row of the plan's result describes one subject: the subject of the
/// table instance whose identifier column `counted` passes through (issue 14, class 2).
/// Every other scan of a table that holds subjects must be joined to that instance on a
/// subject identifier (`subject_columns`), directly or through other such joins, and
/// nothing may combine rows of different subjects (an aggregate not grouped by a subject
/// identifier, a window not partitioned by one). Otherwise a group's subjects, counted on
/// `counted`, need not be the subjects its figures describe: a cross join with ten
/// others makes one subject look like ten. Plans not understood are refused. Returns
/// the reason for the user when the rows cannot be counted so.
///
/// `others` are the subject columns that name another subject than the row's own (an
/// officer's `person_id` in a row of an organisation): joined on them, a table's rows
/// describe that other subject, not the row's. `kind` tells catalog tables (whose
/// identifier columns are declared) from the reader's own and from shared tables (whose
/// columns an institution names and fills as it likes: each is a subject of its own,
/// and a shared table without one is taken to describe subjects nobody can join).
///
/// With `counted` `None` (a sample, which need not show its subject column), the
/// subject is that of the first table read that holds subjects, and the same holds of
/// every other: each row is one subject's, selected and filled by that subject's data
/// alone, never by other subjects' values.
pub fn one_subject_per_row(
    plan: &LogicalPlan,
    counted: Option<usize>,
    subject_columns: &[&str],
    others: &[&str],
    kind: &dyn Fn(&str) -> TableKind,
) -> Result<(), String> {
    let mut rows = Rows {
        subject_columns,
        others,
        kind,
        instances: Vec::new(),
        parent: Vec::new(),
        keys: Vec::new(),
    };
    let passed = rows.walk(plan)?;
    let (node, counted_table) = match counted {
        Some(counted) => {
            let Some(Some(counted)) = passed.get(counted) else {
                return Err(
                    "the subject column is not passed through unchanged from one table".to_owned(),
                );
            };
            let Some(node) = rows.is_subject(&Some(counted.clone())) else {
                return Err("the subject column is not a subject identifier".to_owned());
            };
            (node, rows.instances[counted.0].table.clone())
        }
        None => {
            let first = rows
                .instances
                .iter()
                .find_map(|i| i.required.first().map(|n| (*n, i.table.clone())));
            match first {
                Some(first) => first,
                // No table read holds subjects (only table functions).
                None => return Ok(()),
            }
        }
    };
    let root = rows.find(node);
    for i in 0..rows.instances.len() {
        let (table, required) = (
            rows.instances[i].table.clone(),
            rows.instances[i].required.clone(),
        );
        // The subjects of every table read must be the counted one.
        if required.into_iter().any(|n| rows.find(n) != root) {
            return Err(format!(
                "the result puts rows of '{table}' beside rows of '{counted_table}' without joining them on a subject identifier ({}): a cross join, a join on another column or a subquery could put other subjects' data in a subject's row, so its groups cannot be counted subject by subject — join on the subject identifier, or aggregate '{table}' per subject first",
                subject_columns.join(", ")
            ));
        }
    }
    // Each aggregate and window inside must be per counted subject.
    for group in std::mem::take(&mut rows.keys) {
        if !group.into_iter().any(|n| rows.find(n) == root) {
            return Err(
                "an aggregate or window of the query is grouped by another subject than the one counted, so a row can carry other subjects' figures; group by the counted subject"
                    .to_owned(),
            );
        }
    }
    Ok(())
}

/// Where a table read by a job comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TableKind {
    /// A public-credit table of the catalog.
    Catalog,
    /// One of the reader's own tables.
    Own,
    /// Another institution's table shared with the reader.
    Shared,
}

/// One scan: its table, the subject node each identifier column names, and the nodes
/// that must be the counted subject's.
struct Scan {
    table: String,
    nodes: Vec<(String, usize)>,
    required: Vec<usize>,
}

struct Rows<'a> {
    subject_columns: &'a [&'a str],
    others: &'a [&'a str],
    kind: &'a dyn Fn(&str) -> TableKind,
    instances: Vec<Scan>,
    /// Union-find over subject nodes; joins on identifiers link them.
    parent: Vec<usize>,
    /// The subject nodes each aggregate groups by and each window partitions by: one of
    /// each group must be the counted subject.
    keys: Vec<Vec<usize>>,
}

impl Rows<'_> {
    fn node(&mut self) -> usize {
        self.parent.push(self.parent.len());
        self.parent.len() - 1
    }

    fn find(&mut self, mut i: usize) -> usize {
        while self.parent[i] != i {
            self.parent[i] = self.parent[self.parent[i]];
            i = self.parent[i];
        }
        i
    }

    fn union(&mut self, a: usize, b: usize) {
        let (a, b) = (self.find(a), self.find(b));
        self.parent[a] = b;
    }

    /// A scan of `table` whose full schema has `columns`.
    fn scan(&mut self, table: &str, columns: &[&str]) -> Instance {
        let identifiers: Vec<&str> = columns
            .iter()
            .copied()
            .filter(|c| self.subject_columns.contains(c))
            .collect();
        let mut nodes = Vec::new();
        let mut required = Vec::new();
        match (self.kind)(table) {
            TableKind::Catalog => {
                // Declared: the row's own identifiers name one subject; `others`
                // another each.
                let own = self.node();
                for c in &identifiers {
                    if self.others.contains(c) {
                        let other = self.node();
                        nodes.push(((*c).to_owned(), other));
                    } else {
                        nodes.push(((*c).to_owned(), own));
                        if !required.contains(&own) {
                            required.push(own);
                        }
                    }
                }
            }
            kind => {
                for c in &identifiers {
                    let n = self.node();
                    nodes.push(((*c).to_owned(), n));
                    required.push(n);
                }
                if identifiers.is_empty() && kind == TableKind::Shared {
                    let nobody = self.node();
                    required.push(nobody);
                }
            }
        }
        self.instances.push(Scan {
            table: table.to_owned(),
            nodes,
            required,
        });
        self.instances.len() - 1
    }

    /// Rows that combine several subjects' rows: no join can make them one subject's.
    fn mixed(&mut self) {
        let nobody = self.node();
        self.instances.push(Scan {
            table: "an aggregate over several subjects".to_owned(),
            nodes: Vec::new(),
            required: vec![nobody],
        });
    }

    /// The subject node a passed-through identifier column names.
    fn is_subject(&self, passed: &Passed) -> Option<usize> {
        let (i, column) = passed.as_ref()?;
        self.instances[*i]
            .nodes
            .iter()
            .find(|(c, _)| c == column)
            .map(|(_, n)| *n)
    }

    /// Links the two sides of an equality when both are subject identifiers.
    fn link(&mut self, left: &Passed, right: &Passed) {
        if let (Some(a), Some(b)) = (self.is_subject(left), self.is_subject(right)) {
            self.union(a, b);
        }
    }

    /// Links the equalities of subject identifiers in a conjunction; refuses a
    /// subquery it cannot follow.
    fn conditions(
        &mut self,
        predicate: &Expr,
        input: &LogicalPlan,
        passed: &[Passed],
    ) -> Result<(), String> {
        self.subqueries(predicate)?;
        for part in datafusion::logical_expr::utils::split_conjunction(predicate) {
            if let Expr::BinaryExpr(b) = part
                && b.op == datafusion::logical_expr::Operator::Eq
            {
                let (l, r) = (
                    pass(&b.left, input.schema(), passed),
                    pass(&b.right, input.schema(), passed),
                );
                self.link(&l, &r);
            }
        }
        Ok(())
    }

    /// Subqueries left in an expression: their scans join no row of the outer query on
    /// a subject identifier that this module can see.
    fn subqueries(&mut self, e: &Expr) -> Result<(), String> {
        let mut plans = Vec::new();
        let _ = e.apply(|sub| {
            match sub {
                Expr::ScalarSubquery(q)
                | Expr::Exists(datafusion::logical_expr::expr::Exists { subquery: q, .. }) => {
                    plans.push(q.subquery.clone());
                }
                Expr::InSubquery(q) => plans.push(q.subquery.subquery.clone()),
                _ => {}
            }
            Ok(TreeNodeRecursion::Continue)
        });
        for plan in plans {
            self.walk(&plan)?;
        }
        Ok(())
    }

    fn walk(&mut self, plan: &LogicalPlan) -> Result<Vec<Passed>, String> {
        let passthrough = |rows: &mut Self, input: &LogicalPlan| -> Result<Vec<Passed>, String> {
            let passed = rows.walk(input)?;
            if passed.len() == plan.schema().fields().len() {
                Ok(passed)
            } else {
                Ok(vec![None; plan.schema().fields().len()])
            }
        };
        match plan {
            LogicalPlan::TableScan(scan) => {
                let schema = scan.source.schema();
                let columns: Vec<&str> =
                    schema.fields().iter().map(|f| f.name().as_str()).collect();
                let instance = self.scan(scan.table_name.table(), &columns);
                Ok(scan
                    .projected_schema
                    .fields()
                    .iter()
                    .map(|f| Some((instance, f.name().clone())))
                    .collect())
            }
            LogicalPlan::Projection(p) => {
                let input = self.walk(&p.input)?;
                let mut out = Vec::new();
                for e in &p.expr {
                    self.subqueries(e)?;
                    out.push(pass(e, p.input.schema(), &input));
                }
                Ok(out)
            }
            LogicalPlan::Filter(f) => {
                let input = self.walk(&f.input)?;
                self.conditions(&f.predicate, &f.input, &input)?;
                Ok(input)
            }
            LogicalPlan::Join(j) => {
                let (left, right) = (self.walk(&j.left)?, self.walk(&j.right)?);
                // A join that matches NULL to NULL joins rows of no subject.
                let on: &[_] =
                    if j.null_equality == datafusion::common::NullEquality::NullEqualsNothing {
                        &j.on
                    } else {
                        &[]
                    };
                for (l, r) in on {
                    let (l, r) = (
                        pass(l, j.left.schema(), &left),
                        pass(r, j.right.schema(), &right),
                    );
                    self.link(&l, &r);
                }
                let both: Vec<Passed> = left.iter().chain(right.iter()).cloned().collect();
                if let Some(filter) = &j.filter {
                    // The filter sees both sides, in order.
                    let schema = j
                        .left
                        .schema()
                        .join(j.right.schema())
                        .map_err(|e| e.to_string())?;
                    self.subqueries(filter)?;
                    for part in datafusion::logical_expr::utils::split_conjunction(filter) {
                        if let Expr::BinaryExpr(b) = part
                            && b.op == datafusion::logical_expr::Operator::Eq
                        {
                            let (l, r) = (
                                pass(&b.left, &schema, &both),
                                pass(&b.right, &schema, &both),
                            );
                            self.link(&l, &r);
                        }
                    }
                }
                match j.join_type {
                    JoinType::Inner | JoinType::Left | JoinType::Right | JoinType::Full => Ok(both),
                    JoinType::LeftSemi | JoinType::LeftAnti | JoinType::LeftMark => {
                        let mut out = left;
                        out.resize(plan.schema().fields().len(), None);
                        Ok(out)
                    }
                    JoinType::RightSemi | JoinType::RightAnti | JoinType::RightMark => {
                        let mut out = right;
                        out.resize(plan.schema().fields().len(), None);
                        Ok(out)
                    }
                }
            }
            LogicalPlan::Aggregate(a) => {
                let input = self.walk(&a.input)?;
                let keys: Vec<Passed> = a
                    .group_expr
                    .iter()
                    .map(|e| pass(e, a.input.schema(), &input))
                    .collect();
                // Grouped by a subject identifier, each output row is one subject's;
                // otherwise its figures combine subjects, and no later join on an
                // identifier can make them one subject's.
                let subjects: Vec<usize> = keys.iter().filter_map(|k| self.is_subject(k)).collect();
                if subjects.is_empty() {
                    self.mixed();
                } else {
                    self.keys.push(subjects);
                }
                let mut out = keys;
                out.resize(plan.schema().fields().len(), None);
                Ok(out)
            }
            LogicalPlan::Window(w) => {
                let input = self.walk(&w.input)?;
                for e in &w.window_expr {
                    self.subqueries(e)?;
                    let mut inner = e;
                    while let Expr::Alias(alias) = inner {
                        inner = &alias.expr;
                    }
                    let partitions: Vec<usize> = match inner {
                        Expr::WindowFunction(f) => f
                            .params
                            .partition_by
                            .iter()
                            .filter_map(|p| self.is_subject(&pass(p, w.input.schema(), &input)))
                            .collect(),
                        _ => Vec::new(),
                    };
                    if partitions.is_empty() {
                        return Err(
                            "a window function not partitioned by a subject identifier computes a row's value from other subjects' rows; partition it by the subject"
                                .to_owned(),
                        );
                    }
                    self.keys.push(partitions);
                }
                let mut out = input;
                out.resize(plan.schema().fields().len(), None);
                Ok(out)
            }
            LogicalPlan::Union(u) => {
                // A row comes from one branch; its identifier columns are not one
                // scan's, so nothing passes through to be counted or joined on.
                for input in &u.inputs {
                    self.walk(input)?;
                }
                Ok(vec![None; plan.schema().fields().len()])
            }
            LogicalPlan::Sort(s) => passthrough(self, &s.input),
            LogicalPlan::Limit(l) => passthrough(self, &l.input),
            LogicalPlan::Repartition(r) => passthrough(self, &r.input),
            LogicalPlan::SubqueryAlias(s) => passthrough(self, &s.input),
            LogicalPlan::Distinct(datafusion::logical_expr::Distinct::All(input)) => {
                passthrough(self, input)
            }
            LogicalPlan::EmptyRelation(_) | LogicalPlan::Values(_) => {
                Ok(vec![None; plan.schema().fields().len()])
            }
            other => Err(format!(
                "the query uses {}, which the gate cannot follow subject by subject; rewrite it with joins on the subject identifier",
                other.display()
            )),
        }
    }
}

/// The instance column an expression over `schema` passes through unchanged (an alias
/// or the pseudonym function at most), if it does.
fn pass(e: &Expr, schema: &datafusion::common::DFSchema, passed: &[Passed]) -> Passed {
    let mut inner = e;
    loop {
        match inner {
            Expr::Alias(alias) => inner = &alias.expr,
            Expr::ScalarFunction(f)
                if f.name() == crate::pseudonyms::FUNCTION && f.args.len() == 1 =>
            {
                inner = &f.args[0];
            }
            // The planner's coercions between text types (to join a file's text with a
            // declared one): one text to the same text, so still the identifier.
            Expr::Cast(datafusion::logical_expr::Cast { expr, field })
            | Expr::TryCast(datafusion::logical_expr::TryCast { expr, field })
                if matches!(
                    field.data_type(),
                    DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8
                ) && matches!(
                    expr.get_type(schema),
                    Ok(DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8)
                ) =>
            {
                inner = expr;
            }
            _ => break,
        }
    }
    let Expr::Column(column) = inner else {
        return None;
    };
    let i = schema.index_of_column(column).ok()?;
    passed.get(i).cloned().flatten()
}
