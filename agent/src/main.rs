//! `snipbox-agent`: PID 1 of every sandbox container.
//!
//! It runs the sandbox's `prepare` programs and starts its prestarted first
//! step (see `snipbox_wire::agent::Boot`, its one argument), announces
//! itself, reads one job from stdin (see `snipbox_wire::agent`), writes the
//! files, runs the steps with the job's deadline and output limit, streams
//! their output back as frames, returns the files the job asked for and
//! exits. Because a started container only waits for its job, the server
//! can start containers ahead of demand and run a snippet without any
//! Engine API call on the request path.

mod boot;
mod cgroup;
mod job;
mod outputs;
mod procs;
mod spawn;
mod step;
mod users;
mod wait;

use std::io::{self, Write};
use std::process::ExitCode;

use snipbox_wire::agent::{Exit, Frame, Ready};

use crate::boot::Agent;

fn main() -> ExitCode {
    procs::protect_self();
    let home = std::env::var("HOME").unwrap_or_else(|_| "/".into());
    if let Err(e) = users::write(&home) {
        // Only lookups by name suffer; the run itself can go on.
        eprintln!("snipbox-agent: cannot write the container's user database: {e}");
    }
    let mut out = io::stdout().lock();
    let arg = std::env::args().nth(1);
    let mut agent = match Agent::start(arg.as_deref()) {
        Ok(agent) => agent,
        Err(error) => {
            let exit = Exit {
                error: Some(bounded(error)),
                ..Exit::default()
            };
            return answer(&mut out, Frame::Exit(exit));
        }
    };
    let ready = Ready {
        memory_bytes: cgroup::idle_memory(),
    };
    if answer(&mut out, Frame::Ready(ready)) != ExitCode::SUCCESS {
        agent.killer.kill_everything();
        return ExitCode::FAILURE;
    }
    let mut input = wait::Input::stdin();
    let exit = match input.next_job(agent.idle_limit) {
        Ok(Some(job)) => {
            if answer(&mut out, Frame::Started) != ExitCode::SUCCESS {
                agent.killer.kill_everything();
                return ExitCode::FAILURE;
            }
            job::run(&job, input, &mut out, &mut agent)
        }
        // The server went away, or has not been heard from for too long,
        // before sending a job: nothing to do.
        Ok(None) => {
            agent.killer.kill_everything();
            return ExitCode::SUCCESS;
        }
        Err(e) => Exit {
            error: Some(format!("cannot read the job: {e}")),
            ..Exit::default()
        },
    };
    let exit = Exit {
        error: exit.error.map(bounded),
        ..exit
    };
    let code = answer(&mut out, Frame::Exit(exit));
    // In a container everything ends with the agent anyway; elsewhere the
    // daemons `prepare` started must not outlive it either.
    agent.killer.kill_everything();
    code
}

/// The longest error an exit frame carries: what is quoted from a program
/// or its argv must not push the frame past `MAX_FRAME`.
const MAX_ERROR: usize = 8 * 1024;

/// Shortens an error to [`MAX_ERROR`] bytes, keeping its start (what failed)
/// and its end (the last output).
fn bounded(error: String) -> String {
    if error.len() <= MAX_ERROR {
        return error;
    }
    let head = error.floor_char_boundary(MAX_ERROR / 4);
    let tail = error.ceil_char_boundary(error.len() - MAX_ERROR / 2);
    format!("{} […] {}", &error[..head], &error[tail..])
}

fn answer(out: &mut impl Write, frame: Frame) -> ExitCode {
    match frame.write_to(out).and_then(|()| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(_) => ExitCode::FAILURE,
    }
}
