//! `snipbox images`: builds the sandbox images through the Engine API (no
//! `docker` CLI), each only when it is missing or its definition changed.
//! An image records the content hash of its definition as the label
//! `snipbox.definition` (see [`context`]): an unchanged sandbox is never
//! rebuilt, a changed one always is. A sandbox that extends another is
//! built on its parent's image, after it. Base images are looked up, pulled
//! where a registry answers, and otherwise named with the fix. Progress is
//! plain lines a person can follow in a deploy log.
//!
//! Engine API calls made: [`snipbox_spec::calls::BUILDER`].

mod context;

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::time::Instant;

use bollard::Docker;
use bollard::errors::Error as Bollard;
use bollard::models::ImageInspect;
use bollard::query_parameters::{
    BuildImageOptionsBuilder, CreateImageOptionsBuilder, RemoveImageOptionsBuilder,
};
use futures_util::StreamExt;

pub use context::{ContextError, Definition, bases};

use crate::engine::client::Call;
use crate::engine::spec::LABEL_SANDBOX;
use crate::engine::{Engine, EngineError};
use crate::sandbox::Sandbox;

/// Label with the content hash of the definition an image was built from.
pub const LABEL_DEFINITION: &str = "snipbox.definition";
/// Lines of build output kept for the message of a failed build.
const TAIL_LINES: usize = 40;

/// What to build, and with what.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The sandboxes folders, for the first line of the log.
    pub dirs: String,
    /// The sandboxes to build, each after the one it extends.
    pub sandboxes: Vec<Sandbox>,
    /// The agent binaries, one per architecture: every image gets the one
    /// built for the engine's.
    pub agents: Vec<PathBuf>,
    /// What a Dockerfile's `COPY host-ca.crt` gets (`None`: empty).
    pub host_ca: Option<PathBuf>,
    /// Network of the build steps' containers (`None`: the engine's).
    pub network: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ImagesError {
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(
        "the Docker API in front of the engine refused {call}: the image builder needs the engine \
         itself, with the right to build: run `snipbox images` with the Docker socket (the compose \
         files' `images` service mounts it), not through snipbox-guard or a socket proxy, which \
         refuse builds"
    )]
    Refused { call: String },
    #[error("{call} answered {status}: {message}")]
    Api {
        call: String,
        status: u16,
        message: String,
    },
    #[error(
        "the agent binary {path} cannot be read ({source}): build it with `cargo build --release \
         -p snipbox-agent --target x86_64-unknown-linux-musl` (make images does) and point \
         SNIPBOX_AGENT (or --agent) at it"
    )]
    NoAgent {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the engine runs on {engine}, and no agent given is built for it ({have}): build one with \
         `cargo build --release -p snipbox-agent --target {engine}-unknown-linux-musl` and add its \
         path to SNIPBOX_AGENT (or --agent), paths separated by `:`"
    )]
    AgentArch { engine: String, have: String },
    #[error(transparent)]
    Context(#[from] ContextError),
    #[error(
        "sandbox {sandbox}: its base image {image} is missing and cannot be pulled ({reason}): {fix}"
    )]
    BaseMissing {
        sandbox: String,
        image: String,
        reason: String,
        fix: String,
    },
    #[error(
        "sandbox {sandbox} failed to build: {message}\n--- the end of its build output ---\n{tail}"
    )]
    Failed {
        sandbox: String,
        message: String,
        tail: String,
    },
}

/// What became of one sandbox's image.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Built, in this many seconds.
    Built(f64),
    Unchanged,
    /// The folder has no Dockerfile.
    Skipped,
}

#[derive(Debug, Clone)]
pub struct Report {
    pub sandbox: String,
    pub image: String,
    pub outcome: Outcome,
    pub size_bytes: u64,
}

/// Builds what `plan` names that is missing or out of date, one sandbox
/// after the other, and stops at the first that fails.
pub async fn build_all(engine: &Engine, plan: &Plan) -> Result<Vec<Report>, ImagesError> {
    let mut agents = Vec::new();
    for path in &plan.agents {
        let bytes = std::fs::read(path).map_err(|source| ImagesError::NoAgent {
            path: path.clone(),
            source,
        })?;
        context::check_agent(path, &bytes)?;
        agents.push((path.clone(), bytes));
    }
    let docker = engine.docker().await?;
    let version = docker
        .version()
        .await
        .map_err(|e| ImagesError::Engine(engine.error(e, Call::Version)))?;
    let (agent_path, agent) = pick_agent(version.arch.as_deref().unwrap_or_default(), agents)?;
    let ca = match &plan.host_ca {
        Some(path) => std::fs::read(path).map_err(|source| ContextError::Read {
            path: path.clone(),
            source,
        })?,
        None => Vec::new(),
    };
    let mut builder = Builder {
        docker,
        engine,
        plan,
        agent,
        ca,
        hashes: HashMap::new(),
    };
    println!(
        "snipbox images: {} sandbox{} from {}, agent {} ({} KB), engine {}",
        plan.sandboxes.len(),
        if plan.sandboxes.len() == 1 { "" } else { "es" },
        plan.dirs,
        agent_path.display(),
        builder.agent.len() / 1000,
        engine.address()
    );
    let mut reports = Vec::new();
    for sandbox in &plan.sandboxes {
        reports.push(builder.one(sandbox).await?);
    }
    Ok(reports)
}

/// Of the agents given (each path with its bytes), the one built for an
/// engine on `engine_arch` (`GET /version`'s `Arch`, Go's name:
/// `amd64`, `arm64`).
pub(super) fn pick_agent(
    engine_arch: &str,
    agents: Vec<(PathBuf, Vec<u8>)>,
) -> Result<(PathBuf, Vec<u8>), ImagesError> {
    let engine = match engine_arch {
        "amd64" => "x86_64",
        "arm64" => "aarch64",
        other => other,
    };
    let mut have = Vec::new();
    for (path, bytes) in agents {
        match context::elf_machine(&bytes) {
            Some(machine) if machine == engine => return Ok((path, bytes)),
            machine => have.push(format!(
                "{} is built for {}",
                path.display(),
                machine.unwrap_or("another machine")
            )),
        }
    }
    Err(ImagesError::AgentArch {
        engine: engine.into(),
        have: have.join("; "),
    })
}

/// The summary: one row per sandbox with its size and build time.
pub fn table(reports: &[Report], seconds: f64) -> String {
    let mut out = format!(
        "{:<12} {:<10} {:>8} {:>8}\n",
        "sandbox", "result", "size MB", "build s"
    );
    for r in reports {
        let (result, secs) = match r.outcome {
            Outcome::Built(s) => ("built", format!("{s:.1}")),
            Outcome::Unchanged => ("unchanged", "-".into()),
            Outcome::Skipped => ("skipped", "-".into()),
        };
        let size = r.size_bytes / 1_000_000;
        out += &format!("{:<12} {result:<10} {size:>8} {secs:>8}\n", r.sandbox);
    }
    let built = reports
        .iter()
        .filter(|r| matches!(r.outcome, Outcome::Built(_)))
        .count();
    out += &format!(
        "{built} built, {} up to date, in {seconds:.1} s",
        reports.len() - built
    );
    out
}

struct Builder<'a> {
    docker: Docker,
    engine: &'a Engine,
    plan: &'a Plan,
    agent: Vec<u8>,
    ca: Vec<u8>,
    /// The definition hash of each sandbox seen so far, by name.
    hashes: HashMap<String, String>,
}

impl Builder<'_> {
    async fn one(&mut self, sandbox: &Sandbox) -> Result<Report, ImagesError> {
        let (name, image) = (sandbox.name.as_str(), sandbox.image());
        let image = image.as_str();
        let report = |outcome, size_bytes| Report {
            sandbox: name.into(),
            image: image.into(),
            outcome,
            size_bytes,
        };
        let Some(definition) = self.definition(sandbox)? else {
            println!(
                "{name}: no Dockerfile in {}: skipped",
                sandbox.dir.display()
            );
            return Ok(report(Outcome::Skipped, 0));
        };
        self.hashes.insert(name.into(), definition.hash.clone());
        let current = self.inspect(image).await?;
        let reason = match &current {
            Some(found) if label(found, LABEL_DEFINITION) == Some(&definition.hash) => {
                let size = size(found);
                println!("{name}: unchanged ({image}, {} MB)", size / 1_000_000);
                return Ok(report(Outcome::Unchanged, size));
            }
            Some(_) => "its definition changed",
            None => "it is missing",
        };
        println!(
            "{name}: building {image} ({reason}; definition {})",
            &definition.hash[..19]
        );
        let started = Instant::now();
        for base in &definition.bases {
            self.ensure_base(name, base).await?;
        }
        self.build(name, image, &definition).await?;
        let built = self.inspect(image).await?;
        let size = built.as_ref().map_or(0, size);
        if let Some(old) = current.filter(|old| old.id != built.as_ref().and_then(|b| b.id.clone()))
        {
            self.remove_replaced(name, &old).await;
        }
        let secs = started.elapsed().as_secs_f64();
        println!("{name}: built in {secs:.1} s, {} MB", size / 1_000_000);
        Ok(report(Outcome::Built(secs), size))
    }

    /// What the sandbox's image is made of: its folder's Dockerfile, or
    /// the image of the sandbox it extends (built earlier in the plan) and
    /// its packages; `None` when it has neither.
    fn definition(&self, sandbox: &Sandbox) -> Result<Option<Definition>, ImagesError> {
        if sandbox.dir.join("Dockerfile").is_file() {
            return Ok(Some(Definition::read(&sandbox.dir, &self.agent)?));
        }
        let Some(parent) = sandbox.extends.as_deref() else {
            return Ok(None);
        };
        let of_parent = self.plan.sandboxes.iter().find(|s| s.name == parent);
        match (of_parent, self.hashes.get(parent)) {
            (Some(p), Some(hash)) => Ok(Some(Definition::extending(
                &sandbox.dir,
                (&p.image(), hash),
                &sandbox.packages,
                &self.agent,
            )?)),
            // The plan puts a parent first; one without an image of its
            // own (no Dockerfile) leaves nothing to build on.
            _ => Err(ImagesError::Failed {
                sandbox: sandbox.name.clone(),
                message: format!("the sandbox it extends, {parent}, has no image to build on"),
                tail: String::new(),
            }),
        }
    }

    /// The image, or `None` when the engine has none of that name.
    async fn inspect(&self, image: &str) -> Result<Option<ImageInspect>, ImagesError> {
        match self.docker.inspect_image(image).await {
            Ok(found) => Ok(Some(found)),
            Err(Bollard::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(None),
            Err(e) => Err(self.api_error(e, format!("GET /images/{image}/json"))),
        }
    }

    /// A base image is there, or pulled, or the error says how to get it.
    async fn ensure_base(&self, sandbox: &str, base: &str) -> Result<(), ImagesError> {
        if self.inspect(base).await?.is_some() {
            return Ok(());
        }
        println!("{sandbox}: base image {base} is missing: pulling it");
        let options = CreateImageOptionsBuilder::new().from_image(base).build();
        let mut pull = self.docker.create_image(Some(options), None, None);
        while let Some(item) = pull.next().await {
            match item {
                Ok(_) => {}
                Err(
                    e @ Bollard::DockerResponseServerError {
                        status_code: 403, ..
                    },
                ) => {
                    return Err(self.api_error(e, format!("POST /images/create ({base})")));
                }
                Err(e) => {
                    return Err(ImagesError::BaseMissing {
                        sandbox: sandbox.into(),
                        image: base.into(),
                        reason: reason(&e),
                        fix: base_fix(base),
                    });
                }
            }
        }
        println!("{sandbox}: pulled {base}");
        Ok(())
    }

    async fn build(&self, name: &str, image: &str, def: &Definition) -> Result<(), ImagesError> {
        let context = def.context(&self.ca).map_err(|source| ContextError::Read {
            path: name.into(),
            source,
        })?;
        let labels = HashMap::from([(LABEL_SANDBOX, name), (LABEL_DEFINITION, def.hash.as_str())]);
        let mut options = BuildImageOptionsBuilder::new()
            .dockerfile(context::RECIPE)
            .t(image)
            .rm(true)
            .forcerm(true)
            .labels(&labels);
        if let Some(network) = &self.plan.network {
            options = options.networkmode(network);
        }
        let body = bollard::body_full(context.into());
        let mut stream = self.docker.build_image(options.build(), None, Some(body));
        let mut output = Output::default();
        while let Some(item) = stream.next().await {
            let failure = match item {
                Ok(info) => {
                    output.add(name, info.stream.as_deref().unwrap_or_default());
                    continue;
                }
                Err(
                    e @ Bollard::DockerResponseServerError {
                        status_code: 403, ..
                    },
                ) => {
                    return Err(self.api_error(e, format!("POST /build ({image})")));
                }
                Err(Bollard::DockerStreamError { error }) => error,
                Err(Bollard::DockerResponseServerError { message, .. }) => message,
                Err(e) => return Err(self.api_error(e, format!("POST /build ({image})"))),
            };
            return Err(ImagesError::Failed {
                sandbox: name.into(),
                message: failure.trim().into(),
                tail: output.tail(),
            });
        }
        Ok(())
    }

    /// Removes the image a build replaced, when snipbox made it and nothing
    /// uses it any more (a server of the previous deploy may still run
    /// containers of it: then it stays, for the engine's own pruning).
    async fn remove_replaced(&self, name: &str, old: &ImageInspect) {
        let Some(id) = old
            .id
            .as_deref()
            .filter(|_| label(old, LABEL_SANDBOX).is_some())
        else {
            return;
        };
        let options = RemoveImageOptionsBuilder::new().build();
        match self.docker.remove_image(id, Some(options), None).await {
            Ok(_) => println!("{name}: removed the image it replaces"),
            Err(e) => println!("{name}: kept the image it replaces ({})", reason(&e)),
        }
    }

    /// A failed call in words: a refusal names the call and the fix.
    fn api_error(&self, e: Bollard, call: String) -> ImagesError {
        match e {
            Bollard::DockerResponseServerError {
                status_code: 403,
                message,
            } => ImagesError::Refused {
                call: format!("{call} ({})", message.trim()),
            },
            Bollard::DockerResponseServerError {
                status_code,
                message,
            } => ImagesError::Api {
                call,
                status: status_code,
                message,
            },
            // Unreachable, or a socket this process may not use.
            other => ImagesError::Engine(self.engine.error(other, Call::Version)),
        }
    }
}

/// A build's output: step lines printed as they come, the rest kept for
/// the message of a failed build.
#[derive(Debug, Default)]
struct Output {
    partial: String,
    lines: VecDeque<String>,
}

impl Output {
    fn add(&mut self, sandbox: &str, text: &str) {
        self.partial.push_str(text);
        while let Some(end) = self.partial.find('\n') {
            let line: String = self.partial.drain(..=end).collect();
            let line = strip_colors(line.trim_end());
            if line.starts_with("Step ") {
                println!("  {sandbox} | {}", clip(&line, 110));
            }
            if self.lines.len() == TAIL_LINES {
                self.lines.pop_front();
            }
            self.lines.push_back(line);
        }
    }

    fn tail(mut self) -> String {
        if !self.partial.trim().is_empty() {
            self.lines.push_back(strip_colors(&self.partial));
        }
        Vec::from(self.lines).join("\n")
    }
}

/// The text without terminal color codes (the engine colors a step's
/// stderr).
fn strip_colors(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // CSI: ESC [ parameters, ending with a letter.
            if chars.next() == Some('[') {
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn clip(line: &str, max: usize) -> String {
    match line.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &line[..at]),
        None => line.to_string(),
    }
}

fn label<'a>(image: &'a ImageInspect, key: &str) -> Option<&'a String> {
    image.config.as_ref()?.labels.as_ref()?.get(key)
}

fn size(image: &ImageInspect) -> u64 {
    image.size.unwrap_or(0).max(0) as u64
}

/// What an engine's error says, without the call around it.
fn reason(e: &Bollard) -> String {
    match e {
        Bollard::DockerResponseServerError { message, .. } => message.trim().to_string(),
        Bollard::DockerStreamError { error } => error.trim().to_string(),
        other => other.to_string(),
    }
}

/// How to get a base image onto an engine that cannot pull it.
fn base_fix(image: &str) -> String {
    if image.starts_with("debian:") {
        format!(
            "bootstrap it on the Docker host with `scripts/base-image.sh {image}` (debootstrap and \
             docker import; `make images` does this), or let the engine reach a registry"
        )
    } else {
        format!(
            "load it into the engine (`docker pull {image}` where a registry answers, then \
             `docker save` and `docker load`), or let the engine reach a registry"
        )
    }
}

#[cfg(test)]
mod tests;
