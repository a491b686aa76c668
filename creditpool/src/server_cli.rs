//! `creditpool serve`, `creditpool admin …` and `creditpool audit …`.

use std::io::BufRead;
use std::net::SocketAddr;
use std::path::Path;

use anyhow::{Context, Result, bail};
use desk::calendar::Calendars;
use gateway::api::{self, AppState, Settings};
use governance::identity::{self, NewUser, Role};
use platform::demo;
use platform::store::{Store, china_today};
use policies::calendar::Calendar;
use storage::audit::{self, Verdict};
use storage::ids::{RequestId, UserId};

/// Opens the platform database, with a message that says which file failed.
pub async fn open_store(path: &Path) -> Result<Store> {
    platform::store::open(path)
        .await
        .with_context(|| format!("cannot open the platform database {}", path.display()))
}

/// Serves the API on `listen` until Ctrl-C or SIGTERM.
pub async fn serve(listen: SocketAddr, database: &Path, settings: Settings) -> Result<()> {
    let store = open_store(database).await?;
    let data = settings.data_dir.clone();
    let state = AppState::start(store, settings).await.with_context(|| {
        format!(
            "cannot start the server over the data in {}",
            data.display()
        )
    })?;
    run(bind(listen).await?, database, state).await
}

async fn bind(listen: SocketAddr) -> Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))
}

async fn run(listener: tokio::net::TcpListener, database: &Path, state: AppState) -> Result<()> {
    let address = listener.local_addr()?;
    eprintln!(
        "creditpool listening on http://{address} (database {}; API description at http://{address}/api/openapi.json, browsable at http://{address}/api/docs)",
        database.display()
    );
    api::serve(listener, state).await?;
    Ok(())
}

/// The demo: a database of its own seeded with a login for every role (known
/// passwords, said loudly), then served unless `serve` is false.
pub async fn demo_server(
    listen: SocketAddr,
    database: &Path,
    data: &Path,
    serve: bool,
    second_factor: bool,
) -> Result<()> {
    let store = open_store(database).await?;
    let workspaces = workbench::workspace::default_root(database);
    let mut settings = Settings::new(data, workspaces);
    let key = database.with_extension("gate-key");
    settings.gate = workbench::gate::GateSettings::new(
        workbench::gate::load_or_create_secret(&key)
            .with_context(|| format!("the output gate's key {}", key.display()))?,
    );
    settings.second_factor = second_factor_settings(database, second_factor)?;
    // Trying the platform out works on a kernel without Landlock too (the server warns);
    // `serve` refuses to start there unless told otherwise.
    settings.allow_unconfined_jobs = true;
    // Reports print the address they are verified at: the one the demo listens on
    // (issue 17: it said port 8080 whatever the demo listened on).
    let listener = if serve {
        Some(bind(listen).await?)
    } else {
        None
    };
    let address = match &listener {
        Some(l) => l.local_addr()?,
        None => listen,
    };
    settings.public.base_url = format!("http://{address}");
    let state = AppState::start(store, settings)
        .await
        .context("cannot start the demo server")?;
    let logins = demo::seed(&state)
        .await
        .context("seeding the demo accounts")?;
    let bar = "!".repeat(78);
    eprintln!("\n{bar}");
    eprintln!(
        "!! DEMO ACCOUNTS with KNOWN PASSWORDS, in {}",
        database.display()
    );
    eprintln!("!! For trying creditpool out only: never use this database for real work.");
    eprintln!("!! `creditpool serve` creates no accounts; see `creditpool admin create`.");
    eprintln!("{bar}");
    println!(
        "\n{:<16} {:<22} {:<30} second factor (TOTP secret)",
        "role", "username", "password"
    );
    for login in &logins {
        let secret = if login.has_second_factor(&state.store).await? {
            login.second_factor_secret()
        } else {
            None
        };
        println!(
            "{:<16} {:<22} {:<30} {}",
            login.role,
            login.username,
            demo::PASSWORD,
            secret.as_deref().unwrap_or("-")
        );
    }
    println!(
        "\nopen http://{address}/ in a browser: 我的账号 (http://{address}/login) signs in with any of these"
    );
    println!(
        "or log in with POST /api/v1/sessions and {{\"username\": \"{}\", \"password\": \"{}\"}}",
        logins.first().map_or("", |l| l.username),
        demo::PASSWORD
    );
    if second_factor {
        println!(
            "staff also give \"one_time_code\": the code of their secret now (`creditpool totp <secret>` prints it, as does any authenticator app)"
        );
    } else {
        println!(
            "staff log in with a password in this demo (start it with --second-factor to give them TOTP secrets and ask for codes, as `creditpool serve` does)"
        );
    }
    match listener {
        Some(listener) => run(listener, database, state).await,
        None => Ok(()),
    }
}

/// Who gives a second factor, with the key sealing the secrets: kept beside the
/// database, made on first use.
pub fn second_factor_settings(
    database: &Path,
    required: bool,
) -> Result<governance::second_factor::SecondFactorSettings> {
    let key = database.with_extension("second-factor-key");
    let mut settings = governance::second_factor::SecondFactorSettings::new(
        workbench::gate::load_or_create_secret(&key)
            .with_context(|| format!("the second-factor key {}", key.display()))?,
    );
    settings.required = required;
    Ok(settings)
}

/// Creates the first (or another) administrator; the password comes from standard
/// input, never from the command line, so it does not land in shell history.
pub async fn create_admin(database: &Path, username: &str, display_name: &str) -> Result<()> {
    let store = open_store(database).await?;
    eprintln!("password for {username} (one line on standard input):");
    let mut password = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut password)
        .context("reading the password from standard input")?;
    let password = password.trim_end_matches(['\r', '\n']);
    let mut tx = store.write().await?;
    let actor = UserId::from(format!("cli:{}", whoami()));
    let id = identity::create_user(
        &mut tx,
        NewUser {
            username,
            display_name,
            role: Role::Administrator,
            institution_id: None,
            organisation: None,
            subject_id: None,
            password,
        },
        &actor,
        &RequestId::from("-"),
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    tx.commit().await?;
    eprintln!("created administrator {username} (id {id})");
    Ok(())
}

/// Prints the working-day calendar's years and the year it lacks.
pub async fn list_calendar(database: &Path) -> Result<()> {
    let store = open_store(database).await?;
    let calendars = Calendars::load(&store, Calendar::builtin().clone()).await?;
    let calendar = calendars.current();
    let (years, missing) = desk::calendar::listing(&calendar, &calendars, china_today());
    for year in years {
        println!(
            "{}  {:7}  {:2} days off, {} worked weekend days  {}",
            year.year,
            year.origin,
            year.holidays.len(),
            year.working_weekends.len(),
            year.source
        );
    }
    if let Some(year) = missing {
        println!("warning: {}", desk::calendar::missing_warning(year).en);
    }
    Ok(())
}

/// Adds the years of a calendar file; each is checked and audited, and the provisional
/// deadlines it decides are recounted.
pub async fn add_calendar_years(database: &Path, file: &Path) -> Result<()> {
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("cannot read the calendar file {}", file.display()))?;
    let notices = Calendar::notices(&text)
        .with_context(|| format!("the calendar file {} is not valid", file.display()))?;
    anyhow::ensure!(
        !notices.is_empty(),
        "the calendar file {} has no [[years]] entry",
        file.display()
    );
    let store = open_store(database).await?;
    let calendars = Calendars::load(&store, Calendar::builtin().clone()).await?;
    let actor = UserId::from(format!("cli:{}", whoami()));
    for notice in notices {
        let year = notice.year;
        let (_, recount) = calendars
            .add(&store, notice, &actor, &RequestId::from("-"))
            .await
            .with_context(|| format!("{year} was not added"))?;
        println!(
            "added {year}: {} objection and {} ticket deadlines recounted",
            recount.objections.len(),
            recount.tickets.len()
        );
        for case in recount.objections.iter().chain(&recount.tickets) {
            println!(
                "  {}: due {} (was {}){}",
                case.number,
                case.due_on,
                case.was,
                if case.provisional {
                    ", still provisional"
                } else {
                    ""
                }
            );
        }
    }
    Ok(())
}

fn whoami() -> String {
    std::env::var("USER").unwrap_or_else(|_| "unknown".into())
}

/// Checks the audit log's chain; fails (exit 2) if it is broken.
pub async fn verify_audit(database: &Path) -> Result<()> {
    let store = open_store(database).await?;
    match audit::verify(&store).await? {
        Verdict::Intact { entries, head } => {
            println!("audit log intact: {entries} entries; head {head}");
            Ok(())
        }
        Verdict::Broken { seq: 0, reason } => bail!("audit log BROKEN at its head: {reason}"),
        Verdict::Broken { seq, reason } => bail!("audit log BROKEN at entry {seq}: {reason}"),
    }
}
