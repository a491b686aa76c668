//! The figures of an aggregate, in one pass over a job's result (issue 14).
//!
//! Each row's group and subject key are computed once; then every (group, subject)
//! gets its parts of the measured columns (its rows added up), and from those come
//! each group's distinct subjects, its dominance figures and its members, sketched
//! for the differencing check. Sums and means are added up on the way. The work is
//! split between the cores by subject, so that each subject's parts are whole in one
//! of them.

use std::hash::{BuildHasherDefault, Hash, Hasher};

use datafusion::arrow::array::{
    Array, AsArray, Float64Array, LargeStringArray, RecordBatch, StringArray, StringViewArray,
};
use datafusion::arrow::compute::{SortOptions, cast};
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::row::{RowConverter, SortField};

use super::{DOMINANCE_N, GateError, KeyHasher, SubjectKeys, sensitive_by};
use crate::sketch::Sketch;

// The tally keeps each group's two largest parts.
const _: () = assert!(DOMINANCE_N == 2);

/// The text cells of a column, whatever its string type.
enum Texts<'a> {
    Utf8(&'a StringArray),
    Large(&'a LargeStringArray),
    View(&'a StringViewArray),
}

impl Texts<'_> {
    fn value(&self, i: usize) -> &str {
        match self {
            Texts::Utf8(a) => a.value(i),
            Texts::Large(a) => a.value(i),
            Texts::View(a) => a.value(i),
        }
    }
}

/// The number of threads the gate's passes use.
fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Each row's subject key ([`SubjectKeys::of`] of column `subject`, named `name`),
/// computed on every core. A row without a subject is refused: its figures would count
/// in a group without their subject (an outer join's unmatched rows).
pub(super) fn subject_keys(
    batch: &RecordBatch,
    subject: usize,
    name: &str,
    keys: &SubjectKeys,
) -> Result<Vec<u64>, GateError> {
    let column = batch.column(subject);
    if column.null_count() > 0 {
        return Err(GateError::Refused(storage::said::Said::new(
            format!(
                "the result has rows without a subject (an empty '{name}', as an outer join leaves them): their figures would count in a group without their subject; filter them out in the job (WHERE {name} IS NOT NULL)"
            ),
            format!(
                "结果中有没有主体的行（“{name}”为空，外连接会留下这样的行）：它们的数值会计入一个没有主体的分组；请在作业中过滤掉（WHERE {name} IS NOT NULL）。"
            ),
        )));
    }
    let cast_text;
    let texts = match column.data_type() {
        DataType::Utf8 => Texts::Utf8(column.as_string::<i32>()),
        DataType::LargeUtf8 => Texts::Large(column.as_string::<i64>()),
        DataType::Utf8View => Texts::View(column.as_string_view()),
        _ => {
            cast_text = cast(column, &DataType::Utf8)?;
            Texts::Utf8(cast_text.as_string::<i32>())
        }
    };
    let mut out = vec![0u64; batch.num_rows()];
    let chunk = out.len().div_ceil(threads()).max(1);
    std::thread::scope(|scope| {
        for (i, part) in out.chunks_mut(chunk).enumerate() {
            let texts = &texts;
            scope.spawn(move || {
                for (j, key) in part.iter_mut().enumerate() {
                    *key = keys.of(texts.value(i * chunk + j));
                }
            });
        }
    });
    Ok(out)
}

/// The groups of a result by some of its columns.
pub(super) struct Groups {
    /// Each row's group.
    of_row: Vec<u32>,
    /// A row of each group, groups in the order of their keys (ascending, empty keys
    /// last, as SQL's `ORDER BY` sorts them).
    pub first_rows: Vec<usize>,
}

impl Groups {
    /// The groups of `batch` by the columns `keys`; with no keys, one group of all rows
    /// (even of none).
    pub fn of(batch: &RecordBatch, keys: &[usize]) -> Result<Groups, GateError> {
        let n = batch.num_rows();
        if keys.is_empty() {
            return Ok(Groups {
                of_row: vec![0; n],
                first_rows: vec![0],
            });
        }
        let options = SortOptions {
            descending: false,
            nulls_first: false,
        };
        let fields = keys
            .iter()
            .map(|i| SortField::new_with_options(batch.column(*i).data_type().clone(), options))
            .collect();
        let converter = RowConverter::new(fields)?;
        let columns: Vec<_> = keys.iter().map(|i| batch.column(*i).clone()).collect();
        let rows = converter.convert_columns(&columns)?;
        let mut seen = std::collections::HashMap::new();
        let mut of_row = Vec::with_capacity(n);
        let mut first = Vec::new();
        for i in 0..n {
            let next = first.len() as u32;
            let group = *seen.entry(rows.row(i)).or_insert_with(|| {
                first.push(i);
                next
            });
            of_row.push(group);
        }
        // Renumber the groups in the order of their keys.
        let mut order: Vec<u32> = (0..first.len() as u32).collect();
        order.sort_by(|a, b| {
            rows.row(first[*a as usize])
                .cmp(&rows.row(first[*b as usize]))
        });
        let mut rank = vec![0u32; order.len()];
        for (r, g) in order.iter().enumerate() {
            rank[*g as usize] = r as u32;
        }
        for g in &mut of_row {
            *g = rank[*g as usize];
        }
        let first_rows = order.iter().map(|g| first[*g as usize]).collect();
        Ok(Groups { of_row, first_rows })
    }

    /// How many groups.
    pub fn len(&self) -> usize {
        self.first_rows.len()
    }
}

/// One subject in one group: the key of the tally's table.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Member {
    group: u32,
    subject: u64,
}

impl Hash for Member {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // Subject keys are uniformly random already ([`KeyHasher`]).
        state.write_u64(self.subject ^ u64::from(self.group).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    }
}

/// A measured column's figures in one group.
#[derive(Clone, Copy, Default)]
struct Figures {
    /// The sum of its values (nulls left out), and how many there were.
    sum: f64,
    values: u64,
    /// The total of the subjects' parts (each subject's rows added up, by absolute
    /// value) and the two largest parts.
    total: f64,
    largest: f64,
    second: f64,
}

impl Figures {
    fn part(&mut self, part: f64) {
        self.total += part;
        self.rank(part);
    }

    /// Keeps `part` if it is among the two largest.
    fn rank(&mut self, part: f64) {
        if part > self.largest {
            self.second = self.largest;
            self.largest = part;
        } else if part > self.second {
            self.second = part;
        }
    }

    fn merge(&mut self, other: &Figures) {
        self.sum += other.sum;
        self.values += other.values;
        self.total += other.total;
        // Each subject's part is whole in one thread's tally, so the two largest of
        // both are among these four.
        self.rank(other.largest);
        self.rank(other.second);
    }
}

/// An aggregate's figures per group.
pub(super) struct Tally {
    measured: usize,
    /// Per group: distinct subjects.
    subjects: Vec<u64>,
    /// Per group and measured column ([`Tally::of`]'s `measured`), group-major.
    figures: Vec<Figures>,
    /// Every (group, subject), once.
    members: Vec<Member>,
}

impl Tally {
    /// Tallies `batch` grouped by `groups`, each row's subject in `subjects` (its key),
    /// for the numeric columns `measured`.
    pub fn of(
        batch: &RecordBatch,
        groups: &Groups,
        subjects: &[u64],
        measured: &[usize],
    ) -> Result<Tally, GateError> {
        let values: Vec<Float64Array> = measured
            .iter()
            .map(|i| {
                let cast = cast(batch.column(*i), &DataType::Float64)?;
                Ok(cast.as_primitive().clone())
            })
            .collect::<Result<_, GateError>>()?;
        let threads = threads();
        let parts: Vec<Tally> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..threads)
                .map(|t| {
                    let values = &values;
                    scope.spawn(move || {
                        // Subjects go to threads by their keys' top bits (the table's
                        // buckets use the low ones).
                        let mine = |s: u64| threads == 1 || (s >> 40) as usize % threads == t;
                        Tally::part(groups, subjects, values, mine)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("a tally thread panicked"))
                .collect()
        });
        let mut all = Tally {
            measured: measured.len(),
            subjects: vec![0; groups.len()],
            figures: vec![Figures::default(); groups.len() * measured.len()],
            members: Vec::new(),
        };
        for part in parts {
            for (a, b) in all.subjects.iter_mut().zip(&part.subjects) {
                *a += b;
            }
            for (a, b) in all.figures.iter_mut().zip(&part.figures) {
                a.merge(b);
            }
            all.members.extend(part.members);
        }
        Ok(all)
    }

    /// The tally of the rows whose subject is `mine`.
    fn part(
        groups: &Groups,
        subjects: &[u64],
        values: &[Float64Array],
        mine: impl Fn(u64) -> bool,
    ) -> Tally {
        let m = values.len();
        let mut index: std::collections::HashMap<Member, usize, BuildHasherDefault<KeyHasher>> =
            Default::default();
        let mut members = Vec::new();
        let mut parts: Vec<f64> = Vec::new();
        let mut figures = vec![Figures::default(); groups.len() * m];
        for (row, subject) in subjects.iter().enumerate() {
            if !mine(*subject) {
                continue;
            }
            let member = Member {
                group: groups.of_row[row],
                subject: *subject,
            };
            let at = *index.entry(member).or_insert_with(|| {
                members.push(member);
                parts.resize(parts.len() + m, 0.0);
                members.len() - 1
            });
            let group = member.group as usize;
            for (j, column) in values.iter().enumerate() {
                if column.is_valid(row) {
                    let v = column.value(row);
                    parts[at * m + j] += v.abs();
                    let f = &mut figures[group * m + j];
                    f.sum += v;
                    f.values += 1;
                }
            }
        }
        let mut subjects_of = vec![0u64; groups.len()];
        for (at, member) in members.iter().enumerate() {
            let group = member.group as usize;
            subjects_of[group] += 1;
            for j in 0..m {
                figures[group * m + j].part(parts[at * m + j]);
            }
        }
        Tally {
            measured: m,
            subjects: subjects_of,
            figures,
            members,
        }
    }

    /// The distinct subjects of group `g`.
    pub fn subjects(&self, g: usize) -> u64 {
        self.subjects[g]
    }

    /// The sum of measured column `j` in group `g`: `None` when all its values are null.
    pub fn sum(&self, g: usize, j: usize) -> Option<f64> {
        let f = &self.figures[g * self.measured + j];
        (f.values > 0).then_some(f.sum)
    }

    /// The mean of measured column `j` in group `g`: `None` when all its values are null.
    pub fn mean(&self, g: usize, j: usize) -> Option<f64> {
        let f = &self.figures[g * self.measured + j];
        (f.values > 0).then(|| f.sum / f.values as f64)
    }

    /// Whether a measured column of group `g` is sensitive ([`sensitive_by`]).
    pub fn dominated(&self, g: usize) -> bool {
        self.figures[g * self.measured..(g + 1) * self.measured]
            .iter()
            .any(|f| sensitive_by(f.total, f.largest + f.second, f.largest, f.second))
    }

    /// The sketches of the groups `released` says are released, by group.
    pub fn sketches(&self, released: impl Fn(usize) -> bool) -> Vec<Option<Sketch>> {
        let mut sketches: Vec<Option<Sketch>> = (0..self.subjects.len())
            .map(|g| released(g).then(Sketch::default))
            .collect();
        for member in &self.members {
            if let Some(sketch) = &mut sketches[member.group as usize] {
                sketch.add(member.subject);
            }
        }
        sketches
    }
}
