//! The `chorus-bench` binary: parses the command line and hands over to the
//! library.

use clap::Parser;

// The same allocator as the server's: the driver shares the machine with
// the server it measures, and allocates as many small strings per request.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = bench::Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).try_init();
    match bench::run(cli.command).await {
        Ok(out) => {
            if !out.is_empty() {
                println!("{out}");
            }
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("chorus-bench: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
