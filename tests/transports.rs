//! Transports: TLS (rustls) and unix sockets, driven by real clients
//! (`redis-cli --tls`, `redis-cli -s`, a rustls client, a std unix
//! stream), with certificates made by tools/gen-test-certs.sh as Redis's
//! suite makes them, and compared with a real redis-server given the same
//! settings where the output is observable.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use support::{free_port, installed, s, Server};

/// The certificates, made once per test process (None when openssl is
/// not installed: the tests are skipped).
fn certs() -> Option<&'static Path> {
    static CERTS: OnceLock<Option<PathBuf>> = OnceLock::new();
    CERTS
        .get_or_init(|| {
            if !installed("openssl", "TLS tests") {
                return None;
            }
            let dir = support::temp_dir("tls-certs");
            let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tools/gen-test-certs.sh");
            let status = Command::new("bash")
                .arg(script)
                .arg(&dir)
                .env("DH_QUICK", "1")
                .status()
                .expect("run gen-test-certs.sh");
            assert!(status.success(), "gen-test-certs.sh failed");
            Some(dir)
        })
        .as_deref()
}

fn cert(name: &str) -> String {
    s(&certs().expect("certificates").join(name))
}

/// The TLS settings Redis's suite starts its servers with.
fn tls_args(tls_port: u16) -> Vec<String> {
    [
        ("--tls-port", tls_port.to_string()),
        ("--tls-cert-file", cert("server.crt")),
        ("--tls-key-file", cert("server.key")),
        ("--tls-client-cert-file", cert("client.crt")),
        ("--tls-client-key-file", cert("client.key")),
        ("--tls-dh-params-file", cert("redis.dh")),
        ("--tls-ca-cert-file", cert("ca.crt")),
    ]
    .into_iter()
    .flat_map(|(name, value)| [name.to_string(), value])
    .collect()
}

/// reddish with a plain port and a TLS port, and `extra` arguments.
fn start_tls(extra: &[&str]) -> (Server, u16) {
    let (port, tls_port) = (free_port(), free_port());
    let mut args: Vec<String> = vec!["--port".into(), port.to_string()];
    args.extend(tls_args(tls_port));
    args.extend(extra.iter().map(|a| a.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    (Server::start_with(&args), tls_port)
}

/// Accepts any server certificate (the test wants to see which one it got).
#[derive(Debug)]
struct AnyServer;

impl ServerCertVerifier for AnyServer {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &algorithms())
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &algorithms())
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        algorithms().supported_schemes()
    }
}

#[allow(deprecated)]
fn provider() -> rustls::crypto::CryptoProvider {
    rustls::crypto::ring::default_provider()
}

fn algorithms() -> rustls::crypto::WebPkiSupportedAlgorithms {
    provider().signature_verification_algorithms
}

/// A rustls client's connection to the TLS port. With `client_cert` it
/// presents client.crt. `versions` limits the protocol versions.
fn tls_connect(
    port: u16,
    client_cert: bool,
    versions: &[&'static rustls::SupportedProtocolVersion],
    sni: &str,
) -> std::io::Result<rustls::StreamOwned<rustls::ClientConnection, TcpStream>> {
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(provider()))
        .with_protocol_versions(versions)
        .map_err(std::io::Error::other)?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyServer));
    let config = if client_cert {
        let certs = CertificateDer::pem_file_iter(cert("client.crt"))
            .and_then(|c| c.collect::<Result<Vec<_>, _>>())
            .map_err(std::io::Error::other)?;
        let key =
            PrivateKeyDer::from_pem_file(cert("client.key")).map_err(std::io::Error::other)?;
        builder
            .with_client_auth_cert(certs, key)
            .map_err(std::io::Error::other)?
    } else {
        builder.with_no_client_auth()
    };
    let name = ServerName::try_from(sni.to_string()).map_err(std::io::Error::other)?;
    let session =
        rustls::ClientConnection::new(Arc::new(config), name).map_err(std::io::Error::other)?;
    let socket = TcpStream::connect(("127.0.0.1", port))?;
    socket.set_read_timeout(Some(Duration::from_secs(5)))?;
    Ok(rustls::StreamOwned::new(session, socket))
}

/// Sends `request` on `stream` and reads replies up to one ending in `last`.
fn exchange(stream: &mut impl ReadWrite, request: &[u8], last: &[u8]) -> std::io::Result<String> {
    stream.write_all(request)?;
    let mut reply = Vec::new();
    let mut byte = [0u8; 1];
    while !reply.ends_with(last) {
        match stream.read(&mut byte)? {
            0 => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "closed",
                ))
            }
            _ => reply.push(byte[0]),
        }
    }
    Ok(String::from_utf8_lossy(&reply).into_owned())
}

trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

/// A rustls client's exchange with the TLS port on a new connection (see
/// [`tls_connect`] and [`exchange`]).
fn tls_exchange(
    port: u16,
    client_cert: bool,
    versions: &[&'static rustls::SupportedProtocolVersion],
    sni: &str,
    request: &[u8],
    last: &[u8],
) -> std::io::Result<String> {
    exchange(
        &mut tls_connect(port, client_cert, versions, sni)?,
        request,
        last,
    )
}

const BOTH: &[&rustls::SupportedProtocolVersion] =
    &[&rustls::version::TLS12, &rustls::version::TLS13];

fn ping_tls(port: u16, client_cert: bool) -> std::io::Result<String> {
    tls_exchange(port, client_cert, BOTH, "localhost", b"PING\r\n", b"\r\n")
}

/// `redis-cli --tls` with the client certificate, its output.
fn cli_tls(port: u16, args: &[&str]) -> String {
    let (ca, crt, key) = (cert("ca.crt"), cert("client.crt"), cert("client.key"));
    let out = Command::new("redis-cli")
        .args(["--tls", "--cacert", &ca, "--cert", &crt, "--key", &key])
        .args(["-p", &port.to_string()])
        .args(args)
        .output()
        .expect("run redis-cli");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn ready() -> bool {
    certs().is_some() && installed("redis-cli", "TLS tests")
}

#[test]
fn plain_and_tls_ports_at_once() {
    if !ready() {
        return;
    }
    let (server, tls_port) = start_tls(&[]);
    let mut plain = server.connect();
    assert_eq!(plain.cmd(&["set", "k", "over-tcp"]), b"+OK\r\n");
    assert_eq!(cli_tls(tls_port, &["get", "k"]), "over-tcp\n");
    assert_eq!(cli_tls(tls_port, &["set", "k2", "over-tls"]), "OK\n");
    assert_eq!(plain.cmd(&["get", "k2"]), b"$8\r\nover-tls\r\n");
    // A pipeline bigger than the TLS buffers, and a value spanning many
    // records, come through whole.
    let mut pipeline = Vec::new();
    for i in 0..2000 {
        pipeline.extend_from_slice(format!("SET key:{i} {}\r\n", "v".repeat(100)).as_bytes());
    }
    pipeline.extend_from_slice(b"PING\r\n");
    let replies =
        tls_exchange(tls_port, true, BOTH, "localhost", &pipeline, b"+PONG\r\n").expect("pipeline");
    assert_eq!(replies, format!("{}+PONG\r\n", "+OK\r\n".repeat(2000)));
    let big = "x".repeat(3 << 20);
    plain.cmd(&["set", "big", &big]);
    let strlen = cli_tls(tls_port, &["strlen", "big"]);
    assert_eq!(strlen, format!("{}\n", big.len()));
    let got = cli_tls(tls_port, &["get", "big"]);
    assert_eq!(got.trim_end().len(), big.len());
    assert_eq!(plain.cmd(&["dbsize"]), b":2003\r\n");
    // A plain client on the TLS port is not served.
    let mut stream = TcpStream::connect(("127.0.0.1", tls_port)).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok();
    stream.write_all(b"PING\r\n").expect("write");
    let mut buf = [0u8; 64];
    let n = stream.read(&mut buf).unwrap_or(0);
    assert!(!buf[..n].starts_with(b"+PONG"), "{:?}", &buf[..n]);
}

/// Python's redis-py over TLS, as an application connects: its own
/// handshake (Python's ssl module, OpenSSL) checking the server's chain
/// against the CA, a client certificate, then commands and a transaction.
#[test]
fn redis_py_connects_over_tls() {
    if !ready() {
        return;
    }
    if !support::python_module("redis", "redis-py TLS test") {
        return;
    }
    let (server, tls_port) = start_tls(&[]);
    let script = r#"
import sys, redis
port, ca, crt, key = sys.argv[1:5]
# The suite's certificates name no host (as Redis's): the chain is checked.
r = redis.Redis(host="localhost", port=int(port), ssl=True, ssl_ca_certs=ca,
                ssl_certfile=crt, ssl_keyfile=key, ssl_check_hostname=False)
r.set("py", "over-tls")
pipe = r.pipeline(transaction=True)
for i in range(100):
    pipe.incr("counter")
pipe.execute()
print(r.get("py").decode(), r.get("counter").decode(), r.connection_pool.connection_kwargs["port"])
"#;
    let out = Command::new("python3")
        .args(["-c", script, &tls_port.to_string()])
        .args([cert("ca.crt"), cert("client.crt"), cert("client.key")])
        .output()
        .expect("run python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("over-tls 100 {tls_port}\n")
    );
    let mut plain = server.connect();
    assert_eq!(plain.cmd(&["get", "counter"]), b"$3\r\n100\r\n");
}

#[test]
fn tls_auth_clients_yes_optional_no() {
    if !ready() {
        return;
    }
    let (server, tls_port) = start_tls(&[]);
    let mut plain = server.connect();
    // yes (the default): a client without a certificate is refused.
    assert_eq!(ping_tls(tls_port, true).expect("with a cert"), "+PONG\r\n");
    assert!(ping_tls(tls_port, false).is_err());
    assert_eq!(
        plain.cmd(&["config", "set", "tls-auth-clients", "optional"]),
        b"+OK\r\n"
    );
    assert_eq!(ping_tls(tls_port, false).expect("optional"), "+PONG\r\n");
    assert_eq!(
        ping_tls(tls_port, true).expect("optional, cert"),
        "+PONG\r\n"
    );
    assert_eq!(
        plain.cmd(&["config", "set", "tls-auth-clients", "no"]),
        b"+OK\r\n"
    );
    assert_eq!(ping_tls(tls_port, false).expect("no"), "+PONG\r\n");
    assert_eq!(
        plain.cmd(&["config", "set", "tls-auth-clients", "yes"]),
        b"+OK\r\n"
    );
    assert!(ping_tls(tls_port, false).is_err());
}

/// The subject of the certificate the TLS port serves, as `openssl
/// s_client` prints it (OpenSSL reads the v1 certificate Redis's suite
/// makes, which rustls's own client would not).
fn served_subject(port: u16) -> String {
    let out = Command::new("openssl")
        .args(["s_client", "-connect", &format!("127.0.0.1:{port}")])
        .args(["-cert", &cert("client.crt"), "-key", &cert("client.key")])
        .stdin(std::process::Stdio::null())
        .output()
        .expect("openssl s_client");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.lines()
        .find_map(|l| l.strip_prefix("subject="))
        .unwrap_or_default()
        .to_string()
}

#[test]
fn config_set_of_a_new_certificate_serves_it_to_new_connections() {
    if !ready() {
        return;
    }
    let (server, tls_port) = start_tls(&[]);
    assert!(served_subject(tls_port).contains("Server-only"));
    let mut plain = server.connect();
    let (crt, key) = (cert("redis.crt"), cert("redis.key"));
    assert_eq!(
        plain.cmd(&["config", "set", "tls-cert-file", &crt, "tls-key-file", &key]),
        b"+OK\r\n"
    );
    assert!(served_subject(tls_port).contains("Generic-cert"));
    // A file that does not load leaves everything as it was, as Redis.
    assert_eq!(
        plain.cmd_str(&["config", "set", "tls-cert-file", "/nonexistent/redis.crt"]),
        "-ERR CONFIG SET failed (possibly related to argument 'tls-cert-file') - \
         Unable to update TLS configuration. Check server logs.\r\n"
    );
    assert_eq!(
        plain.cmd(&["config", "get", "tls-cert-file"]),
        support::request(&[b"tls-cert-file", crt.as_bytes()])
    );
    // A key that is not the certificate's is refused.
    let other_key = cert("client.key");
    assert!(plain
        .cmd_str(&["config", "set", "tls-key-file", &other_key])
        .starts_with("-ERR CONFIG SET failed (possibly related to argument 'tls-key-file')"));
    assert!(served_subject(tls_port).contains("Generic-cert"));
}

#[test]
fn protocols_ciphers_and_sni() {
    if !ready() {
        return;
    }
    let (server, tls_port) = start_tls(&["--tls-protocols", "TLSv1.2"]);
    let only13: &[&rustls::SupportedProtocolVersion] = &[&rustls::version::TLS13];
    let only12: &[&rustls::SupportedProtocolVersion] = &[&rustls::version::TLS12];
    assert!(tls_exchange(tls_port, true, only13, "localhost", b"PING\r\n", b"\r\n").is_err());
    assert!(tls_exchange(tls_port, true, only12, "localhost", b"PING\r\n", b"\r\n").is_ok());
    // An IP address as the server name is accepted.
    assert!(tls_exchange(tls_port, true, BOTH, "127.0.0.1", b"PING\r\n", b"\r\n").is_ok());
    let mut plain = server.connect();
    assert_eq!(
        plain.cmd(&["config", "set", "tls-protocols", "TLSv1.3"]),
        b"+OK\r\n"
    );
    assert!(tls_exchange(tls_port, true, only12, "localhost", b"PING\r\n", b"\r\n").is_err());
    assert!(tls_exchange(tls_port, true, only13, "localhost", b"PING\r\n", b"\r\n").is_ok());
    // What rustls cannot do is refused with the reason.
    assert_eq!(
        plain.cmd_str(&["config", "set", "tls-protocols", "TLSv1.1 TLSv1.2"]),
        "-ERR CONFIG SET failed (possibly related to argument 'tls-protocols') - TLSv1.1 is \
         not supported: reddish's TLS (rustls) speaks TLSv1.2 and TLSv1.3 only\r\n"
    );
    assert!(plain
        .cmd_str(&["config", "set", "tls-ciphers", "AES128-SHA256"])
        .contains("Failed to configure ciphers: AES128-SHA256: none of them is available"));
    assert_eq!(
        plain.cmd(&[
            "config",
            "set",
            "tls-protocols",
            "",
            "tls-ciphers",
            "DEFAULT:-ECDHE-RSA-AES128-GCM-SHA256",
            "tls-prefer-server-ciphers",
            "yes"
        ]),
        b"+OK\r\n"
    );
    assert!(tls_exchange(tls_port, true, BOTH, "localhost", b"PING\r\n", b"\r\n").is_ok());
}

#[test]
fn a_bad_certificate_file_is_refused_at_start_up() {
    if !ready() {
        return;
    }
    let dir = support::temp_dir("tls-bad-cert");
    let bad = dir.join("bad.crt");
    std::fs::write(&bad, "not a certificate\n").expect("write");
    let tls_port = free_port().to_string();
    let (key, ca) = (cert("server.key"), cert("ca.crt"));
    let base = [
        "--port",
        "0",
        "--tls-port",
        &tls_port,
        "--tls-key-file",
        &key,
        "--tls-ca-cert-file",
        &ca,
    ];
    let run = |program: &str, cert_file: &str| {
        Command::new(program)
            .args(base)
            .args(["--tls-cert-file", cert_file, "--dir", &s(&dir)])
            .output()
            .expect("run server")
    };
    for cert_file in [s(&bad), s(&dir.join("missing.crt"))] {
        let out = run(env!("CARGO_BIN_EXE_reddish-server"), &cert_file);
        let log = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(1), "{log}");
        assert!(
            log.contains(&format!("Failed to load certificate: {cert_file}")),
            "{log}"
        );
        assert!(
            log.contains("Failed to configure TLS. Check logs for more info."),
            "{log}"
        );
        if installed("redis-server", "differential start-up check") {
            let out = run("redis-server", &cert_file);
            let log = String::from_utf8_lossy(&out.stdout);
            assert_eq!(out.status.code(), Some(1), "{log}");
            assert!(
                log.contains("Failed to configure TLS. Check logs for more info."),
                "{log}"
            );
        }
    }
    // tls-auth-clients yes (the default) without a CA, as Redis.
    let out = Command::new(env!("CARGO_BIN_EXE_reddish-server"))
        .args(["--port", "0", "--tls-port", &tls_port])
        .args([
            "--tls-cert-file",
            &cert("server.crt"),
            "--tls-key-file",
            &key,
        ])
        .args(["--dir", &s(&dir)])
        .output()
        .expect("run server");
    let log = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{log}");
    assert!(
        log.contains("Either tls-ca-cert-file or tls-ca-cert-dir must be specified"),
        "{log}"
    );
}

#[test]
fn a_replica_follows_its_master_over_tls() {
    if !ready() {
        return;
    }
    let (master, master_tls) = start_tls(&["--tls-replication", "yes"]);
    let (replica, _) = start_tls(&[
        "--tls-replication",
        "yes",
        "--replicaof",
        "127.0.0.1",
        &master_tls.to_string(),
    ]);
    let mut m = master.connect();
    m.cmd(&["set", "k", "v"]);
    let big = "y".repeat(1 << 20);
    m.cmd(&["set", "big", &big]);
    let mut r = replica.connect();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while r.cmd(&["strlen", "big"]) != format!(":{}\r\n", big.len()).into_bytes() {
        assert!(
            std::time::Instant::now() < deadline,
            "the replica did not sync"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(r.cmd(&["get", "k"]), b"$1\r\nv\r\n");
    let info = r.cmd_str(&["info", "replication"]);
    assert!(info.contains("master_link_status:up"), "{info}");
    // The master knows the replica by its TLS port.
    let info = m.cmd_str(&["info", "replication"]);
    assert!(info.contains("connected_slaves:1"), "{info}");
}

#[test]
fn config_get_tls_matches_redis() {
    if !ready() {
        return;
    }
    let args = |tls_port: u16| {
        let mut args = tls_args(tls_port);
        args.extend(
            [
                "--tls-auth-clients",
                "optional",
                "--tls-session-cache-size",
                "100",
            ]
            .map(String::from),
        );
        args
    };
    let theirs = args(free_port());
    let theirs: Vec<&str> = theirs.iter().map(String::as_str).collect();
    let Some(oracle) = Server::oracle_with(&theirs) else {
        return;
    };
    let mut ours = vec!["--port".to_string(), free_port().to_string()];
    ours.extend(args(free_port()));
    let ours: Vec<&str> = ours.iter().map(String::as_str).collect();
    let server = Server::start_with(&ours);
    let (mut a, mut b) = (server.connect(), oracle.connect());
    let sorted = |reply: Vec<u8>| support::sorted_reply(&reply, 2);
    let mut got = sorted(a.cmd(&["config", "get", "tls-*"]));
    let mut want = sorted(b.cmd(&["config", "get", "tls-*"]));
    // The TLS ports differ; everything else is the same.
    let mask = |text: &mut Vec<u8>| {
        let masked = String::from_utf8_lossy(text)
            .lines()
            .map(|l| {
                if l.chars().all(|c| c.is_ascii_digit()) && l.len() >= 4 {
                    "PORT"
                } else {
                    l
                }
            })
            .collect::<Vec<_>>()
            .join("\n");
        *text = masked.into_bytes();
    };
    mask(&mut got);
    mask(&mut want);
    assert_eq!(
        String::from_utf8_lossy(&got),
        String::from_utf8_lossy(&want)
    );
    for cmd in [
        &["config", "set", "tls-protocols", "bogus"][..],
        &["config", "set", "tls-auth-clients", "maybe"][..],
        &["config", "set", "tls-session-cache-size", "-1"][..],
    ] {
        let (ours, theirs) = (a.cmd_str(cmd), b.cmd_str(cmd));
        if cmd[2] == "tls-protocols" {
            // Redis answers only "Check server logs"; reddish says why.
            assert!(ours.starts_with(
                "-ERR CONFIG SET failed (possibly related to argument 'tls-protocols')"
            ));
            assert!(theirs.starts_with(
                "-ERR CONFIG SET failed (possibly related to argument 'tls-protocols')"
            ));
        } else {
            assert_eq!(ours, theirs, "{cmd:?}");
        }
    }
}

/// A unix socket path under the test's directory.
fn socket_path(name: &str) -> PathBuf {
    support::temp_dir(name).join("redis.sock")
}

fn unix_exchange(path: &Path, request: &[u8]) -> Vec<u8> {
    let mut stream = std::os::unix::net::UnixStream::connect(path).expect("connect unix socket");
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok();
    stream.write_all(request).expect("write");
    let mut reply = vec![0u8; 4096];
    let n = stream.read(&mut reply).expect("read");
    reply.truncate(n);
    reply
}

#[test]
fn unix_socket_serves_clients_with_its_permissions() {
    let path = socket_path("unix-perm");
    // A stale file where the socket goes is replaced.
    std::fs::write(&path, "stale").expect("stale file");
    let port = free_port().to_string();
    let server = Server::start_with(&[
        "--port",
        &port,
        "--unixsocket",
        &s(&path),
        "--unixsocketperm",
        "700",
    ]);
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};
    let meta = std::fs::metadata(&path).expect("socket file");
    assert!(meta.file_type().is_socket());
    assert_eq!(meta.permissions().mode() & 0o777, 0o700);
    let mut tcp = server.connect();
    tcp.cmd(&["set", "k", "v"]);
    assert_eq!(unix_exchange(&path, b"GET k\r\n"), b"$1\r\nv\r\n");
    let list = String::from_utf8_lossy(&unix_exchange(&path, b"CLIENT INFO\r\n")).into_owned();
    let want = format!("addr={p}:0 laddr={p}:0 ", p = s(&path));
    assert!(list.contains(&want), "{list}");
    assert!(list.contains(" flags=U "), "{list}");
    if installed("redis-cli", "redis-cli -s") {
        let out = Command::new("redis-cli")
            .args(["-s", &s(&path), "get", "k"])
            .output()
            .expect("redis-cli");
        assert_eq!(out.stdout, b"v\n");
    }
    drop(tcp);
    // Shutting down removes the socket file.
    let mut tcp = server.connect();
    tcp.send(&support::request(&[b"SHUTDOWN", b"NOSAVE"]));
    let mut server = server;
    server.wait_exit();
    assert!(!path.exists());
}

#[test]
fn port_0_with_only_a_unix_socket_listens_on_no_tcp_port() {
    let path = socket_path("unix-only");
    let (_server, log) = Server::start_logging(&["--unixsocket", &s(&path)]);
    assert!(log.contains("port=0."), "{log}");
    let info = String::from_utf8_lossy(&unix_exchange(&path, b"INFO server\r\n")).into_owned();
    assert!(info.contains("tcp_port:0\r\n"), "{info}");
}

#[test]
fn unix_client_list_matches_redis() {
    let Some(oracle_dir) =
        installed("redis-server", "differential unix socket").then(|| socket_path("unix-oracle"))
    else {
        return;
    };
    let Some(_oracle) = Server::oracle_with(&["--unixsocket", &s(&oracle_dir)]) else {
        return;
    };
    let ours = socket_path("unix-ours");
    let _server = Server::start_with(&["--unixsocket", &s(&ours)]);
    // The fields that name the transport, with the paths masked.
    let fields = |path: &Path| {
        let info = String::from_utf8_lossy(&unix_exchange(path, b"CLIENT INFO\r\n"))
            .replace(&s(path), "PATH");
        info.split(' ')
            .filter(|f| {
                f.starts_with("addr=") || f.starts_with("laddr=") || f.starts_with("flags=")
            })
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert_eq!(fields(&ours), fields(&oracle_dir));
}

#[test]
fn an_encrypted_pkcs8_key_is_read_with_tls_key_file_pass() {
    if !ready() {
        return;
    }
    let dir = support::temp_dir("tls-encrypted-key");
    let (encrypted, traditional) = (dir.join("pkcs8.key"), dir.join("traditional.key"));
    let openssl = |args: &[&str]| {
        let status = Command::new("openssl")
            .args(args)
            .status()
            .expect("openssl");
        assert!(status.success(), "openssl {args:?}");
    };
    let key = cert("server.key");
    openssl(&[
        "pkcs8",
        "-topk8",
        "-v2",
        "aes-256-cbc",
        "-in",
        &key,
        "-out",
        &s(&encrypted),
        "-passout",
        "pass:secret",
    ]);
    openssl(&[
        "rsa",
        "-aes256",
        "-traditional",
        "-in",
        &key,
        "-out",
        &s(&traditional),
        "-passout",
        "pass:secret",
    ]);
    let (server, tls_port) = start_tls(&[
        "--tls-key-file",
        &s(&encrypted),
        "--tls-key-file-pass",
        "secret",
    ]);
    assert_eq!(ping_tls(tls_port, true).expect("served"), "+PONG\r\n");
    drop(server);
    let refused = |key_file: &Path, pass: &str| {
        let mut args = tls_args(free_port());
        args.extend(
            [
                "--port",
                "0",
                "--tls-key-file",
                &s(key_file),
                "--tls-key-file-pass",
                pass,
                "--dir",
                &s(&dir),
            ]
            .map(String::from),
        );
        let out = Command::new(env!("CARGO_BIN_EXE_reddish-server"))
            .args(&args)
            .output()
            .expect("run server");
        assert_eq!(out.status.code(), Some(1));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let log = refused(&encrypted, "wrong");
    assert!(
        log.contains("cannot decrypt the key (wrong tls-key-file-pass?)"),
        "{log}"
    );
    let log = refused(&traditional, "secret");
    assert!(
        log.contains("encrypted in OpenSSL's traditional format"),
        "{log}"
    );
}

/// A connection idle past the parking delay (2 s, then the cron's pass once
/// a second) gives up its serving task and waits on its socket alone
/// (`connection::wait_parked`): on every transport it is served again as
/// soon as it sends.
#[test]
fn idle_clients_are_served_again_on_every_transport() {
    if !ready() {
        return;
    }
    let path = socket_path("unix-idle");
    let (server, tls_port) = start_tls(&["--unixsocket", &s(&path)]);
    let mut tls = tls_connect(tls_port, true, BOTH, "localhost").expect("TLS connection");
    let mut unix = std::os::unix::net::UnixStream::connect(&path).expect("connect unix socket");
    unix.set_read_timeout(Some(Duration::from_secs(5))).ok();
    let mut tcp = TcpStream::connect(("127.0.0.1", server.port)).expect("connect");
    tcp.set_read_timeout(Some(Duration::from_secs(5))).ok();
    let mut clients: [&mut dyn ReadWrite; 3] = [&mut tls, &mut unix, &mut tcp];
    for client in clients.iter_mut() {
        assert_eq!(
            exchange(client, b"PING\r\n", b"\r\n").expect("PING"),
            "+PONG\r\n"
        );
    }
    std::thread::sleep(Duration::from_millis(4500));
    for (i, client) in clients.iter_mut().enumerate() {
        let key = format!("SET k{i} v\r\n");
        assert_eq!(
            exchange(client, key.as_bytes(), b"\r\n").expect("SET"),
            "+OK\r\n"
        );
    }
    let mut admin = server.connect();
    assert_eq!(admin.cmd_str(&["DBSIZE"]), ":3\r\n");
}
