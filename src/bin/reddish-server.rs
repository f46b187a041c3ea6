//! `reddish-server [config-file] [--port N] [--bind ADDR...] ...`, like `redis-server`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;

/// jemalloc rather than glibc's malloc: about 6% fewer instructions per
/// request on SET/GET (allocation is a large share of the hot path) for about
/// 3% more resident memory per string key (BENCHMARKS.md, `mem` section).
/// Wrapped to count `used_memory` as Redis's zmalloc does (`reddish::alloc`).
#[global_allocator]
static ALLOCATOR: reddish::alloc::Counting = reddish::alloc::Counting;

/// jemalloc's options, read before the first allocation: back the heap with
/// transparent huge pages (madvise), where the kernel allows them. A key
/// lookup in a big keyspace then misses the TLB far less often (about 5-10%
/// less CPU per request with 600k keys, BENCHMARKS.md `prefetch`).
/// `disable-thp yes` turns them off again at startup.
#[export_name = "_rjem_malloc_conf"]
static MALLOC_CONF: MallocConf = MallocConf(c"thp:always".as_ptr());

/// A C string pointer jemalloc can find under its symbol name.
#[repr(transparent)]
struct MallocConf(*const std::ffi::c_char);

// SAFETY: it points to an immutable static string.
unsafe impl Sync for MallocConf {}

/// A Redis 7 compatible server. With no arguments it serves an in-memory
/// keyspace on 127.0.0.1:6379. Like redis-server, any other setting can be
/// given as `--name value...` (e.g. `--save "" --hz 20`), `--bind` too
/// (`--bind 127.0.0.1 -::1`: its values may start with a dash).
#[derive(Parser, Debug)]
#[command(name = "reddish-server", version, about)]
struct Args {
    /// A configuration file in redis.conf syntax; the flags below override it.
    config_file: Option<PathBuf>,
    /// TCP port to listen on (0 picks a free one).
    #[arg(long)]
    port: Option<u16>,
    /// Number of databases.
    #[arg(long)]
    databases: Option<u64>,
    /// Maximum number of connected clients.
    #[arg(long)]
    maxclients: Option<u64>,
    /// Log level: debug, verbose, notice or warning.
    #[arg(long)]
    loglevel: Option<String>,
    /// Answer inline (telnet) requests with one JSON object per line.
    #[arg(long)]
    json: bool,
}

impl Args {
    /// The flags as config directives, applied after the file like redis-server's.
    fn overrides(&self) -> Vec<(String, Vec<String>)> {
        let mut out = Vec::new();
        let mut add = |name: &str, values: Vec<String>| out.push((name.to_string(), values));
        if let Some(p) = self.port {
            add("port", vec![p.to_string()]);
        }
        if let Some(d) = self.databases {
            add("databases", vec![d.to_string()]);
        }
        if let Some(m) = self.maxclients {
            add("maxclients", vec![m.to_string()]);
        }
        if let Some(l) = &self.loglevel {
            add("loglevel", vec![l.clone()]);
        }
        if self.json {
            add("json", vec!["yes".into()]);
        }
        out
    }
}

/// Flags clap knows; every other `--name` is a config directive.
const CLAP_FLAGS: &[&str] = &[
    "--port",
    "--databases",
    "--maxclients",
    "--loglevel",
    "--json",
    "--help",
    "-h",
    "--version",
    "-V",
];

/// Separates redis-server style `--directive value...` arguments (which take
/// the values up to the next `--`) from the flags clap parses.
fn split_directives(argv: Vec<String>) -> (Vec<String>, Vec<(String, Vec<String>)>) {
    let mut for_clap = Vec::new();
    let mut directives: Vec<(String, Vec<String>)> = Vec::new();
    let mut in_directive = false;
    for arg in argv {
        let known_flag = CLAP_FLAGS.contains(&arg.as_str());
        if let Some(name) = arg.strip_prefix("--").filter(|_| !known_flag) {
            directives.push((name.to_string(), Vec::new()));
            in_directive = true;
        } else if known_flag {
            for_clap.push(arg);
            in_directive = false;
        } else if let (true, Some((_, values))) = (in_directive, directives.last_mut()) {
            values.push(arg);
        } else {
            for_clap.push(arg);
        }
    }
    (for_clap, directives)
}

fn main() -> ExitCode {
    ALLOCATOR.install();
    let argv: Vec<String> = std::env::args().collect();
    let program = argv.first().cloned().unwrap_or_default();
    let config_given = argv.len() > 1;
    let (for_clap, mut overrides) = split_directives(argv);
    let args = Args::parse_from(for_clap);
    overrides.extend(args.overrides());
    let config = match reddish::config::Config::load(args.config_file.as_deref(), &overrides) {
        Ok(config) => config,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::FAILURE;
        }
    };
    let config = Arc::new(config);
    reddish::log::init(config.clone());
    reddish::log::install_panic_hook();
    reddish::log::starting(config_given, &program);
    config.apply_jemalloc_bg_thread();
    #[cfg(target_os = "linux")]
    if config.disable_thp() {
        // SAFETY: PR_SET_THP_DISABLE takes plain integers and touches no memory of ours.
        if unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) } != 0 {
            tracing::warn!("cannot disable transparent huge pages");
        }
    }
    // The first event loop: it accepts, handles signals and serves its share
    // of the connections (all of them with `io-threads 1`, the default on 2 cores).
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(reddish::server::run(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            ExitCode::FAILURE
        }
    }
}
