//! Output leaves the agent as the program writes it, not when it ends.

use std::time::UNIX_EPOCH;

use snipbox_wire::agent::Frame;

use crate::common::{job, run, sh, workdir};

#[test]
fn each_line_arrives_within_milliseconds_of_being_written() {
    let dir = workdir();
    // Each line is the time it was written, in nanoseconds.
    let step = sh("for i in 1 2 3 4 5 6 7 8 9 10; do date +%s%N; sleep 0.1; done");
    let out = run(None, &job(dir.path(), vec![step]), &[], b"");
    let mut delays = Vec::new();
    for (at, frame) in &out.frames {
        let Frame::Stdout(bytes) = frame else {
            continue;
        };
        let text = String::from_utf8_lossy(bytes);
        assert_eq!(text.lines().count(), 1, "one frame per line: {text:?}");
        let written: u128 = text.trim().parse().unwrap();
        let arrived = at.duration_since(UNIX_EPOCH).unwrap().as_nanos();
        delays.push((arrived.saturating_sub(written) / 1000) as u64);
    }
    assert_eq!(delays.len(), 10);
    delays.sort_unstable();
    eprintln!("frame delays in µs, sorted: {delays:?}");
    // Two shared cores, busy with other tests too: the median shows the
    // path (well under a millisecond when the machine is quiet), the tail
    // the noise.
    assert!(delays[5] < 5_000, "median {} µs", delays[5]);
    assert!(delays[8] < 20_000, "90th percentile {} µs", delays[8]);
    assert!(delays[9] < 200_000, "max {} µs", delays[9]);
}
