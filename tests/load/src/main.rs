//! `javumbo-load`: see `javumbo_load` (lib.rs) for the map, `--help` for the options.
//! Exit status: 0 clean, 1 the audit found lost/duplicated/phantom writes (cold-start: a
//! bootstrap failed a run), 2 the harness failed.

use std::process::ExitCode;

use clap::Parser;
use javumbo_load::config::{Cli, Command};
use javumbo_load::{bench, coldstart, runner};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("javumbo-load: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let outcome = match cli.command {
        Some(Command::BenchReport(args)) => bench::write_bench_report(&args).map(|()| true),
        Some(Command::Run(args)) => rt.block_on(run(*args)),
        Some(Command::ColdStart(args)) => rt.block_on(coldstart::run(&args)),
        None => rt.block_on(run(cli.run)),
    };
    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("javumbo-load: {e}");
            ExitCode::from(2)
        }
    }
}

async fn run(args: javumbo_load::config::RunArgs) -> javumbo_load::error::Result<bool> {
    let dir = args.report.clone();
    let report = runner::run(args).await?;
    println!("{}", report.summary());
    if let Some(dir) = dir {
        report.write(&dir)?;
        println!("report written to {}", dir.display());
    }
    Ok(report.passed)
}
