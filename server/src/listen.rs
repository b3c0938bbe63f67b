//! Accepting connections: at most `max_connections` at once (the rest
//! wait in the kernel's backlog) and at most `per_client` from one address
//! (proxies one trusts aside), each with bounded buffers, a deadline for
//! every request's headers (which also ends idle keep-alive connections),
//! a deadline for an answer that makes no progress (a client that reads
//! nothing), and a graceful end that lets requests in flight finish.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::extract::Request;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use ipnet::IpNet;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt;

/// How connections are held to account.
#[derive(Debug, Clone)]
pub struct ConnLimits {
    pub max_connections: usize,
    /// For a request's headers to arrive, and for a kept-alive connection
    /// to send its next request.
    pub header_timeout: Duration,
    /// For an answer that the client does not read to make progress again.
    pub write_timeout: Duration,
    /// Connections from one address at once (0: no cap).
    pub per_client: usize,
    /// Addresses without that cap: proxies one trusts carry many clients.
    pub exempt: Arc<[IpNet]>,
}

/// A connection's read buffer grows no larger than this (headers beyond it
/// are refused).
const MAX_BUF: usize = 64 * 1024;

/// Serves `router` on `listener` until `stop` resolves, then waits for the
/// connections' requests in flight to finish.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnLimits,
    stop: impl Future<Output = ()>,
) {
    // On `stop`, each connection is told to finish its request in flight
    // and close; one upgraded to a WebSocket is its handler's from then on
    // (a run's socket ends with its run).
    let graceful = tokio_util::sync::CancellationToken::new();
    let connections = tokio_util::task::TaskTracker::new();
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let clients = Arc::new(Clients::default());
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(MAX_BUF);
    tokio::pin!(stop);
    loop {
        // Both waits end when `stop` does: a server with no traffic, or
        // with every slot taken, still stops at once.
        let slot = tokio::select! {
            () = &mut stop => break,
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
        };
        let accepted = tokio::select! {
            () = &mut stop => break,
            accepted = listener.accept() => accepted,
        };
        let (tcp, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // Out of file descriptors, say: wait a moment, go on.
                tracing::warn!(error = %e, "cannot accept a connection");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Some(client_slot) = clients.admit(peer, &limits) else {
            tracing::debug!(%peer, "closing a connection over the per-client cap");
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let tcp = Progress::new(tcp, limits.write_timeout);
        let held = Held(Arc::new((slot, client_slot)));
        let service = router
            .clone()
            .map_request(move |mut req: Request<hyper::body::Incoming>| {
                req.extensions_mut().insert(ConnectInfo::<SocketAddr>(peer));
                req.extensions_mut().insert(held.clone());
                req
            });
        let conn = http
            .serve_connection(TokioIo::new(tcp), TowerToHyperService::new(service))
            .with_upgrades();
        let stopping = graceful.clone();
        connections.spawn(async move {
            let mut conn = std::pin::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                () = stopping.cancelled() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
        });
    }
    drop(listener);
    graceful.cancel();
    connections.close();
    connections.wait().await;
}

/// A connection's place under the caps (`--max-connections`, per client),
/// given back when the last holder drops it: the connection, and a request
/// that takes it over (a WebSocket) for as long as that lives.
#[derive(Clone)]
pub struct Held(#[allow(dead_code)] Arc<dyn std::any::Any + Send + Sync>);

/// Open connections by client address.
#[derive(Default)]
struct Clients(Mutex<HashMap<IpAddr, usize>>);

/// One connection of a client; counted until dropped.
struct ClientSlot {
    clients: Arc<Clients>,
    ip: IpAddr,
}

impl Clients {
    /// A slot for a connection from `peer`, unless its address has its
    /// share of connections open already.
    fn admit(self: &Arc<Self>, peer: SocketAddr, limits: &ConnLimits) -> Option<ClientSlot> {
        let client = peer.ip().to_canonical();
        let exempt = limits.per_client == 0 || limits.exempt.iter().any(|n| n.contains(&client));
        self.take(
            client,
            if exempt {
                usize::MAX
            } else {
                limits.per_client
            },
        )
    }

    /// A slot for one more connection from `ip`, unless it has `cap`.
    fn take(self: &Arc<Self>, ip: IpAddr, cap: usize) -> Option<ClientSlot> {
        let mut open = self.0.lock().expect("not poisoned");
        let n = open.entry(ip).or_default();
        if *n >= cap {
            return None;
        }
        *n += 1;
        Some(ClientSlot {
            clients: self.clone(),
            ip,
        })
    }
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        let mut open = self.clients.0.lock().expect("not poisoned");
        if let Some(n) = open.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

/// A connection whose answers must make progress: a write (or flush) that
/// stays blocked for `timeout`, because the client reads nothing, fails,
/// which ends the connection and frees its slot. Reads pass through (the
/// header and body deadlines are hyper's and the body limit's).
struct Progress<T> {
    inner: T,
    timeout: Duration,
    stalled: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<T> Progress<T> {
    fn new(inner: T, timeout: Duration) -> Self {
        Progress {
            inner,
            timeout,
            stalled: None,
        }
    }

    /// Lets a finished write through and starts, or checks, the clock of
    /// one that waits.
    fn watch<R>(
        &mut self,
        cx: &mut Context<'_>,
        polled: Poll<io::Result<R>>,
    ) -> Poll<io::Result<R>> {
        if polled.is_ready() {
            self.stalled = None;
            return polled;
        }
        let timeout = self.timeout;
        let clock = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        match clock.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("the client read nothing of its answer for {timeout:?}"),
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Progress<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Progress<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_write(cx, buf);
        this.watch(cx, polled)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        this.watch(cx, polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_flush(cx);
        this.watch(cx, polled)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    #[tokio::test(start_paused = true)]
    async fn a_write_the_peer_never_reads_fails_after_the_timeout() {
        let (ours, _theirs) = tokio::io::duplex(1024);
        let mut conn = Progress::new(ours, Duration::from_secs(30));
        conn.write_all(&[0; 1024])
            .await
            .expect("room for the first kilobyte");
        let started = tokio::time::Instant::now();
        let err = conn.write_all(&[0; 10]).await.expect_err("a stalled write");
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert_eq!(started.elapsed(), Duration::from_secs(30));
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_reader_that_keeps_reading_keeps_its_connection() {
        use tokio::io::AsyncReadExt;
        let (ours, mut theirs) = tokio::io::duplex(64);
        let mut conn = Progress::new(ours, Duration::from_secs(2));
        let reader = tokio::spawn(async move {
            let mut buf = [0; 64];
            let mut got = 0;
            while got < 640 {
                tokio::time::sleep(Duration::from_secs(1)).await;
                got += theirs.read(&mut buf).await.unwrap();
            }
            got
        });
        // Ten seconds in all, never two without progress.
        conn.write_all(&[0; 640]).await.expect("progress all along");
        assert_eq!(reader.await.unwrap(), 640);
    }

    #[test]
    fn each_address_has_its_cap_and_gets_its_slots_back() {
        let clients = Arc::new(Clients::default());
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let first = clients.take(a, 2).unwrap();
        let _second = clients.take(a, 2).unwrap();
        assert!(clients.take(a, 2).is_none(), "a third from one address");
        assert!(clients.take(b, 2).is_some(), "another address");
        drop(first);
        assert!(clients.take(a, 2).is_some(), "a slot given back");
    }
}
