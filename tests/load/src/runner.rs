//! One load-test run from start to verdict: target up, users ramped in, progress shown, faults
//! injected, stop conditions honoured, store counters read, every ledger audited, report built.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::Method;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::apkg::read_apkg;
use crate::audit::{AuditReport, FinalCard, FinalView};
use crate::client::{Api, RateLimiter};
use crate::config::{RunArgs, Stop};
use crate::error::Result;
use crate::ledger::Ledger;
use crate::metrics::Metrics;
use crate::report::{Report, StoreReport};
use crate::rss::RssSampler;
use crate::scenario::{ScenarioCtx, StopSignal, Student, list_cards, list_decks};
use crate::spawn::{LocalServer, fault_args, fetch_metrics, find_server_bin, wait_healthy};

/// Audits run this many users at once: enough to hide latency, few enough not to become a
/// load test of their own against a server that has just been through one.
const AUDIT_CONCURRENCY: usize = 8;
/// Registrations in flight at once (each costs the server a password hash).
const SETUP_CONCURRENCY: usize = 16;

pub async fn run(args: RunArgs) -> Result<Report> {
    let plan = args.plan()?;
    let http = Api::build_http(plan.timeout)?;
    let mut server = None;
    let url = match (&args.target, args.spawn_local) {
        (Some(t), _) => {
            wait_healthy(&http, t.trim_end_matches('/'), Duration::from_secs(30)).await?;
            t.trim_end_matches('/').to_string()
        }
        (None, Some(n)) => {
            let bin = find_server_bin(args.server_bin.as_deref());
            let mut extra = fault_args(&args);
            extra.extend(args.server_args.iter().cloned());
            let mut s = LocalServer::start(&bin, n.max(1), &extra).await?;
            s.wait_healthy(&http, Duration::from_secs(60)).await?;
            let url = s.url.clone();
            server = Some(s);
            url
        }
        (None, None) => {
            return Err(crate::LoadError::Config(
                "give --target URL or --spawn-local N".into(),
            ));
        }
    };
    // Whose memory to record: the spawned server, or the one --server-pid names.
    let rss_root = server
        .as_ref()
        .map(LocalServer::pid)
        .filter(|p| *p != 0)
        .or(args.server_pid);
    let outcome = drive(&args, &plan, &http, &url, server.as_ref(), rss_root).await;
    if let Some(s) = server {
        s.shutdown().await;
    }
    outcome
}

async fn drive(
    args: &RunArgs,
    plan: &crate::config::Plan,
    http: &reqwest::Client,
    url: &str,
    server: Option<&LocalServer>,
    rss_root: Option<u32>,
) -> Result<Report> {
    // From before account set-up to the end of the load (not the audit); dropped on error.
    let rss = rss_root.map(RssSampler::start);
    let metrics = Arc::new(Metrics::new());
    let limiter = args.rate.map(|r| Arc::new(RateLimiter::new(r)));
    let prefix = args.user_prefix.clone().unwrap_or_else(default_prefix);

    // Accounts first, outside the measurement: registration hashes a password (argon2id), a
    // one-off cost that would otherwise swamp the first seconds of a saturation run.
    let setup_metrics = Arc::new(Metrics::new());
    let (students, setup_failures) = setup_students(args, http, url, &prefix, &setup_metrics).await;

    let counters_before = fetch_metrics(http, url).await;
    let started = Instant::now();
    let deadline = match plan.stop {
        Stop::Duration(d) => Some(started + d),
        Stop::Iterations(_) => None,
    };
    let stop = Arc::new(StopSignal::new(
        deadline,
        args.max_requests,
        metrics.clone(),
    ));
    let ctx = Arc::new(ScenarioCtx {
        reviews: args.reviews,
        ease_mix: plan.ease_mix,
        think: plan.think,
        adversarial_clients: args.adversarial_clients,
        timeout: plan.timeout,
        stop: stop.clone(),
        sessions: AtomicU64::new(0),
        flushes_ok: AtomicU64::new(0),
    });

    let progress = progress_bar(args, plan);
    let ticker = tokio::spawn(tick(
        progress.clone(),
        metrics.clone(),
        ctx.clone(),
        plan.stop,
    ));

    let killed = Arc::new(AtomicU64::new(0));
    let mut faults = JoinSet::new();
    if let (Some(every), Some(server)) = (args.kill_every, server) {
        let killed = killed.clone();
        let stop = stop.clone();
        let mut rng = StdRng::seed_from_u64(args.seed ^ 0x6b69_6c6c);
        let period = Duration::from_secs_f64(every.max(0.1));
        let parent = ServerHandle::from(server);
        faults.spawn(async move {
            loop {
                tokio::time::sleep(period).await;
                if stop.should_stop() {
                    break;
                }
                if parent.kill_one(rng.random_range(0..usize::MAX)).await {
                    killed.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
    }

    let mut users = JoinSet::new();
    let count = students.len().max(1) as f64;
    for (i, mut student) in students.into_iter().enumerate() {
        student.api = student
            .api
            .clone()
            .with_metrics(metrics.clone(), limiter.clone());
        let ctx = ctx.clone();
        let offset = plan.ramp_up.mul_f64(i as f64 / count);
        let (stop_rule, mix) = (plan.stop, plan.mix);
        users.spawn(async move {
            tokio::time::sleep(offset).await;
            let mut done = 0u32;
            loop {
                if ctx.stop.should_stop() {
                    break;
                }
                if let Stop::Iterations(n) = stop_rule
                    && done >= n
                {
                    break;
                }
                let kind = mix.pick(student.rng.random_range(0..mix.total()));
                student.run(kind, &ctx).await;
                done += 1;
            }
            student.ledger
        });
    }
    let mut ledgers = Vec::new();
    let mut task_failures = Vec::new();
    while let Some(joined) = users.join_next().await {
        match joined {
            Ok(ledger) => ledgers.push(ledger),
            Err(e) => task_failures.push(format!("user task failed: {e}")),
        }
    }
    stop.stop();
    faults.abort_all();
    let elapsed = started.elapsed().as_secs_f64();
    let rss = rss.and_then(|r| r.finish(started));
    if let (Some(pid), None) = (rss_root, &rss) {
        eprintln!("javumbo-load: could not read the memory of pid {pid} from /proc: RSS n/a");
    }
    ticker.abort();
    progress.finish_and_clear();

    // Read the counters before the audit so its own reads are not billed to the workload.
    let counters_after = fetch_metrics(http, url).await;
    let sessions = ctx.sessions.load(Ordering::Relaxed);

    let mut report = Report {
        title: args.title.clone(),
        target: url.to_string(),
        settings: serde_json::to_value(args)?,
        users: u64::from(args.users),
        users_failed_setup: setup_failures.len() as u64,
        sessions,
        flushes_ok: ctx.flushes_ok.load(Ordering::Relaxed),
        containers_killed: killed.load(Ordering::Relaxed),
        rss,
        ..Report::default()
    };
    metrics.with(|s| report.fill_from_metrics(s, elapsed));
    setup_metrics.with(|s| report.add_setup_routes(s));
    if let (Some(b), Some(a)) = (&counters_before, &counters_after) {
        report.store = Some(StoreReport::from_delta(b, a, sessions));
    }
    for f in setup_failures.iter().chain(&task_failures) {
        *report
            .errors_by_kind
            .entry(format!("user setup: {f}"))
            .or_default() += 1;
    }
    if !args.no_audit {
        if !args.quiet {
            eprintln!("auditing {} users…", ledgers.len());
        }
        report.audit = Some(audit_all(http, url, ledgers).await);
    }
    report.passed = report.audit.as_ref().is_none_or(AuditReport::clean);
    Ok(report)
}

async fn setup_students(
    args: &RunArgs,
    http: &reqwest::Client,
    url: &str,
    prefix: &str,
    metrics: &Arc<Metrics>,
) -> (Vec<Student>, Vec<String>) {
    let gate = Arc::new(Semaphore::new(SETUP_CONCURRENCY));
    let mut set = JoinSet::new();
    for i in 0..args.users {
        let api = Api::new(http.clone(), url, metrics.clone(), None);
        let username = format!("{prefix}_{i:05}");
        let (gate, seed) = (gate.clone(), args.seed);
        set.spawn(async move {
            let _permit = gate.acquire_owned().await;
            Student::setup(api, username, seed, u64::from(i)).await
        });
    }
    let mut students = Vec::new();
    let mut failures = Vec::new();
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok(Ok(s)) => students.push(s),
            Ok(Err(e)) => failures.push(e.to_string()),
            Err(e) => failures.push(format!("setup task failed: {e}")),
        }
    }
    // Deterministic order: ramp-up offsets and RNG streams follow the user index.
    students.sort_by(|a, b| a.username.cmp(&b.username));
    (students, failures)
}

/// What the kill task needs from the server, detached from its lifetime.
struct ServerHandle {
    pid: u32,
}

impl From<&LocalServer> for ServerHandle {
    fn from(s: &LocalServer) -> Self {
        Self { pid: s.pid() }
    }
}

impl ServerHandle {
    async fn kill_one(&self, pick: usize) -> bool {
        let pids = crate::spawn::children_of(self.pid);
        if pids.is_empty() {
            return false;
        }
        crate::spawn::kill_pid(pids[pick % pids.len()]).await
    }
}

fn default_prefix() -> String {
    // Base-36 of the clock in deciseconds: reruns against one long-lived target never reuse
    // an account, and the name stays within the 20-character username limit.
    let mut n = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() / 100) as u64;
    let mut s = Vec::new();
    while n > 0 && s.len() < 7 {
        s.push(b"0123456789abcdefghijklmnopqrstuvwxyz"[(n % 36) as usize]);
        n /= 36;
    }
    s.reverse();
    format!("l{}", String::from_utf8_lossy(&s))
}

fn progress_bar(args: &RunArgs, plan: &crate::config::Plan) -> ProgressBar {
    let len = match plan.stop {
        Stop::Iterations(n) => u64::from(args.users) * u64::from(n),
        Stop::Duration(d) => d.as_secs().max(1),
    };
    let unit = match plan.stop {
        Stop::Iterations(_) => "sessions",
        Stop::Duration(_) => "s",
    };
    let pb = ProgressBar::new(len);
    if args.quiet {
        pb.set_draw_target(ProgressDrawTarget::hidden());
    }
    let style = ProgressStyle::with_template(&format!(
        "{{spinner}} [{{elapsed_precise}}] {{bar:30.cyan/blue}} {{pos}}/{{len}} {unit} {{msg}}"
    ))
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    pb.set_style(style);
    pb
}

async fn tick(pb: ProgressBar, metrics: Arc<Metrics>, ctx: Arc<ScenarioCtx>, stop: Stop) {
    let mut last = (Instant::now(), 0u64);
    let mut interval = tokio::time::interval(Duration::from_millis(500));
    loop {
        interval.tick().await;
        let live = metrics.live();
        let now = Instant::now();
        let dt = now.duration_since(last.0).as_secs_f64();
        let rate = if dt > 0.0 {
            (live.requests - last.1) as f64 / dt
        } else {
            0.0
        };
        last = (now, live.requests);
        pb.set_position(match stop {
            Stop::Iterations(_) => ctx.sessions.load(Ordering::Relaxed),
            Stop::Duration(_) => metrics.started().elapsed().as_secs(),
        });
        pb.set_message(format!(
            "{rate:.0} req/s, {} requests, {} errors, p99 {:.1} ms",
            live.requests, live.errors, live.p99_ms
        ));
    }
}

/// Audit every user, a few at a time, with retries: a target that just had containers killed
/// may need a moment, and a read that fails is not a finding, only an unfinished audit.
pub async fn audit_all(http: &reqwest::Client, url: &str, ledgers: Vec<Ledger>) -> AuditReport {
    let audit_metrics = Arc::new(Metrics::new());
    let gate = Arc::new(Semaphore::new(AUDIT_CONCURRENCY));
    let mut set = JoinSet::new();
    for ledger in ledgers {
        let base = Api::new(http.clone(), url, audit_metrics.clone(), None);
        let gate = gate.clone();
        set.spawn(async move {
            let _permit = gate.acquire_owned().await;
            let views = final_views(&base, &ledger).await;
            (ledger, views)
        });
    }
    let mut report = AuditReport::default();
    let mut done = Vec::new();
    while let Some(Ok(item)) = set.join_next().await {
        done.push(item);
    }
    // Stable order so two runs with one seed list issues alike.
    done.sort_by(|a, b| a.0.username.cmp(&b.0.username));
    for (ledger, views) in done {
        match views {
            Ok((api, apkg)) => report.add_user(&ledger, &[("api", &api), ("apkg", &apkg)]),
            Err(why) => report.add_incomplete(&ledger.username, &why),
        }
    }
    report
}

async fn final_views(
    base: &Api,
    ledger: &Ledger,
) -> std::result::Result<(FinalView, FinalView), String> {
    let password = format!("pw-{}-load", ledger.username);
    let mut token = None;
    for attempt in 0..6u32 {
        backoff(attempt).await;
        let r = base
            .call(
                "POST /api/login",
                Method::POST,
                "/api/login",
                Some(&serde_json::json!({"username": ledger.username, "password": password})),
                &[],
            )
            .await;
        if let Some(t) = r.str("access_token").filter(|_| r.ok()) {
            token = Some(t.to_string());
            break;
        }
    }
    let api = base
        .clone()
        .with_token(&token.ok_or("could not log in for the audit")?);
    let mut api_view = None;
    for attempt in 0..6u32 {
        backoff(attempt).await;
        let Some(decks) = list_decks(&api).await else {
            continue;
        };
        let mut view = FinalView {
            decks: decks.iter().cloned().collect(),
            ..FinalView::default()
        };
        let mut complete = true;
        for (deck, _) in &decks {
            match list_cards(&api, *deck).await {
                Some(cards) => {
                    for (id, (front, back)) in cards {
                        view.cards.insert(
                            id,
                            FinalCard {
                                deck_id: *deck,
                                front,
                                back,
                            },
                        );
                    }
                }
                None => {
                    complete = false;
                    break;
                }
            }
        }
        if complete {
            api_view = Some(view);
            break;
        }
    }
    let api_view = api_view.ok_or("could not list decks and cards")?;
    let mut last = String::from("export failed");
    for attempt in 0..6u32 {
        backoff(attempt).await;
        let r = api
            .call("GET /api/export", Method::GET, "/api/export", None, &[])
            .await;
        if !r.ok() {
            last = format!("export answered {:?}", r.status);
            continue;
        }
        match read_apkg(&r.body) {
            Ok(view) => return Ok((api_view, view)),
            // A well-formed 200 with a broken package is a finding in itself: do not retry.
            Err(e) => return Err(format!("export is not a readable .apkg: {e}")),
        }
    }
    Err(last)
}

async fn backoff(attempt: u32) {
    if attempt > 0 {
        tokio::time::sleep(Duration::from_millis(200 << attempt.min(5))).await;
    }
}
