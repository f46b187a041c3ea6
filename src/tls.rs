//! TLS settings turned into `rustls` configurations, as Redis 7.0's
//! `tlsConfigure` (src/tls.c) turns them into OpenSSL contexts: built when
//! `tls-port`, `tls-replication` or `tls-cluster` asks for TLS, rebuilt on
//! CONFIG SET of a `tls-*` setting (new connections get the new
//! certificates, established ones keep theirs).
//!
//! What rustls cannot do is refused when set ([`refusal`]): TLS 1.0 and 1.1,
//! and cipher lists naming no cipher rustls has (it has only AEAD suites
//! with ECDHE key exchange, so `tls-dh-params-file` is read and checked but
//! never needed).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{ring, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::{StoresServerSessions, WebPkiClientVerifier};
use rustls::sign::{CertifiedKey, SingleCertAndKey};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, ServerConfig,
    SignatureScheme, SupportedCipherSuite, SupportedProtocolVersion,
};

use crate::config::Config;

/// The configurations in use: the server side by `tls-auth-clients` (no,
/// yes, optional: Redis reads it at each accept, so all three are ready),
/// and the client side for links this server opens (to a master).
struct Contexts {
    server: [Option<Arc<ServerConfig>>; 3],
    client: Option<Arc<ClientConfig>>,
}

/// The server's TLS state: empty until TLS is configured.
#[derive(Default)]
pub struct Tls {
    contexts: RwLock<Option<Contexts>>,
}

impl Tls {
    /// Redis's `tlsConfigure`: builds everything from the settings and puts
    /// it in use, or keeps what was in use and returns why not (Redis logs
    /// it; CONFIG SET then answers "Unable to update TLS configuration").
    pub fn configure(&self, config: &Config) -> Result<(), String> {
        let contexts = build(config)?;
        *self
            .contexts
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Some(contexts);
        Ok(())
    }

    pub fn is_configured(&self) -> bool {
        self.contexts
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some()
    }

    /// The configuration an accepted TLS connection starts with, by
    /// `tls-auth-clients` (0 no, 1 yes, 2 optional).
    pub fn acceptor(&self, auth_clients: usize) -> Option<Arc<ServerConfig>> {
        let contexts = self.contexts.read().unwrap_or_else(PoisonError::into_inner);
        contexts.as_ref()?.server.get(auth_clients)?.clone()
    }

    /// The configuration of a link this server opens (`tls-replication`).
    pub fn connector(&self) -> Option<Arc<ClientConfig>> {
        let contexts = self.contexts.read().unwrap_or_else(PoisonError::into_inner);
        contexts.as_ref()?.client.clone()
    }
}

/// The content type of a TLS handshake record, a client's first byte.
const TLS_HANDSHAKE_RECORD: u8 = 0x16;

/// Starts a TLS session on an accepted socket and runs its handshake.
pub async fn accept(
    config: Arc<ServerConfig>,
    socket: tokio::net::TcpStream,
) -> std::io::Result<crate::transport::Transport> {
    // Bytes that do not start a TLS record get no answer, only the close
    // (OpenSSL's "wrong version number"; rustls would send an alert, which
    // a plain client would read as a reply).
    let mut first = [0u8; 1];
    if socket.peek(&mut first).await? == 1 && first[0] != TLS_HANDSHAKE_RECORD {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "wrong version number (not a TLS handshake)",
        ));
    }
    let session = rustls::ServerConnection::new(config).map_err(std::io::Error::other)?;
    crate::transport::Tls::handshake(socket, session.into()).await
}

/// Opens TLS on a connected socket to `host` (a master) and runs the
/// handshake. The master's certificate must chain to the CA; its name is
/// not checked, as Redis's replicas do not check it.
pub async fn connect(
    config: Arc<ClientConfig>,
    host: &str,
    socket: tokio::net::TcpStream,
) -> std::io::Result<crate::transport::Transport> {
    let name = ServerName::try_from(host.to_string())
        .unwrap_or_else(|_| ServerName::try_from("redis").expect("a valid DNS name"));
    let session = rustls::ClientConnection::new(config, name).map_err(std::io::Error::other)?;
    crate::transport::Tls::handshake(socket, session.into()).await
}

/// The TLS 1.2 ciphers rustls has, by their OpenSSL names (`tls-ciphers`).
const TLS12_CIPHERS: &[(&str, SupportedCipherSuite)] = &[
    (
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        ring::cipher_suite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    ),
    (
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        ring::cipher_suite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    ),
    (
        "ECDHE-ECDSA-CHACHA20-POLY1305",
        ring::cipher_suite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    ),
    (
        "ECDHE-RSA-AES256-GCM-SHA384",
        ring::cipher_suite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    ),
    (
        "ECDHE-RSA-AES128-GCM-SHA256",
        ring::cipher_suite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    ),
    (
        "ECDHE-RSA-CHACHA20-POLY1305",
        ring::cipher_suite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    ),
];

/// The TLS 1.3 suites rustls has, by their names (`tls-ciphersuites`).
const TLS13_SUITES: &[(&str, SupportedCipherSuite)] = &[
    (
        "TLS_AES_256_GCM_SHA384",
        ring::cipher_suite::TLS13_AES_256_GCM_SHA384,
    ),
    (
        "TLS_AES_128_GCM_SHA256",
        ring::cipher_suite::TLS13_AES_128_GCM_SHA256,
    ),
    (
        "TLS_CHACHA20_POLY1305_SHA256",
        ring::cipher_suite::TLS13_CHACHA20_POLY1305_SHA256,
    ),
];

/// Why a `tls-*` value cannot be honoured with rustls, checked when it is
/// set (config file or CONFIG SET); None when it can.
pub fn refusal(name: &str, value: &[u8]) -> Option<String> {
    let value = String::from_utf8_lossy(value);
    let result = match name {
        "tls-protocols" => protocols(&value).map(drop),
        "tls-ciphers" => tls12_ciphers(&value).map(drop),
        "tls-ciphersuites" => tls13_suites(&value).map(drop),
        _ => Ok(()),
    };
    result.err()
}

/// Redis's `parseProtocolsConfig`: space-separated versions, any case;
/// empty is TLS 1.2 and 1.3.
fn protocols(value: &str) -> Result<Vec<&'static SupportedProtocolVersion>, String> {
    let mut versions = Vec::new();
    for token in value.split(' ').filter(|t| !t.is_empty()) {
        let version = match token.to_ascii_lowercase().as_str() {
            "tlsv1" | "tlsv1.1" => {
                return Err(format!(
                "{token} is not supported: reddish's TLS (rustls) speaks TLSv1.2 and TLSv1.3 only"
            ))
            }
            "tlsv1.2" => &rustls::version::TLS12,
            "tlsv1.3" => &rustls::version::TLS13,
            _ => {
                return Err(
                    "Invalid tls-protocols specified. Use a combination of 'TLSv1', \
                            'TLSv1.1', 'TLSv1.2' and 'TLSv1.3'."
                        .to_string(),
                )
            }
        };
        if !versions.contains(&version) {
            versions.push(version);
        }
    }
    if versions.is_empty() {
        versions = vec![&rustls::version::TLS12, &rustls::version::TLS13];
    }
    Ok(versions)
}

/// An OpenSSL cipher list for TLS 1.2 (`tls-ciphers`), as far as rustls's
/// ciphers go: `DEFAULT`, `ALL`, `HIGH` and `ECDHE` name all of them, `-X`
/// and `!X` remove one, other names OpenSSL knows but rustls lacks are
/// skipped (OpenSSL skips unknown ones too). Empty: all. At least one must
/// be left, as OpenSSL's `SSL_CTX_set_cipher_list` wants.
fn tls12_ciphers(value: &str) -> Result<Vec<SupportedCipherSuite>, String> {
    if value.is_empty() {
        return Ok(TLS12_CIPHERS.iter().map(|(_, s)| *s).collect());
    }
    let mut chosen: Vec<SupportedCipherSuite> = Vec::new();
    for token in value.split([':', ' ', ',']).filter(|t| !t.is_empty()) {
        let (remove, name) = match token.strip_prefix(['-', '!']) {
            Some(name) => (true, name),
            None => (false, token.trim_start_matches('+')),
        };
        let named: Vec<SupportedCipherSuite> = match name {
            "DEFAULT" | "ALL" | "HIGH" | "ECDHE" | "EECDH" | "kEECDH" | "AESGCM" => {
                TLS12_CIPHERS.iter().map(|(_, s)| *s).collect()
            }
            _ => TLS12_CIPHERS
                .iter()
                .filter(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, s)| *s)
                .collect(),
        };
        for suite in named {
            chosen.retain(|s| s.suite() != suite.suite());
            if !remove {
                chosen.push(suite);
            }
        }
    }
    if chosen.is_empty() {
        let names: Vec<&str> = TLS12_CIPHERS.iter().map(|(n, _)| *n).collect();
        return Err(format!(
            "Failed to configure ciphers: {value}: none of them is available in reddish's TLS \
             (rustls has {})",
            names.join(":")
        ));
    }
    Ok(chosen)
}

/// A TLS 1.3 suite list (`tls-ciphersuites`), colon-separated; empty: all.
fn tls13_suites(value: &str) -> Result<Vec<SupportedCipherSuite>, String> {
    if value.is_empty() {
        return Ok(TLS13_SUITES.iter().map(|(_, s)| *s).collect());
    }
    let mut chosen = Vec::new();
    for name in value.split(':').filter(|t| !t.is_empty()) {
        let Some((_, suite)) = TLS13_SUITES.iter().find(|(n, _)| *n == name) else {
            let names: Vec<&str> = TLS13_SUITES.iter().map(|(n, _)| *n).collect();
            return Err(format!(
                "Failed to configure ciphersuites: {value}: {name} is not available in \
                 reddish's TLS (rustls has {})",
                names.join(":")
            ));
        };
        chosen.push(*suite);
    }
    Ok(chosen)
}

/// The settings [`build`] reads.
struct Settings {
    cert_file: String,
    key_file: String,
    key_file_pass: String,
    client_cert_file: String,
    client_key_file: String,
    client_key_file_pass: String,
    ca_cert_file: String,
    ca_cert_dir: String,
    dh_params_file: String,
    protocols: String,
    ciphers: String,
    ciphersuites: String,
    prefer_server_ciphers: bool,
    session_caching: bool,
    session_cache_size: usize,
    session_cache_timeout: u64,
    needs_ca: bool,
}

impl Settings {
    fn read(config: &Config) -> Settings {
        let text = |name: &str| config.tls_text(name);
        let num = |name: &str| config.tls_num(name);
        Settings {
            cert_file: text("tls-cert-file"),
            key_file: text("tls-key-file"),
            key_file_pass: text("tls-key-file-pass"),
            client_cert_file: text("tls-client-cert-file"),
            client_key_file: text("tls-client-key-file"),
            client_key_file_pass: text("tls-client-key-file-pass"),
            ca_cert_file: text("tls-ca-cert-file"),
            ca_cert_dir: text("tls-ca-cert-dir"),
            dh_params_file: text("tls-dh-params-file"),
            protocols: text("tls-protocols"),
            ciphers: text("tls-ciphers"),
            ciphersuites: text("tls-ciphersuites"),
            prefer_server_ciphers: num("tls-prefer-server-ciphers") != 0,
            session_caching: num("tls-session-caching") != 0,
            session_cache_size: usize::try_from(num("tls-session-cache-size")).unwrap_or(0),
            session_cache_timeout: u64::try_from(num("tls-session-cache-timeout")).unwrap_or(0),
            needs_ca: config.tls_auth_clients() != 0
                || config.tls_replication()
                || num("tls-cluster") != 0,
        }
    }
}

fn build(config: &Config) -> Result<Contexts, String> {
    let s = Settings::read(config);
    if s.cert_file.is_empty() {
        return Err("No tls-cert-file configured!".into());
    }
    if s.key_file.is_empty() {
        return Err("No tls-key-file configured!".into());
    }
    if s.needs_ca && s.ca_cert_file.is_empty() && s.ca_cert_dir.is_empty() {
        return Err(
            "Either tls-ca-cert-file or tls-ca-cert-dir must be specified when \
                    tls-cluster, tls-replication or tls-auth-clients are enabled!"
                .into(),
        );
    }
    let versions = protocols(&s.protocols)?;
    let mut suites = tls13_suites(&s.ciphersuites)?;
    suites.extend(tls12_ciphers(&s.ciphers)?);
    // ring, not aws-lc-rs (which needs cmake to build); deprecated only
    // for lacking post-quantum key exchange, which Redis's OpenSSL 3.0
    // lacks too.
    #[allow(deprecated)]
    let provider = Arc::new(CryptoProvider {
        cipher_suites: suites,
        ..ring::default_provider()
    });
    let served = certified_key(&provider, &s.cert_file, &s.key_file, &s.key_file_pass)?;
    let roots = load_roots(&s.ca_cert_file, &s.ca_cert_dir)?;
    if !s.dh_params_file.is_empty() {
        check_dh_params(&s.dh_params_file)?;
    }
    let sessions: Arc<dyn StoresServerSessions> = if s.session_caching {
        Arc::new(SessionCache::new(
            s.session_cache_size,
            Duration::from_secs(s.session_cache_timeout),
        ))
    } else {
        Arc::new(rustls::server::NoServerSessionStorage {})
    };
    let mut server = [None, None, None];
    for (mode, slot) in server.iter_mut().enumerate() {
        let verifier = match (mode, &roots) {
            (0, _) => WebPkiClientVerifier::no_client_auth(),
            (_, None) => continue,
            (_, Some(roots)) => {
                let builder =
                    WebPkiClientVerifier::builder_with_provider(roots.clone(), provider.clone());
                let builder = if mode == 2 {
                    builder.allow_unauthenticated()
                } else {
                    builder
                };
                builder.build().map_err(|e| {
                    format!("Failed to configure CA certificate(s) file/directory: {e}")
                })?
            }
        };
        let mut built = ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&versions)
            .map_err(|e| format!("Failed to configure TLS protocols: {e}"))?
            .with_client_cert_verifier(verifier)
            .with_cert_resolver(Arc::new(SingleCertAndKey::from(served.clone())));
        built.ignore_client_order = s.prefer_server_ciphers;
        built.session_storage = sessions.clone();
        *slot = Some(Arc::new(built));
    }
    // Redis's replica uses the client certificate if both files are set,
    // else the server's own.
    let client = match &roots {
        None => None,
        Some(roots) => {
            let own = if !s.client_cert_file.is_empty() && !s.client_key_file.is_empty() {
                certified_key(
                    &provider,
                    &s.client_cert_file,
                    &s.client_key_file,
                    &s.client_key_file_pass,
                )?
            } else {
                served
            };
            let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(
                roots.clone(),
                provider.clone(),
            )
            .build()
            .map_err(|e| format!("Failed to configure CA certificate(s) file/directory: {e}"))?;
            let built = ClientConfig::builder_with_provider(provider.clone())
                .with_protocol_versions(&versions)
                .map_err(|e| format!("Failed to configure TLS protocols: {e}"))?
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AnyName(verifier)))
                .with_client_cert_resolver(Arc::new(SingleCertAndKey::from(own)));
            Some(Arc::new(built))
        }
    };
    Ok(Contexts { server, client })
}

/// A certificate chain and its key, as OpenSSL's
/// `SSL_CTX_use_certificate_chain_file` and `SSL_CTX_use_PrivateKey_file`
/// load them: the key must match the certificate, whose version is not
/// checked (Redis's suite serves a v1 certificate, which webpki would not
/// parse, and OpenSSL clients accept).
fn certified_key(
    provider: &CryptoProvider,
    cert_file: &str,
    key_file: &str,
    pass: &str,
) -> Result<Arc<CertifiedKey>, String> {
    let certs = load_certs(cert_file)?;
    let key = provider
        .key_provider
        .load_private_key(load_key(key_file, pass)?)
        .map_err(|e| format!("Failed to load private key: {key_file}: {e}"))?;
    let cert_key = certs.first().and_then(|cert| subject_public_key_info(cert));
    match (key.public_key(), cert_key) {
        (Some(ours), Some(theirs)) if ours.as_ref() != theirs => {
            return Err(format!(
                "Failed to load private key: {key_file}: key values mismatch \
                 (the key is not the one of {cert_file})"
            ))
        }
        _ => {}
    }
    Ok(Arc::new(CertifiedKey::new(certs, key)))
}

/// The DER of a certificate's `subjectPublicKeyInfo` (the seventh field of
/// `tbsCertificate` counting the optional version), read without webpki,
/// which refuses v1 certificates. None when the DER is not as expected.
fn subject_public_key_info(cert: &[u8]) -> Option<&[u8]> {
    /// One DER element: its tag, content, whole encoding, and what follows.
    struct Element<'a> {
        tag: u8,
        content: &'a [u8],
        whole: &'a [u8],
        rest: &'a [u8],
    }
    fn element(input: &[u8]) -> Option<Element<'_>> {
        let (&tag, rest) = input.split_first()?;
        let (&first, rest) = rest.split_first()?;
        let (len, rest) = if first < 0x80 {
            (usize::from(first), rest)
        } else {
            let n = usize::from(first & 0x7f);
            if n == 0 || n > 4 || rest.len() < n {
                return None;
            }
            let len = rest[..n]
                .iter()
                .fold(0usize, |l, &b| (l << 8) | usize::from(b));
            (len, &rest[n..])
        };
        let header = input.len() - rest.len();
        let content = rest.get(..len)?;
        Some(Element {
            tag,
            content,
            whole: &input[..header + len],
            rest: &rest[len..],
        })
    }
    let certificate = element(cert)?.content;
    let mut tbs = element(certificate)?.content;
    let mut index = 0;
    while !tbs.is_empty() {
        let field = element(tbs)?;
        // [0] version is optional (absent in v1 certificates).
        if field.tag != 0xa0 {
            if index == 5 {
                return Some(field.whole);
            }
            index += 1;
        }
        tbs = field.rest;
    }
    None
}

/// OpenSSL's `SSL_CTX_use_certificate_chain_file`: the PEM certificates of
/// `path`, the server's first.
fn load_certs(path: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let fail = |why: String| format!("Failed to load certificate: {path}: {why}");
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| fail(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| fail(e.to_string()))?;
    if certs.is_empty() {
        return Err(fail("no certificate in the file".into()));
    }
    Ok(certs)
}

/// The private key of `path` (PKCS#1, PKCS#8 or SEC1 PEM), an encrypted
/// PKCS#8 one (`ENCRYPTED PRIVATE KEY`, as `openssl genpkey -aes256` or
/// `openssl pkcs8 -topk8` write it) decrypted with `pass`
/// (`tls-key-file-pass`). Keys encrypted in the older OpenSSL format
/// (`Proc-Type: 4,ENCRYPTED`) are refused with how to convert them.
fn load_key(path: &str, pass: &str) -> Result<PrivateKeyDer<'static>, String> {
    let fail = |why: String| format!("Failed to load private key: {path}: {why}");
    let text = std::fs::read_to_string(path).map_err(|e| fail(e.to_string()))?;
    if text.contains("Proc-Type: 4,ENCRYPTED") {
        return Err(fail(
            "the key is encrypted in OpenSSL's traditional format, which reddish cannot \
             decrypt: convert it to encrypted PKCS#8 (`openssl pkcs8 -topk8 -v2 aes-256-cbc \
             -in KEY -out NEWKEY`)"
                .into(),
        ));
    }
    const BEGIN: &str = "-----BEGIN ENCRYPTED PRIVATE KEY-----";
    const END: &str = "-----END ENCRYPTED PRIVATE KEY-----";
    let Some(start) = text.find(BEGIN) else {
        return PrivateKeyDer::from_pem_slice(text.as_bytes()).map_err(|e| fail(e.to_string()));
    };
    if pass.is_empty() {
        return Err(fail(
            "the key is encrypted and tls-key-file-pass is not set".into(),
        ));
    }
    let end = text[start..]
        .find(END)
        .map(|at| start + at + END.len())
        .ok_or_else(|| fail("the encrypted key's PEM block has no end".into()))?;
    let (_, der) = pkcs8::der::pem::decode_vec(&text.as_bytes()[start..end])
        .map_err(|e| fail(e.to_string()))?;
    let info = pkcs8::EncryptedPrivateKeyInfo::try_from(der.as_slice())
        .map_err(|e| fail(e.to_string()))?;
    let key = info.decrypt(pass.as_bytes()).map_err(|e| {
        fail(format!(
            "cannot decrypt the key (wrong tls-key-file-pass?): {e}"
        ))
    })?;
    Ok(PrivateKeyDer::Pkcs8(key.as_bytes().to_vec().into()))
}

/// OpenSSL's `SSL_CTX_load_verify_locations`: the certificates of the CA
/// file, and of every PEM file in the CA directory. None when neither is set.
fn load_roots(file: &str, dir: &str) -> Result<Option<Arc<RootCertStore>>, String> {
    if file.is_empty() && dir.is_empty() {
        return Ok(None);
    }
    let fail = |why: String| format!("Failed to configure CA certificate(s) file/directory: {why}");
    let mut roots = RootCertStore::empty();
    let mut add = |path: &std::path::Path, strict: bool| -> Result<(), String> {
        let certs = match CertificateDer::pem_file_iter(path) {
            Ok(certs) => certs.collect::<Result<Vec<_>, _>>(),
            Err(e) => Err(e),
        };
        match certs {
            Ok(certs) => {
                for cert in certs {
                    roots
                        .add(cert)
                        .map_err(|e| fail(format!("{}: {e}", path.display())))?;
                }
                Ok(())
            }
            Err(e) if strict => Err(fail(format!("{}: {e}", path.display()))),
            Err(_) => Ok(()),
        }
    };
    if !file.is_empty() {
        add(std::path::Path::new(file), true)?;
    }
    if !dir.is_empty() {
        let entries = std::fs::read_dir(dir).map_err(|e| fail(format!("{dir}: {e}")))?;
        for entry in entries.flatten() {
            add(&entry.path(), false)?;
        }
    }
    if roots.is_empty() {
        return Err(fail("no CA certificate found".into()));
    }
    Ok(Some(Arc::new(roots)))
}

/// Redis reads `tls-dh-params-file` for DHE ciphers; rustls has none (its
/// key exchange is ECDHE), so the file is only checked to hold DH
/// parameters, with Redis's messages.
fn check_dh_params(path: &str) -> Result<(), String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("Failed to load {path}: {e}"))?;
    if !text.contains("DH PARAMETERS-----") {
        return Err(format!("{path}: failed to read DH params."));
    }
    Ok(())
}

/// Checks the master's certificate chain but not its name, as Redis's
/// replica (no `SSL_set1_host`): masters are often reached by IP address.
#[derive(Debug)]
struct AnyName(Arc<rustls::client::WebPkiServerVerifier>);

impl ServerCertVerifier for AnyName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// OpenSSL's server session cache: at most `size` sessions (0: no limit),
/// each resumable for `timeout` (`tls-session-cache-size`, `-timeout`).
#[derive(Debug)]
struct SessionCache {
    size: usize,
    timeout: Duration,
    sessions: Mutex<HashMap<Vec<u8>, Stored>>,
}

/// A session's state and when it was stored.
type Stored = (Instant, Vec<u8>);

impl SessionCache {
    fn new(size: usize, timeout: Duration) -> SessionCache {
        SessionCache {
            size,
            timeout,
            sessions: Mutex::new(HashMap::new()),
        }
    }
}

impl StoresServerSessions for SessionCache {
    fn put(&self, key: Vec<u8>, value: Vec<u8>) -> bool {
        let mut sessions = self.sessions.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        if self.size != 0 && sessions.len() >= self.size {
            // OpenSSL flushes expired sessions first, then the oldest.
            sessions.retain(|_, (at, _)| now.duration_since(*at) < self.timeout);
            if sessions.len() >= self.size {
                let oldest = sessions
                    .iter()
                    .min_by_key(|(_, (at, _))| *at)
                    .map(|(k, _)| k.clone());
                if let Some(oldest) = oldest {
                    sessions.remove(&oldest);
                }
            }
        }
        sessions.insert(key, (now, value));
        true
    }

    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        let sessions = self.sessions.lock().unwrap_or_else(PoisonError::into_inner);
        let (at, value) = sessions.get(key)?;
        (at.elapsed() < self.timeout).then(|| value.clone())
    }

    fn take(&self, key: &[u8]) -> Option<Vec<u8>> {
        let mut sessions = self.sessions.lock().unwrap_or_else(PoisonError::into_inner);
        let (at, value) = sessions.remove(key)?;
        (at.elapsed() < self.timeout).then_some(value)
    }

    fn can_cache(&self) -> bool {
        true
    }
}
