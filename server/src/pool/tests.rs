//! The pool's logic against a fake engine in paused time: filling,
//! growing, shrinking, back-off, the shared budget and replacements, in
//! milliseconds of real time. (The end-to-end pool tests run the same
//! pools on the real engine.)

use std::path::Path;
use std::sync::atomic::AtomicUsize;

use tokio::time::Instant as Tick;

use super::*;
use crate::sandbox::Catalog;

/// How long a fake container takes to start.
const LAUNCH: Duration = Duration::from_millis(300);
/// A pool's quiet period in these tests.
const QUIET: Duration = Duration::from_secs(2);

/// An engine whose containers start after [`LAUNCH`], the first `failing`
/// launches failing, and that keeps count.
#[derive(Default)]
struct Fake {
    failing: AtomicUsize,
    /// When each launch was asked for.
    asked: Mutex<Vec<Tick>>,
    started: AtomicUsize,
    /// Containers that exist (started, not yet dropped).
    live: Arc<AtomicUsize>,
    /// One per started container, in order: notifying it ends that
    /// container while it is idle.
    ends: Mutex<Vec<Arc<Notify>>>,
}

struct FakeContainer {
    id: String,
    end: Arc<Notify>,
    live: Arc<AtomicUsize>,
}

impl Drop for FakeContainer {
    fn drop(&mut self) {
        self.live.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Launcher for Fake {
    type Container = FakeContainer;

    async fn launch(&self, _: &ContainerSpec) -> Result<FakeContainer, EngineError> {
        self.asked.lock().unwrap().push(Tick::now());
        tokio::time::sleep(LAUNCH).await;
        let failing = self.failing.load(Ordering::SeqCst);
        if failing > 0 {
            self.failing.store(failing - 1, Ordering::SeqCst);
            return Err(EngineError::ImageMissing {
                image: "fake".into(),
            });
        }
        let n = self.started.fetch_add(1, Ordering::SeqCst);
        self.live.fetch_add(1, Ordering::SeqCst);
        let end = Arc::new(Notify::new());
        self.ends.lock().unwrap().push(end.clone());
        Ok(FakeContainer {
            id: format!("c{n}"),
            end,
            live: self.live.clone(),
        })
    }
}

impl Warm for FakeContainer {
    fn id(&self) -> &str {
        &self.id
    }

    fn idle_memory(&self) -> u64 {
        10 << 20
    }

    async fn idle(&mut self, taken: oneshot::Receiver<()>) -> Option<bool> {
        tokio::select! {
            r = taken => Some(r.is_ok()),
            _ = self.end.notified() => None,
        }
    }
}

fn spec() -> ContainerSpec {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sandboxes");
    ContainerSpec::new(Catalog::load(&[&dir]).unwrap().get("python").unwrap())
}

fn pool(fake: &Arc<Fake>, min: usize, max: usize, budget: &Arc<Budget>) -> Pool<Fake> {
    Pool::start(
        fake.clone(),
        spec(),
        Size { min, max },
        budget.clone(),
        Arc::new(Metrics::new()),
    )
}

fn budget(containers: usize) -> Arc<Budget> {
    Budget::new(containers, u64::MAX, QUIET)
}

impl<L: Launcher> Pool<L> {
    fn ready(&self) -> usize {
        self.slot.live()
    }
}

/// Lets the pool's tasks run for `d` of paused time.
async fn after(d: Duration) {
    tokio::time::sleep(d).await;
}

#[tokio::test(start_paused = true)]
async fn a_pool_fills_to_its_minimum_and_a_run_takes_a_warm_container() {
    let fake = Arc::new(Fake::default());
    let p = pool(&fake, 2, 4, &budget(10));
    after(LAUNCH * 2).await;
    assert_eq!(p.ready(), 2);
    // Both launched side by side: one launch time, not two.
    let asked = fake.asked.lock().unwrap().clone();
    assert_eq!(asked.len(), 2);
    assert_eq!(asked[0], asked[1]);
    let (taken, hold) = p.take().await;
    assert_eq!(taken.map(|c| c.id.clone()), Some("c0".to_string()));
    after(LAUNCH * 3).await;
    assert_eq!(
        (p.ready(), fake.started.load(Ordering::SeqCst)),
        (1, 2),
        "no replacement while the run holds the pool"
    );
    drop(hold);
    after(LAUNCH * 2).await;
    assert_eq!((p.ready(), fake.started.load(Ordering::SeqCst)), (2, 3));
    p.shutdown().await;
    assert_eq!(fake.live.load(Ordering::SeqCst), 0, "shutdown removes all");
}

#[tokio::test(start_paused = true)]
async fn a_burst_grows_the_pool_to_its_maximum_and_quiet_shrinks_it_one_by_one() {
    let fake = Arc::new(Fake::default());
    let p = pool(&fake, 1, 3, &budget(10));
    after(LAUNCH * 2).await;
    let mut holds = Vec::new();
    let mut found = Vec::new();
    for _ in 0..5 {
        let (c, hold) = p.take().await;
        found.push(c.is_some());
        holds.push(hold);
    }
    assert_eq!(found, [true, false, false, false, false]);
    drop(holds);
    after(LAUNCH * 2).await;
    assert_eq!(
        p.ready(),
        3,
        "grown by one per empty take, up to the maximum"
    );
    // One back per quiet period, down to the minimum.
    let mut seen = Vec::new();
    for _ in 0..4 {
        after(QUIET + QUIET / 4).await;
        seen.push(p.ready());
    }
    assert_eq!(seen, [2, 1, 1, 1]);
    p.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_failing_engine_is_retried_with_doubling_back_off_then_the_pool_fills() {
    let fake = Arc::new(Fake {
        failing: AtomicUsize::new(7),
        ..Fake::default()
    });
    let p = pool(&fake, 1, 1, &budget(10));
    after(Duration::from_secs(30)).await;
    assert_eq!(p.ready(), 1, "filled once the engine answers");
    let asked = fake.asked.lock().unwrap().clone();
    let gaps: Vec<u128> = asked
        .windows(2)
        .map(|w| (w[1] - w[0] - LAUNCH).as_millis())
        .collect();
    assert_eq!(gaps, [250, 500, 1000, 2000, 4000, 5000, 5000]);
    p.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn pools_share_one_budget_and_a_freed_place_goes_to_a_pool_that_waits() {
    let fake = Arc::new(Fake::default());
    let shared = budget(3);
    let a = pool(&fake, 2, 2, &shared);
    let b = pool(&fake, 2, 2, &shared);
    after(LAUNCH * 3).await;
    assert_eq!(a.ready() + b.ready(), 3, "never more than the budget");
    assert_eq!(fake.started.load(Ordering::SeqCst), 3);
    let short = if a.ready() < 2 { &a } else { &b };
    let full = if a.ready() < 2 { &b } else { &a };
    // A container taken from the full pool frees a place; while its run
    // holds that pool, the waiting one gets it.
    let (c, hold) = full.take().await;
    drop(c);
    after(LAUNCH * 2).await;
    assert_eq!((short.ready(), full.ready()), (2, 1));
    drop(hold);
    after(LAUNCH * 2).await;
    assert_eq!(short.ready() + full.ready(), 3, "still within the budget");
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn an_idle_container_that_dies_is_replaced_and_never_handed_out() {
    let fake = Arc::new(Fake::default());
    let p = pool(&fake, 2, 2, &budget(10));
    after(LAUNCH * 2).await;
    let first = fake.ends.lock().unwrap()[0].clone();
    first.notify_one();
    after(Duration::from_millis(1)).await;
    assert_eq!(
        fake.live.load(Ordering::SeqCst),
        1,
        "the dead one is removed"
    );
    after(LAUNCH * 2).await;
    assert_eq!((p.ready(), fake.started.load(Ordering::SeqCst)), (2, 3));
    let (c, _hold) = p.take().await;
    assert_eq!(
        c.map(|c| c.id.clone()),
        Some("c1".to_string()),
        "the oldest live one"
    );
    p.shutdown().await;
}

#[test]
fn the_budget_bounds_count_and_bytes_and_takes_back_what_is_dropped() {
    let budget = Budget::new(2, 100, Duration::from_secs(1));
    let a = budget.reserve(60).unwrap();
    assert!(budget.reserve(60).is_none(), "over the bytes");
    let b = budget.reserve(40).unwrap();
    assert!(budget.reserve(0).is_none(), "over the count");
    assert_eq!(budget.used(), (2, 100));
    drop(a);
    assert_eq!(budget.used(), (1, 40));
    drop(b);
    assert_eq!(budget.used(), (0, 0));
}
