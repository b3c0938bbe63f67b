//! One request from the server: routed, judged, and either refused with a
//! JSON answer or forwarded as the guard's own request. Answers stream
//! back as the engine sends them; an attach becomes a raw stream spliced
//! between the two upgraded connections.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty, Full, Limited};
use hyper::body::{Body as _, Incoming};
use hyper::header::{CONNECTION, CONTENT_LENGTH, CONTENT_TYPE, HeaderMap, UPGRADE};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;

use crate::owned::{Owned, inspected_is_ours};
use crate::policy::Policy;
use crate::query::{Params, forwarded};
use crate::refusal::{Refusal, Rule};
use crate::route::{Call, Target, route};
use crate::upstream::Upstream;

/// The largest create body read, in bytes (snipbox's are about 2 KB).
pub const MAX_BODY: usize = 256 * 1024;
/// How much of a refused oversized body is read and dropped, so that the
/// client sees the refusal rather than a reset connection.
const DRAIN: usize = 16 * 1024 * 1024;
/// The largest answer the guard reads whole (create's and inspect's).
const MAX_ANSWER: usize = 4 * 1024 * 1024;

pub type Body = BoxBody<Bytes, hyper::Error>;

/// What every request shares: the policy, the containers known to be
/// this deployment's, and the engine.
#[derive(Debug)]
pub struct Guard {
    pub policy: Policy,
    pub owned: Owned,
    pub engine: Upstream,
}

/// Answers one request: forwarded, or refused with a JSON message.
pub async fn handle(
    guard: Arc<Guard>,
    req: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    let call = format!("{} {}", req.method(), req.uri().path());
    match dispatch(&guard, req).await {
        Ok(resp) => {
            tracing::debug!(call, status = resp.status().as_u16(), "forwarded");
            Ok(resp)
        }
        Err(refusal) => {
            if refusal.rule == Rule::Engine {
                tracing::warn!(call, "{refusal}");
            } else {
                tracing::warn!(
                    call,
                    rule = refusal.rule.name(),
                    "refused: {}",
                    refusal.message
                );
            }
            let mut resp = Response::new(full(refusal.body(&call)));
            *resp.status_mut() = refusal.status();
            resp.headers_mut().insert(
                CONTENT_TYPE,
                "application/json".parse().expect("a header value"),
            );
            Ok(resp)
        }
    }
}

async fn dispatch(g: &Guard, req: Request<Incoming>) -> Result<Response<Body>, Refusal> {
    let target = route(req.method(), req.uri().path())?;
    let mut params = Params::parse(req.uri().query())?;
    let name = (target.call == Call::Create)
        .then(|| params.take("name"))
        .flatten();
    let query = forwarded(&target.call, params, g.policy.instance())?;
    if target.call != Call::Create {
        no_body(&req)?;
    }
    if let Call::InspectImage(image) = &target.call {
        g.policy.check_image(image)?;
    }
    if let Some(id) = target.call.container() {
        check_owned(g, id).await?;
    }
    match &target.call {
        Call::Create => create(g, req, &target, name, &query).await,
        Call::Attach(_) => attach(g, req, &target, &query).await,
        call => {
            let up = g
                .engine
                .request(req.method().clone(), &target.path(), &query, Bytes::new());
            let resp = g.engine.send(up).await?;
            if let Call::Delete(id) = call
                && (resp.status().is_success() || resp.status() == StatusCode::NOT_FOUND)
            {
                g.owned.forget(id);
            }
            Ok(passthrough(resp))
        }
    }
}

/// Refuses a body on a call that takes none.
fn no_body(req: &Request<Incoming>) -> Result<(), Refusal> {
    match req.body().size_hint().exact() {
        Some(0) => Ok(()),
        _ => Err(Refusal::new(Rule::NoBody, "this call takes no body")),
    }
}

/// Whether container `id` is this deployment's: remembered from its
/// creation, or labelled so according to the engine.
async fn check_owned(g: &Guard, id: &str) -> Result<(), Refusal> {
    if g.owned.knows(id) {
        return Ok(());
    }
    let up = g.engine.request(
        Method::GET,
        &format!("/containers/{id}/json"),
        "",
        Bytes::new(),
    );
    let resp = g.engine.send(up).await?;
    let status = resp.status();
    let inspect = read_json(resp.into_body()).await?;
    if status == StatusCode::NOT_FOUND {
        return Err(Refusal::new(
            Rule::NoSuchContainer,
            format!("no such container: {id}"),
        ));
    }
    if !status.is_success() {
        return Err(Refusal::new(
            Rule::Engine,
            format!("inspecting container {id} answered {status}"),
        ));
    }
    if inspected_is_ours(&inspect, id, g.policy.instance()) {
        g.owned.remember(id);
        return Ok(());
    }
    Err(Refusal::new(
        Rule::OwnContainers,
        format!(
            "container {id} is not one of this deployment's (labels snipbox=1 and snipbox.instance={})",
            g.policy.instance()
        ),
    ))
}

/// A create call: the body judged, the spec's own body forwarded, the new
/// container remembered.
async fn create(
    g: &Guard,
    req: Request<Incoming>,
    target: &Target,
    name: Option<String>,
    query: &str,
) -> Result<Response<Body>, Refusal> {
    let body = read_body(req).await?;
    let approved = g.policy.judge_create(name.as_deref(), &body)?;
    let mut query = query.to_string();
    form_urlencoded::Serializer::for_suffix(&mut query, 0).append_pair("name", &approved.name);
    let up = g
        .engine
        .request(Method::POST, &target.path(), &query, approved.body.into());
    let (parts, body) = g.engine.send(up).await?.into_parts();
    let bytes = read_whole(body).await?;
    if parts.status == StatusCode::CREATED
        && let Ok(created) = serde_json::from_slice::<serde_json::Value>(&bytes)
        && let Some(id) = created["Id"].as_str()
    {
        g.owned.remember(id);
        tracing::info!(sandbox = approved.sandbox, container = id, "created");
    }
    let mut resp = Response::from_parts(parts, full(bytes));
    strip_hop_by_hop(resp.headers_mut());
    Ok(resp)
}

/// Reads a create body of at most [`MAX_BODY`] bytes.
async fn read_body(req: Request<Incoming>) -> Result<Bytes, Refusal> {
    let too_large = || {
        Refusal::new(
            Rule::BodySize,
            format!("the body is larger than {MAX_BODY} bytes"),
        )
    };
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse().ok());
    let body = req.into_body();
    if declared.is_some_and(|n: usize| n > MAX_BODY) {
        drain(body).await;
        return Err(too_large());
    }
    match Limited::new(body, MAX_BODY).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(too_large()),
        Err(e) => Err(Refusal::new(
            Rule::CreateBody,
            format!("the body could not be read: {e}"),
        )),
    }
}

/// Reads and drops up to [`DRAIN`] bytes of a refused body.
async fn drain(mut body: Incoming) {
    let mut seen = 0;
    while seen < DRAIN {
        match body.frame().await {
            Some(Ok(frame)) => seen += frame.data_ref().map_or(0, |d| d.len()),
            _ => return,
        }
    }
}

async fn read_whole(body: Incoming) -> Result<Bytes, Refusal> {
    Limited::new(body, MAX_ANSWER)
        .collect()
        .await
        .map(|c| c.to_bytes())
        .map_err(|e| {
            Refusal::new(
                Rule::Engine,
                format!("the engine's answer could not be read: {e}"),
            )
        })
}

async fn read_json(body: Incoming) -> Result<serde_json::Value, Refusal> {
    let bytes = read_whole(body).await?;
    Ok(serde_json::from_slice(&bytes).unwrap_or_default())
}

/// An attach: upgraded to a raw stream on both sides and spliced, bytes
/// passed on as they come.
async fn attach(
    g: &Guard,
    mut req: Request<Incoming>,
    target: &Target,
    query: &str,
) -> Result<Response<Body>, Refusal> {
    let header = |name| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    };
    let upgrade = header(UPGRADE).eq_ignore_ascii_case("tcp")
        && header(CONNECTION).to_ascii_lowercase().contains("upgrade");
    if !upgrade {
        return Err(Refusal::new(
            Rule::AttachUpgrade,
            "attach must ask to upgrade to a raw stream (Connection: Upgrade, Upgrade: tcp)",
        ));
    }
    let client = hyper::upgrade::on(&mut req);
    let mut up = g
        .engine
        .request(Method::POST, &target.path(), query, Bytes::new());
    up.headers_mut()
        .insert(CONNECTION, "Upgrade".parse().expect("a header value"));
    up.headers_mut()
        .insert(UPGRADE, "tcp".parse().expect("a header value"));
    let mut resp = g.engine.send(up).await?;
    if resp.status() != StatusCode::SWITCHING_PROTOCOLS {
        return Ok(passthrough(resp));
    }
    let engine = hyper::upgrade::on(&mut resp);
    tokio::spawn(async move {
        match tokio::try_join!(client, engine) {
            Ok((client, engine)) => {
                let (mut client, mut engine) = (TokioIo::new(client), TokioIo::new(engine));
                if let Err(e) = tokio::io::copy_bidirectional(&mut client, &mut engine).await {
                    tracing::debug!(error = %e, "attach stream ended");
                }
            }
            Err(e) => tracing::debug!(error = %e, "attach upgrade failed"),
        }
    });
    let mut answer = Response::new(empty());
    *answer.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    for name in [CONTENT_TYPE, CONNECTION, UPGRADE] {
        if let Some(v) = resp.headers().get(&name) {
            answer.headers_mut().insert(name, v.clone());
        }
    }
    Ok(answer)
}

/// The engine's answer, streamed back as it comes.
fn passthrough(resp: Response<Incoming>) -> Response<Body> {
    let mut resp = resp.map(BodyExt::boxed);
    strip_hop_by_hop(resp.headers_mut());
    resp
}

/// Headers that describe one connection, not the message: the guard's
/// own connection to the client frames its answer itself.
fn strip_hop_by_hop(headers: &mut HeaderMap) {
    for name in [
        "connection",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    ] {
        headers.remove(name);
    }
}

fn full(bytes: Bytes) -> Body {
    Full::new(bytes).map_err(|never| match never {}).boxed()
}

fn empty() -> Body {
    Empty::new().map_err(|never| match never {}).boxed()
}
