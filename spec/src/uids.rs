//! The user every container runs as: a UID (and the same GID) of its own,
//! from a range no host account uses. The kernel counts some quotas per
//! user (inotify instances, message-queue bytes, pipe buffers, processes),
//! so two runs that shared a UID, or a run and a host user, would share
//! them; a UID per container shares them with nobody.

use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, Mutex};

/// The UIDs runs get, both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UidRange {
    first: u32,
    last: u32,
}

/// Where a range may lie: above the 16-bit IDs of host accounts, system
/// users, `nobody` and systemd's dynamic users, and below 2^31, which some
/// tools read as a negative number.
const LOWEST: u32 = 65_536;
const HIGHEST: u32 = i32::MAX as u32 - 1;

impl UidRange {
    /// 65,536 UIDs above systemd's container ranges and below its foreign
    /// range (systemd's UIDS-GIDS.md): no distribution gives them out.
    pub const DEFAULT: UidRange = UidRange {
        first: 1_900_000_000,
        last: 1_900_065_535,
    };

    pub fn first(&self) -> u32 {
        self.first
    }

    pub fn contains(&self, uid: u32) -> bool {
        (self.first..=self.last).contains(&uid)
    }

    fn len(&self) -> u32 {
        self.last - self.first + 1
    }
}

impl Default for UidRange {
    fn default() -> Self {
        UidRange::DEFAULT
    }
}

impl fmt::Display for UidRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.first, self.last)
    }
}

impl FromStr for UidRange {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let number = |part: &str| {
            part.trim().parse::<u32>().map_err(|_| {
                format!(
                    "{s}: expected FIRST-LAST, two UIDs (e.g. {})",
                    Self::DEFAULT
                )
            })
        };
        let (first, last) = s
            .split_once('-')
            .ok_or_else(|| format!("{s}: expected FIRST-LAST (e.g. {})", Self::DEFAULT))?;
        let range = UidRange {
            first: number(first)?,
            last: number(last)?,
        };
        if range.first > range.last {
            return Err(format!("{s}: the first UID is above the last"));
        }
        if range.first < LOWEST || range.last > HIGHEST {
            return Err(format!(
                "{s}: run UIDs must lie within {LOWEST}-{HIGHEST}, away from host accounts \
                 and system users"
            ));
        }
        Ok(range)
    }
}

/// The `User` of a create body for `uid`: the same number as UID and GID.
pub fn user(uid: u32) -> String {
    format!("{uid}:{uid}")
}

/// The UID of a create body's `User` when it is one of `range`'s in the
/// form [`user`] writes.
pub fn parse_user(range: UidRange, user: &str) -> Option<u32> {
    let (u, g) = user.split_once(':')?;
    let uid: u32 = u.parse().ok()?;
    (u == uid.to_string() && g == u && range.contains(uid)).then_some(uid)
}

/// Hands out the range's UIDs, each to one live container at a time.
/// Successive containers get successive UIDs from a random start, so a
/// UID comes back only after the whole range went round, and two servers
/// on one engine (each with its own allocator) meet only by a rare chance;
/// give them disjoint ranges to rule even that out.
#[derive(Debug)]
pub struct Uids {
    range: UidRange,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    next: u32,
    in_use: HashSet<u32>,
}

impl Uids {
    pub fn new(range: UidRange) -> Arc<Self> {
        let start = (uuid::Uuid::new_v4().as_u128() % u128::from(range.len())) as u32;
        Arc::new(Uids {
            range,
            state: Mutex::new(State {
                next: start,
                in_use: HashSet::new(),
            }),
        })
    }

    pub fn range(&self) -> UidRange {
        self.range
    }

    /// A UID no live container of this server has; `None` when every one
    /// of the range is taken.
    pub fn lease(self: &Arc<Self>) -> Option<Lease> {
        let mut state = self.state.lock().expect("not poisoned");
        let len = self.range.len();
        for _ in 0..len.min(state.in_use.len() as u32 + 1) {
            let uid = self.range.first + state.next;
            state.next = (state.next + 1) % len;
            if state.in_use.insert(uid) {
                return Some(Lease {
                    uid,
                    uids: self.clone(),
                });
            }
        }
        None
    }

    #[cfg(test)]
    fn in_use(&self) -> usize {
        self.state.lock().expect("not poisoned").in_use.len()
    }
}

/// One container's UID, given back when dropped.
#[derive(Debug)]
pub struct Lease {
    uid: u32,
    uids: Arc<Uids>,
}

impl Lease {
    pub fn uid(&self) -> u32 {
        self.uid
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        let mut state = self.uids.state.lock().expect("not poisoned");
        state.in_use.remove(&self.uid);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_range_reads_as_first_dash_last_within_the_safe_span() {
        assert_eq!(
            "1900000000-1900065535".parse::<UidRange>(),
            Ok(UidRange::DEFAULT)
        );
        assert_eq!(UidRange::DEFAULT.to_string(), "1900000000-1900065535");
        for bad in [
            "1000-2000",
            "0-70000",
            "70000-69999",
            "70000",
            "a-b",
            "70000-4294967295",
        ] {
            assert!(bad.parse::<UidRange>().is_err(), "{bad} was taken");
        }
    }

    #[test]
    fn a_user_is_one_number_twice_within_the_range() {
        let r: UidRange = "70000-70009".parse().unwrap();
        assert_eq!(user(70003), "70003:70003");
        assert_eq!(parse_user(r, "70003:70003"), Some(70003));
        for bad in [
            "70003:70004",
            "70010:70010",
            "1000:1000",
            "070003:070003",
            "70003",
            "0:0",
        ] {
            assert_eq!(parse_user(r, bad), None, "{bad}");
        }
    }

    #[test]
    fn live_leases_never_share_a_uid_and_one_comes_back_when_dropped() {
        let uids = Uids::new("70000-70002".parse().unwrap());
        let a = uids.lease().unwrap();
        let b = uids.lease().unwrap();
        let c = uids.lease().unwrap();
        let mut got = vec![a.uid(), b.uid(), c.uid()];
        got.sort();
        assert_eq!(got, [70000, 70001, 70002]);
        assert!(uids.lease().is_none(), "a fourth while three are live");
        let freed = b.uid();
        drop(b);
        assert_eq!(uids.lease().map(|l| l.uid()), Some(freed));
        assert_eq!(
            uids.in_use(),
            2,
            "the lease made and dropped just now is given back"
        );
    }

    #[test]
    fn successive_leases_go_round_the_range_before_a_uid_comes_back() {
        let uids = Uids::new("70000-70099".parse().unwrap());
        let first = uids.lease().unwrap().uid();
        let mut seen = vec![first];
        for _ in 0..99 {
            seen.push(uids.lease().unwrap().uid());
        }
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), 100, "each UID once before any repeats");
        assert_eq!(uids.lease().unwrap().uid(), first);
    }
}
