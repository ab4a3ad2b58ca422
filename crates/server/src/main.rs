//! The `chorus` binary: parses the command line and hands over to the library.

use clap::Parser;

// A request allocates many small strings (rows, JSON); mimalloc serves
// them faster than the system allocator and fragments less. It is built
// without transparent huge pages (`no_thp`): it asked the kernel for them
// on its arenas, and the first touch of each 2 MiB page was zeroed inside
// one request, 30-60 ms on a virtual machine, holding an async worker and
// every request queued on it; whole huge pages also kept 135 MiB more
// resident with 10,000 live connections (BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = server::cli::Cli::parse();
    match server::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("chorus: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
