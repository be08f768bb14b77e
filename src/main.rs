//! The `latchkey` binary: parse arguments, dispatch (`cli::run` sets up logging).
//! Exit codes: 0 success, 1 operational error, 2 usage error (clap).

use clap::Parser;

fn main() -> std::process::ExitCode {
    // Logging is set up by `cli::run` once the configuration (and its
    // `[log] format`) is known.
    let cli = latchkey::cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return std::process::ExitCode::from(1);
        }
    };
    match runtime.block_on(latchkey::cli::run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            std::process::ExitCode::from(1)
        }
    }
}
