//! A job's DataFusion session, built in one place: the worker that runs the job and the
//! gate that plans the job's SQL again to judge a release both call [`build`], so the
//! tables a job reads and the tables its release is judged against are registered the
//! same way (granted tables without their secret columns, identifiers as the
//! institution's pseudonyms, own and shared tables as their owners tagged them).
//! The models are registered by the sandbox: `sandbox::run_job` when the job runs,
//! `sandbox::register_model` when the gate plans it.

use datafusion::prelude::{ParquetReadOptions, SessionContext};
use serde::{Deserialize, Serialize};

use catalog::Catalog;
use sandbox::JobLimits;

use crate::own_data::Visible;
use crate::pseudonyms::Pseudonyms;

/// The tables a job's session is given: all its worker process is told of them.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct JobTables {
    /// The granted public-credit tables and their files.
    pub granted: Vec<GrantedFile>,
    /// The own and shared tables.
    pub own: Vec<OwnInput>,
}

impl JobTables {
    /// The tables of a job of an institution now: the files of its granted tables
    /// `grants` (ids of the catalog) and its own and shared tables `own`.
    pub fn of(catalog: &Catalog, grants: &[String], own: &[Visible]) -> Result<JobTables, String> {
        let granted = grants
            .iter()
            .map(|id| {
                let table = catalog.table(id).map_err(|e| e.to_string())?;
                Ok(GrantedFile {
                    id: id.clone(),
                    path: table.path.clone(),
                })
            })
            .collect::<Result<_, String>>()?;
        Ok(JobTables {
            granted,
            own: own.iter().map(Visible::input).collect(),
        })
    }

    /// The tables' files, which the job's worker may read.
    pub fn files(&self) -> impl Iterator<Item = std::path::PathBuf> + '_ {
        self.granted
            .iter()
            .map(|g| g.path.clone())
            .chain(self.own.iter().map(|o| std::path::PathBuf::from(&o.path)))
    }
}

/// A granted public-credit table as a job is given it: its id and its file, and
/// nothing else of the data folder.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct GrantedFile {
    /// The table's id.
    pub id: String,
    /// Its Parquet file.
    pub path: std::path::PathBuf,
}

/// An own or shared table as a job's session registers it: all a job's worker process
/// is told of it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct OwnInput {
    /// The name in the reader's SQL.
    pub sql_name: String,
    /// The stored Parquet file.
    pub path: String,
    /// Columns that enter as the reader's pseudonyms.
    pub masked: Vec<String>,
    /// Columns not registered at all (another institution's secret columns).
    pub hidden: Vec<String>,
}

/// The session of a job under `limits` over `tables`, read through `pseudonyms`; no
/// model registered yet.
pub async fn build(
    limits: &JobLimits,
    tables: &JobTables,
    pseudonyms: &Pseudonyms,
) -> Result<SessionContext, String> {
    let ctx = sandbox::job_session(limits).map_err(|e| e.to_string())?;
    register_granted(&ctx, &tables.granted, pseudonyms)
        .await
        .map_err(|e| format!("registering the granted tables: {e}"))?;
    register_own(&ctx, &tables.own, pseudonyms)
        .await
        .map_err(|e| format!("registering the own tables: {e}"))?;
    Ok(ctx)
}

/// Registers the granted public-credit tables in a job's session without their secret
/// columns (BRIEF Q3: secret columns are never shown: an institution's SQL cannot name
/// them, filter on them or read them through an error message) and with identifying
/// columns as the institution's pseudonyms (`pseudonyms`).
async fn register_granted(
    ctx: &SessionContext,
    tables: &[GrantedFile],
    pseudonyms: &Pseudonyms,
) -> Result<(), String> {
    for table in tables {
        let id = table.id.as_str();
        // Registered only as declared: a table without a declaration has no
        // sensitivities, so it is not registered at all.
        let Some(def) = catalog::Manifest::builtin().table(id) else {
            return Err(format!(
                "the granted table '{id}' is not declared in the catalog"
            ));
        };
        catalog::register_table(ctx, def, &table.path)
            .await
            .map_err(|e| e.to_string())?;
        let of = |wanted: fn(&str, &str, catalog::Sensitivity) -> bool| -> Vec<&str> {
            def.columns
                .iter()
                .filter(|c| wanted(id, &c.name, c.sensitivity))
                .map(|c| c.name.as_str())
                .collect()
        };
        let hidden = of(|_, _, s| s == catalog::Sensitivity::Secret);
        let pseudonymised = of(crate::pseudonyms::is_pseudonymised);
        crate::pseudonyms::wrap(ctx, id, pseudonyms, &pseudonymised, &hidden)
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Registers `tables` in a job's session, masked columns as the reader's pseudonyms
/// (so its own and shared tables join its granted ones on them).
async fn register_own(
    ctx: &SessionContext,
    tables: &[OwnInput],
    pseudonyms: &Pseudonyms,
) -> datafusion::error::Result<()> {
    for t in tables {
        ctx.register_parquet(&t.sql_name, &t.path, ParquetReadOptions::default())
            .await?;
        let masked: Vec<&str> = t.masked.iter().map(String::as_str).collect();
        let hidden: Vec<&str> = t.hidden.iter().map(String::as_str).collect();
        crate::pseudonyms::wrap(ctx, &t.sql_name, pseudonyms, &masked, &hidden).await?;
    }
    Ok(())
}
