use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = javumbo_migrate::Cli::parse();
    match javumbo_migrate::run(cli).await {
        Ok(report) => {
            print!("{}", report.markdown());
            if report.failed() > 0 {
                eprintln!("javumbo-migrate: {} user(s) failed", report.failed());
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) => {
            eprintln!("javumbo-migrate: {}", e.chain());
            ExitCode::from(2)
        }
    }
}
