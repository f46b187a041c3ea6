//! `reddish-server [config-file] [--port N] [--bind ADDR...] ...`, like `redis-server`.

use std::io::Read;
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
///
/// And slabs of 8 regions for the size classes that are whole pages (4, 8
/// and 12 KB): jemalloc gives those a slab each by default, one region on
/// its own pages with its own 128-byte extent record and radix-tree
/// entries, so a 4 KB string value cost 136 bytes of allocator metadata
/// besides its key (231 B a key over the value's 4,096, Valkey 81 B;
/// BENCHMARKS.md, session 13). Redis's 4 KB values land in the 5 KB class,
/// four regions to a slab.
#[export_name = "_rjem_malloc_conf"]
static MALLOC_CONF: MallocConf =
    MallocConf(c"thp:always,slab_sizes:4096-4096:8|8192-8192:16|12288-12288:24".as_ptr());

/// A C string pointer jemalloc can find under its symbol name.
#[repr(transparent)]
struct MallocConf(*const std::ffi::c_char);

// SAFETY: it points to an immutable static string.
unsafe impl Sync for MallocConf {}

/// A Redis 7 compatible server. With no arguments it serves an in-memory
/// keyspace on 127.0.0.1:6379.
#[derive(Parser, Debug)]
#[command(name = "reddish-server", version, about, disable_version_flag = true)]
struct Args {
    /// Print the version (as the first argument only, as redis-server).
    #[arg(short = 'v', long, action = clap::ArgAction::Version)]
    version: (),
    /// As redis-server: `[config-file] [-] [--name value...]`. A config file
    /// in redis.conf syntax, `-` to read more config from stdin, then any
    /// setting as `--name value...` (e.g. `--port 7000 --save "" --hz 20`;
    /// values may start with a dash), applied after the file. `--json`
    /// answers inline (telnet) requests with one JSON object per line.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    arguments: Vec<String>,
}

fn main() -> ExitCode {
    if std::env::args_os().nth(1).as_deref() == Some(reddish::child::WRITER_ARG.as_ref()) {
        // A BGSAVE's or rewrite's child, started by a server (`reddish::child`).
        return reddish::child::writer_main();
    }
    ALLOCATOR.install();
    let program = std::env::args().next().unwrap_or_default();
    let args = Args::parse();
    let config_given = !args.arguments.is_empty();
    let line = reddish::config::command_line::parse(&args.arguments);
    let mut stdin = Vec::new();
    if line.config_from_stdin {
        if let Err(e) = std::io::stdin().read_to_end(&mut stdin) {
            eprintln!("cannot read the config from stdin: {e}");
            return ExitCode::FAILURE;
        }
    }
    let from_stdin = line.config_from_stdin.then_some(stdin.as_slice());
    let loaded =
        reddish::config::Config::load(line.config_file.as_deref(), from_stdin, &line.options);
    let config = match loaded {
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
    let runtime = match reddish::server::event_loop_runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(reddish::server::run(config)) {
        // At once, as Redis's exit(): every socket closes together (the
        // runtime, dropped, would close connections one by one).
        Ok(()) => std::process::exit(0),
        Err(e) => {
            tracing::error!("{e}");
            ExitCode::FAILURE
        }
    }
}
