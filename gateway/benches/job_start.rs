//! What a worker process adds to a job's start (issue 14: at most 50 ms): a short job
//! (one granted table, one model loaded, a count) run (a) in this process, as the
//! server ran jobs before workers, and (b) in a `creditpool job-worker` process, as it
//! runs them now, each from nothing to its result file. Figures and the command are
//! recorded in docs/benchmarks.md:
//!
//! ```text
//! cargo bench -p gateway --bench job_start
//! ```

use std::sync::Arc;
use std::time::{Duration, Instant};

use gateway::pseudonyms::Pseudonyms;
use gateway::worker::{Artifacts, JobSpec, WorkerCommand};
use sandbox::{CancelToken, Sandbox};

/// Timed runs of each way, after the warm-up.
const RUNS: usize = 40;
const WARM_UP: usize = 3;
const SQL: &str = "SELECT COUNT(*) AS n FROM enterprises WHERE registered_capital > 1000000";

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    tests::generate(&data, 2026, 0.02, 0);
    let catalog = Arc::new(catalog::Catalog::open(&data).expect("catalog"));
    let model_path = dir.path().join("scorecard.wasm");
    std::fs::write(&model_path, tests::wasm_model("scorecard-model")).expect("model");
    let model_path = model_path.to_string_lossy().into_owned();
    let artifacts = Artifacts {
        dir: dir.path().join("compiled"),
        key: [7; 32],
    };
    // The server compiles the model when it is uploaded; both ways find it compiled.
    let sandbox = Arc::new(
        Sandbox::new(gateway::worker::sandbox_config())
            .expect("sandbox")
            .with_cache(
                sandbox::ArtifactCache::new(&artifacts.dir, &artifacts.key).expect("cache"),
            ),
    );
    sandbox
        .load(&std::fs::read(&model_path).expect("model"))
        .expect("the model loads");
    let pseudonyms = Pseudonyms::new(&[1; 32], "bench");
    let spec = |n: usize| JobSpec {
        job_id: format!("bench-{n}"),
        data_dir: data.clone(),
        grants: vec!["enterprises".into()],
        own: Vec::new(),
        models: vec![model_path.clone()],
        pseudonym_key: pseudonyms.parts(),
        artifacts: Some(artifacts.clone()),
        sql: SQL.into(),
        out: dir.path().join("results").join(format!("{n}.parquet")),
        memory_bytes: 1 << 30,
        timeout_ms: 60_000,
        max_result_bytes: 1 << 30,
    };

    let mut in_process = Vec::new();
    for n in 0..WARM_UP + RUNS {
        let spec = spec(n);
        let started = Instant::now();
        let limits = spec.limits();
        let ctx = sandbox::job_session(&limits).expect("session");
        gateway::workspace::register_granted(&ctx, &catalog, &spec.grants, &pseudonyms)
            .await
            .expect("tables");
        std::fs::create_dir_all(spec.out.parent().expect("folder")).expect("folder");
        let model = sandbox
            .load(&std::fs::read(&spec.models[0]).expect("model"))
            .expect("model");
        sandbox::run_job(
            &ctx,
            sandbox.clone(),
            &[model],
            &spec.sql,
            &spec.out,
            &limits,
            &CancelToken::new(),
        )
        .await
        .expect("the job runs");
        if n >= WARM_UP {
            in_process.push(started.elapsed());
        }
    }

    let worker = WorkerCommand::new(env!("CARGO_BIN_EXE_creditpool"));
    let mut in_worker = Vec::new();
    for n in 0..WARM_UP + RUNS {
        let spec = spec(1000 + n);
        let started = Instant::now();
        gateway::worker::run(&worker, &spec, &CancelToken::new())
            .await
            .expect("the job runs");
        if n >= WARM_UP {
            in_worker.push(started.elapsed());
        }
    }

    let (a, b) = (summary(&mut in_process), summary(&mut in_worker));
    println!("job start to result, {RUNS} runs each (median, p95):");
    println!("  in the server's process: {:>8.1?} {:>8.1?}", a.0, a.1);
    println!("  in a worker process:     {:>8.1?} {:>8.1?}", b.0, b.1);
    println!(
        "  the worker adds:         {:>8.1?} {:>8.1?}",
        b.0.saturating_sub(a.0),
        b.1.saturating_sub(a.1)
    );
}

fn summary(runs: &mut [Duration]) -> (Duration, Duration) {
    runs.sort();
    let at = |q: f64| runs[((runs.len() - 1) as f64 * q).round() as usize];
    (at(0.5), at(0.95))
}
