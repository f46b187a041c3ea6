//! `reddish-cli [-h host] [-p port] [-a password] [-n db] [--resp3] [--json] [cmd [arg ...]]`,
//! like `redis-cli`. The logic lives in `reddish::cli`.

fn main() -> std::process::ExitCode {
    reddish::cli::main()
}
