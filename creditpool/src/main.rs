//! `creditpool`: the product pool's one entry point.

mod cli;
mod model_cli;
mod server_cli;
mod table;

use std::process::ExitCode;

use clap::Parser;

/// mimalloc: the request path allocates many small, short-lived buffers from every
/// worker thread (docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // A job's worker process (started by the server, never by hand): it builds a
    // runtime of its own, after confining itself.
    if std::env::args_os()
        .nth(1)
        .is_some_and(|a| a == workbench::worker::SUBCOMMAND)
    {
        init_logging();
        return workbench::worker::main();
    }
    let args = cli::Cli::parse();
    init_logging();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: starting the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(cli::run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn init_logging() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
}
