//! The files a run returns: regular files under the work dir that match the
//! job's globs and that the run created or changed.
//!
//! The work dir is the untrusted program's: the walk goes through directory
//! file descriptors and never follows a symlink (`O_NOFOLLOW` at every
//! step), looks at a file's type before opening it and again after (a
//! FIFO or a device is never read; `O_NONBLOCK` keeps an open from
//! blocking), reads at most one byte more than it may return (a file that
//! is still growing cannot hold it up), and visits a bounded number of
//! entries and levels.

use std::collections::HashMap;
use std::ffi::{CStr, CString};
use std::fs::File;
use std::hash::{BuildHasher, Hasher, RandomState};
use std::io::{self, Read, Write};
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path};
use std::ptr::NonNull;

use glob::{MatchOptions, Pattern};
use snipbox_wire::agent::{Frame, OutputCaps, OutputFile};
use snipbox_wire::names::check_name;

/// Most directory entries one walk reads, whatever the work dir holds.
const MAX_ENTRIES: usize = 100_000;
/// Most path segments of a returned name (the API's file-name rule): no
/// deeper directory is entered.
const MAX_SEGMENTS: usize = 8;
/// The pieces a request file is hashed in, the same when written and when
/// compared.
const HASH_BLOCK: usize = 64 * 1024;

/// The job's output globs.
pub(crate) struct Globs(Vec<Pattern>);

impl Globs {
    pub(crate) fn new(globs: &[String]) -> Result<Globs, String> {
        let patterns = globs
            .iter()
            .map(|g| Pattern::new(g).map_err(|e| format!("output glob {g:?} is invalid: {e}")));
        Ok(Globs(patterns.collect::<Result<_, _>>()?))
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn matches(&self, rel: &[u8]) -> bool {
        let options = MatchOptions {
            case_sensitive: true,
            require_literal_separator: true,
            // `*` should not return `.bash_history` and the like.
            require_literal_leading_dot: true,
        };
        let rel = String::from_utf8_lossy(rel);
        self.0.iter().any(|p| p.matches_with(&rel, options))
    }
}

/// What a request file held, to tell whether the run changed it.
struct Fingerprint {
    len: u64,
    hash: u64,
}

/// What the work dir held when the steps started.
pub(crate) struct Baseline {
    /// Keys unknown to the program, so it cannot forge a matching hash.
    keys: RandomState,
    written: HashMap<String, Fingerprint>,
    /// Other matching files already there (left by `prepare`).
    stamps: HashMap<Vec<u8>, Stamp>,
}

/// A file's identity and times: any write changes its ctime.
type Stamp = (u64, u64, i64, i64, i64, i64, i64);

fn stamp(st: &libc::stat) -> Stamp {
    (
        st.st_dev,
        st.st_ino,
        st.st_size,
        st.st_mtime,
        st.st_mtime_nsec,
        st.st_ctime,
        st.st_ctime_nsec,
    )
}

impl Baseline {
    pub(crate) fn new() -> Self {
        Baseline {
            keys: RandomState::new(),
            written: HashMap::new(),
            stamps: HashMap::new(),
        }
    }

    /// Copies a request file's bytes, remembering what they were.
    pub(crate) fn copy(
        &mut self,
        name: &Path,
        from: &mut impl Read,
        to: &mut impl Write,
    ) -> io::Result<()> {
        let mut hasher = self.keys.build_hasher();
        let mut buf = vec![0u8; HASH_BLOCK];
        let mut len = 0u64;
        loop {
            // Whole blocks, as `hash` sees them: a hasher need not give the
            // same answer for the same bytes written in other pieces.
            let n = fill(from, &mut buf)?;
            if n == 0 {
                break;
            }
            hasher.write(&buf[..n]);
            to.write_all(&buf[..n])?;
            len += n as u64;
        }
        let hash = hasher.finish();
        self.written
            .insert(rel_key(name), Fingerprint { len, hash });
        Ok(())
    }

    /// Remembers the matching files already in the work dir that the
    /// request did not write; called after the request's files are written.
    pub(crate) fn stamp_others(&mut self, workdir: &Path, globs: &Globs) -> io::Result<()> {
        if globs.is_empty() {
            return Ok(());
        }
        walk(workdir, &mut |e| {
            let ours = std::str::from_utf8(e.rel).is_ok_and(|n| self.written.contains_key(n));
            if e.kind == libc::DT_REG
                && !ours
                && globs.matches(e.rel)
                && let Some(st) = e.dir.stat(e.name)
            {
                self.stamps.insert(e.rel.to_vec(), stamp(&st));
            }
            Ok(())
        })
    }

    fn same_as_written(&self, was: &Fingerprint, now: &[u8]) -> bool {
        let mut hasher = self.keys.build_hasher();
        for block in now.chunks(HASH_BLOCK) {
            hasher.write(block);
        }
        was.len == now.len() as u64 && was.hash == hasher.finish()
    }
}

/// Reads until `buf` is full or the input ends.
fn fill(from: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match from.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// A request file's name as the walk spells it (`a//b` is `a/b`).
fn rel_key(name: &Path) -> String {
    let parts: Vec<_> = name
        .components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_string_lossy()),
            _ => None,
        })
        .collect();
    parts.join("/")
}

/// Sends the matching files the run created or changed as frames; returns
/// how many matching files were not listed at all.
pub(crate) fn send(
    workdir: &Path,
    globs: &Globs,
    baseline: &Baseline,
    caps: OutputCaps,
    out: &mut impl Write,
) -> io::Result<u64> {
    if globs.is_empty() {
        return Ok(0);
    }
    let mut sender = Sender {
        globs,
        baseline,
        caps,
        out,
        listed: 0,
        left: caps.max_total_bytes,
        omitted: 0,
    };
    walk(workdir, &mut |e| sender.visit(e))?;
    sender.out.flush()?;
    Ok(sender.omitted)
}

struct Sender<'a, W> {
    globs: &'a Globs,
    baseline: &'a Baseline,
    caps: OutputCaps,
    out: &'a mut W,
    listed: u64,
    /// Bytes left of the total cap.
    left: u64,
    omitted: u64,
}

impl<W: Write> Sender<'_, W> {
    fn visit(&mut self, e: &Entry) -> io::Result<()> {
        if e.kind != libc::DT_REG || !self.globs.matches(e.rel) {
            return Ok(());
        }
        let name = match std::str::from_utf8(e.rel) {
            Ok(name) if check_name(name).is_ok() => name,
            // The reader could not be shown its name.
            _ => return self.omit(),
        };
        let Some(st) = e.dir.stat(e.name).filter(is_regular) else {
            return Ok(());
        };
        let written = self.baseline.written.get(name);
        if written.is_none() && self.baseline.stamps.get(e.rel) == Some(&stamp(&st)) {
            return Ok(());
        }
        if written.is_none() && self.listed >= self.caps.max_files {
            return self.omit();
        }
        let cap = self.caps.max_file_bytes.min(self.left);
        // A request file is read whole (it is bounded by the request) to
        // tell whether it still holds what the job wrote.
        let want = written.map_or(cap, |w| w.len.max(cap));
        let Some((data, size)) = read_at_most(e.dir, e.name, want + 1) else {
            return Ok(());
        };
        if written.is_some_and(|w| self.baseline.same_as_written(w, &data)) {
            return Ok(());
        }
        if self.listed >= self.caps.max_files {
            return self.omit();
        }
        self.listed += 1;
        let len = data.len() as u64;
        let omitted = len > cap;
        let file = OutputFile {
            name: name.to_string(),
            size: if omitted { size.max(len) } else { len },
            omitted,
        };
        Frame::File(file).write_to(self.out)?;
        if !omitted {
            self.left -= len;
            Frame::FileData(data).write_to(self.out)?;
        }
        Ok(())
    }

    fn omit(&mut self) -> io::Result<()> {
        self.omitted += 1;
        Ok(())
    }
}

fn is_regular(st: &libc::stat) -> bool {
    st.st_mode & libc::S_IFMT == libc::S_IFREG
}

/// Reads at most `limit` bytes of a regular file, with its size; `None`
/// for anything else (a symlink, a FIFO, a device, a vanished file).
fn read_at_most(dir: &Dir, name: &CStr, limit: u64) -> Option<(Vec<u8>, u64)> {
    let flags =
        libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC;
    // SAFETY: openat with a valid directory fd and a NUL-terminated name.
    let fd = unsafe { libc::openat(dir.fd(), name.as_ptr(), flags) };
    if fd < 0 {
        return None;
    }
    // SAFETY: fd is a freshly opened descriptor that nothing else owns.
    let file = File::from(unsafe { OwnedFd::from_raw_fd(fd) });
    // It may have been swapped for something else since it was looked at.
    let meta = file.metadata().ok().filter(|m| m.file_type().is_file())?;
    let mut data = Vec::new();
    (&file).take(limit).read_to_end(&mut data).ok()?;
    Some((data, meta.len()))
}

/// A directory entry met by [`walk`].
struct Entry<'a> {
    dir: &'a Dir,
    name: &'a CStr,
    /// Its path relative to the work dir.
    rel: &'a [u8],
    /// Its type (`DT_*`), never following a symlink.
    kind: u8,
}

/// Visits every entry under `root` but directories, in name order, within
/// [`MAX_ENTRIES`] and [`MAX_SEGMENTS`].
fn walk(root: &Path, visit: &mut dyn FnMut(&Entry) -> io::Result<()>) -> io::Result<()> {
    let root = CString::new(root.as_os_str().as_bytes()).map_err(io::Error::other)?;
    let mut budget = MAX_ENTRIES;
    walk_dir(Dir::open(None, &root)?, b"", 1, &mut budget, visit)
}

fn walk_dir(
    mut dir: Dir,
    prefix: &[u8],
    segments: usize,
    budget: &mut usize,
    visit: &mut dyn FnMut(&Entry) -> io::Result<()>,
) -> io::Result<()> {
    let entries = dir.entries(*budget);
    *budget -= entries.len();
    for (name, kind) in &entries {
        let rel = match prefix {
            b"" => name.to_bytes().to_vec(),
            _ => [prefix, b"/", name.to_bytes()].concat(),
        };
        let kind = match *kind {
            libc::DT_UNKNOWN => dir.stat(name).map_or(libc::DT_UNKNOWN, |st| dt_of(&st)),
            kind => kind,
        };
        if kind == libc::DT_DIR {
            if segments < MAX_SEGMENTS
                && let Ok(sub) = Dir::open(Some(&dir), name)
            {
                walk_dir(sub, &rel, segments + 1, budget, visit)?;
            }
            continue;
        }
        let entry = Entry {
            dir: &dir,
            name,
            rel: &rel,
            kind,
        };
        visit(&entry)?;
    }
    Ok(())
}

fn dt_of(st: &libc::stat) -> u8 {
    match st.st_mode & libc::S_IFMT {
        libc::S_IFREG => libc::DT_REG,
        libc::S_IFDIR => libc::DT_DIR,
        libc::S_IFLNK => libc::DT_LNK,
        _ => libc::DT_UNKNOWN,
    }
}

/// An open directory stream.
struct Dir(NonNull<libc::DIR>);

impl Dir {
    /// Opens `name` in `parent` (never through a symlink), or the path
    /// `name` itself without a parent.
    fn open(parent: Option<&Dir>, name: &CStr) -> io::Result<Dir> {
        let flags = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC;
        // SAFETY: open/openat with a NUL-terminated name and a valid fd.
        let fd = unsafe {
            match parent {
                Some(p) => libc::openat(p.fd(), name.as_ptr(), flags | libc::O_NOFOLLOW),
                None => libc::open(name.as_ptr(), flags),
            }
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd is an open directory; fdopendir takes it over.
        match NonNull::new(unsafe { libc::fdopendir(fd) }) {
            Some(d) => Ok(Dir(d)),
            None => {
                let e = io::Error::last_os_error();
                // SAFETY: fdopendir failed, so fd is still ours to close.
                unsafe { libc::close(fd) };
                Err(e)
            }
        }
    }

    fn fd(&self) -> RawFd {
        // SAFETY: the stream is open until drop.
        unsafe { libc::dirfd(self.0.as_ptr()) }
    }

    /// Up to `max` entries but `.` and `..`, sorted by name.
    fn entries(&mut self, max: usize) -> Vec<(CString, u8)> {
        let mut out = Vec::new();
        while out.len() < max {
            // SAFETY: the stream is open; readdir's entry is valid until the
            // next call, and is copied before it.
            let Some(e) = NonNull::new(unsafe { libc::readdir(self.0.as_ptr()) }) else {
                break;
            };
            // SAFETY: d_name is NUL-terminated.
            let (name, kind) = unsafe {
                let e = e.as_ref();
                (CStr::from_ptr(e.d_name.as_ptr()), e.d_type)
            };
            if name != c"." && name != c".." {
                out.push((name.to_owned(), kind));
            }
        }
        out.sort();
        out
    }

    /// The entry's own status (a symlink's, not its target's).
    fn stat(&self, name: &CStr) -> Option<libc::stat> {
        // SAFETY: a zeroed stat is valid; fstatat fills it.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: a valid directory fd and a NUL-terminated name.
        let rc =
            unsafe { libc::fstatat(self.fd(), name.as_ptr(), &mut st, libc::AT_SYMLINK_NOFOLLOW) };
        (rc == 0).then_some(st)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        // SAFETY: the stream is open and closed only here.
        unsafe { libc::closedir(self.0.as_ptr()) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_as_the_job_documents() {
        let globs = Globs::new(&["*.png".into(), "out/**/*.svg".into()]).unwrap();
        for yes in ["a.png", "out/b.svg", "out/x/y/c.svg"] {
            assert!(globs.matches(yes.as_bytes()), "{yes}");
        }
        // `*` does not cross `/` nor match a leading dot.
        for no in ["sub/a.png", ".hidden.png", "out/.x/c.svg", "a.svg"] {
            assert!(!globs.matches(no.as_bytes()), "{no}");
        }
        assert!(Globs::new(&["a**".into()]).is_err());
    }

    #[test]
    fn a_request_files_name_is_keyed_as_the_walk_spells_it() {
        assert_eq!(rel_key(Path::new("a//b/c.txt")), "a/b/c.txt");
        assert_eq!(rel_key(Path::new("main.py")), "main.py");
    }
}
