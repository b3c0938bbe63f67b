//! The self-check: what a run needs, each finding with its numbers and its
//! fix. `snipbox check` prints it, the server logs it at start-up, and
//! `/v1/health` answers 503 with the first error it finds.

use crate::engine::{Engine, EngineError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Ok,
    Warning,
    Error,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub level: Level,
    pub message: String,
}

impl Finding {
    fn new(level: Level, message: impl Into<String>) -> Self {
        Finding {
            level,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let tag = match self.level {
            Level::Ok => "ok",
            Level::Warning => "warning",
            Level::Error => "error",
        };
        write!(f, "{tag}: {}", self.message)
    }
}

/// Checks the process, the engine and every sandbox image.
pub async fn run(engine: &Engine, images: &[String]) -> Vec<Finding> {
    let mut findings = Vec::new();
    // SAFETY: getuid cannot fail.
    if unsafe { libc::getuid() } == 0 {
        findings.push(Finding::new(
            Level::Warning,
            "running as root: anyone who breaks into this server is root on this host; \
             run it as a user in the docker.sock group instead (see docs/deploy.md)",
        ));
    }
    if let Err(e) = engine.ping().await {
        findings.push(Finding::new(Level::Error, e.to_string()));
        return findings;
    }
    findings.push(Finding::new(
        Level::Ok,
        format!("the Docker engine at {} answers", engine.address()),
    ));
    for image in images {
        findings.push(match engine.has_image(image).await {
            Ok(true) => Finding::new(Level::Ok, format!("image {image}")),
            Ok(false) => Finding::new(
                Level::Error,
                format!("sandbox image {image} is missing: run `make images` on the Docker host"),
            ),
            // A socket proxy may refuse image look-ups; runs still work and
            // a missing image is then reported when a run needs it.
            Err(e @ EngineError::Refused { .. }) => {
                Finding::new(Level::Warning, format!("cannot check image {image}: {e}"))
            }
            Err(e) => Finding::new(Level::Error, e.to_string()),
        });
    }
    findings
}
