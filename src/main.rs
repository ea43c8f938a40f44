//! The `capsim` binary: everything lives in the library; see `capsim::cli`.

fn main() -> std::process::ExitCode {
    capsim::cli::main()
}
