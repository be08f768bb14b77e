//! The `latchkey` binary: parse arguments, dispatch (`cli::run` sets up logging).
//! Exit codes: 0 success, 1 operational error, 2 usage error (clap).

use clap::Parser;

fn main() -> std::process::ExitCode {
    // Logging is set up by `cli::run` once the configuration (and its
    // `[log] format`) is known.
    let cli = latchkey::cli::Cli::parse();
    // The blocking pool runs SQLite calls (each holds one of at most
    // `database.max_connections` pooled connections; more threads would
    // only wait for one) and file I/O. tokio's default of 512 threads let a
    // 64-connection load start ~90, each with its own allocator arena.
    // Password hashing has its own threads (`auth::password`).
    let runtime = match tokio::runtime::Builder::new_multi_thread().max_blocking_threads(16).enable_all().build() {
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
