//! The byte streams a client connection runs on: plain TCP, a unix socket,
//! or TLS over TCP (a `rustls` session driven by the same readiness calls).
//!
//! An enum, not a trait object or a generic: the connection code is one
//! copy (a generic would compile the whole request loop three times), and
//! plain TCP, the hot path, costs one predictable branch per read or write
//! instead of a boxed future or a virtual call.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::BytesMut;
use rustls::Connection;
use tokio::io::{AsyncWriteExt, Interest};
use tokio::net::{TcpStream, UnixStream};

/// Who is at the other end (or this end) of a connection, as CLIENT LIST,
/// MONITOR and the slow log print it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PeerAddr {
    Ip(SocketAddr),
    /// A unix socket's path: Redis prints it as `path:0`.
    Unix(Arc<str>),
}

impl PeerAddr {
    /// Redis's `islocalClient`: a unix socket, or a TCP peer whose address
    /// is exactly `127.0.0.1` or `::1` (see [`crate::client::is_local_peer`]).
    pub fn is_local(&self) -> bool {
        match self {
            PeerAddr::Ip(addr) => crate::client::is_local_peer(*addr),
            PeerAddr::Unix(_) => true,
        }
    }

    /// The IP address and port, for what only TCP has (a replica's address
    /// in INFO); a unix peer reads as the loopback address, port 0.
    pub fn ip_or_loopback(&self) -> SocketAddr {
        match self {
            PeerAddr::Ip(addr) => *addr,
            PeerAddr::Unix(_) => SocketAddr::from(([127, 0, 0, 1], 0)),
        }
    }
}

impl std::fmt::Display for PeerAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PeerAddr::Ip(addr) => addr.fmt(f),
            PeerAddr::Unix(path) => write!(f, "{path}:0"),
        }
    }
}

/// A connection's stream.
pub enum Transport {
    Tcp(TcpStream),
    Unix(UnixStream),
    /// Boxed: the session's buffers would otherwise make every connection's
    /// future bigger.
    Tls(Box<Tls>),
}

/// A TLS session over TCP, read and written without blocking: the socket's
/// readiness says when to move records, the session turns them into
/// plaintext and back.
pub struct Tls {
    socket: TcpStream,
    session: Connection,
    /// Decrypted bytes waiting in the session (they need no socket read).
    plaintext: usize,
    /// The peer closed (close_notify or end of stream): reads return 0.
    closed: bool,
}

/// The socket as `std::io` reader and writer for the session, without
/// blocking: `WouldBlock` also clears tokio's readiness, so the next
/// `readable()`/`writable()` really waits.
struct NonBlocking<'a>(&'a TcpStream);

impl Read for NonBlocking<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.try_read(buf)
    }
}

impl Write for NonBlocking<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.try_write(buf)
    }

    /// The session hands over all its pending records at once: one
    /// syscall for a batch of replies, not one per record.
    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        self.0.try_write_vectored(bufs)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn would_block() -> io::Error {
    io::ErrorKind::WouldBlock.into()
}

/// Reads into `buf`'s spare room without waiting, through the socket's
/// `try_io` (which runs the read only while tokio has seen the socket
/// readable, and forgets that readiness when the read says `WouldBlock`).
///
/// A read that leaves room unfilled drained the socket: tokio's readiness
/// is then forgotten at once, as tokio's own `poll_read` does, so the
/// connection's next read waits for the socket instead of asking the
/// kernel for bytes that are not there. A client that sends one request
/// and waits for its reply costs one `recvfrom` a request, as Redis's one
/// `read` per readable event, not a second one that finds nothing (half of
/// our reads, before). Nothing is lost: epoll is edge-triggered, so bytes
/// arriving after the read raise a new event, and the readiness forgotten
/// is only the one seen before this read (tokio's tick), never a newer one.
fn read_draining<S: std::os::fd::AsFd>(
    buf: &mut BytesMut,
    try_io: impl FnOnce(&mut dyn FnMut() -> io::Result<()>) -> io::Result<()>,
    socket: &S,
) -> io::Result<usize> {
    if buf.capacity() == buf.len() {
        // Room to read into, as tokio's `try_read_buf` makes (an empty one
        // would read as the end of the stream).
        buf.reserve(64);
    }
    let room = buf.capacity() - buf.len();
    let mut read = 0;
    let result = try_io(&mut || {
        let spare = buf.spare_capacity_mut();
        read = socket2::SockRef::from(socket).recv(spare)?;
        // SAFETY: `recv` initialised the first `read` bytes of the spare room.
        unsafe { buf.set_len(buf.len() + read) };
        if 0 < read && read < room {
            // Reported as `WouldBlock` so that `try_io` forgets the readiness.
            return Err(would_block());
        }
        Ok(())
    });
    match result {
        Err(e) if read == 0 => Err(e),
        _ => Ok(read),
    }
}

impl Tls {
    /// Runs the handshake of `session` on `socket` (either side), returning
    /// the stream once application data can flow.
    pub async fn handshake(socket: TcpStream, session: Connection) -> io::Result<Transport> {
        let mut tls = Tls {
            socket,
            session,
            plaintext: 0,
            closed: false,
        };
        while tls.session.is_handshaking() {
            if tls.session.wants_write() {
                match tls.send_records() {
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        tls.socket.writable().await?
                    }
                    other => other?,
                }
                continue;
            }
            match tls.receive_records() {
                Ok(0) => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "connection closed during the TLS handshake",
                    ))
                }
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => tls.socket.readable().await?,
                Err(e) => {
                    // The alert saying why, if the socket takes it.
                    let _ = tls.send_records();
                    return Err(e);
                }
            }
        }
        // The handshake's last flight (a client's Finished) goes out now.
        while tls.session.wants_write() {
            match tls.send_records() {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => tls.socket.writable().await?,
                other => other?,
            }
        }
        Ok(Transport::Tls(Box::new(tls)))
    }

    /// The peer's certificate chain (the client's, on the server side).
    pub fn peer_certificates(&self) -> Option<&[rustls::pki_types::CertificateDer<'static>]> {
        self.session.peer_certificates()
    }

    /// Reads records from the socket into the session and processes them.
    /// The socket's byte count (0: end of stream).
    fn receive_records(&mut self) -> io::Result<usize> {
        let n = self.session.read_tls(&mut NonBlocking(&self.socket))?;
        let state = self
            .session
            .process_new_packets()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        self.plaintext = state.plaintext_bytes_to_read();
        self.closed |= n == 0 || state.peer_has_closed();
        Ok(n)
    }

    /// Writes the session's pending records; `WouldBlock` if some remain.
    fn send_records(&mut self) -> io::Result<()> {
        while self.session.wants_write() {
            self.session.write_tls(&mut NonBlocking(&self.socket))?;
        }
        Ok(())
    }

    fn try_read_buf(&mut self, buf: &mut BytesMut) -> io::Result<usize> {
        loop {
            if self.plaintext > 0 {
                let room = (buf.capacity() - buf.len()).min(self.plaintext).max(1);
                let start = buf.len();
                buf.resize(start + room, 0);
                let read = self.session.reader().read(&mut buf[start..]);
                let n = *read.as_ref().unwrap_or(&0);
                buf.truncate(start + n);
                self.plaintext -= n.min(self.plaintext);
                return read;
            }
            if self.closed {
                return Ok(0);
            }
            let received = self.receive_records();
            // Whatever the session has to say back (a key update, an alert).
            match self.send_records() {
                Err(e) if e.kind() != io::ErrorKind::WouldBlock => return Err(e),
                _ => {}
            }
            received?;
        }
    }

    fn try_write(&mut self, data: &[u8]) -> io::Result<usize> {
        // Earlier records first: the session buffers what the socket has
        // not taken, and new plaintext waits until it did.
        self.send_records()?;
        let n = self.session.writer().write(data)?;
        match self.send_records() {
            Err(e) if e.kind() != io::ErrorKind::WouldBlock => return Err(e),
            _ => {}
        }
        if n == 0 && !data.is_empty() {
            return Err(would_block());
        }
        Ok(n)
    }
}

impl Transport {
    /// Reads what is there without waiting (`WouldBlock`: nothing yet).
    #[inline]
    pub fn try_read_buf(&mut self, buf: &mut BytesMut) -> io::Result<usize> {
        match self {
            Transport::Tcp(socket) => {
                read_draining(buf, |f| socket.try_io(Interest::READABLE, f), socket)
            }
            Transport::Unix(socket) => {
                read_draining(buf, |f| socket.try_io(Interest::READABLE, f), socket)
            }
            Transport::Tls(tls) => tls.try_read_buf(buf),
        }
    }

    /// Writes what the stream takes now (`WouldBlock`: nothing).
    #[inline]
    pub fn try_write(&mut self, data: &[u8]) -> io::Result<usize> {
        match self {
            Transport::Tcp(socket) => socket.try_write(data),
            Transport::Unix(socket) => socket.try_write(data),
            Transport::Tls(tls) => tls.try_write(data),
        }
    }

    /// Waits until a read may return something.
    pub async fn readable(&self) -> io::Result<()> {
        match self {
            Transport::Tcp(socket) => socket.readable().await,
            Transport::Unix(socket) => socket.readable().await,
            Transport::Tls(tls) if tls.plaintext > 0 || tls.closed => Ok(()),
            Transport::Tls(tls) => tls.socket.readable().await,
        }
    }

    /// [`Transport::readable`] as a poll, for a task that waits on the
    /// socket beside something else without holding a future's waiter state
    /// (a parked connection, `connection::wait_parked`). Only one task may
    /// wait this way on a socket at a time: it takes the socket's single
    /// reader waker.
    pub fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self {
            Transport::Tcp(socket) => socket.poll_read_ready(cx),
            Transport::Unix(socket) => socket.poll_read_ready(cx),
            Transport::Tls(tls) if tls.plaintext > 0 || tls.closed => Poll::Ready(Ok(())),
            Transport::Tls(tls) => tls.socket.poll_read_ready(cx),
        }
    }

    /// Waits until a write may take something.
    pub async fn writable(&self) -> io::Result<()> {
        match self {
            Transport::Tcp(socket) => socket.writable().await,
            Transport::Unix(socket) => socket.writable().await,
            Transport::Tls(tls) => tls.socket.writable().await,
        }
    }

    /// Bytes accepted by a write but not yet on the socket (TLS records the
    /// socket did not take): the connection still waits to write them.
    #[inline]
    pub fn unsent(&self) -> bool {
        match self {
            Transport::Tls(tls) => tls.session.wants_write(),
            _ => false,
        }
    }

    /// Reads at least one byte, waiting for it (0: end of stream).
    pub async fn read_buf(&mut self, buf: &mut BytesMut) -> io::Result<usize> {
        loop {
            match self.try_read_buf(buf) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.readable().await?,
                other => return other,
            }
        }
    }

    /// Writes all of `data` (and any records still unsent), waiting as needed.
    pub async fn write_all(&mut self, mut data: &[u8]) -> io::Result<()> {
        match self {
            Transport::Tcp(socket) => return socket.write_all(data).await,
            Transport::Unix(socket) => return socket.write_all(data).await,
            Transport::Tls(_) => {}
        }
        while !data.is_empty() {
            match self.try_write(data) {
                Ok(n) => data = &data[n..],
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.writable().await?,
                Err(e) => return Err(e),
            }
        }
        if let Transport::Tls(tls) = self {
            while tls.session.wants_write() {
                match tls.send_records() {
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        tls.socket.writable().await?
                    }
                    other => other?,
                }
            }
        }
        Ok(())
    }

    /// The peer's and this end's addresses.
    pub fn addrs(&self) -> io::Result<(PeerAddr, PeerAddr)> {
        let tcp = |socket: &TcpStream| -> io::Result<(PeerAddr, PeerAddr)> {
            Ok((
                PeerAddr::Ip(socket.peer_addr()?),
                PeerAddr::Ip(socket.local_addr()?),
            ))
        };
        match self {
            Transport::Tcp(socket) => tcp(socket),
            Transport::Tls(tls) => tcp(&tls.socket),
            Transport::Unix(socket) => {
                let path = socket.local_addr()?;
                let path: Arc<str> = path
                    .as_pathname()
                    .map_or_else(String::new, |p| p.display().to_string())
                    .into();
                Ok((PeerAddr::Unix(path.clone()), PeerAddr::Unix(path)))
            }
        }
    }

    /// A second handle on the socket, which can shut it down (FIN to the
    /// peer at once) while this one waits in a loop that cannot run, as
    /// Redis closes a killed client's socket before it replies.
    pub fn closer(&self) -> Option<socket2::Socket> {
        let socket = match self {
            Transport::Tcp(socket) => socket2::SockRef::from(socket),
            Transport::Unix(socket) => socket2::SockRef::from(socket),
            Transport::Tls(tls) => socket2::SockRef::from(&tls.socket),
        };
        socket.try_clone().ok()
    }

    /// The socket's descriptor, for CLIENT LIST's `fd=`.
    pub fn fd(&self) -> i64 {
        use std::os::fd::AsRawFd;
        i64::from(match self {
            Transport::Tcp(socket) => socket.as_raw_fd(),
            Transport::Unix(socket) => socket.as_raw_fd(),
            Transport::Tls(tls) => tls.socket.as_raw_fd(),
        })
    }
}
