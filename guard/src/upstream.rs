//! The connection to the Docker engine. Each forwarded call gets a
//! connection of its own (a Unix socket connects in microseconds), so an
//! attach that becomes a raw stream never shares one with anything else.

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HOST};
use hyper::{Method, Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpStream, UnixStream};
use tokio_util::either::Either;

use crate::config::EngineAddr;
use crate::refusal::{Refusal, Rule};

/// The Docker engine the guard forwards to.
#[derive(Debug)]
pub struct Upstream {
    addr: EngineAddr,
}

impl Upstream {
    pub fn new(addr: EngineAddr) -> Self {
        Upstream { addr }
    }

    pub fn addr(&self) -> &EngineAddr {
        &self.addr
    }

    /// A request for the engine: the guard's own method, path, query and
    /// body, and no header of the client's.
    pub fn request(
        &self,
        method: Method,
        path: &str,
        query: &str,
        body: Bytes,
    ) -> Request<Full<Bytes>> {
        let uri = if query.is_empty() {
            path.to_string()
        } else {
            format!("{path}?{query}")
        };
        let host = match &self.addr {
            EngineAddr::Unix(_) => "docker",
            EngineAddr::Tcp(addr) => addr.as_str(),
        };
        let mut builder = Request::builder()
            .method(method)
            .uri(uri)
            .header(HOST, host);
        if !body.is_empty() {
            builder = builder.header(CONTENT_TYPE, "application/json");
        }
        builder
            .body(Full::new(body))
            .expect("a path the guard built")
    }

    /// Sends `req` on a new connection; the connection lives on as a raw
    /// stream if the engine upgrades it.
    pub async fn send(&self, req: Request<Full<Bytes>>) -> Result<Response<Incoming>, Refusal> {
        let unreachable = |e: &dyn std::fmt::Display| {
            Refusal::new(
                Rule::Engine,
                format!("the Docker engine at {} does not answer: {e}", self.addr),
            )
        };
        let io = match &self.addr {
            EngineAddr::Unix(path) => UnixStream::connect(path).await.map(Either::Left),
            EngineAddr::Tcp(addr) => TcpStream::connect(addr).await.map(|s| {
                // Attach streams carry small frames both ways.
                let _ = s.set_nodelay(true);
                Either::Right(s)
            }),
        }
        .map_err(|e| unreachable(&e))?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
            .await
            .map_err(|e| unreachable(&e))?;
        tokio::spawn(async move {
            if let Err(e) = conn.with_upgrades().await {
                tracing::debug!(error = %e, "engine connection ended");
            }
        });
        sender.send_request(req).await.map_err(|e| unreachable(&e))
    }
}
