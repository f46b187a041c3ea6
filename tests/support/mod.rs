//! Test support: start the real `reddish-server` binary (and a real
//! `redis-server` as the oracle) on free ports, and talk raw RESP to them.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// True when the Redis tool `program` (redis-server, redis-cli, ...) is on
/// PATH. Otherwise prints that `what` is skipped and returns false, or fails
/// when REDDISH_REQUIRE_ORACLE=1 (CI installs the tools and wants no skips).
/// True when python3 can import `module`; otherwise says `what` is
/// skipped, or fails when REDDISH_REQUIRE_ORACLE=1 (CI installs them).
pub fn python_module(module: &str, what: &str) -> bool {
    let ok = Command::new("python3")
        .args(["-c", &format!("import {module}")])
        .output()
        .is_ok_and(|o| o.status.success());
    ok || not_installed(&format!("python package {module}"), what)
}

pub fn installed(program: &str, what: &str) -> bool {
    Command::new(program).arg("--version").output().is_ok() || not_installed(program, what)
}

/// `missing` is not installed: fails under REDDISH_REQUIRE_ORACLE=1,
/// otherwise says `what` is skipped. Returns false.
fn not_installed(missing: &str, what: &str) -> bool {
    if std::env::var("REDDISH_REQUIRE_ORACLE").as_deref() == Ok("1") {
        panic!("{missing} is not installed but REDDISH_REQUIRE_ORACLE=1");
    }
    // Straight to stderr, not eprintln!: the test harness would swallow that
    // for a passing test, and a skip must be seen.
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED: {missing} is not installed, {what} not run"
    );
    false
}

/// A process's resident set in bytes.
pub fn rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .expect("VmRSS")
        * 1024
}

/// A server process, killed when dropped.
pub struct Server {
    child: Child,
    pub port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    listener.local_addr().expect("local addr").port()
}

/// A port on which connecting is refused for as long as the returned socket
/// lives: it is bound (so no other test's server can take the port) but not
/// listening. For "server unreachable" tests, which a bare [`free_port`]
/// makes flaky when tests run in parallel.
pub fn refused_port() -> (u16, std::os::fd::OwnedFd) {
    use std::os::fd::FromRawFd;
    // SAFETY: plain socket calls on a descriptor we own; `addr` outlives them.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
        assert!(fd >= 0, "socket");
        let owned = std::os::fd::OwnedFd::from_raw_fd(fd);
        let mut addr: libc::sockaddr_in = std::mem::zeroed();
        addr.sin_family = libc::AF_INET as libc::sa_family_t;
        addr.sin_addr.s_addr = u32::from_ne_bytes([127, 0, 0, 1]);
        let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        let bound = libc::bind(fd, (&addr as *const libc::sockaddr_in).cast(), len);
        assert_eq!(bound, 0, "bind");
        let mut len = len;
        let named = libc::getsockname(fd, (&mut addr as *mut libc::sockaddr_in).cast(), &mut len);
        assert_eq!(named, 0, "getsockname");
        (u16::from_be(addr.sin_port), owned)
    }
}

/// Waits until the server on `port` accepts connections and, when
/// `loaded`, has its data in (PING no longer answers `-LOADING`: the
/// listeners open before the data loads, as Redis's).
fn wait_until_listening(port: u16, child: &mut Child, loaded: bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) {
            if !loaded {
                return;
            }
            let mut reply = [0u8; 8];
            let answered = stream
                .write_all(b"PING\r\n")
                .and_then(|()| stream.read(&mut reply));
            if answered.is_ok_and(|n| !reply[..n].starts_with(b"-LOADING")) {
                return;
            }
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("server exited early: {status}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("server did not listen on port {port}");
}

/// Starts `cmd` with its stdout piped and waits for its "Ready to accept
/// connections" log line, or None if it exits first (its port was taken).
/// Returns the log up to that line. Its further output is drained so it
/// never blocks on a full pipe.
fn spawn_until_ready(mut cmd: Command) -> Option<(Child, String)> {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start server");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut log = String::new();
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            log.push_str(&line);
            log.push('\n');
            if line.contains("Ready to accept connections") {
                let _ = tx.send(std::mem::take(&mut log));
            }
        }
    });
    match rx.recv_timeout(Duration::from_secs(10)) {
        Ok(line) => Some((child, line)),
        Err(_) => {
            let _ = child.kill();
            let _ = child.wait();
            None
        }
    }
}

/// The port a start-up log names: "port=N." or the logo's "Port: N".
pub fn port_in_log(log: &str) -> Option<u16> {
    log.lines().find_map(|line| {
        let (_, rest) = line
            .split_once("port=")
            .or_else(|| line.split_once("Port: "))?;
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        digits.parse().ok()
    })
}

/// A fresh directory for one reddish server under the system's temp dir.
pub fn server_dir() -> String {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("reddish-server-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("server directory");
    dir.to_string_lossy().into_owned()
}

impl Server {
    /// reddish with default settings.
    pub fn start() -> Server {
        Server::start_with(&[])
    }

    /// reddish with extra command-line arguments, on a port it picks itself
    /// (`--port 0`, read back from its start-up log: "Running mode=standalone,
    /// port=N." or, with the logo, "Port: N"), so tests running in parallel
    /// can never race for a port.
    pub fn start_with(args: &[&str]) -> Server {
        Server::start_logging(args).0
    }

    /// [`Server::start_with`], also returning its log up to "Ready to
    /// accept connections".
    pub fn start_logging(args: &[&str]) -> (Server, String) {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_reddish-server"));
        // Its own directory (a later `--dir` in `args` wins): SAVE or a
        // shutdown's save must never write dump.rdb into the repository,
        // nor a dump.rdb found there be loaded.
        let dir = server_dir();
        // A config file (a first argument that is not an option) must
        // come first, as redis-server reads it.
        let (conf, rest) = match args.split_first() {
            Some((first, rest)) if !first.starts_with("--") => (Some(*first), rest),
            _ => (None, args),
        };
        cmd.args(conf)
            .args(["--port", "0", "--dir", &dir])
            .args(rest);
        let (child, log) = spawn_until_ready(cmd).expect("reddish-server started");
        let port = port_in_log(&log).unwrap_or_else(|| panic!("no port in {log:?}"));
        (Server { child, port }, log)
    }

    /// reddish writing its log to `logfile`, with extra arguments, on a
    /// port it picks itself (`--port 0`, read back from the log), so no
    /// other process can take the port between choosing and binding it.
    pub fn start_logging_to_file(logfile: &std::path::Path, args: &[&str]) -> Server {
        let log_arg = logfile.to_string_lossy().into_owned();
        // A restart appends to the same file: only its new lines count.
        let before = std::fs::read(logfile).map_or(0, |l| l.len());
        let mut child = Command::new(env!("CARGO_BIN_EXE_reddish-server"))
            .args(["--port", "0", "--logfile", &log_arg])
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start server");
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let all = std::fs::read(logfile).unwrap_or_default();
            let log = String::from_utf8_lossy(all.get(before..).unwrap_or_default());
            if log.contains("Ready to accept connections") {
                let port = port_in_log(&log).unwrap_or_else(|| panic!("no port in {log:?}"));
                return Server { child, port };
            }
            if std::time::Instant::now() > deadline || !matches!(child.try_wait(), Ok(None)) {
                let _ = child.kill();
                panic!("reddish-server did not start: {log}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// reddish started with exactly `args` (which must make it listen on
    /// `port`), once its data is loaded.
    pub fn start_with_args(args: &[&str], port: u16) -> Server {
        Server::start_listening(args, port, true)
    }

    /// [`Server::start_with_args`], returning as soon as it listens, or
    /// once it has loaded its data too (`loaded`).
    pub fn start_listening(args: &[&str], port: u16, loaded: bool) -> Server {
        // A directory of its own unless `args` name one (after them: a
        // config file must come first).
        let dir = server_dir();
        let own_dir: &[&str] = if args.contains(&"--dir") {
            &[]
        } else {
            &["--dir", &dir]
        };
        let mut child = Command::new(env!("CARGO_BIN_EXE_reddish-server"))
            .args(args)
            .args(own_dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start reddish-server");
        wait_until_listening(port, &mut child, loaded);
        Server { child, port }
    }

    /// A real redis-server to compare against, or None (with a message) when it
    /// is not installed. With REDDISH_REQUIRE_ORACLE=1 a missing oracle fails.
    pub fn oracle() -> Option<Server> {
        Server::oracle_with(&[])
    }

    /// [`Server::oracle`] with extra redis-server arguments (`--name value`).
    pub fn oracle_with(args: &[&str]) -> Option<Server> {
        if !installed("redis-server", "differential test") {
            return None;
        }
        // redis-server cannot pick its own port: try free ones until one binds.
        for _ in 0..5 {
            let port = free_port();
            // Its own directory: a replica writes the RDB it receives to
            // disk, which must never land in the repository.
            // Emptied first: an earlier oracle on this port may have left
            // a dump.rdb that this one would load.
            let dir = std::env::temp_dir().join(format!("reddish-oracle-{port}"));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).expect("oracle directory");
            let mut cmd = Command::new("redis-server");
            cmd.args([
                "--port",
                &port.to_string(),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                &dir.to_string_lossy(),
            ])
            .args(["--bind", "127.0.0.1"])
            .args(args);
            if let Some((child, _)) = spawn_until_ready(cmd) {
                return Some(Server { child, port });
            }
        }
        panic!("could not start redis-server")
    }

    pub fn connect(&self) -> Conn {
        Conn::connect(self.port)
    }

    /// A redis-rs client.
    pub fn client(&self) -> redis::Client {
        redis::Client::open(format!("redis://127.0.0.1:{}/", self.port)).expect("redis client")
    }

    /// The process id, to read the server's memory use from /proc.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends the server `signal` (`kill`'s form: `-TERM`, `-STOP`, ...).
    pub fn signal(&self, signal: &str) {
        let sent = Command::new("kill")
            .args([signal, &self.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill {signal} failed");
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// The exit status once the process ends, or None if it is still
    /// running after 10 seconds.
    pub fn wait_exit(&mut self) -> Option<std::process::ExitStatus> {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::time::Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

/// A raw RESP connection.
pub struct Conn {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

/// Encodes a command as a RESP multibulk request.
pub fn request(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// A TCP stream to 127.0.0.1:`port` from the loopback address `source`.
pub fn stream_from(source: std::net::Ipv4Addr, port: u16) -> TcpStream {
    use std::net::{Ipv4Addr, SocketAddr};
    let socket =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
    socket
        .bind(&SocketAddr::from((source, 0)).into())
        .expect("bind source address");
    socket
        .connect(&SocketAddr::from((Ipv4Addr::LOCALHOST, port)).into())
        .expect("connect");
    TcpStream::from(socket)
}

impl Conn {
    pub fn connect(port: u16) -> Conn {
        Conn::from_stream(TcpStream::connect(("127.0.0.1", port)).expect("connect"))
    }

    /// A connection to `port` from the loopback address `source`: 127.0.0.2
    /// is loopback, but not "local" to Redis (`islocalClient` compares the
    /// peer's address text with 127.0.0.1 and ::1).
    pub fn connect_from(source: std::net::Ipv4Addr, port: u16) -> Conn {
        Conn::from_stream(stream_from(source, port))
    }

    pub fn from_stream(stream: TcpStream) -> Conn {
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        Conn {
            reader: BufReader::new(stream.try_clone().expect("clone")),
            writer: stream,
        }
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).expect("write");
    }

    /// A numeric field of `INFO section`.
    pub fn info_number(&mut self, section: &str, name: &str) -> i64 {
        let info = self.cmd_str(&["INFO", section]);
        info.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no numeric {name} in INFO {section}: {info}"))
    }

    /// How long a read waits (10 s unless set): for commands over big
    /// datasets, which a debug build (CI's `cargo test`) runs many times
    /// slower.
    pub fn set_read_timeout(&mut self, wait: Duration) {
        self.writer.set_read_timeout(Some(wait)).expect("timeout");
    }

    /// Sends one command and returns its raw reply bytes.
    pub fn cmd(&mut self, args: &[&str]) -> Vec<u8> {
        let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        self.cmd_bytes(&args)
    }

    pub fn cmd_bytes(&mut self, args: &[&[u8]]) -> Vec<u8> {
        self.send(&request(args));
        self.read_reply()
    }

    /// Sends one command and returns its raw reply as (lossy) text, for readable asserts.
    pub fn cmd_str(&mut self, args: &[&str]) -> String {
        String::from_utf8_lossy(&self.cmd(args)).into_owned()
    }

    /// Reads exactly one RESP2 or RESP3 reply and returns its bytes.
    pub fn read_reply(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        self.read_into(&mut out);
        out
    }

    fn read_line(&mut self, out: &mut Vec<u8>) -> String {
        let start = out.len();
        self.reader.read_until(b'\n', out).expect("read reply line");
        assert!(out.len() > start, "connection closed while reading a reply");
        String::from_utf8_lossy(&out[start + 1..out.len().saturating_sub(2)]).into_owned()
    }

    fn read_into(&mut self, out: &mut Vec<u8>) {
        let kind = {
            let buf = self.reader.fill_buf().expect("read");
            assert!(!buf.is_empty(), "connection closed while reading a reply");
            buf[0]
        };
        let line = self.read_line(out);
        let n: i64 = line.parse().unwrap_or(0);
        match kind {
            b'$' | b'=' | b'!' if n >= 0 => {
                let mut data = vec![0; n as usize + 2];
                self.reader.read_exact(&mut data).expect("read bulk");
                out.extend_from_slice(&data);
            }
            b'*' | b'~' | b'>' => (0..n.max(0)).for_each(|_| self.read_into(out)),
            b'%' | b'|' => (0..2 * n.max(0)).for_each(|_| self.read_into(out)),
            _ => {}
        }
    }

    /// True when the server closes the connection within two seconds (EOF
    /// or a reset); false when the connection is still open then (unlike
    /// [`Conn::is_closed`], a timeout is not taken for a close).
    pub fn closed_by_server(&mut self) -> bool {
        self.writer
            .set_read_timeout(Some(Duration::from_secs(2)))
            .expect("timeout");
        let mut byte = [0u8; 1];
        match self.reader.read(&mut byte) {
            Ok(0) => true,
            Ok(_) => false,
            Err(e) => !matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ),
        }
    }

    /// Whether a reply (or anything) arrives within `wait`, without reading it.
    pub fn has_reply_within(&mut self, wait: Duration) -> bool {
        if !self.reader.buffer().is_empty() {
            return true;
        }
        let stream = self.reader.get_ref();
        stream.set_read_timeout(Some(wait)).expect("timeout");
        let mut byte = [0u8; 1];
        let ready = matches!(stream.peek(&mut byte), Ok(n) if n > 0);
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        ready
    }

    /// True when the server closed the connection (reads EOF within the timeout).
    pub fn is_closed(&mut self) -> bool {
        self.writer
            .set_read_timeout(Some(Duration::from_secs(2)))
            .expect("timeout");
        let mut byte = [0u8; 1];
        matches!(self.reader.read(&mut byte), Ok(0) | Err(_))
    }
}

/// Runs each command on reddish and on the real redis-server, over one
/// connection each, and asserts the raw replies are byte-identical.
/// Skips (with a message) when redis-server is not installed.
pub fn differential(script: &[&[&str]]) {
    differential_normalized(script, |reply| reply.to_vec());
}

/// [`differential`] with each command written as one line of words
/// (arguments without spaces): `"geoadd g 13.36 38.11 Palermo"`.
pub fn differential_lines(lines: &[&str]) {
    let script: Vec<Vec<&str>> = lines
        .iter()
        .map(|l| l.split_whitespace().collect())
        .collect();
    let script: Vec<&[&str]> = script.iter().map(Vec::as_slice).collect();
    differential(&script);
}

/// Like [`differential`], comparing the replies after `normalize`, for
/// replies with a part that legitimately differs (a client id, a time).
pub fn differential_normalized(script: &[&[&str]], normalize: fn(&[u8]) -> Vec<u8>) {
    let Some(oracle) = Server::oracle() else {
        return;
    };
    let ours = Server::start();
    let mut expected = oracle.connect();
    let mut actual = ours.connect();
    for args in script {
        let want = normalize(&expected.cmd(args));
        let got = normalize(&actual.cmd(args));
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(&want),
            "reply to {args:?} differs from redis-server"
        );
    }
}

/// Sends `input` on a new connection and returns everything the server sends
/// back until it closes the connection (`<closed>`), resets it (`<reset>`) or
/// goes quiet for 300 ms.
pub fn exchange_raw(port: u16, input: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    // A server closing early may refuse the rest; what it sent still counts.
    let _ = stream.write_all(input);
    stream
        .set_read_timeout(Some(Duration::from_millis(300)))
        .expect("timeout");
    read_all(&mut stream)
}

/// Everything `stream` receives until the server closes it (`<closed>`),
/// resets it (`<reset>`) or goes quiet for the stream's read timeout.
pub fn read_all(stream: &mut TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => {
                out.extend_from_slice(b"<closed>");
                break;
            }
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                break
            }
            Err(_) => {
                out.extend_from_slice(b"<reset>");
                break;
            }
        }
    }
    out
}

/// Like [`differential`], for commands given as raw request bytes (pipelines,
/// inline requests, protocol errors): compares everything each server sends
/// back (see [`exchange_raw`]).
pub fn differential_raw(input: &[u8]) {
    differential_raw_each(&[input]);
}

/// [`differential_raw`] for several inputs, each on new connections to one
/// pair of servers (cheaper than a pair per input). All inputs run at the same
/// time, so they must not touch the same keys.
pub fn differential_raw_each(inputs: &[&[u8]]) {
    let Some(oracle) = Server::oracle() else {
        return;
    };
    let ours = Server::start();
    let results: Vec<(Vec<u8>, Vec<u8>)> = std::thread::scope(|s| {
        let running: Vec<_> = inputs
            .iter()
            .map(|input| {
                (
                    s.spawn(|| exchange_raw(oracle.port, input)),
                    s.spawn(|| exchange_raw(ours.port, input)),
                )
            })
            .collect();
        running
            .into_iter()
            .map(|(want, got)| {
                (
                    want.join().expect("oracle exchange"),
                    got.join().expect("reddish exchange"),
                )
            })
            .collect()
    });
    for (input, (want, got)) in inputs.iter().zip(results) {
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(&want),
            "replies to {:?} differ from redis-server",
            String::from_utf8_lossy(&input[..input.len().min(200)])
        );
    }
}

/// Masks the value of HELLO's `id` field: connection ids depend on how many
/// connections each server has seen.
pub fn mask_hello_id(reply: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(reply);
    match text.split_once("$2\r\nid\r\n:") {
        Some((head, tail)) => {
            let rest = tail.split_once("\r\n").map_or("", |(_, r)| r);
            format!("{head}$2\r\nid\r\n:N\r\n{rest}").into_bytes()
        }
        None => reply.to_vec(),
    }
}

/// Waits until the log file at `path` has a line containing `text` (10 s at
/// most) and returns the log.
pub fn wait_for_log(path: &std::path::Path, text: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let log = std::fs::read_to_string(path).unwrap_or_default();
        if log.contains(text) || Instant::now() > deadline {
            return log;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// reddish and redis-server side by side, one connection each, for scripts
/// with binary arguments, RESP3 (`send` HELLO 3 to both) or commands whose own
/// reply must not be compared.
pub struct Pair {
    _oracle: Server,
    _ours: Server,
    pub want: Conn,
    pub got: Conn,
}

impl Pair {
    /// None (with a message) when redis-server is not installed.
    pub fn new() -> Option<Pair> {
        Pair::with_args(&[])
    }

    /// [`Pair::new`] with both servers started with the same extra arguments
    /// (`--name value`, which both understand).
    pub fn with_args(args: &[&str]) -> Option<Pair> {
        let oracle = Server::oracle_with(args)?;
        let ours = Server::start_with(args);
        Some(Pair {
            want: oracle.connect(),
            got: ours.connect(),
            _oracle: oracle,
            _ours: ours,
        })
    }

    /// The ports of redis-server and of reddish, for more connections.
    pub fn want_port(&self) -> u16 {
        self._oracle.port
    }

    pub fn got_port(&self) -> u16 {
        self._ours.port
    }

    /// Asserts both servers answer `args` with the same bytes.
    /// Returns the (common) reply.
    pub fn check_bytes(&mut self, args: &[&[u8]]) -> Vec<u8> {
        let want = self.want.cmd_bytes(args);
        let got = self.got.cmd_bytes(args);
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(&want),
            "reply to {:?} differs from redis-server",
            args.iter()
                .map(|a| String::from_utf8_lossy(&a[..a.len().min(100)]))
                .collect::<Vec<_>>()
        );
        got
    }

    pub fn check(&mut self, args: &[&str]) -> Vec<u8> {
        let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        self.check_bytes(&args)
    }

    /// Switches both connections to RESP3 (HELLO's own reply differs: ids).
    pub fn resp3(&mut self) {
        self.send(&["HELLO", "3"]);
    }

    pub fn run(&mut self, script: &[&[&str]]) {
        for args in script {
            self.check(args);
        }
    }

    /// Sends a command to both servers without comparing the replies.
    pub fn send(&mut self, args: &[&str]) -> (String, String) {
        (self.want.cmd_str(args), self.got.cmd_str(args))
    }

    /// True when reddish implements the command `args` starts with (families
    /// arrive separately; tests that need another one run once it exists).
    pub fn supports(&mut self, args: &[&str]) -> bool {
        let known = !self.got.cmd_str(args).starts_with("-ERR unknown command");
        if !known {
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED: reddish has no {:?} yet",
                args[0]
            );
        }
        known
    }
}
/// [`differential`] on RESP3 connections: HELLO 3 first (its reply, which
/// holds a connection id, is not compared).
pub fn differential_resp3(script: &[&[&str]]) {
    let mut full: Vec<&[&str]> = vec![&["HELLO", "3"]];
    full.extend_from_slice(script);
    differential_normalized(&full, |reply| {
        if reply.starts_with(b"%7\r\n$6\r\nserver\r\n") {
            Vec::new()
        } else {
            reply.to_vec()
        }
    });
}

/// [`differential`] for generated commands, comparing each pair of replies
/// after `normalize(command, reply)` (e.g. [`sorted_reply`] for replies whose
/// order comes from a hash table). Returns false (after a message) when
/// redis-server is not installed.
pub fn differential_by(
    script: &[Vec<String>],
    normalize: impl Fn(&[String], &[u8]) -> Vec<u8>,
) -> bool {
    let Some(oracle) = Server::oracle() else {
        return false;
    };
    let ours = Server::start();
    let mut expected = oracle.connect();
    let mut actual = ours.connect();
    for (i, args) in script.iter().enumerate() {
        let args_str: Vec<&str> = args.iter().map(String::as_str).collect();
        let want = normalize(args, &expected.cmd(&args_str));
        let got = normalize(args, &actual.cmd(&args_str));
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(&want),
            "reply to command #{i} {args:?} differs from redis-server"
        );
    }
    true
}

/// A RESP reply split into its elements, keeping each one's exact bytes.
pub enum Node {
    Leaf(Vec<u8>),
    Aggregate(Vec<u8>, Vec<Node>),
}

impl Node {
    /// The exact bytes this element was read from.
    pub fn bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write(&mut out);
        out
    }

    fn write(&self, out: &mut Vec<u8>) {
        match self {
            Node::Leaf(bytes) => out.extend_from_slice(bytes),
            Node::Aggregate(header, children) => {
                out.extend_from_slice(header);
                children.iter().for_each(|c| c.write(out));
            }
        }
    }

    /// An aggregate's elements (none for a scalar).
    pub fn children(&self) -> &[Node] {
        match self {
            Node::Aggregate(_, children) => children,
            Node::Leaf(_) => &[],
        }
    }

    /// A scalar's text (a bulk string's body, another scalar's line).
    pub fn text(&self) -> String {
        leaves(&self.bytes()).concat()
    }
}

/// `reply` (one complete RESP2 or RESP3 reply) as a tree.
pub fn parse_reply(reply: &[u8]) -> Node {
    parse_node(reply, 0).0
}

fn parse_node(bytes: &[u8], pos: usize) -> (Node, usize) {
    let line_end = pos
        + bytes[pos..]
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("CRLF")
        + 2;
    let header = bytes[pos..line_end].to_vec();
    let n: i64 = String::from_utf8_lossy(&header[1..header.len() - 2])
        .parse()
        .unwrap_or(0);
    match header[0] {
        b'$' | b'=' | b'!' if n >= 0 => {
            let end = line_end + n as usize + 2;
            (Node::Leaf(bytes[pos..end].to_vec()), end)
        }
        b'*' | b'~' | b'>' | b'%' | b'|' if n >= 0 => {
            let count = if matches!(header[0], b'%' | b'|') {
                2 * n
            } else {
                n
            };
            let mut children = Vec::new();
            let mut at = line_end;
            for _ in 0..count {
                let (child, next) = parse_node(bytes, at);
                children.push(child);
                at = next;
            }
            (Node::Aggregate(header, children), at)
        }
        _ => (Node::Leaf(header), line_end),
    }
}

fn sort_node(node: Node, group: usize, out: &mut Vec<u8>) {
    match node {
        Node::Leaf(bytes) => out.extend_from_slice(&bytes),
        Node::Aggregate(header, children) => {
            out.extend_from_slice(&header);
            if children.iter().all(|c| matches!(c, Node::Leaf(_))) {
                let group = if matches!(header[0], b'%') { 2 } else { group };
                let mut chunks: Vec<Vec<u8>> = children
                    .chunks(group.max(1))
                    .map(|chunk| {
                        let mut bytes = Vec::new();
                        chunk.iter().for_each(|c| {
                            if let Node::Leaf(b) = c {
                                bytes.extend_from_slice(b)
                            }
                        });
                        bytes
                    })
                    .collect();
                chunks.sort();
                chunks.iter().for_each(|c| out.extend_from_slice(c));
            } else {
                children.into_iter().for_each(|c| sort_node(c, group, out));
            }
        }
    }
}

/// `reply` with the elements of every innermost aggregate sorted, taken in
/// groups of `group` (2 for HGETALL's field/value pairs; maps always pair).
pub fn sorted_reply(reply: &[u8], group: usize) -> Vec<u8> {
    if reply.is_empty() {
        return Vec::new();
    }
    let (node, _) = parse_node(reply, 0);
    let mut out = Vec::new();
    sort_node(node, group, &mut out);
    out
}

fn collect_leaves(node: &Node, out: &mut Vec<String>) {
    match node {
        Node::Leaf(bytes) => {
            let text = String::from_utf8_lossy(bytes);
            let body = match text.split_once("\r\n") {
                Some((head, body)) if head.starts_with(['$', '=', '!']) => {
                    body.strip_suffix("\r\n").unwrap_or(body)
                }
                _ => text.trim_end_matches("\r\n"),
            };
            out.push(body.to_string());
        }
        Node::Aggregate(_, children) => children.iter().for_each(|c| collect_leaves(c, out)),
    }
}

/// Every scalar in a reply, depth first, as text: bulk strings without their
/// header (`$3\r\nabc\r\n` → `abc`), other scalars as their line (`:1`, `_`).
pub fn leaves(reply: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    if !reply.is_empty() {
        collect_leaves(&parse_node(reply, 0).0, &mut out);
    }
    out
}

/// A small deterministic generator (xorshift) for random scripts and
/// fuzz loops: a failure reproduces.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Below `n` (which must not be 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    pub fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

/// Waits until the server reports `n` blocked clients.
pub fn wait_blocked(conn: &mut Conn, n: usize) {
    let want = format!("blocked_clients:{n}\r");
    let start = Instant::now();
    while !conn.cmd_str(&["INFO", "clients"]).contains(&want) {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "never reached {want}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Runs a scenario on reddish and, when installed, on redis-server, and
/// asserts both produce the same transcript. Returns reddish's transcript.
pub fn on_both(scenario: fn(&Server) -> Vec<String>) -> Vec<String> {
    let ours = scenario(&Server::start());
    if let Some(oracle) = Server::oracle() {
        assert_eq!(ours, scenario(&oracle), "reddish vs redis-server");
    }
    ours
}

/// Sends a command without reading its reply (the client blocks).
pub fn send(conn: &mut Conn, args: &[&str]) {
    let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    conn.send(&request(&args));
}

pub fn reply(conn: &mut Conn) -> String {
    String::from_utf8_lossy(&conn.read_reply()).into_owned()
}

/// Keys of every type in every encoding Redis 7.0 has, small and big,
/// with and without TTLs, in three databases. Returns the keys (db, name)
/// whose DUMP has a defined byte order (not the hash tables).
pub fn populate(conn: &mut Conn) -> Vec<(usize, String)> {
    let mut ordered = Vec::new();
    let mut run = |db: usize, args: Vec<String>, ordered_key: bool| {
        conn.cmd(&["select", &db.to_string()]);
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        conn.cmd(&refs);
        if ordered_key {
            ordered.push((db, args[1].clone()));
        }
    };
    let v = |items: &[&str]| items.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let many = |cmd: &str, key: &str, n: usize, f: &dyn Fn(usize) -> Vec<String>| {
        let mut args = vec![cmd.to_string(), key.to_string()];
        for i in 0..n {
            args.extend(f(i));
        }
        args
    };
    // Strings: int, embstr, raw, compressible, incompressible, big ints.
    run(0, v(&["set", "int", "12345"]), true);
    run(0, v(&["set", "neg", "-70000"]), true);
    run(0, v(&["set", "big", "9223372036854775807"]), true);
    run(0, v(&["set", "emb", "hello world"]), true);
    run(0, vec!["set".into(), "raw".into(), "ab".repeat(300)], true);
    let noise: String = (0..200u32)
        .map(|i| char::from(b'!' + ((i * 7919) % 90) as u8))
        .collect();
    run(0, vec!["set".into(), "noise".into(), noise], true);
    run(0, v(&["set", "ttl", "x", "px", "100000000"]), true);
    run(0, v(&["set", "007", "007"]), true);
    // Lists: one node, many nodes, big elements.
    run(
        0,
        v(&["rpush", "l1", "a", "1", "-5000", "300", "99999999999", "x"]),
        true,
    );
    run(0, many("rpush", "l2", 3000, &|i| vec![i.to_string()]), true);
    run(
        1,
        many("rpush", "l3", 50, &|i| {
            vec![format!("{i}{}", "z".repeat(i * 20))]
        }),
        true,
    );
    // Sets: intsets of each width, a hash table.
    run(0, v(&["sadd", "i16", "1", "2", "3"]), true);
    run(0, v(&["sadd", "i32", "1", "70000"]), true);
    run(0, v(&["sadd", "i64", "1", "7000000000"]), true);
    run(0, v(&["sadd", "st", "a", "b", "1"]), false);
    run(
        1,
        many("sadd", "stbig", 1000, &|i| vec![i.to_string()]),
        false,
    );
    run(1, v(&["expire", "stbig", "100000"]), false);
    // Hashes: listpack, hash table (by count and by value length).
    run(
        0,
        v(&["hset", "h1", "f", "v", "n", "12", "neg", "-3"]),
        true,
    );
    run(
        0,
        many("hset", "h2", 300, &|i| {
            vec![format!("f{i}"), format!("v{i}")]
        }),
        false,
    );
    run(
        2,
        vec!["hset".into(), "h3".into(), "f".into(), "v".repeat(100)],
        false,
    );
    // Sorted sets: listpack (integral, fractional, inf scores), skiplist.
    run(
        0,
        v(&[
            "zadd", "z1", "1", "a", "2.5", "b", "-3", "c", "inf", "d", "0.1", "e",
        ]),
        true,
    );
    run(
        0,
        many("zadd", "z2", 300, &|i| {
            vec![format!("{}.5", i), format!("m{i}")]
        }),
        true,
    );
    run(
        2,
        vec!["zadd".into(), "z3".into(), "1".into(), "m".repeat(100)],
        true,
    );
    run(2, v(&["pexpire", "z3", "100000000"]), false);
    conn.cmd(&["select", "0"]);
    ordered
}

/// A fresh directory for one test.
pub fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("reddish-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// A path as a command-line argument.
pub fn s(dir: &std::path::Path) -> String {
    dir.to_string_lossy().into_owned()
}

/// DEBUG DIGEST's reply.
pub fn digest(conn: &mut Conn) -> String {
    conn.cmd_str(&["debug", "digest"])
}

/// Waits until the server answers PING (no more `-LOADING`).
pub fn wait_loaded(conn: &mut Conn) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while conn.cmd_str(&["ping"]) != "+PONG\r\n" {
        assert!(Instant::now() < deadline, "never finished loading");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// One INFO section as a map of its fields.
pub fn info_section(conn: &mut Conn, section: &str) -> std::collections::BTreeMap<String, String> {
    let reply = String::from_utf8_lossy(&conn.cmd(&["INFO", section])).into_owned();
    reply
        .split("\r\n")
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// redis-check-rdb accepts `file` (skipped, with a message, without it).
pub fn assert_rdb_checks(file: &std::path::Path) {
    if installed("redis-check-rdb", "RDB check") {
        let out = Command::new("redis-check-rdb")
            .arg(file)
            .output()
            .expect("redis-check-rdb");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("RDB looks OK"), "{text}");
    }
}
