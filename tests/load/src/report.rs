//! The run's results: a serialisable [`Report`], and its terminal, markdown and HTML renderings.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::audit::AuditReport;
use crate::error::Result;
use crate::metrics::{Second, Snapshot};
use crate::rss::{RssReport, kb_to_mb};
use crate::svg;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Percentiles {
    pub count: u64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
}

impl Percentiles {
    pub fn of(h: &Histogram<u64>) -> Self {
        let ms = |us: u64| us as f64 / 1000.0;
        Self {
            count: h.len(),
            p50_ms: ms(h.value_at_quantile(0.50)),
            p90_ms: ms(h.value_at_quantile(0.90)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            p999_ms: ms(h.value_at_quantile(0.999)),
            max_ms: ms(h.max()),
            mean_ms: h.mean() / 1000.0,
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RouteReport {
    pub route: String,
    pub ok: u64,
    pub errors: u64,
    pub latency: Percentiles,
    /// Handler time the server reported (`Server-Timing`), when it did.
    pub server: Option<Percentiles>,
    /// Latency histogram buckets: (upper bound µs, count).
    pub buckets: Vec<(u64, u64)>,
}

/// What `/_local/metrics` counted during the run (end minus start).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct StoreReport {
    pub counters: BTreeMap<String, f64>,
    pub sessions: u64,
    pub blob_get_per_session: Option<f64>,
    pub blob_put_per_session: Option<f64>,
    pub cache_hit_rate: Option<f64>,
    pub takeovers: f64,
    pub takeover_timeouts: f64,
    pub takeover_wait_ms_mean: Option<f64>,
    /// DynamoDB write units per journal commit (only the AWS adapters count write units).
    #[serde(default)]
    pub write_units_per_commit: Option<f64>,
}

impl StoreReport {
    pub fn from_delta(
        before: &BTreeMap<String, f64>,
        after: &BTreeMap<String, f64>,
        sessions: u64,
    ) -> Self {
        let counters: BTreeMap<String, f64> = after
            .iter()
            .map(|(k, v)| (k.clone(), v - before.get(k).copied().unwrap_or(0.0)))
            .collect();
        let get = |k: &str| counters.get(k).copied().unwrap_or(0.0);
        let per_session =
            |k: &str| (sessions > 0 && counters.contains_key(k)).then(|| get(k) / sessions as f64);
        let lookups = get("cache_hit") + get("cache_miss");
        let takeovers = get("takeover");
        Self {
            sessions,
            blob_get_per_session: per_session("blob_get"),
            blob_put_per_session: per_session("blob_put"),
            cache_hit_rate: (lookups > 0.0).then(|| get("cache_hit") / lookups),
            takeovers,
            takeover_timeouts: get("takeover_timeout"),
            takeover_wait_ms_mean: (takeovers > 0.0).then(|| get("takeover_wait_ms") / takeovers),
            write_units_per_commit: (get("table_write_units") > 0.0 && get("journal_commit") > 0.0)
                .then(|| get("table_write_units") / get("journal_commit")),
            counters,
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Report {
    pub title: String,
    pub target: String,
    pub settings: serde_json::Value,
    pub duration_s: f64,
    pub users: u64,
    pub users_failed_setup: u64,
    pub requests: u64,
    pub errors: u64,
    pub throughput_rps: f64,
    pub sessions: u64,
    pub flushes_ok: u64,
    pub containers_killed: u64,
    pub overall: Percentiles,
    pub routes: Vec<RouteReport>,
    pub timeline: Vec<Second>,
    pub errors_by_kind: BTreeMap<String, u64>,
    pub store: Option<StoreReport>,
    /// The server's memory over the run, when its pid was known and /proc readable.
    #[serde(default)]
    pub rss: Option<RssReport>,
    pub audit: Option<AuditReport>,
    pub passed: bool,
}

pub fn buckets(h: &Histogram<u64>) -> Vec<(u64, u64)> {
    if h.is_empty() {
        return Vec::new();
    }
    // Log-2 buckets from 16 µs: readable from sub-millisecond cache hits to multi-second
    // takeovers in about twenty bars.
    let mut out: Vec<(u64, u64)> = h
        .iter_log(16, 2.0)
        .map(|v| (v.value_iterated_to(), v.count_since_last_iteration()))
        .collect();
    while out.first().is_some_and(|b| b.1 == 0) {
        out.remove(0);
    }
    out
}

impl Report {
    pub fn fill_from_metrics(&mut self, s: &Snapshot<'_>, elapsed_s: f64) {
        self.duration_s = elapsed_s;
        self.requests = s.requests;
        self.errors = s.error_count;
        self.throughput_rps = if elapsed_s > 0.0 {
            s.requests as f64 / elapsed_s
        } else {
            0.0
        };
        self.overall = Percentiles::of(s.all);
        self.timeline = s.timeline.to_vec();
        self.errors_by_kind = s.errors.clone();
        self.routes = s
            .routes
            .iter()
            .map(|(route, r)| RouteReport {
                route: (*route).to_string(),
                ok: r.ok,
                errors: r.errors,
                latency: Percentiles::of(&r.latency_us),
                server: (!r.server_us.is_empty()).then(|| Percentiles::of(&r.server_us)),
                buckets: buckets(&r.latency_us),
            })
            .collect();
    }

    /// Account set-up (register, first login, starter-deck listing) happens before the clock
    /// starts; its routes are reported apart so their latency is still on record.
    pub fn add_setup_routes(&mut self, s: &Snapshot<'_>) {
        for (route, r) in s.routes {
            self.routes.push(RouteReport {
                route: format!("{route} (setup)"),
                ok: r.ok,
                errors: r.errors,
                latency: Percentiles::of(&r.latency_us),
                server: (!r.server_us.is_empty()).then(|| Percentiles::of(&r.server_us)),
                buckets: buckets(&r.latency_us),
            });
        }
        for (k, v) in s.errors {
            *self
                .errors_by_kind
                .entry(format!("{k} (setup)"))
                .or_default() += v;
        }
    }

    pub fn throughput_svg(&self) -> String {
        let ok: Vec<u64> = self.timeline.iter().map(|s| s.ok).collect();
        let err: Vec<u64> = self.timeline.iter().map(|s| s.errors).collect();
        svg::throughput("Throughput over time", &ok, &err)
    }

    /// Server RSS over time (None when it was not sampled).
    pub fn rss_svg(&self) -> Option<String> {
        let r = self.rss.as_ref()?;
        let total: Vec<(f64, f64)> = r
            .samples
            .iter()
            .map(|x| (x.t_s, kb_to_mb(x.total_kb)))
            .collect();
        let largest: Vec<(f64, f64)> = r
            .samples
            .iter()
            .map(|x| (x.t_s, kb_to_mb(x.max_kb)))
            .collect();
        let marker = (r.load_started_s > 0.0).then_some((r.load_started_s, "load starts"));
        Some(svg::lines(
            "Server memory (RSS) over time",
            "RSS MB",
            &[
                svg::Line {
                    label: "total (server + containers)",
                    colour: "#2a6fdb",
                    points: &total,
                },
                svg::Line {
                    label: "largest process",
                    colour: "#d33",
                    points: &largest,
                },
            ],
            marker,
        ))
    }

    /// One sentence on the server's memory (markdown; also used in the HTML).
    pub fn rss_text(&self) -> String {
        let Some(r) = &self.rss else {
            return "Server RSS: n/a (not sampled: no --spawn-local or --server-pid, or /proc unreadable).".into();
        };
        format!(
            "Server RSS (pid {} and its descendants, up to {} processes, every {} ms from account set-up to the end of the load): peak **{:.1} MB** ({:.1} MB once the load started; largest single process {:.1} MB), **{:.1} MB** at the end of the run. MB = MiB.",
            r.pid,
            r.max_processes(),
            r.interval_ms,
            r.peak_total_mb,
            r.peak_load_mb,
            r.peak_process_mb,
            r.end_total_mb
        )
    }

    pub fn route_svg(r: &RouteReport) -> String {
        svg::histogram(&format!("Latency: {}", r.route), &r.buckets)
    }

    /// The terminal summary printed at the end of a run.
    pub fn summary(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "\n{} — {} users, {:.1} s, {} requests ({:.0} req/s), {} errors, p99 {:.2} ms",
            self.title,
            self.users,
            self.duration_s,
            self.requests,
            self.throughput_rps,
            self.errors,
            self.overall.p99_ms
        );
        let _ = writeln!(
            s,
            "{:<36} {:>8} {:>6} {:>9} {:>9} {:>9} {:>9} {:>9}",
            "route", "ok", "err", "p50 ms", "p90 ms", "p99 ms", "p99.9 ms", "max ms"
        );
        for r in &self.routes {
            let l = &r.latency;
            let _ = writeln!(
                s,
                "{:<36} {:>8} {:>6} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>9.2}",
                r.route, r.ok, r.errors, l.p50_ms, l.p90_ms, l.p99_ms, l.p999_ms, l.max_ms
            );
        }
        for (k, v) in &self.errors_by_kind {
            let _ = writeln!(s, "  error {k}: {v}");
        }
        if let Some(st) = &self.store {
            let _ = writeln!(
                s,
                "store: {} sessions, blob GET/session {}, PUT/session {}, cache hit {}, takeovers {} (timeouts {}, mean wait {})",
                st.sessions,
                opt(st.blob_get_per_session, 2),
                opt(st.blob_put_per_session, 2),
                pct(st.cache_hit_rate),
                st.takeovers,
                st.takeover_timeouts,
                opt(st.takeover_wait_ms_mean, 1)
            );
        }
        if self.containers_killed > 0 {
            let _ = writeln!(s, "containers killed: {}", self.containers_killed);
        }
        match &self.rss {
            Some(r) => {
                let _ = writeln!(
                    s,
                    "server RSS: peak {:.1} MB, end {:.1} MB, largest process {:.1} MB ({} samples)",
                    r.peak_total_mb,
                    r.end_total_mb,
                    r.peak_process_mb,
                    r.samples.len()
                );
            }
            None => {
                let _ = writeln!(s, "server RSS: n/a");
            }
        }
        match &self.audit {
            Some(a) => {
                let t = &a.totals;
                let _ = writeln!(
                    s,
                    "audit: {} users, {} acknowledged writes ({} ambiguous, {} rejected), {} cards / {} revlog rows checked → lost {}, duplicated {}, phantom {}, incomplete {} → {}",
                    t.users,
                    t.writes_acked,
                    t.writes_ambiguous,
                    t.writes_rejected,
                    t.cards_checked,
                    t.revlog_rows_checked,
                    t.lost,
                    t.duplicated,
                    t.phantom,
                    t.users_incomplete,
                    if a.clean() { "CLEAN" } else { "FAILED" }
                );
                for i in a.issues.iter().take(20) {
                    let _ = writeln!(s, "  {:?} [{}] {}: {}", i.kind, i.source, i.user, i.detail);
                }
                for i in a.incomplete.iter().take(20) {
                    let _ = writeln!(s, "  incomplete: {i}");
                }
            }
            None => {
                let _ = writeln!(s, "audit: skipped");
            }
        }
        s
    }

    /// Markdown body (pictures referenced as files written next to it by [`Report::write`]).
    pub fn markdown(&self, heading: &str, picture_prefix: &str) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "{heading} {}\n", self.title);
        let _ = writeln!(
            s,
            "Target `{}`; {} users; {:.1} s; **{} requests, {:.0} req/s, {} errors**; {} sessions ({} flushes acknowledged){}.\n",
            self.target,
            self.users,
            self.duration_s,
            self.requests,
            self.throughput_rps,
            self.errors,
            self.sessions,
            self.flushes_ok,
            if self.containers_killed > 0 {
                format!("; {} containers SIGKILLed", self.containers_killed)
            } else {
                String::new()
            }
        );
        s.push_str(&self.route_table());
        let _ = writeln!(s, "\n![throughput]({picture_prefix}throughput.svg)\n");
        let _ = writeln!(s, "{}\n", self.rss_text());
        if self.rss.is_some() {
            let _ = writeln!(s, "![server RSS]({picture_prefix}rss.svg)\n");
        }
        if !self.errors_by_kind.is_empty() {
            s.push_str("| error | count |\n|---|---:|\n");
            for (k, v) in &self.errors_by_kind {
                let _ = writeln!(s, "| {k} | {v} |");
            }
            s.push('\n');
        }
        s.push_str(&self.store_markdown());
        s.push_str(&self.audit_markdown());
        s.push_str("<details><summary>latency histograms</summary>\n\n");
        for (i, _) in self.routes.iter().enumerate() {
            let _ = writeln!(s, "![latency]({picture_prefix}latency-{i}.svg)");
        }
        s.push_str("\n</details>\n");
        s
    }

    pub fn route_table(&self) -> String {
        let mut s = String::from(
            "| route | ok | errors | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | server p99 ms |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n",
        );
        for r in &self.routes {
            let l = &r.latency;
            let _ = writeln!(
                s,
                "| `{}` | {} | {} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {} |",
                r.route,
                r.ok,
                r.errors,
                l.p50_ms,
                l.p90_ms,
                l.p99_ms,
                l.p999_ms,
                l.max_ms,
                r.server
                    .as_ref()
                    .map_or("–".to_string(), |p| format!("{:.3}", p.p99_ms))
            );
        }
        s
    }

    pub fn store_markdown(&self) -> String {
        let Some(st) = &self.store else {
            return "Store counters: not available (target has no `/_local/metrics`).\n\n".into();
        };
        let mut s = format!(
            "Store calls ({} sessions): blob GET/session **{}**, blob PUT/session **{}**, cache hit rate **{}**, takeovers **{}** (timeouts {}, mean wait {} ms).\n\n| counter | value |\n|---|---:|\n",
            st.sessions,
            opt(st.blob_get_per_session, 2),
            opt(st.blob_put_per_session, 2),
            pct(st.cache_hit_rate),
            st.takeovers,
            st.takeover_timeouts,
            opt(st.takeover_wait_ms_mean, 1)
        );
        if let Some(wru) = st.write_units_per_commit {
            let _ = writeln!(
                s,
                "DynamoDB write units per acknowledged write (journal commit): **{wru:.2}**.\n"
            );
        }
        for (k, v) in &st.counters {
            let _ = writeln!(s, "| {k} | {v} |");
        }
        s.push('\n');
        s
    }

    pub fn audit_markdown(&self) -> String {
        let Some(a) = &self.audit else {
            return "Audit: skipped.\n\n".into();
        };
        let t = &a.totals;
        let mut s = format!(
            "**Audit: {}** — {} users, {} acknowledged writes ({} ambiguous, {} rejected); {} cards, {} decks, {} revlog rows checked through the API and the exported `.apkg`: lost **{}**, duplicated **{}**, phantom **{}**, users not auditable {}.\n\n",
            if a.clean() { "clean" } else { "FAILED" },
            t.users,
            t.writes_acked,
            t.writes_ambiguous,
            t.writes_rejected,
            t.cards_checked,
            t.decks_checked,
            t.revlog_rows_checked,
            t.lost,
            t.duplicated,
            t.phantom,
            t.users_incomplete
        );
        for i in a.issues.iter().take(50) {
            let _ = writeln!(s, "- {:?} [{}] {}: {}", i.kind, i.source, i.user, i.detail);
        }
        for i in a.incomplete.iter().take(50) {
            let _ = writeln!(s, "- not auditable: {i}");
        }
        s.push('\n');
        s
    }

    pub fn html(&self) -> String {
        let mut s = String::new();
        let _ = write!(
            s,
            "<!doctype html><html><head><meta charset=\"utf-8\"><title>{t}</title><style>body{{font-family:sans-serif;max-width:1000px;margin:2em auto}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:3px 8px;text-align:right}}td:first-child,th:first-child{{text-align:left}}.bad{{color:#c00}}.good{{color:#080}}</style></head><body><h1>{t}</h1>",
            t = svg::escape(&self.title)
        );
        let _ = write!(
            s,
            "<p>Target <code>{}</code>; {} users; {:.1} s; <b>{} requests, {:.0} req/s, {} errors</b>; {} sessions; {} containers killed.</p>",
            svg::escape(&self.target),
            self.users,
            self.duration_s,
            self.requests,
            self.throughput_rps,
            self.errors,
            self.sessions,
            self.containers_killed
        );
        let verdict = if self.passed {
            "<p class=good><b>PASSED</b></p>"
        } else {
            "<p class=bad><b>FAILED</b></p>"
        };
        s.push_str(verdict);
        s.push_str("<h2>Latency per route</h2><table><tr><th>route</th><th>ok</th><th>errors</th><th>p50 ms</th><th>p90 ms</th><th>p99 ms</th><th>p99.9 ms</th><th>max ms</th><th>server p99 ms</th></tr>");
        for r in &self.routes {
            let l = &r.latency;
            let _ = write!(
                s,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{:.2}</td><td>{:.2}</td><td>{:.2}</td><td>{:.2}</td><td>{:.2}</td><td>{}</td></tr>",
                svg::escape(&r.route),
                r.ok,
                r.errors,
                l.p50_ms,
                l.p90_ms,
                l.p99_ms,
                l.p999_ms,
                l.max_ms,
                r.server
                    .as_ref()
                    .map_or("–".to_string(), |p| format!("{:.3}", p.p99_ms))
            );
        }
        s.push_str("</table><h2>Throughput</h2>");
        s.push_str(&self.throughput_svg());
        s.push_str("<h2>Server memory</h2>");
        s.push_str(&md_paragraphs(&self.rss_text()));
        if let Some(chart) = self.rss_svg() {
            s.push_str(&chart);
        }
        s.push_str("<h2>Errors</h2>");
        if self.errors_by_kind.is_empty() {
            s.push_str("<p>none</p>");
        } else {
            s.push_str("<table><tr><th>error</th><th>count</th></tr>");
            for (k, v) in &self.errors_by_kind {
                let _ = write!(s, "<tr><td>{}</td><td>{v}</td></tr>", svg::escape(k));
            }
            s.push_str("</table>");
        }
        s.push_str("<h2>Store</h2>");
        s.push_str(&md_paragraphs(&self.store_markdown()));
        s.push_str("<h2>Audit</h2>");
        s.push_str(&md_paragraphs(&self.audit_markdown()));
        s.push_str("<h2>Latency histograms</h2>");
        for r in &self.routes {
            s.push_str(&Self::route_svg(r));
        }
        s.push_str("</body></html>\n");
        s
    }

    /// Write report.json, report.html, report.md and the SVG files into `dir`.
    pub fn write(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir)?;
        std::fs::write(dir.join("report.json"), serde_json::to_vec_pretty(self)?)?;
        std::fs::write(dir.join("report.html"), self.html())?;
        std::fs::write(dir.join("report.md"), self.markdown("#", ""))?;
        std::fs::write(dir.join("throughput.svg"), self.throughput_svg())?;
        if let Some(chart) = self.rss_svg() {
            std::fs::write(dir.join("rss.svg"), chart)?;
        }
        for (i, r) in self.routes.iter().enumerate() {
            std::fs::write(dir.join(format!("latency-{i}.svg")), Self::route_svg(r))?;
        }
        Ok(())
    }
}

/// The markdown fragments above are simple (paragraphs, one table, bullet lists); this renders
/// them as escaped preformatted text in the HTML so no markdown engine is needed.
fn md_paragraphs(md: &str) -> String {
    format!(
        "<pre style=\"white-space:pre-wrap\">{}</pre>",
        svg::escape(md)
    )
}

pub fn opt(v: Option<f64>, digits: usize) -> String {
    v.map_or("n/a".into(), |v| format!("{v:.digits$}"))
}

pub fn pct(v: Option<f64>) -> String {
    v.map_or("n/a".into(), |v| format!("{:.1}%", v * 100.0))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::metrics::{Metrics, Outcome};
    use crate::rss::RssSample;

    fn sample() -> Report {
        let m = Metrics::new();
        for i in 1..=50u64 {
            m.record(
                "GET /api/review",
                Duration::from_micros(100 * i),
                None,
                Outcome::Ok,
            );
        }
        m.record(
            "POST /api/review",
            Duration::from_millis(3),
            None,
            Outcome::Status(503),
        );
        let mut r = Report {
            title: "t".into(),
            target: "http://x".into(),
            users: 2,
            ..Report::default()
        };
        m.with(|s| r.fill_from_metrics(s, 2.0));
        r.audit = Some(AuditReport::default());
        r
    }

    #[test]
    fn report_renders_every_format() {
        let r = sample();
        assert_eq!(r.requests, 51);
        assert_eq!(r.routes.len(), 2);
        assert!(!r.routes[0].buckets.is_empty());
        let md = r.markdown("#", "");
        assert!(md.contains("| `GET /api/review` | 50 | 0 |"));
        assert!(md.contains("POST /api/review → 503"));
        assert!(md.contains("Audit: clean"));
        let html = r.html();
        assert!(html.contains("<svg") && html.ends_with("</html>\n"));
        assert!(r.summary().contains("CLEAN"));
        let dir = tempfile::tempdir().unwrap();
        r.write(dir.path()).unwrap();
        let back: Report =
            serde_json::from_slice(&std::fs::read(dir.path().join("report.json")).unwrap())
                .unwrap();
        assert_eq!(back.requests, 51);
        assert!(dir.path().join("latency-1.svg").exists());
    }

    #[test]
    fn report_shows_the_server_rss() {
        let mut r = sample();
        assert!(r.markdown("#", "").contains("Server RSS: n/a"));
        assert!(!r.markdown("#", "").contains("rss.svg"));
        assert!(r.rss_svg().is_none());
        let at = |t_s, mb: u64| RssSample {
            t_s,
            total_kb: mb * 1024,
            max_kb: mb * 512,
            processes: 3,
        };
        r.rss = Some(RssReport::from_samples(
            4242,
            1.0,
            vec![at(0.0, 40), at(1.0, 90), at(1.25, 250), at(2.0, 120)],
        ));
        let md = r.markdown("##", "runs/m/");
        assert!(md.contains("peak **250.0 MB**"), "{md}");
        assert!(md.contains("**120.0 MB** at the end"));
        assert!(md.contains("up to 3 processes"));
        assert!(md.contains("![server RSS](runs/m/rss.svg)"));
        let chart = r.rss_svg().unwrap();
        assert_eq!(chart.matches("<polyline").count(), 2);
        assert!(chart.contains("load starts") && chart.contains(">2 s<"));
        let html = r.html();
        assert!(html.contains("Server memory") && html.contains("Server memory (RSS) over time"));
        assert!(
            r.summary()
                .contains("server RSS: peak 250.0 MB, end 120.0 MB")
        );
        let dir = tempfile::tempdir().unwrap();
        r.write(dir.path()).unwrap();
        assert!(dir.path().join("rss.svg").exists());
        let back: Report =
            serde_json::from_slice(&std::fs::read(dir.path().join("report.json")).unwrap())
                .unwrap();
        let rss = back.rss.unwrap();
        assert_eq!(rss.samples.len(), 4);
        assert_eq!(rss.peak_total_mb, 250.0);
        // Reports written before RSS was recorded still load.
        let old: Report = serde_json::from_str(r#"{"title":"old","target":"x","settings":null,"duration_s":1.0,"users":1,"users_failed_setup":0,"requests":0,"errors":0,"throughput_rps":0.0,"sessions":0,"flushes_ok":0,"containers_killed":0,"overall":{"count":0,"p50_ms":0.0,"p90_ms":0.0,"p99_ms":0.0,"p999_ms":0.0,"max_ms":0.0,"mean_ms":0.0},"routes":[],"timeline":[],"errors_by_kind":{},"store":null,"audit":null,"passed":true}"#).unwrap();
        assert!(old.rss.is_none());
    }

    #[test]
    fn store_ratios_come_from_counter_deltas() {
        let before: BTreeMap<String, f64> = [("blob_get".into(), 10.0)].into();
        let after: BTreeMap<String, f64> = [
            ("blob_get".into(), 30.0),
            ("blob_put".into(), 15.0),
            ("cache_hit".into(), 90.0),
            ("cache_miss".into(), 10.0),
            ("takeover".into(), 4.0),
            ("takeover_wait_ms".into(), 100.0),
            ("journal_commit".into(), 40.0),
            ("table_write_units".into(), 82.0),
        ]
        .into();
        let st = StoreReport::from_delta(&before, &after, 20);
        assert_eq!(st.blob_get_per_session, Some(1.0));
        assert_eq!(st.blob_put_per_session, Some(0.75));
        assert_eq!(st.cache_hit_rate, Some(0.9));
        assert_eq!(st.takeover_wait_ms_mean, Some(25.0));
        assert_eq!(st.write_units_per_commit, Some(2.05));
        // The embedded store counts no write units.
        let local = StoreReport::from_delta(&before, &[("journal_commit".into(), 5.0)].into(), 1);
        assert_eq!(local.write_units_per_commit, None);
    }
}
