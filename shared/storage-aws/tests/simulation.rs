//! Randomized multi-container workload of the session protocol on the AWS adapters: the S3 blob
//! store and the DynamoDB session/user stores on a local ministack, checked by the oracle of the
//! deterministic in-memory simulation (`tests/tests/session_simulation.rs`).
//!
//! Per seed: 3 containers (`SessionManager`s, each with its own id and cache dir, a small
//! `compact_after` so compactions happen, a short takeover timeout), a flush worker, 3 users each
//! driven by 2–3 concurrent clients. A client sends random requests to a random container: add a
//! card with a unique front, read every front, now and then an explicit flush of the session it
//! last saw. Meanwhile containers are killed (their in-flight requests dropped at whatever await
//! point they are at, the container replaced by a cold one: new id, empty cache dir), flush
//! handlers crash mid-way, and every store call may fail before or after taking effect
//! (`javumbo_session::faults`, a low rate that varies per seed; the bus drops, duplicates and
//! delays).
//!
//! Scheduling is NOT deterministic, unlike the in-memory simulation: this is a real
//! multi-threaded tokio runtime talking HTTP to a real emulator. The seed fixes the workload
//! (which requests, where, when, kills, fault plan), not the interleaving, so
//! `JAVUMBO_AWS_SIM_SEED=<n>` replays a failing seed's workload but may need a few runs to hit the
//! same interleaving. `JAVUMBO_AWS_SIM_SEEDS=<count>` changes how many seeds run (default 6,
//! starting from a clock-derived base printed in the summary).
//!
//! The flush bus is in-process (a channel consumed by a worker calling `handle_flush_request` on
//! the AWS ports): SNS delivery itself is covered by the emulator end-to-end suite
//! (`tests/tests/emulator_e2e.rs`); what matters here is the protocol on the real stores.
//!
//! Oracle, per user, on the final state read by a fresh container once the workload is over:
//! every acknowledged add is present exactly once; an add that definitely failed (4xx, or `Busy`,
//! which the manager only answers after definite refusals) is absent; an add of unknown outcome
//! (5xx, killed in flight) is present at most once; nothing is present that was never sent; the
//! starter deck is intact. Every successful read saw each add acknowledged before it began
//! exactly once, no duplicates, nothing never sent, and only writes the final state holds (a read
//! only ever sees committed, hence durable, state). Then the fresh container flushes explicitly,
//! the stores are checked (session `flushed`, snapshot `seq` = session `seq`, no journal entry
//! past it), and a second fresh container, which can only load the snapshot, must read the same
//! fronts: the journal and the snapshot agree.

mod support;

mod sim {
    use std::collections::{BTreeMap, BTreeSet, HashMap};
    use std::future::Future;
    use std::path::PathBuf;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    use async_trait::async_trait;
    use javumbo_collection::{Collection, CollectionError, SharedClock, SystemClock};
    use javumbo_session::faults::{self, FaultPlan, Faults};
    use javumbo_session::{
        FlushBus, FlushRequest, Metrics, Ports, RequestError, SNAPSHOT_SEQ_META, SessionConfig,
        SessionError, SessionManager, SessionStatus, StoreResult, Username, handle_flush_request,
        snapshot_key,
    };
    use javumbo_storage_aws::{AwsClients, AwsConfig};
    use tokio::sync::{mpsc, watch};

    use super::support;

    const CONTAINERS: usize = 3;
    const USERS: usize = 3;
    const DEFAULT_SEEDS: u64 = 6;
    /// Per seed; a healthy seed takes one to two seconds.
    const SEED_TIMEOUT: Duration = Duration::from_secs(120);

    // -----------------------------------------------------------------------------------------
    // Seeded randomness (SplitMix64: this crate has no `rand` dependency of its own)
    // -----------------------------------------------------------------------------------------

    struct Rng(u64);

    impl Rng {
        fn new(seed: u64) -> Self {
            Self(seed ^ 0x005E_ED0F_A115_u64)
        }
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }
        /// Uniform in `lo..hi`.
        fn range(&mut self, lo: u64, hi: u64) -> u64 {
            lo + self.next() % (hi - lo)
        }
        fn index(&mut self, len: usize) -> usize {
            self.range(0, len as u64) as usize
        }
        fn chance(&mut self, p: f64) -> bool {
            ((self.next() >> 11) as f64 / (1u64 << 53) as f64) < p
        }
        /// An independent stream: each client draws its own, so its requests do not depend on
        /// how the others interleave.
        fn fork(&mut self) -> Self {
            Self(self.next())
        }
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    // -----------------------------------------------------------------------------------------
    // Counters
    // -----------------------------------------------------------------------------------------

    #[derive(Default)]
    struct Stats {
        requests: AtomicU64,
        acked: AtomicU64,
        failed: AtomicU64,
        unknown: AtomicU64,
        reads: AtomicU64,
        read_errors: AtomicU64,
        user_flushes: AtomicU64,
        user_flush_errors: AtomicU64,
        kills: AtomicU64,
        killed_requests: AtomicU64,
        handler_runs: AtomicU64,
        handler_errors: AtomicU64,
        handler_crashes: AtomicU64,
    }

    fn bump(c: &AtomicU64) {
        c.fetch_add(1, Ordering::Relaxed);
    }

    fn get(c: &AtomicU64) -> u64 {
        c.load(Ordering::Relaxed)
    }

    // -----------------------------------------------------------------------------------------
    // The world of one seed: stores, bus, containers
    // -----------------------------------------------------------------------------------------

    /// The flush bus, in process: SNS delivery is the end-to-end suite's business, this test is
    /// about the protocol on the real stores. Publishing succeeds with no handler up (SNS).
    struct ChannelBus {
        tx: mpsc::UnboundedSender<FlushRequest>,
        metrics: Arc<Metrics>,
    }

    #[async_trait]
    impl FlushBus for ChannelBus {
        async fn publish(&self, request: &FlushRequest) -> StoreResult<()> {
            Metrics::incr(&self.metrics.bus_publish);
            let _ = self.tx.send(request.clone());
            Ok(())
        }
    }

    struct World {
        clients: AwsClients,
        cfg: AwsConfig,
        clock: SharedClock,
        faults: Arc<Faults>,
        bus: mpsc::UnboundedSender<FlushRequest>,
        root: PathBuf,
        /// Every container's and the flush worker's counters, killed containers included.
        metrics: Mutex<Vec<Arc<Metrics>>>,
        stats: Arc<Stats>,
    }

    impl World {
        /// AWS ports counting into `metrics`, with the in-process bus; behind the fault
        /// injector when `faulty`.
        fn ports(&self, metrics: &Arc<Metrics>, faulty: bool) -> Ports {
            let mut ports = self.clients.ports(&self.cfg, metrics.clone());
            ports.bus = Arc::new(ChannelBus {
                tx: self.bus.clone(),
                metrics: metrics.clone(),
            });
            if faulty {
                faults::wrap(ports, self.faults.clone())
            } else {
                ports
            }
        }

        fn counters(&self) -> Arc<Metrics> {
            let m = Arc::new(Metrics::default());
            self.metrics.lock().unwrap().push(m.clone());
            m
        }

        /// A cold container: new id, empty cache dir.
        fn container(&self, role: &str, faulty: bool) -> Arc<SessionManager> {
            let id = format!("{role}-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
            let metrics = self.counters();
            let mut cfg = SessionConfig::new(&id, self.root.join(&id));
            cfg.compact_after = 5;
            cfg.takeover_timeout = ms(300);
            cfg.poll_initial = ms(10);
            cfg.poll_max = ms(50);
            SessionManager::new(
                cfg,
                self.ports(&metrics, faulty),
                self.clock.clone(),
                metrics,
            )
        }

        fn metric_sum(&self) -> BTreeMap<&'static str, u64> {
            javumbo_session::metrics::sum(self.metrics.lock().unwrap().iter().map(|m| m.snapshot()))
        }
    }

    /// A container slot: the manager serving it now, and the switch that kills it.
    struct Slot {
        mgr: Arc<SessionManager>,
        kill: watch::Sender<bool>,
    }

    struct Fleet {
        slots: Vec<Mutex<Slot>>,
    }

    impl Fleet {
        fn new(world: &World) -> Self {
            let slots = (0..CONTAINERS)
                .map(|i| {
                    Mutex::new(Slot {
                        mgr: world.container(&format!("c{i}"), true),
                        kill: watch::channel(false).0,
                    })
                })
                .collect();
            Self { slots }
        }

        /// The manager of container `i` and a receiver that fires when it is killed.
        fn pick(&self, i: usize) -> (Arc<SessionManager>, watch::Receiver<bool>) {
            let s = self.slots[i].lock().unwrap();
            (s.mgr.clone(), s.kill.subscribe())
        }

        /// Kill container `i` (its in-flight requests are dropped where they are) and put a
        /// cold one in its place.
        fn kill(&self, i: usize, world: &World) {
            let fresh = world.container(&format!("c{i}"), true);
            let mut s = self.slots[i].lock().unwrap();
            s.kill.send_replace(true);
            *s = Slot {
                mgr: fresh,
                kill: watch::channel(false).0,
            };
            bump(&world.stats.kills);
        }
    }

    /// `fut`, unless the container dies first (`None`: the request died in flight).
    async fn killable<T>(
        killed: &mut watch::Receiver<bool>,
        fut: impl Future<Output = T>,
    ) -> Option<T> {
        tokio::select! {
            biased;
            r = fut => Some(r),
            _ = killed.wait_for(|k| *k) => None,
        }
    }

    // -----------------------------------------------------------------------------------------
    // Flush worker: the bus's subscriber, one handler task per delivery (as Lambda would)
    // -----------------------------------------------------------------------------------------

    async fn flush_worker(
        world: Arc<World>,
        mut rx: mpsc::UnboundedReceiver<FlushRequest>,
        mut rng: Rng,
    ) {
        let metrics = world.counters();
        let ports = world.ports(&metrics, true);
        let dir = world.root.join("flusher");
        while let Some(req) = rx.recv().await {
            bump(&world.stats.handler_runs);
            let (ports, clock, m, dir) = (
                ports.clone(),
                world.clock.clone(),
                metrics.clone(),
                dir.clone(),
            );
            let mut run =
                tokio::spawn(
                    async move { handle_flush_request(&ports, &req, &clock, &m, &dir).await },
                );
            // One delivery in ten crashes somewhere in the middle (an aborted task stops at its
            // next await: between two store calls, or with one in flight).
            let crash_after = rng.chance(0.1).then(|| ms(rng.range(0, 40)));
            let stats = world.stats.clone();
            tokio::spawn(async move {
                let done = match crash_after {
                    None => Some((&mut run).await),
                    Some(after) => tokio::select! {
                        r = &mut run => Some(r),
                        _ = tokio::time::sleep(after) => None,
                    },
                };
                match done {
                    Some(Ok(Ok(_))) => {}
                    Some(_) => bump(&stats.handler_errors),
                    None => {
                        run.abort();
                        bump(&stats.handler_crashes);
                    }
                }
            });
        }
    }

    // -----------------------------------------------------------------------------------------
    // Clients and what they observed
    // -----------------------------------------------------------------------------------------

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Outcome {
        Acked,
        /// Definitely not applied.
        Failed,
        /// 5xx or died in flight: applied at most once.
        Unknown,
    }

    #[derive(Debug)]
    struct AddRec {
        front: String,
        outcome: Outcome,
        /// When the acknowledgement came back.
        acked_at: Option<Instant>,
        detail: String,
    }

    struct ReadRec {
        started: Instant,
        fronts: Vec<String>,
    }

    #[derive(Default)]
    struct UserLog {
        adds: Vec<AddRec>,
        reads: Vec<ReadRec>,
        sent: BTreeSet<String>,
    }

    fn read_fronts(c: &Collection) -> Result<Vec<String>, CollectionError> {
        let mut st = c.conn().prepare("SELECT flds FROM notes ORDER BY id")?;
        let rows = st.query_map([], |r| r.get::<_, String>(0))?;
        let mut out = Vec::new();
        for r in rows {
            out.push(r?.split('\u{1f}').next().unwrap_or_default().to_owned());
        }
        Ok(out)
    }

    fn classify(e: &RequestError<CollectionError>) -> Outcome {
        match e {
            RequestError::Op(c) if c.is_client_error() => Outcome::Failed,
            // Only answered after every attempt's commit was refused (`ConditionFailed`, a
            // definite no) or before the op ran at all.
            RequestError::Session(SessionError::Busy { .. }) => Outcome::Failed,
            _ => Outcome::Unknown,
        }
    }

    struct Client {
        world: Arc<World>,
        fleet: Arc<Fleet>,
        user: Username,
        log: Arc<Mutex<UserLog>>,
        rng: Rng,
        tag: String,
        requests: u64,
    }

    impl Client {
        async fn run(mut self) {
            let stats = self.world.stats.clone();
            let mut last_sid: Option<String> = None;
            for k in 0..self.requests {
                tokio::time::sleep(ms(self.rng.range(0, 15))).await;
                let ci = self.rng.index(CONTAINERS);
                let roll = self.rng.range(0, 100);
                let (mgr, mut killed) = self.fleet.pick(ci);
                let user = self.user.clone();
                bump(&stats.requests);
                match roll {
                    0..60 => {
                        let front = format!("{}-{k}", self.tag);
                        self.log.lock().unwrap().sent.insert(front.clone());
                        let f = front.clone();
                        let served = killable(
                            &mut killed,
                            mgr.with_collection(&user, move |c| {
                                c.add_card(&f, "back", None).map(|a| a.card_id)
                            }),
                        )
                        .await;
                        let (outcome, detail) = match served {
                            None => {
                                bump(&stats.killed_requests);
                                (Outcome::Unknown, "killed in flight".to_owned())
                            }
                            Some(Ok(s)) => {
                                last_sid = Some(s.session_id);
                                (Outcome::Acked, format!("card {}", s.value))
                            }
                            Some(Err(f)) => {
                                last_sid = f.session_id.or(last_sid);
                                (classify(&f.error), f.error.to_string())
                            }
                        };
                        let acked_at = (outcome == Outcome::Acked).then(Instant::now);
                        bump(match outcome {
                            Outcome::Acked => &stats.acked,
                            Outcome::Failed => &stats.failed,
                            Outcome::Unknown => &stats.unknown,
                        });
                        self.log.lock().unwrap().adds.push(AddRec {
                            front,
                            outcome,
                            acked_at,
                            detail,
                        });
                    }
                    60..93 => {
                        let started = Instant::now();
                        match killable(&mut killed, mgr.with_collection(&user, read_fronts)).await {
                            Some(Ok(s)) => {
                                bump(&stats.reads);
                                last_sid = Some(s.session_id);
                                self.log.lock().unwrap().reads.push(ReadRec {
                                    started,
                                    fronts: s.value,
                                });
                            }
                            Some(Err(_)) => bump(&stats.read_errors),
                            None => bump(&stats.killed_requests),
                        }
                    }
                    _ => {
                        // The client flushes the session it last saw (an old one of its chain flushes the
                        // current session).
                        let sid = last_sid.clone().unwrap_or_default();
                        match killable(&mut killed, mgr.flush(&user, &sid)).await {
                            Some(Ok(_)) => bump(&stats.user_flushes),
                            Some(Err(_)) => bump(&stats.user_flush_errors),
                            None => bump(&stats.killed_requests),
                        }
                    }
                }
            }
        }
    }

    /// Kills a random container every few hundred milliseconds until aborted.
    async fn chaos(world: Arc<World>, fleet: Arc<Fleet>, mut rng: Rng, max_kills: u64) {
        for _ in 0..max_kills {
            tokio::time::sleep(ms(rng.range(150, 900))).await;
            fleet.kill(rng.index(CONTAINERS), &world);
        }
    }

    // -----------------------------------------------------------------------------------------
    // The final state and the oracle
    // -----------------------------------------------------------------------------------------

    /// A read through `mgr`, retried while the session is being flushed or taken over.
    async fn read_until_served(
        mgr: &SessionManager,
        user: &Username,
    ) -> Result<(Vec<String>, String), String> {
        let mut last = String::new();
        for _ in 0..20 {
            match mgr.with_collection(user, read_fronts).await {
                Ok(s) => return Ok((s.value, s.session_id)),
                Err(f) => last = f.error.to_string(),
            }
            tokio::time::sleep(ms(100)).await;
        }
        Err(format!("{user}: final read never served: {last}"))
    }

    /// An explicit flush of the current session through `mgr`, retried on transient errors.
    async fn flush_until_done(
        mgr: &SessionManager,
        user: &Username,
        mut sid: String,
    ) -> Result<(), String> {
        let mut last = String::new();
        for _ in 0..20 {
            match mgr.flush(user, &sid).await {
                Ok(_) => return Ok(()),
                Err(SessionError::SessionNotFound) => {
                    // Only we are left; a late handler may still have moved the session.
                    sid = read_until_served(mgr, user).await?.1;
                    last = "session not found".into();
                }
                Err(e) => last = e.to_string(),
            }
            tokio::time::sleep(ms(100)).await;
        }
        Err(format!("{user}: final flush never succeeded: {last}"))
    }

    fn counts(fronts: &[String]) -> HashMap<&str, usize> {
        let mut m = HashMap::new();
        for f in fronts {
            *m.entry(f.as_str()).or_insert(0) += 1;
        }
        m
    }

    fn check(
        user: &Username,
        log: &UserLog,
        baseline: &[String],
        fin: &[String],
    ) -> Result<(), String> {
        let base = counts(baseline);
        let have = counts(fin);
        let n = |m: &HashMap<&str, usize>, f: &str| m.get(f).copied().unwrap_or(0);
        for (f, want) in &base {
            if log.sent.contains(*f) {
                return Err(format!(
                    "{user}: sent front {f:?} collides with the starter deck"
                ));
            }
            if n(&have, f) != *want {
                return Err(format!(
                    "{user}: starter note {f:?} present {} times, expected {want}",
                    n(&have, f)
                ));
            }
        }
        for a in &log.adds {
            let got = n(&have, &a.front);
            let ok = match a.outcome {
                Outcome::Acked => got == 1,
                Outcome::Failed => got == 0,
                Outcome::Unknown => got <= 1,
            };
            if !ok {
                return Err(format!(
                    "{user}: add {:?} ({:?}: {}) present {got} times in the final state",
                    a.front, a.outcome, a.detail
                ));
            }
        }
        for f in have.keys() {
            if !log.sent.contains(*f) && !base.contains_key(f) {
                return Err(format!("{user}: phantom front {f:?} in the final state"));
            }
        }
        for (i, r) in log.reads.iter().enumerate() {
            let seen = counts(&r.fronts);
            for (f, c) in &seen {
                if !log.sent.contains(*f) && !base.contains_key(f) {
                    return Err(format!("{user}: read #{i} saw phantom front {f:?}"));
                }
                if log.sent.contains(*f) && *c != 1 {
                    return Err(format!("{user}: read #{i} saw {f:?} {c} times"));
                }
                if n(&have, f) == 0 {
                    return Err(format!(
                        "{user}: read #{i} saw {f:?}, which the final state lost"
                    ));
                }
            }
            for a in &log.adds {
                if a.acked_at.is_some_and(|t| t < r.started) && n(&seen, &a.front) != 1 {
                    return Err(format!(
                        "{user}: read #{i} missed {:?}, acknowledged before it began",
                        a.front
                    ));
                }
            }
        }
        Ok(())
    }

    /// The stores after the final flush: the session released at the snapshot's seq, nothing
    /// in the journal past it.
    async fn check_flushed_stores(world: &World, user: &Username) -> Result<(), String> {
        let ports = world.ports(&Arc::new(Metrics::default()), false);
        let item = ports
            .sessions
            .get(user)
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("{user}: no session item after the flush"))?;
        if item.status != SessionStatus::Flushed || item.snapshot_seq != item.seq {
            return Err(format!(
                "{user}: after the final flush the item is {item:?}"
            ));
        }
        let blob = ports
            .blobs
            .get(&snapshot_key(user))
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("{user}: no snapshot"))?;
        let snap_seq = blob.metadata.get(SNAPSHOT_SEQ_META).cloned();
        if snap_seq != Some(item.seq.to_string()) {
            return Err(format!(
                "{user}: snapshot seq {snap_seq:?} but the session is at {}",
                item.seq
            ));
        }
        let tail = ports
            .sessions
            .journal(user, item.seq, u64::MAX)
            .await
            .map_err(|e| e.to_string())?;
        if !tail.is_empty() {
            return Err(format!(
                "{user}: journal entries past the flushed seq {}: {:?}",
                item.seq,
                tail.iter().map(|e| e.seq).collect::<Vec<_>>()
            ));
        }
        Ok(())
    }

    // -----------------------------------------------------------------------------------------
    // One seed
    // -----------------------------------------------------------------------------------------

    /// Removes the seed's cache dirs however the seed ends.
    struct TempRoot(PathBuf);

    impl Drop for TempRoot {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    async fn run_seed(
        env: &support::Env,
        seed: u64,
        stats: &Arc<Stats>,
        totals: &Mutex<BTreeMap<&'static str, u64>>,
    ) -> Result<(), String> {
        let mut rng = Rng::new(seed);
        let p_store = [0.0, 0.01, 0.03][rng.index(3)];
        let plan = FaultPlan {
            fail_before: p_store,
            fail_after: p_store,
            bus_drop: 0.1,
            bus_duplicate: 0.1,
            bus_delay: 0.1,
            yield_every_call: false,
            ..FaultPlan::default()
        };
        let faults = Faults::new(rng.next(), plan);
        faults.set_enabled(false);
        let root = std::env::temp_dir().join(format!(
            "javumbo-aws-sim-{seed}-{}",
            uuid::Uuid::new_v4().simple()
        ));
        let _cleanup = TempRoot(root.clone());
        let (bus, rx) = mpsc::unbounded_channel();
        let world = Arc::new(World {
            clients: env.clients.clone(),
            cfg: env.cfg.clone(),
            clock: Arc::new(SystemClock),
            faults,
            bus,
            root,
            metrics: Mutex::new(Vec::new()),
            stats: stats.clone(),
        });
        let worker = tokio::spawn(flush_worker(world.clone(), rx, rng.fork()));
        let result = drive(&world, &mut rng).await;
        worker.abort();
        let mut t = totals.lock().unwrap();
        for (k, v) in world.metric_sum() {
            *t.entry(k).or_insert(0) += v;
        }
        result
    }

    /// Registration, the workload, the final checks.
    async fn drive(world: &Arc<World>, rng: &mut Rng) -> Result<(), String> {
        let faults = &world.faults;
        // Registration and the starter deck's fronts, by a container that then goes away with
        // the session it claimed still active.
        let users: Vec<Username> = (0..USERS)
            .map(|i| {
                let id = uuid::Uuid::new_v4().simple().to_string();
                Username::parse(&format!("s{i}-{}", &id[..14])).expect("valid username")
            })
            .collect();
        let mut baselines = Vec::new();
        {
            let setup = world.container("setup", false);
            for u in &users {
                setup
                    .create_collection(u)
                    .await
                    .map_err(|e| format!("{u}: create_collection: {e}"))?;
                baselines.push(read_until_served(&setup, u).await?.0);
            }
        }

        // The workload.
        faults.set_enabled(true);
        let fleet = Arc::new(Fleet::new(world));
        let logs: Vec<Arc<Mutex<UserLog>>> = users.iter().map(|_| Arc::default()).collect();
        let mut clients = Vec::new();
        for (ui, user) in users.iter().enumerate() {
            for ci in 0..rng.range(2, 4) {
                let client = Client {
                    world: world.clone(),
                    fleet: fleet.clone(),
                    user: user.clone(),
                    log: logs[ui].clone(),
                    rng: rng.fork(),
                    tag: format!("u{ui}c{ci}"),
                    requests: rng.range(10, 17),
                };
                clients.push(tokio::spawn(client.run()));
            }
        }
        let kills = rng.range(1, 4);
        let chaos = tokio::spawn(chaos(world.clone(), fleet.clone(), rng.fork(), kills));
        for c in clients {
            c.await.map_err(|e| format!("client task: {e}"))?;
        }
        chaos.abort();
        faults.set_enabled(false);

        // The final state, per user, through fresh containers (bus and handlers still up).
        for (ui, user) in users.iter().enumerate() {
            let a = world.container("final-a", false);
            let (fronts, sid) = read_until_served(&a, user).await?;
            {
                let log = logs[ui].lock().unwrap();
                check(user, &log, &baselines[ui], &fronts)?;
            }
            flush_until_done(&a, user, sid).await?;
            check_flushed_stores(world, user).await?;
            let b = world.container("final-b", false);
            let (from_snapshot, _) = read_until_served(&b, user).await?;
            if from_snapshot != fronts {
                return Err(format!(
                    "{user}: snapshot alone reads {} fronts, snapshot + journal read {}: {:?} vs {:?}",
                    from_snapshot.len(),
                    fronts.len(),
                    from_snapshot,
                    fronts
                ));
            }
        }
        Ok(())
    }

    fn seeds() -> Vec<u64> {
        if let Ok(s) = std::env::var("JAVUMBO_AWS_SIM_SEED") {
            return vec![
                s.trim()
                    .parse()
                    .expect("JAVUMBO_AWS_SIM_SEED must be a number"),
            ];
        }
        let count = std::env::var("JAVUMBO_AWS_SIM_SEEDS")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(DEFAULT_SEEDS);
        let base = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() % 1_000_000 * 1000)
            .unwrap_or(0);
        (base..base + count).collect()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn session_protocol_on_aws_adapters() {
        let env = support::env().await;
        let seeds = seeds();
        let stats = Arc::new(Stats::default());
        let totals = Mutex::new(BTreeMap::new());
        let started = Instant::now();
        let summary = |ran: usize| {
            let t = totals.lock().unwrap();
            let m = |k: &str| t.get(k).copied().unwrap_or(0);
            format!(
                "aws session simulation: {ran} seeds ({}) in {:.1} s; {} requests: adds acked {} / \
                 failed {} / unknown {}, reads {} (+{} errors), user flushes {} (+{} refused); \
                 kills {} ({} requests died); flush handler runs {} ({} errors, {} crashes); \
                 flushes {}, compactions {}, catch-ups {}, takeovers {} ({} by timeout), fence \
                 retries {}, cache hit/miss {}/{}",
                match &seeds[..ran] {
                    [one] => one.to_string(),
                    [first, .., last] => format!("{first}..={last}"),
                    [] => "none".to_owned(),
                },
                started.elapsed().as_secs_f64(),
                get(&stats.requests),
                get(&stats.acked),
                get(&stats.failed),
                get(&stats.unknown),
                get(&stats.reads),
                get(&stats.read_errors),
                get(&stats.user_flushes),
                get(&stats.user_flush_errors),
                get(&stats.kills),
                get(&stats.killed_requests),
                get(&stats.handler_runs),
                get(&stats.handler_errors),
                get(&stats.handler_crashes),
                m("flush"),
                m("compaction"),
                m("catch_up"),
                m("takeover"),
                m("takeover_timeout"),
                m("fence_retry"),
                m("cache_hit"),
                m("cache_miss"),
            )
        };
        for (i, &seed) in seeds.iter().enumerate() {
            let outcome =
                tokio::time::timeout(SEED_TIMEOUT, run_seed(&env, seed, &stats, &totals)).await;
            let err = match outcome {
                Ok(Ok(())) => continue,
                Ok(Err(e)) => e,
                Err(_) => format!("did not finish in {} s", SEED_TIMEOUT.as_secs()),
            };
            eprintln!("{}", summary(i + 1));
            panic!(
                "seed {seed} failed: {err}\nreplay its workload (the interleaving is not \
                 deterministic): JAVUMBO_AWS_SIM_SEED={seed} cargo test -p javumbo-storage-aws \
                 --features lambda --test simulation -- --nocapture"
            );
        }
        eprintln!("{}", summary(seeds.len()));
    }
}
