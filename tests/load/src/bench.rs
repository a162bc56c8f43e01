//! `javumbo-load bench-report`: fold the runs of `make bench` and criterion's estimates into
//! one markdown file, with the issue's targets checked against the measured numbers.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::coldstart::{ColdStartReport, INIT_GOAL_MS};
use crate::config::BenchReportArgs;
use crate::error::{LoadError, Result};
use crate::report::{Report, opt, pct};

/// The issue's limit for each function's deployment zip ("5 MB", taken as 5,000,000 bytes).
pub const ZIP_LIMIT_BYTES: u64 = 5_000_000;

/// One function's `bootstrap.zip` from `make package`.
#[derive(Debug, Clone, PartialEq)]
pub struct ZipSize {
    pub function: String,
    pub zip_bytes: u64,
    /// The `bootstrap` inside, unpacked.
    pub binary_bytes: Option<u64>,
}

/// Every `<dir>/<function>/bootstrap.zip`, by function name.
pub fn read_lambda_zips(dir: &Path) -> Vec<ZipSize> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let zip = e.path().join("bootstrap.zip");
        let Ok(meta) = std::fs::metadata(&zip) else {
            continue;
        };
        let binary_bytes = std::fs::File::open(&zip)
            .ok()
            .and_then(|f| zip::ZipArchive::new(f).ok())
            .and_then(|mut z| z.by_name("bootstrap").ok().map(|b| b.size()));
        out.push(ZipSize {
            function: e.file_name().to_string_lossy().into_owned(),
            zip_bytes: meta.len(),
            binary_bytes,
        });
    }
    out.sort_by(|a, b| a.function.cmp(&b.function));
    out
}

/// What `make bench` measured of the Lambda packaging: the cold-start run, the zips.
#[derive(Debug, Clone, Default)]
pub struct LambdaResults {
    pub cold_start: Option<ColdStartReport>,
    pub zips: Vec<ZipSize>,
}

fn mb(bytes: u64) -> String {
    format!("{:.2}", bytes as f64 / 1e6)
}

/// A criterion estimate: the benchmark's id and its mean time per iteration.
#[derive(Debug, Clone, PartialEq)]
pub struct MicroBench {
    pub id: String,
    pub mean_ns: f64,
    pub low_ns: f64,
    pub high_ns: f64,
}

/// Every `<id>/new/estimates.json` under criterion's output directory.
pub fn read_criterion(dir: &Path) -> Vec<MicroBench> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.ends_with("new/estimates.json")
                && let Some(b) = parse_estimate(dir, &p)
            {
                out.push(b);
            }
        }
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    out
}

fn parse_estimate(root: &Path, file: &Path) -> Option<MicroBench> {
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(file).ok()?).ok()?;
    let mean = v.get("mean")?;
    let id = file
        .parent()?
        .parent()?
        .strip_prefix(root)
        .ok()?
        .to_string_lossy()
        .into_owned();
    let ci = mean.get("confidence_interval")?;
    Some(MicroBench {
        id,
        mean_ns: mean.get("point_estimate")?.as_f64()?,
        low_ns: ci.get("lower_bound")?.as_f64()?,
        high_ns: ci.get("upper_bound")?.as_f64()?,
    })
}

fn load(dir: &Path) -> Result<Report> {
    let bytes = std::fs::read(dir.join("report.json"))
        .map_err(|e| LoadError::Config(format!("{}: {e}", dir.join("report.json").display())))?;
    Ok(serde_json::from_slice(&bytes)?)
}

/// Path of `to` as seen from the directory `from` (both under one root), for markdown links.
fn relative(from: &Path, to: &Path) -> PathBuf {
    let from = std::path::absolute(from).unwrap_or_else(|_| from.to_path_buf());
    let to_abs = std::path::absolute(to).unwrap_or_else(|_| to.to_path_buf());
    to_abs
        .strip_prefix(&from)
        .map(Path::to_path_buf)
        .unwrap_or(to_abs)
}

pub fn write_bench_report(args: &BenchReportArgs) -> Result<()> {
    let out_dir = args.out.parent().unwrap_or(Path::new("."));
    // A run that crashed leaves no report.json: say so in the report instead of writing none.
    let mut runs = Vec::new();
    let mut missing = Vec::new();
    for d in &args.runs {
        match load(d) {
            Ok(r) => runs.push((d.clone(), r)),
            Err(e) => missing.push(e.to_string()),
        }
    }
    let micro = args
        .criterion
        .as_deref()
        .map(read_criterion)
        .unwrap_or_default();
    let mut lambda = LambdaResults {
        zips: args
            .lambda_dir
            .as_deref()
            .map(read_lambda_zips)
            .unwrap_or_default(),
        ..LambdaResults::default()
    };
    if let Some(dir) = &args.cold_start {
        match ColdStartReport::read(dir) {
            Ok(r) => lambda.cold_start = Some(r),
            Err(e) => missing.push(e.to_string()),
        }
    }
    let mut md = render(out_dir, &runs, &micro, &lambda);
    if !args.note.is_empty() {
        let notes: String = args.note.iter().map(|n| format!("- {n}\n")).collect();
        md = md.replacen(
            "\n## Targets\n",
            &format!("\n**Notes.**\n\n{notes}\n## Targets\n"),
            1,
        );
    }
    for m in missing {
        let _ = writeln!(md, "\n**Run without a report:** {m}");
    }
    std::fs::write(&args.out, md)?;
    Ok(())
}

pub fn render(
    out_dir: &Path,
    runs: &[(PathBuf, Report)],
    micro: &[MicroBench],
    lambda: &LambdaResults,
) -> String {
    let mut s = String::from(
        "# javumbo benchmark report\n\nGenerated by `make bench` (`tests/load/load.mk`) with `javumbo-load`; \
         every number below comes from the run directories listed with it. The machine is the \
         project's 2-core development box, shared with other work while measuring, so absolute \
         throughput is a floor, not a ceiling.\n\n## Summary\n\n\
         | run | users | duration s | requests | req/s | errors | p99 ms | blob GET/session | blob PUT/session | cache hit | takeovers | peak RSS MB | audit |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n",
    );
    for (_, r) in runs {
        let st = r.store.as_ref();
        let audit = match &r.audit {
            Some(a) if a.clean() => format!("clean ({} writes)", a.totals.writes_acked),
            Some(a) => format!(
                "**FAILED** lost {} dup {} phantom {} incomplete {}",
                a.totals.lost, a.totals.duplicated, a.totals.phantom, a.totals.users_incomplete
            ),
            None => "skipped".into(),
        };
        let _ = writeln!(
            s,
            "| {} | {} | {:.1} | {} | {:.0} | {} | {:.2} | {} | {} | {} | {} | {} | {} |",
            r.title,
            r.users,
            r.duration_s,
            r.requests,
            r.throughput_rps,
            r.errors,
            r.overall.p99_ms,
            opt(st.and_then(|x| x.blob_get_per_session), 2),
            opt(st.and_then(|x| x.blob_put_per_session), 2),
            pct(st.and_then(|x| x.cache_hit_rate)),
            st.map_or("n/a".into(), |x| x.takeovers.to_string()),
            opt(r.rss.as_ref().map(|x| x.peak_total_mb), 1),
            audit
        );
    }
    s.push_str("\n## Targets\n\n");
    s.push_str(&targets(runs));
    s.push_str(&lambda_targets(lambda));
    if !micro.is_empty() {
        s.push_str("\n## Micro-benchmarks (criterion, embedded store)\n\n| benchmark | mean | 95% CI |\n|---|---:|---:|\n");
        for m in micro {
            let _ = writeln!(
                s,
                "| `{}` | {} | {} – {} |",
                m.id,
                ns(m.mean_ns),
                ns(m.low_ns),
                ns(m.high_ns)
            );
        }
    }
    if let Some(c) = &lambda.cold_start {
        s.push('\n');
        s.push_str(&c.markdown("##"));
    }
    if !lambda.zips.is_empty() {
        s.push_str(&zip_table(&lambda.zips));
    }
    for (dir, r) in runs {
        let rel = relative(out_dir, dir);
        let prefix = format!("{}/", rel.display());
        s.push('\n');
        s.push_str(&r.markdown("##", &prefix));
        let _ = writeln!(
            s,
            "\nCommand line settings: `{}`\n",
            serde_json::to_string(&r.settings).unwrap_or_default()
        );
    }
    s
}

fn ns(v: f64) -> String {
    if v >= 1e6 {
        format!("{:.2} ms", v / 1e6)
    } else if v >= 1e3 {
        format!("{:.1} µs", v / 1e3)
    } else {
        format!("{v:.0} ns")
    }
}

/// The memory target's run directory in `load.mk`, and its limit (MiB, as RSS is reported).
const MEMORY_RUN_DIR: &str = "memory-100";
const MEMORY_LIMIT_MB: f64 = 300.0;

fn verdict(ok: bool) -> &'static str {
    if ok { "met" } else { "**not met**" }
}

fn zip_table(zips: &[ZipSize]) -> String {
    let mut s = format!(
        "\n## Lambda zip sizes\n\n`make package` (`target/lambda/<function>/bootstrap.zip`). \
         Goal: ≤ 5 MB ({ZIP_LIMIT_BYTES} bytes) per function.\n\n\
         | function | zip bytes | zip MB | bootstrap MB (unpacked) | ≤ 5 MB |\n|---|---:|---:|---:|---|\n"
    );
    for z in zips {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} |",
            z.function,
            z.zip_bytes,
            mb(z.zip_bytes),
            z.binary_bytes.map_or("n/a".into(), mb),
            verdict(z.zip_bytes <= ZIP_LIMIT_BYTES)
        );
    }
    s
}

/// The Lambda rows of the targets table: init time of the API functions, zip sizes.
fn lambda_targets(lambda: &LambdaResults) -> String {
    let mut s = String::new();
    if let Some(c) = &lambda.cold_start {
        let api: Vec<_> = c.functions.iter().filter(|f| f.api).collect();
        let text = api
            .iter()
            .map(|f| match &f.init {
                Some(i) => format!("{} {:.1}", f.name, i.median_ms),
                None => format!("{} no sample", f.name),
            })
            .collect::<Vec<_>>()
            .join(", ");
        let ok = !api.is_empty() && api.iter().all(|f| f.init_goal_met() == Some(true));
        let _ = writeln!(
            s,
            "| Lambda init ≤ {INIT_GOAL_MS:.0} ms, API functions (median of {} cold starts) | {text} ms | {} |",
            c.runs,
            verdict(ok)
        );
    }
    if let Some(max) = lambda.zips.iter().max_by_key(|z| z.zip_bytes) {
        let _ = writeln!(
            s,
            "| Lambda zip ≤ 5 MB per function | largest {} MB ({}), {} of {} within | {} |",
            mb(max.zip_bytes),
            max.function,
            lambda
                .zips
                .iter()
                .filter(|z| z.zip_bytes <= ZIP_LIMIT_BYTES)
                .count(),
            lambda.zips.len(),
            verdict(max.zip_bytes <= ZIP_LIMIT_BYTES)
        );
    }
    s
}

/// Check the issue's targets against the runs that can speak to them (found by title).
fn targets(runs: &[(PathBuf, Report)]) -> String {
    let mut s = String::from("| target | measured | verdict |\n|---|---|---|\n");
    let find = |needle: &str| {
        runs.iter()
            .map(|(_, r)| r)
            .find(|r| r.title.contains(needle))
    };
    if let Some(r) = find("single user")
        && let Some(route) = r.routes.iter().find(|x| x.route == "POST /api/review")
    {
        let (what, p99) = match &route.server {
            Some(sv) => ("server time", sv.p99_ms),
            None => (
                "client round trip (server sent no Server-Timing)",
                route.latency.p99_ms,
            ),
        };
        let _ = writeln!(
            s,
            "| cached review answer p99 < 1 ms | {p99:.3} ms ({what}) | {} |",
            verdict(p99 < 1.0)
        );
    }
    if let Some(r) = find("8 containers, 200 users") {
        let _ = writeln!(
            s,
            "| ≥ 3,000 req/s, 8 containers, 200 users, 0 errors | {:.0} req/s, {} errors | {} |",
            r.throughput_rps,
            r.errors,
            verdict(r.throughput_rps >= 3000.0 && r.errors == 0)
        );
    }
    if let Some(st) = runs
        .iter()
        .map(|(_, r)| r)
        .find(|r| r.title.contains("single user"))
        .and_then(|r| r.store.as_ref())
    {
        let get = st.blob_get_per_session.unwrap_or(f64::NAN);
        let put = st.blob_put_per_session.unwrap_or(f64::NAN);
        let _ = writeln!(
            s,
            "| S3: 1 GET per study session, ≤ 1 PUT at its end | {get:.2} GET, {put:.2} PUT per session | {} |",
            verdict(get <= 1.0 && put <= 1.0)
        );
    }
    // `make bench`'s memory run: by its directory, else by its title.
    if let Some(r) = runs
        .iter()
        .find(|(d, _)| d.file_name().is_some_and(|n| n == MEMORY_RUN_DIR))
        .or_else(|| runs.iter().find(|(_, r)| r.title.starts_with("memory")))
        .map(|(_, r)| r)
    {
        let (ok, text) = match &r.rss {
            Some(m) => (
                m.peak_total_mb < MEMORY_LIMIT_MB,
                format!(
                    "{:.1} MB peak RSS ({} users; server + containers, {} processes; {:.1} MB at the end)",
                    m.peak_total_mb,
                    r.users,
                    m.max_processes(),
                    m.end_total_mb
                ),
            ),
            None => (false, "RSS not recorded".into()),
        };
        let _ = writeln!(
            s,
            "| 100 concurrent users, 1 container: peak RSS < 300 MB | {text} | {} |",
            verdict(ok)
        );
    }
    if let Some(r) = find("fault") {
        let (ok, text) = match &r.audit {
            Some(a) => (
                a.clean() && r.requests >= 100_000,
                format!(
                    "{} operations, lost {}, duplicated {}, phantom {}, not auditable {}",
                    r.requests,
                    a.totals.lost,
                    a.totals.duplicated,
                    a.totals.phantom,
                    a.totals.users_incomplete
                ),
            ),
            None => (false, "audit skipped".into()),
        };
        let _ = writeln!(
            s,
            "| fault run: 0 lost/duplicated over ≥ 100,000 operations | {text} | {} |",
            verdict(ok)
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::AuditReport;

    #[test]
    fn reads_criterion_estimates() {
        let dir = tempfile::tempdir().unwrap();
        let est = dir.path().join("answer/good/new");
        std::fs::create_dir_all(&est).unwrap();
        std::fs::write(
            est.join("estimates.json"),
            r#"{"mean":{"point_estimate":1500.0,"confidence_interval":{"lower_bound":1400.0,"upper_bound":1600.0,"confidence_level":0.95}}}"#,
        )
        .unwrap();
        let m = read_criterion(dir.path());
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].id, "answer/good");
        assert_eq!(ns(m[0].mean_ns), "1.5 µs");
    }

    #[test]
    fn renders_targets_from_runs() {
        let fault = Report {
            title: "fault run, 8 containers".into(),
            requests: 120_000,
            audit: Some(AuditReport::default()),
            ..Report::default()
        };
        let sat = Report {
            title: "saturation, 8 containers, 200 users".into(),
            throughput_rps: 3100.0,
            ..Report::default()
        };
        let md = render(
            Path::new("bench"),
            &[
                (PathBuf::from("bench/runs/sat"), sat),
                (PathBuf::from("bench/runs/fault"), fault),
            ],
            &[],
            &LambdaResults::default(),
        );
        assert!(md.contains(
            "| ≥ 3,000 req/s, 8 containers, 200 users, 0 errors | 3100 req/s, 0 errors | met |"
        ));
        assert!(md.contains("120000 operations, lost 0"));
        assert!(md.contains("](runs/sat/throughput.svg)"));
        // No RSS recorded: the summary says n/a and no memory target row appears.
        assert!(
            md.contains("| n/a | n/a | n/a | n/a | n/a | clean (0 writes) |"),
            "{md}"
        );
        assert!(!md.contains("peak RSS < 300 MB"));
    }

    #[test]
    fn memory_target_reads_the_memory_run() {
        use crate::rss::{RssReport, RssSample};
        let run = |mb: u64| Report {
            title: "memory, 1 container, 100 users".into(),
            users: 100,
            rss: Some(RssReport::from_samples(
                7,
                0.0,
                vec![
                    RssSample {
                        t_s: 0.0,
                        total_kb: 10 * 1024,
                        max_kb: 10 * 1024,
                        processes: 2,
                    },
                    RssSample {
                        t_s: 0.25,
                        total_kb: mb * 1024,
                        max_kb: mb * 700,
                        processes: 2,
                    },
                ],
            )),
            ..Report::default()
        };
        let dir = PathBuf::from("bench/runs/memory-100");
        let md = render(
            Path::new("bench"),
            &[(dir.clone(), run(120))],
            &[],
            &LambdaResults::default(),
        );
        assert!(
            md.contains("| 100 concurrent users, 1 container: peak RSS < 300 MB | 120.0 MB peak RSS (100 users; server + containers, 2 processes; 120.0 MB at the end) | met |"),
            "{md}"
        );
        assert!(md.contains("| n/a | 120.0 | skipped |"), "{md}");
        assert!(md.contains("![server RSS](runs/memory-100/rss.svg)"));
        let md = render(
            Path::new("bench"),
            &[(dir.clone(), run(300))],
            &[],
            &LambdaResults::default(),
        );
        assert!(md.contains("300.0 MB peak RSS") && md.contains("| **not met** |"));
        let mut unsampled = run(1);
        unsampled.rss = None;
        let md = render(
            Path::new("bench"),
            &[(dir, unsampled)],
            &[],
            &LambdaResults::default(),
        );
        assert!(md.contains("| RSS not recorded | **not met** |"));
    }

    fn zip_of(dir: &Path, function: &str, payload: &[u8]) {
        use std::io::Write as _;
        let d = dir.join(function);
        std::fs::create_dir_all(&d).unwrap();
        let mut w = zip::ZipWriter::new(std::fs::File::create(d.join("bootstrap.zip")).unwrap());
        w.start_file("bootstrap", zip::write::SimpleFileOptions::default())
            .unwrap();
        w.write_all(payload).unwrap();
        w.finish().unwrap();
    }

    #[test]
    fn lambda_sections_from_zips_and_a_cold_start_run() {
        use crate::coldstart::{FunctionReport, Stats};
        use crate::config::BenchReportArgs;
        use rand::RngCore as _;

        let dir = tempfile::tempdir().unwrap();
        let lambda_dir = dir.path().join("lambda");
        zip_of(&lambda_dir, "javumbo-auth", b"small");
        // Random bytes do not compress: a zip just over the limit.
        let mut big = vec![0u8; ZIP_LIMIT_BYTES as usize + 1000];
        rand::rng().fill_bytes(&mut big);
        zip_of(&lambda_dir, "javumbo-sync-fn", &big);
        std::fs::create_dir_all(lambda_dir.join("not-a-function")).unwrap();
        let zips = read_lambda_zips(&lambda_dir);
        assert_eq!(
            zips.iter().map(|z| z.function.as_str()).collect::<Vec<_>>(),
            ["javumbo-auth", "javumbo-sync-fn"]
        );
        assert_eq!(zips[0].binary_bytes, Some(5));
        assert!(zips[1].zip_bytes > ZIP_LIMIT_BYTES);

        let stats = |median_ms: f64| Stats {
            n: 20,
            median_ms,
            p90_ms: median_ms + 2.0,
            min_ms: median_ms - 1.0,
            max_ms: median_ms + 5.0,
        };
        let f = |name: &str, api: bool, init: f64| FunctionReport {
            name: name.into(),
            event: if api {
                "GET /api/health"
            } else {
                "SNS flush request"
            }
            .into(),
            api,
            init: Some(stats(init)),
            first_invocation: Some(stats(1.5)),
            outcomes: [("200".to_owned(), 20)].into(),
            ..FunctionReport::default()
        };
        let cold = ColdStartReport {
            runs: 20,
            warmup: 1,
            memory_mb: 1024,
            cores: 2,
            functions: vec![
                f("javumbo-auth", true, 12.0),
                f("javumbo-flush-handler", false, 45.0),
            ],
        };
        let cold_dir = dir.path().join("cold-start");
        cold.write(&cold_dir).unwrap();
        let out = dir.path().join("REPORT.md");
        let args = BenchReportArgs {
            out: out.clone(),
            criterion: None,
            note: vec![],
            cold_start: Some(cold_dir),
            lambda_dir: Some(lambda_dir),
            runs: vec![],
        };
        write_bench_report(&args).unwrap();
        let md = std::fs::read_to_string(&out).unwrap();
        assert!(
            md.contains("| Lambda init ≤ 30 ms, API functions (median of 20 cold starts) | javumbo-auth 12.0 ms | met |"),
            "{md}"
        );
        assert!(
            md.contains("| Lambda zip ≤ 5 MB per function | largest 5.00 MB (javumbo-sync-fn), 1 of 2 within | **not met** |"),
            "{md}"
        );
        assert!(md.contains("## Lambda cold start"), "{md}");
        assert!(
            md.contains(
                "| javumbo-auth | GET /api/health | 200 ×20 | 12.0 | 14.0 | 1.5 | 3.5 | n/a | met |"
            ),
            "{md}"
        );
        assert!(md.contains("| n/a (not behind API Gateway) |"), "{md}");
        assert!(md.contains("## Lambda zip sizes"), "{md}");
        assert!(md.contains("| javumbo-auth | "), "{md}");
        assert!(md.contains(" | 0.00 | 0.00 | met |"), "{md}");
        assert!(md.contains(" | 5.00 | 5.00 | **not met** |"), "{md}");

        // A cold-start directory without its JSON: the report says so instead of failing.
        let args = BenchReportArgs {
            cold_start: Some(dir.path().join("nowhere")),
            lambda_dir: None,
            ..args
        };
        write_bench_report(&args).unwrap();
        let md = std::fs::read_to_string(&out).unwrap();
        assert!(md.contains("**Run without a report:**") && md.contains("nowhere/cold-start.json"));
        assert!(!md.contains("Lambda zip"));
    }
}
