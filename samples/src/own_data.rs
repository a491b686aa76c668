//! An example of an institution's own data (自有数据, BRIEF P5): loan outcomes of a
//! fictional lender, keyed by USCC, whose defaults follow the borrowers' latent risk.
//! An institution joins it with granted public-credit tables to train and evaluate a
//! model without either side's rows leaving the sandbox.

use std::path::Path;

use catalog::{ColumnDef, ColumnType, InfoClass, Sensitivity, TableDef};
use chrono::Days;

use crate::rng::{Rng, label};
use crate::subjects::days_before;
use crate::tables::{Job, fen};
use crate::writer::TableWriter;
use crate::{SampleError, World};

/// Folder, inside a data folder, that holds the example own-data tables.
pub const OWN_DATA_DIR: &str = "own-data";

fn column(
    name: &str,
    column_type: ColumnType,
    nullable: bool,
    name_zh: &str,
    description: &str,
) -> ColumnDef {
    ColumnDef {
        name: name.into(),
        column_type,
        nullable,
        sensitivity: Sensitivity::Public,
        name_zh: name_zh.into(),
        description: description.into(),
    }
}

/// The declaration of the example own-data table `demo_loan_outcomes`.
pub fn own_data_table() -> TableDef {
    TableDef {
        id: "demo_loan_outcomes".into(),
        name_zh: "示例机构贷款表现数据".into(),
        name_en: "Example lender's loan outcomes".into(),
        source_unit: "示例信用服务机构（自有数据）".into(),
        info_class: InfoClass::Other,
        section: 10,
        description: "An institution's own data: small-business loans and whether they defaulted within 12 months.".into(),
        columns: vec![
            column("loan_id", ColumnType::Utf8, false, "贷款编号", "Loan identifier."),
            column("uscc", ColumnType::Utf8, false, "借款人统一社会信用代码", "Borrower's USCC; joins enterprises.uscc."),
            column("loan_date", ColumnType::Date32, false, "放款日期", "Date the loan was made."),
            column("amount", ColumnType::Decimal { precision: 18, scale: 2 }, false, "贷款金额（元）", "Principal in yuan."),
            column("term_months", ColumnType::Int32, false, "期限（月）", "Term in months."),
            column("interest_rate", ColumnType::Float64, false, "年利率", "Annual interest rate, e.g. 0.045."),
            column("defaulted", ColumnType::Boolean, false, "是否违约", "Defaulted (90+ days past due) within 12 months: the label."),
            column("default_date", ColumnType::Date32, true, "违约日期", "Date of default; empty if none."),
        ],
    }
}

pub(crate) fn job() -> Job {
    Job {
        def: own_data_table(),
        own_data: true,
        run: write,
    }
}

fn write(world: &World, def: &TableDef, path: &Path) -> Result<u64, SampleError> {
    let mut w = TableWriter::create(def, path)?;
    for i in 0..world.enterprises {
        let mut r = Rng::stream(world.seed, label("demo_loan_outcomes"), i);
        if !r.chance(0.15) {
            continue;
        }
        let p = world.enterprise(i);
        for _ in 0..r.between(1, 3) {
            let loan_date = days_before(world.as_of, r.between(400, 3 * 365))
                .max(p.established + Days::new(30));
            if loan_date >= world.as_of {
                continue;
            }
            let amount = fen((10f64.powf(5.0 + 1.7 * r.unit()) / 1000.0).round() * 1000.0);
            let term = *r.pick(&[12, 24, 36]);
            let rate = ((0.035 + 0.05 * p.risk + 0.01 * r.unit()) * 10_000.0).round() / 10_000.0;
            let logit = -3.3 + 6.5 * p.risk + 0.6 * r.normal();
            let defaulted = r.chance(1.0 / (1.0 + (-logit).exp()));
            let default_date = defaulted
                .then(|| loan_date + Days::new(r.between(90, 365) as u64))
                .filter(|d| *d <= world.as_of);
            let loan_id = format!("LN{:010}", w.rows() + 1);
            w.text(&loan_id)
                .text(p.uscc.as_str())
                .date(loan_date)
                .opt_money_fen(Some(amount))
                .int32(term)
                .float(rate)
                .boolean(default_date.is_some())
                .opt_date(default_date);
            w.end_row()?;
        }
    }
    w.finish()
}
