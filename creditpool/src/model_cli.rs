//! `creditpool model check|run`: the local developer loop, through the same sandbox
//! the server uses.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use sandbox::{CancelToken, JobLimits, Model, Sandbox, SandboxConfig};

use crate::cli::open_catalog;
use crate::table;

/// Reads a module; `.wat` files are assembled first.
fn read_module(file: &Path) -> Result<Vec<u8>> {
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    if file.extension().is_some_and(|e| e == "wat") {
        return sandbox::assemble(&bytes).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()));
    }
    Ok(bytes)
}

fn load(sandbox: &Sandbox, file: &Path) -> Result<Model> {
    let bytes = read_module(file)?;
    sandbox
        .load(&bytes)
        .with_context(|| format!("{} was refused", file.display()))
}

/// Prints a model's manifest after checking it.
pub fn check(file: &Path) -> Result<()> {
    let sandbox = Sandbox::new(SandboxConfig::default())?;
    let model = load(&sandbox, file)?;
    let m = model.manifest();
    println!("{} {} — ABI v{}", m.name, m.version, m.abi);
    if !m.description.is_empty() {
        println!("{}", m.description);
    }
    println!("sha256 {}", model.id());
    let rows: Vec<Vec<String>> = m
        .inputs
        .iter()
        .map(|c| vec!["input".into(), c.name.clone(), c.column_type.name().into()])
        .chain(
            m.outputs
                .iter()
                .map(|c| vec!["output".into(), c.name.clone(), c.column_type.name().into()]),
        )
        .collect();
    print!("{}", table::render(&["", "column", "type"], &rows, &[]));
    println!("ok: the module satisfies model ABI v1");
    Ok(())
}

/// Runs SQL calling the models over the data folder's tables.
pub async fn run(
    files: &[PathBuf],
    sql: &str,
    data: &Path,
    tables: &[String],
    out: &Path,
    show: usize,
) -> Result<()> {
    let sandbox = Arc::new(Sandbox::new(SandboxConfig::default())?);
    let models = files
        .iter()
        .map(|f| load(&sandbox, f))
        .collect::<Result<Vec<_>>>()?;
    let catalog = open_catalog(data)?;
    let limits = JobLimits::default();
    let ctx = sandbox::job_session(&limits)?;
    let ids: Vec<&str> = if tables.is_empty() {
        catalog.tables().iter().map(|t| t.def.id.as_str()).collect()
    } else {
        tables.iter().map(String::as_str).collect()
    };
    catalog.register(&ctx, &ids).await?;
    let report = sandbox::run_job(
        &ctx,
        sandbox,
        &models,
        sql,
        out,
        &limits,
        &CancelToken::new(),
    )
    .await?;
    eprintln!(
        "succeeded: {} rows in, {} rows out, {} model batches ({} rows, {:.3} s CPU, {} fuel, peak guest memory {} KiB), {:.2} s; result in {}",
        report.rows_in,
        report.rows_out,
        report.models.batches,
        report.models.rows,
        report.models.cpu.as_secs_f64(),
        report.models.fuel,
        report.models.peak_memory_bytes >> 10,
        report.wall.as_secs_f64(),
        out.display()
    );
    if !report.models.log.is_empty() {
        eprintln!("model log:\n{}", report.models.log);
    }
    if show > 0 {
        let preview = datafusion::prelude::SessionContext::new();
        let path = out.to_string_lossy();
        let df = preview
            .read_parquet(path.as_ref(), Default::default())
            .await?
            .limit(0, Some(show))?;
        println!(
            "{}",
            datafusion::arrow::util::pretty::pretty_format_batches(&df.collect().await?)?
        );
    }
    Ok(())
}
