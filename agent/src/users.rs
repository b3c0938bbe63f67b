//! The container's user database. Every container runs as a UID of its
//! own, which no image can know, so an image's `/etc/passwd` and
//! `/etc/group` are links into a tmpfs (see `snipbox_wire::agent::USERS_DIR`)
//! and the agent writes them at start: the image's entries, with the run's
//! user, [`RUN_USER`], given the UID and GID the container runs as. Programs
//! that look themselves up (PostgreSQL's server, MariaDB's socket login,
//! `whoami`) find a name.

use std::fs;
use std::io;
use std::path::Path;

use snipbox_wire::agent::{RUN_USER, USERS_DIR, USERS_IMAGE_DIR};

/// Writes the container's `passwd` and `group` when the image links to them
/// (an image built by `snipbox images`); does nothing elsewhere.
pub(crate) fn write(home: &str) -> io::Result<()> {
    let dir = Path::new(USERS_DIR);
    if fs::read_link("/etc/passwd").ok().as_deref() != Some(&dir.join("passwd")) {
        return Ok(());
    }
    // SAFETY: getuid and getgid cannot fail.
    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
    let image = Path::new(USERS_IMAGE_DIR);
    let passwd = with_run_user(
        &fs::read_to_string(image.join("passwd"))?,
        &format!("{RUN_USER}:x:{uid}:{gid}::{home}:/bin/sh"),
        [(2, uid), (3, gid)],
    );
    let group = with_run_user(
        &fs::read_to_string(image.join("group"))?,
        &format!("{RUN_USER}:x:{gid}:"),
        [(2, gid)],
    );
    fs::create_dir_all(dir)?;
    fs::write(dir.join("passwd"), passwd)?;
    fs::write(dir.join("group"), group)
}

/// `database` without the lines of the run's user or of any entry whose
/// numeric `fields` (colon-separated, counted from 0) hold the run's IDs,
/// and with `entry` added: one entry for the name and the number.
fn with_run_user<const N: usize>(database: &str, entry: &str, ids: [(usize, u32); N]) -> String {
    let mut out: String = database
        .lines()
        .filter(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            let taken = ids
                .iter()
                .any(|(i, id)| fields.get(*i) == Some(&id.to_string().as_str()));
            fields[0] != RUN_USER && !taken
        })
        .flat_map(|line| [line, "\n"])
        .collect();
    out.push_str(entry);
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/bash\n\
                          nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n\
                          sandbox:x:1000:1000::/sandbox:/bin/sh\n\
                          postgres:x:100:102::/var/lib/postgresql:/bin/bash\n";

    #[test]
    fn the_run_user_gets_the_containers_uid_and_the_images_entries_stay() {
        let out = with_run_user(
            PASSWD,
            "sandbox:x:1900000001:1900000001::/sandbox:/bin/sh",
            [(2, 1_900_000_001), (3, 1_900_000_001)],
        );
        assert_eq!(
            out,
            "root:x:0:0:root:/root:/bin/bash\n\
             nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n\
             postgres:x:100:102::/var/lib/postgresql:/bin/bash\n\
             sandbox:x:1900000001:1900000001::/sandbox:/bin/sh\n"
        );
    }

    #[test]
    fn an_image_entry_with_the_runs_number_gives_way() {
        let passwd = format!("{PASSWD}other:x:70000:5::/:/bin/sh\n");
        let out = with_run_user(
            &passwd,
            "sandbox:x:70000:70000::/sandbox:/bin/sh",
            [(2, 70000)],
        );
        assert!(!out.contains("other:"), "{out}");
        assert_eq!(out.matches(":70000:").count(), 1, "{out}");
        let group = with_run_user(
            "root:x:0:\nsandbox:x:1000:\n",
            "sandbox:x:70000:",
            [(2, 70000)],
        );
        assert_eq!(group, "root:x:0:\nsandbox:x:70000:\n");
    }
}
