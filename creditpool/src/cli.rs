//! Command-line interface.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use catalog::{Catalog, Manifest};
use chrono::NaiveDate;
use clap::{Args, Parser, Subcommand};
use datafusion::prelude::SessionContext;
use indicatif::{ProgressBar, ProgressStyle};

use crate::table;

/// creditpool: the public-credit product pool.
#[derive(Debug, Parser)]
#[command(name = "creditpool", version, about, long_about = None)]
pub struct Cli {
    /// Configuration file (see deploy/creditpool.example.toml).
    #[arg(long, global = true, env = "CREDITPOOL_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

/// The configuration file. Every field is optional; command-line options win.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default)]
    data: DataConfig,
    #[serde(default)]
    server: ServerConfig,
    #[serde(default)]
    database: DatabaseConfig,
    #[serde(default)]
    public: PublicConfig,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct PublicConfig {
    base_url: Option<String>,
    font: Option<PathBuf>,
    issuer: Option<String>,
    contact: Option<String>,
    requests_per_minute: Option<u32>,
    burst: Option<u32>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ServerConfig {
    listen: Option<std::net::SocketAddr>,
    workspaces: Option<PathBuf>,
    job_slots: Option<usize>,
    /// Cores kept free of jobs for the public side (default 1).
    reserved_cores: Option<usize>,
    min_reviewers: Option<usize>,
    report_period_months: Option<u32>,
    report_grace_days: Option<i64>,
    #[serde(default)]
    trusted_proxies: Vec<gateway::api::Network>,
    /// Staff give a second factor at every login (default true).
    second_factor_for_staff: Option<bool>,
    /// Jobs may run where the kernel has no Landlock (default false: the server
    /// refuses to start there).
    #[serde(default)]
    allow_unconfined_jobs: bool,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct DatabaseConfig {
    path: Option<PathBuf>,
}

/// The platform database used when neither option, variable nor file says otherwise.
const DEFAULT_DATABASE: &str = "creditpool.db";
/// The address served when neither option, variable nor file says otherwise.
const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// The database `demo` seeds with its demo accounts (never the production default).
const DEMO_DATABASE: &str = "creditpool-demo.db";

#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct DataConfig {
    dir: Option<PathBuf>,
}

fn load_config(path: Option<&Path>) -> Result<Config> {
    let Some(path) = path else {
        return Ok(Config::default());
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the configuration file {}", path.display()))?;
    toml::from_str(&text)
        .with_context(|| format!("configuration file {} is invalid", path.display()))
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Set up the embedded default and show it: generate sample data into DIR if it is
    /// absent, check it, and print the catalog.
    Demo {
        /// Data folder [default: the configuration's data.dir, else ./data].
        #[arg(long)]
        data: Option<PathBuf>,
        /// Scale of the sample data generated when the folder is empty (1 ≈ 100k
        /// enterprises).
        #[arg(long, default_value_t = 1.0)]
        scale: f64,
        /// Seed of the sample data.
        #[arg(long, default_value_t = DEFAULT_SEED)]
        seed: u64,
        /// Address the demo server listens on.
        #[arg(long, default_value = DEFAULT_LISTEN)]
        listen: std::net::SocketAddr,
        /// The demo's own platform database, seeded with demo accounts.
        #[arg(long, default_value = DEMO_DATABASE)]
        database: PathBuf,
        /// Prepare the data and the demo accounts, then exit instead of serving.
        #[arg(long)]
        no_serve: bool,
        /// Ask staff for their second factor (TOTP) at login, as `serve` does; the
        /// demo prints their secrets either way.
        #[arg(long)]
        second_factor: bool,
    },
    /// Prints the current one-time code (TOTP, RFC 6238) of a base32 secret, as an
    /// authenticator app would: for the demo's staff and for scripts.
    Totp {
        /// The secret, base32 (as the demo prints it or enrolment answers it).
        secret: String,
    },
    /// Synthetic public-credit data.
    #[command(subcommand)]
    Samples(SamplesCommand),
    /// The catalog of public-credit tables.
    #[command(subcommand)]
    Catalog(CatalogCommand),
    /// WebAssembly models: check them and run them locally on sample data, through the
    /// same sandbox the server uses.
    #[command(subcommand)]
    Model(ModelCommand),
    /// Serve the HTTP API. Creates no accounts: make the first administrator with
    /// `creditpool admin create`.
    Serve {
        /// Address to listen on [default: the configuration's server.listen, else
        /// 127.0.0.1:8080].
        #[arg(long, env = "CREDITPOOL_LISTEN")]
        listen: Option<std::net::SocketAddr>,
        #[command(flatten)]
        database: DatabaseArg,
        /// The public-credit data folder [default: the configuration's data.dir, else
        /// ./data].
        #[arg(long, env = "CREDITPOOL_DATA")]
        data: Option<PathBuf>,
        /// Folder of the institutions' workspaces [default: the configuration's
        /// server.workspaces, else workspaces/ beside the database].
        #[arg(long, env = "CREDITPOOL_WORKSPACES")]
        workspaces: Option<PathBuf>,
    },
    /// Platform administrators.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// The audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// The working-day calendar of objection and complaint deadlines.
    #[command(subcommand)]
    Calendar(CalendarCommand),
    /// Back up the platform while it runs (GB/T 36092): a consistent copy of the
    /// database, the workspace files it records, the compiled models and the keys, with
    /// a manifest of their SHA-256, into a new folder.
    Backup {
        /// The new folder to write the backup in.
        #[arg(long)]
        to: PathBuf,
        #[command(flatten)]
        database: DatabaseArg,
        /// Folder of the institutions' workspaces [default: the configuration's
        /// server.workspaces, else workspaces/ beside the database].
        #[arg(long)]
        workspaces: Option<PathBuf>,
    },
    /// Restore a backup as a new platform: every file is checked against the manifest,
    /// the database must not exist and the workspaces folder must be empty. Start the
    /// server on it afterwards.
    Restore {
        /// The backup's folder.
        #[arg(long)]
        from: PathBuf,
        #[command(flatten)]
        database: DatabaseArg,
        /// Folder of the institutions' workspaces [default: the configuration's
        /// server.workspaces, else workspaces/ beside the database].
        #[arg(long)]
        workspaces: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum CalendarCommand {
    /// The calendar's years (shipped and added) and the year it lacks, if any.
    List {
        #[command(flatten)]
        database: DatabaseArg,
    },
    /// Add a year from the State Council's notice, in the form of
    /// policies/data/working-days.toml (one or more [[years]] entries: year, source,
    /// holidays, working_weekends). Checked and audited; open provisional deadlines are
    /// recounted. A running server picks it up within a minute.
    Add {
        /// The TOML file.
        file: PathBuf,
        #[command(flatten)]
        database: DatabaseArg,
    },
}

#[derive(Debug, Args)]
struct DatabaseArg {
    /// The platform database (SQLite file) [default: the configuration's database.path,
    /// else ./creditpool.db].
    #[arg(long = "database", env = "CREDITPOOL_DATABASE")]
    path: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum AdminCommand {
    /// Create an administrator; the password is read from standard input (at least 12
    /// characters).
    Create {
        /// Login name: 3-64 of a-z, 0-9, '.', '_', '-'.
        #[arg(long)]
        username: String,
        /// Name shown to people.
        #[arg(long)]
        display_name: String,
        #[command(flatten)]
        database: DatabaseArg,
    },
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Check the hash chain of the audit log; fails if any entry was edited, deleted,
    /// inserted or reordered. Prints the head hash to keep elsewhere as an anchor.
    Verify {
        #[command(flatten)]
        database: DatabaseArg,
    },
}

#[derive(Debug, Subcommand)]
enum ModelCommand {
    /// Check a model (.wasm, or .wat text) against ABI v1 and print its manifest.
    Check {
        /// The module.
        file: PathBuf,
    },
    /// Run SQL that calls one or more models over a data folder.
    Run {
        /// The modules (.wasm or .wat).
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// The query; models are called by their manifest names.
        #[arg(long)]
        sql: String,
        /// Data folder [default: the configuration's data.dir, else ./data].
        #[arg(long)]
        data: Option<PathBuf>,
        /// Tables to make visible (default: every catalog table).
        #[arg(long, value_delimiter = ',')]
        tables: Vec<String>,
        /// Where to write the result.
        #[arg(long, default_value = "result.parquet")]
        out: PathBuf,
        /// Rows of the result to print.
        #[arg(long, default_value_t = 10)]
        show: usize,
    },
}

#[derive(Debug, Subcommand)]
enum SamplesCommand {
    /// Generate a deterministic sample data set as Parquet.
    Generate(GenerateArgs),
}

#[derive(Debug, Args)]
struct GenerateArgs {
    /// Scale: 1 ≈ 100k enterprises, 50k persons and 1.5M records.
    #[arg(long, default_value_t = 1.0)]
    scale: f64,
    /// Random seed; the same seed gives byte-identical files.
    #[arg(long, default_value_t = DEFAULT_SEED)]
    seed: u64,
    /// Output folder.
    #[arg(long)]
    out: PathBuf,
    /// Snapshot date the data describes (YYYY-MM-DD).
    #[arg(long, value_parser = parse_date)]
    as_of: Option<NaiveDate>,
    /// Worker threads (default: one per core).
    #[arg(long, default_value_t = 0)]
    threads: usize,
}

#[derive(Debug, Subcommand)]
enum CatalogCommand {
    /// List the tables with their row counts.
    List {
        /// Data folder [default: the configuration's data.dir, else ./data].
        #[arg(long)]
        data: Option<PathBuf>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show one table's columns, types, sensitivities and descriptions.
    Describe {
        /// Table id, e.g. admin_penalties.
        table: String,
    },
}

const DEFAULT_SEED: u64 = 2026;

fn parse_date(s: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|_| format!("'{s}' is not a date in the form YYYY-MM-DD"))
}

/// Runs one command.
pub async fn run(cli: Cli) -> Result<()> {
    let config = load_config(cli.config.as_deref())?;
    let data_dir = |arg: Option<PathBuf>| {
        arg.or(config.data.dir.clone())
            .unwrap_or_else(|| PathBuf::from("data"))
    };
    let database = |arg: DatabaseArg| {
        arg.path
            .or(config.database.path.clone())
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DATABASE))
    };
    // The workspaces: the option, else the configuration's, else beside the database.
    let workspaces_of = |arg: Option<PathBuf>, database: &Path| {
        arg.or(config.server.workspaces.clone())
            .unwrap_or_else(|| workbench::workspace::default_root(database))
    };
    match cli.command {
        Command::Demo {
            data,
            scale,
            seed,
            listen,
            database,
            no_serve,
            second_factor,
        } => {
            let data = data_dir(data);
            demo(&data, scale, seed).await?;
            crate::server_cli::demo_server(listen, &database, &data, !no_serve, second_factor).await
        }
        Command::Totp { secret } => {
            let bytes = governance::second_factor::from_base32(&secret)
                .filter(|b| !b.is_empty())
                .context("the secret is not base32 (letters A-Z and digits 2-7)")?;
            let step = governance::second_factor::step_of(chrono::Utc::now().timestamp());
            println!("{:06}", governance::second_factor::code_at(&bytes, step));
            Ok(())
        }
        Command::Samples(SamplesCommand::Generate(args)) => generate(&GenerateArgs {
            as_of: args.as_of.or(Some(samples::default_as_of())),
            ..args
        })
        .map(|_| ()),
        Command::Catalog(CatalogCommand::List { data, json }) => {
            let catalog = open_catalog(&data_dir(data))?;
            if json {
                println!("{}", catalog_json(&catalog));
            } else {
                print!("{}", catalog_table(&catalog));
            }
            Ok(())
        }
        Command::Catalog(CatalogCommand::Describe { table }) => describe(&table),
        Command::Model(ModelCommand::Check { file }) => crate::model_cli::check(&file),
        Command::Model(ModelCommand::Run {
            files,
            sql,
            data,
            tables,
            out,
            show,
        }) => crate::model_cli::run(&files, &sql, &data_dir(data), &tables, &out, show).await,
        Command::Serve {
            listen,
            database: db,
            data,
            workspaces,
        } => {
            let listen = match listen.or(config.server.listen) {
                Some(listen) => listen,
                None => DEFAULT_LISTEN.parse()?,
            };
            let database = database(db);
            let workspaces = workspaces_of(workspaces, &database);
            let mut settings = gateway::api::Settings::new(data_dir(data), workspaces);
            let server = &config.server;
            if let Some(slots) = server.job_slots {
                settings.job_slots = slots.max(1);
            }
            if let Some(reserved) = server.reserved_cores {
                settings.reserved_cores = reserved;
            }
            if let Some(n) = server.min_reviewers {
                anyhow::ensure!(n >= 1, "server.min_reviewers must be at least 1");
                settings.min_reviewers = n;
            }
            if let Some(months) = server.report_period_months {
                anyhow::ensure!(
                    (1..=12).contains(&months),
                    "server.report_period_months must be between 1 and 12"
                );
                settings.reports.period_months = months;
            }
            if let Some(days) = server.report_grace_days {
                anyhow::ensure!(
                    (0..=90).contains(&days),
                    "server.report_grace_days must be between 0 and 90"
                );
                settings.reports.grace_days = days;
            }
            let public = &config.public;
            settings.public.base_url = match &public.base_url {
                Some(url) => {
                    anyhow::ensure!(
                        url.starts_with("https://") || url.starts_with("http://"),
                        "public.base_url must start with https:// (or http://)"
                    );
                    url.trim_end_matches('/').to_owned()
                }
                None => format!("http://{listen}"),
            };
            if let Some(font) = &public.font {
                anyhow::ensure!(
                    font.is_file(),
                    "public.font {} is not a file: install fonts-wqy-microhei (scripts/setup) or name a TrueType font",
                    font.display()
                );
                settings.public.font = font.clone();
            }
            if let Some(issuer) = &public.issuer {
                settings.public.issuer = issuer.clone();
            }
            if let Some(contact) = &public.contact {
                settings.public.contact = contact.clone();
            }
            if let Some(rate) = public.requests_per_minute {
                settings.public_rate.per_minute = rate;
            }
            if let Some(burst) = public.burst {
                anyhow::ensure!(burst >= 1, "public.burst must be at least 1");
                settings.public_rate.burst = burst;
            }
            settings.trusted_proxies = server.trusted_proxies.clone();
            settings.allow_unconfined_jobs = server.allow_unconfined_jobs;
            let second_factor = server.second_factor_for_staff.unwrap_or(true);
            if !second_factor {
                tracing::warn!(
                    "server.second_factor_for_staff = false: staff log in with a password alone (GB/T 22239 level 3 asks two kinds of authentication of administrators)"
                );
            }
            // The key that picks sample rows and keys pseudonyms: made once, kept beside
            // the database; only once the configuration is known to be good, so that a
            // refused start leaves no key behind.
            let key = database.with_extension("gate-key");
            settings.gate = workbench::gate::GateSettings {
                secret: std::sync::Arc::new(
                    workbench::gate::load_or_create_secret(&key)
                        .with_context(|| format!("the output gate's key {}", key.display()))?,
                ),
                ..settings.gate
            };
            settings.second_factor =
                crate::server_cli::second_factor_settings(&database, second_factor)?;
            crate::server_cli::serve(listen, &database, settings).await
        }
        Command::Admin(AdminCommand::Create {
            username,
            display_name,
            database: db,
        }) => crate::server_cli::create_admin(&database(db), &username, &display_name).await,
        Command::Audit(AuditCommand::Verify { database: db }) => {
            crate::server_cli::verify_audit(&database(db)).await
        }
        Command::Backup {
            to,
            database: db,
            workspaces,
        } => {
            let database = database(db);
            let workspaces = workspaces_of(workspaces, &database);
            let manifest = platform::backup::backup(&database, &workspaces, &to).await?;
            let bytes: u64 = manifest.files.iter().map(|f| f.bytes).sum();
            println!(
                "backed up into {}: {} files, {bytes} bytes; audit log of {} entries, head {}",
                to.display(),
                manifest.files.len(),
                manifest.audit_entries,
                manifest.audit_head
            );
            Ok(())
        }
        Command::Restore {
            from,
            database: db,
            workspaces,
        } => {
            let database = database(db);
            let workspaces = workspaces_of(workspaces, &database);
            let manifest = platform::backup::restore(&from, &database, &workspaces).await?;
            println!(
                "restored the backup of {} into {} (workspaces {}): {} files checked; the audit log verifies",
                manifest.created_at,
                database.display(),
                workspaces.display(),
                manifest.files.len()
            );
            Ok(())
        }
        Command::Calendar(CalendarCommand::List { database: db }) => {
            crate::server_cli::list_calendar(&database(db)).await
        }
        Command::Calendar(CalendarCommand::Add { file, database: db }) => {
            crate::server_cli::add_calendar_years(&database(db), &file).await
        }
    }
}

pub(crate) fn open_catalog(data: &Path) -> Result<Catalog> {
    Catalog::open(data).with_context(|| format!("cannot open the catalog in {}", data.display()))
}

fn generate(args: &GenerateArgs) -> Result<samples::GenerationManifest> {
    let started = Instant::now();
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{spinner} generating [{bar:30}] {pos}/{len} tables {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let options = samples::GenerateOptions {
        scale: args.scale,
        seed: args.seed,
        as_of: args.as_of.unwrap_or_else(samples::default_as_of),
        out: args.out.clone(),
        threads: args.threads,
    };
    let manifest = samples::generate(&options, &|event| match event {
        samples::Progress::Started { tables } => bar.set_length(tables as u64),
        samples::Progress::TableDone { table, rows } => {
            bar.set_message(format!("{table} ({rows} rows)"));
            bar.inc(1);
        }
    });
    bar.finish_and_clear();
    let manifest = manifest?;
    let rows: u64 = manifest.files.iter().map(|f| f.rows).sum();
    eprintln!(
        "generated {} tables, {rows} rows ({} enterprises, {} persons, seed {}, as of {}) into {} in {:.1} s",
        manifest.files.len(),
        manifest.enterprises,
        manifest.persons,
        manifest.seed,
        manifest.as_of,
        args.out.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(manifest)
}

fn catalog_rows(catalog: &Catalog) -> Vec<Vec<String>> {
    catalog
        .tables()
        .iter()
        .map(|t| {
            vec![
                t.def.id.clone(),
                t.def.name_zh.clone(),
                t.def.section.to_string(),
                t.def.info_class.as_str().to_owned(),
                t.def.source_unit.clone(),
                t.row_count.to_string(),
                format!("{:.1}", t.size_bytes as f64 / 1_048_576.0),
            ]
        })
        .collect()
}

fn catalog_table(catalog: &Catalog) -> String {
    let rows = catalog_rows(catalog);
    let total: u64 = catalog.tables().iter().map(|t| t.row_count).sum();
    format!(
        "{}{} tables, {total} rows in {}\n",
        table::render(
            &[
                "table",
                "数据表名",
                "附录A",
                "class",
                "数源单位",
                "rows",
                "MiB"
            ],
            &rows,
            &[2, 5, 6]
        ),
        rows.len(),
        catalog.root().display()
    )
}

fn catalog_json(catalog: &Catalog) -> String {
    let tables: Vec<serde_json::Value> = catalog
        .tables()
        .iter()
        .map(|t| {
            serde_json::json!({
                "id": t.def.id,
                "name_zh": t.def.name_zh,
                "name_en": t.def.name_en,
                "source_unit": t.def.source_unit,
                "info_class": t.def.info_class.as_str(),
                "section": t.def.section,
                "rows": t.row_count,
                "size_bytes": t.size_bytes,
                "columns": t.def.columns.iter().map(|c| serde_json::json!({
                    "name": c.name,
                    "type": c.column_type.to_string(),
                    "nullable": c.nullable,
                    "sensitivity": c.sensitivity.as_str(),
                    "name_zh": c.name_zh,
                    "description": c.description,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    serde_json::to_string_pretty(&serde_json::json!({ "tables": tables })).unwrap_or_default()
}

fn describe(id: &str) -> Result<()> {
    let Some(def) = Manifest::builtin().table(id) else {
        bail!(catalog::CatalogError::UnknownTable {
            table: id.to_owned()
        });
    };
    println!("{} — {} / {}", def.id, def.name_zh, def.name_en);
    println!(
        "附录A section {}, {} ({}), source unit {}",
        def.section,
        def.info_class.as_str(),
        def.info_class.name_zh(),
        def.source_unit
    );
    println!("{}\n", def.description);
    let rows: Vec<Vec<String>> = def
        .columns
        .iter()
        .map(|c| {
            vec![
                c.name.clone(),
                c.name_zh.clone(),
                format!("{}{}", c.column_type, if c.nullable { "?" } else { "" }),
                c.sensitivity.as_str().to_owned(),
                c.description.clone(),
            ]
        })
        .collect();
    print!(
        "{}",
        table::render(
            &["column", "名称", "type", "sensitivity", "description"],
            &rows,
            &[]
        )
    );
    Ok(())
}

async fn demo(data: &Path, scale: f64, seed: u64) -> Result<()> {
    let catalog = match Catalog::open(data) {
        Ok(c) => {
            eprintln!("using the existing data in {}", data.display());
            c
        }
        Err(catalog::CatalogError::DataFolder { .. }) => {
            eprintln!(
                "no data in {}: generating the sample data set (scale {scale}, seed {seed})",
                data.display()
            );
            generate(&GenerateArgs {
                scale,
                seed,
                out: data.to_path_buf(),
                as_of: None,
                threads: 0,
            })?;
            open_catalog(data)?
        }
        Err(e) => {
            return Err(e).context(format!(
                "the data in {} does not match the catalog; delete the folder to regenerate it",
                data.display()
            ));
        }
    };
    print!("{}", catalog_table(&catalog));

    // One real question over the registered tables, to show the data answers queries.
    let ctx = SessionContext::new();
    catalog.register_all(&ctx).await?;
    let as_of = samples::default_as_of();
    let sql = format!(
        "SELECT e.region_name AS region, COUNT(*) AS serious_penalties \
         FROM admin_penalties p JOIN enterprises e ON p.subject_id = e.subject_id \
         WHERE p.severity = 'serious' AND p.status = 'active' \
           AND p.decision_date > DATE '{as_of}' - INTERVAL '5 years' \
         GROUP BY e.region_name ORDER BY serious_penalties DESC, region LIMIT 5"
    );
    let batches = ctx.sql(&sql).await?.collect().await?;
    println!("\nserious penalties in the five years to {as_of}, top regions:");
    println!(
        "{}",
        datafusion::arrow::util::pretty::pretty_format_batches(&batches)?
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_configuration_reads() {
        let config: Config = toml::from_str(include_str!("../../deploy/creditpool.example.toml"))
            .expect("deploy/creditpool.example.toml reads");
        assert_eq!(
            config.server.trusted_proxies,
            [
                "127.0.0.1".parse::<gateway::api::Network>().unwrap(),
                "::1".parse().unwrap()
            ]
        );
        assert_eq!(config.public.requests_per_minute, Some(1_200));
        assert_eq!(config.public.burst, Some(100));
        assert!(config.data.dir.is_some() && config.database.path.is_some());
    }
}
