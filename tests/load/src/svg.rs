//! Small, dependency-free SVG charts for the reports (they must render inline in HTML and as
//! files next to markdown, with no JavaScript).

use std::fmt::Write as _;

const W: f64 = 640.0;
const H: f64 = 220.0;
const LEFT: f64 = 56.0;
const BOTTOM: f64 = 34.0;
const TOP: f64 = 24.0;
const RIGHT: f64 = 12.0;

pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A "nice" axis maximum: 1, 2 or 5 times a power of ten, at least `v`.
pub fn nice_max(v: f64) -> f64 {
    if v <= 0.0 || !v.is_finite() {
        return 1.0;
    }
    let p = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * p)
        .find(|c| *c >= v)
        .unwrap_or(10.0 * p)
}

fn frame(title: &str, y_label: &str, y_max: f64) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="11"><rect width="{W}" height="{H}" fill="#fff"/><text x="{LEFT}" y="15" font-size="13" font-weight="bold">{}</text>"##,
        escape(title)
    );
    let plot_h = H - TOP - BOTTOM;
    for i in 0..=4 {
        let y = TOP + plot_h - plot_h * f64::from(i) / 4.0;
        let v = y_max * f64::from(i) / 4.0;
        let _ = write!(
            s,
            r##"<line x1="{LEFT}" x2="{}" y1="{y:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" text-anchor="end">{}</text>"##,
            W - RIGHT,
            LEFT - 4.0,
            y + 4.0,
            short(v)
        );
    }
    let _ = write!(
        s,
        r##"<text x="12" y="{:.1}" transform="rotate(-90 12 {:.1})" text-anchor="middle">{}</text>"##,
        TOP + plot_h / 2.0,
        TOP + plot_h / 2.0,
        escape(y_label)
    );
    s
}

fn short(v: f64) -> String {
    if v >= 1e6 {
        format!("{:.1}M", v / 1e6)
    } else if v >= 1e3 {
        format!("{:.1}k", v / 1e3)
    } else if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

/// Requests per second over the run: successes in blue, errors in red.
pub fn throughput(title: &str, ok: &[u64], errors: &[u64]) -> String {
    let n = ok.len().max(1);
    let y_max = nice_max(
        ok.iter()
            .zip(errors.iter().chain(std::iter::repeat(&0)))
            .map(|(a, b)| (a + b) as f64)
            .fold(0.0, f64::max),
    );
    let mut s = frame(title, "requests / s", y_max);
    let plot_w = W - LEFT - RIGHT;
    let plot_h = H - TOP - BOTTOM;
    let x = |i: usize| LEFT + plot_w * i as f64 / (n.max(2) - 1) as f64;
    let y = |v: u64| TOP + plot_h - plot_h * v as f64 / y_max;
    for (series, colour) in [(ok, "#2a6fdb"), (errors, "#d33")] {
        if series.iter().all(|v| *v == 0) {
            continue;
        }
        let pts: Vec<String> = series
            .iter()
            .enumerate()
            .map(|(i, v)| format!("{:.1},{:.1}", x(i), y(*v)))
            .collect();
        let _ = write!(
            s,
            r##"<polyline fill="none" stroke="{colour}" stroke-width="1.5" points="{}"/>"##,
            pts.join(" ")
        );
    }
    let _ = write!(
        s,
        r##"<text x="{LEFT}" y="{:.1}">0 s</text><text x="{:.1}" y="{:.1}" text-anchor="end">{} s</text><text x="{:.1}" y="{:.1}" text-anchor="middle" fill="#2a6fdb">ok</text><text x="{:.1}" y="{:.1}" text-anchor="middle" fill="#d33">errors</text></svg>"##,
        H - BOTTOM + 14.0,
        W - RIGHT,
        H - BOTTOM + 14.0,
        n.saturating_sub(1),
        LEFT + plot_w / 2.0 - 30.0,
        H - 6.0,
        LEFT + plot_w / 2.0 + 30.0,
        H - 6.0
    );
    s
}

/// One line of a [`lines`] chart: legend label, colour, `(x seconds, y)` points.
pub struct Line<'a> {
    pub label: &'a str,
    pub colour: &'a str,
    pub points: &'a [(f64, f64)],
}

/// Values over time with x in seconds (irregular spacing allowed), one polyline per series;
/// `marker` draws a dashed vertical line with a label at that time.
pub fn lines(
    title: &str,
    y_label: &str,
    series: &[Line<'_>],
    marker: Option<(f64, &str)>,
) -> String {
    let pts = || series.iter().flat_map(|l| l.points.iter());
    let x_end = pts().map(|p| p.0).fold(0.0, f64::max).max(1.0);
    let y_max = nice_max(pts().map(|p| p.1).fold(0.0, f64::max));
    let mut s = frame(title, y_label, y_max);
    let plot_w = W - LEFT - RIGHT;
    let plot_h = H - TOP - BOTTOM;
    let x = |t: f64| LEFT + plot_w * t.clamp(0.0, x_end) / x_end;
    let y = |v: f64| TOP + plot_h - plot_h * v / y_max;
    if let Some((t, label)) = marker {
        let _ = write!(
            s,
            r##"<line x1="{0:.1}" x2="{0:.1}" y1="{TOP}" y2="{1:.1}" stroke="#999" stroke-dasharray="4 3"/><text x="{2:.1}" y="{3:.1}" fill="#666">{4}</text>"##,
            x(t),
            TOP + plot_h,
            x(t) + 3.0,
            TOP + 10.0,
            escape(label)
        );
    }
    for line in series {
        if line.points.is_empty() {
            continue;
        }
        let p: Vec<String> = line
            .points
            .iter()
            .map(|(t, v)| format!("{:.1},{:.1}", x(*t), y(*v)))
            .collect();
        let _ = write!(
            s,
            r##"<polyline fill="none" stroke="{}" stroke-width="1.5" points="{}"/>"##,
            line.colour,
            p.join(" ")
        );
    }
    let _ = write!(
        s,
        r##"<text x="{LEFT}" y="{0:.1}">0 s</text><text x="{1:.1}" y="{0:.1}" text-anchor="end">{2:.0} s</text>"##,
        H - BOTTOM + 14.0,
        W - RIGHT,
        x_end
    );
    let n = series.len().max(1) as f64;
    for (i, line) in series.iter().enumerate() {
        let _ = write!(
            s,
            r##"<text x="{:.1}" y="{:.1}" text-anchor="middle" fill="{}">{}</text>"##,
            LEFT + plot_w * (i as f64 + 1.0) / (n + 1.0),
            H - 6.0,
            line.colour,
            escape(line.label)
        );
    }
    s.push_str("</svg>");
    s
}

/// A latency histogram: one bar per bucket (`(upper bound in µs, count)`, log-spaced).
pub fn histogram(title: &str, buckets: &[(u64, u64)]) -> String {
    let y_max = nice_max(buckets.iter().map(|b| b.1 as f64).fold(0.0, f64::max));
    let mut s = frame(title, "requests", y_max);
    let plot_w = W - LEFT - RIGHT;
    let plot_h = H - TOP - BOTTOM;
    let n = buckets.len().max(1);
    let bw = plot_w / n as f64;
    let label_every = n.div_ceil(8).max(1);
    for (i, (upper, count)) in buckets.iter().enumerate() {
        let h = plot_h * *count as f64 / y_max;
        let x = LEFT + bw * i as f64;
        let _ = write!(
            s,
            r##"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{h:.1}" fill="#2a6fdb"><title>≤ {} : {count}</title></rect>"##,
            x + 1.0,
            TOP + plot_h - h,
            (bw - 2.0).max(1.0),
            duration_label(*upper)
        );
        if i % label_every == 0 {
            let _ = write!(
                s,
                r##"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"##,
                x + bw / 2.0,
                H - BOTTOM + 14.0,
                duration_label(*upper)
            );
        }
    }
    s.push_str("</svg>");
    s
}

pub fn duration_label(us: u64) -> String {
    if us >= 1_000_000 {
        format!("{:.1}s", us as f64 / 1e6)
    } else if us >= 1_000 {
        format!("{:.1}ms", us as f64 / 1e3)
    } else {
        format!("{us}µs")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_axis_maxima() {
        assert_eq!(nice_max(0.0), 1.0);
        assert_eq!(nice_max(3.0), 5.0);
        assert_eq!(nice_max(1234.0), 2000.0);
        assert_eq!(nice_max(10.0), 10.0);
    }

    #[test]
    fn charts_are_well_formed_svg() {
        let t = throughput("Throughput <all>", &[10, 20, 30], &[0, 1, 0]);
        assert!(t.starts_with("<svg") && t.ends_with("</svg>"));
        assert!(t.contains("&lt;all&gt;"));
        assert_eq!(t.matches("<polyline").count(), 2);
        let h = histogram("GET /api/review", &[(128, 5), (256, 10), (512, 0)]);
        assert_eq!(h.matches("<rect x=").count(), 3);
        assert!(h.ends_with("</svg>"));
        assert_eq!(duration_label(1500), "1.5ms");
    }

    #[test]
    fn line_chart_scales_time_and_values() {
        let total = [(0.0, 10.0), (5.0, 180.0), (10.0, 150.0)];
        let one = [(0.0, 5.0), (10.0, 90.0)];
        let l = lines(
            "RSS <server>",
            "MB",
            &[
                Line {
                    label: "total",
                    colour: "#2a6fdb",
                    points: &total,
                },
                Line {
                    label: "largest",
                    colour: "#d33",
                    points: &one,
                },
            ],
            Some((5.0, "load")),
        );
        assert!(l.starts_with("<svg") && l.ends_with("</svg>"));
        assert!(l.contains("&lt;server&gt;"));
        assert_eq!(l.matches("<polyline").count(), 2);
        assert!(l.contains("stroke-dasharray") && l.contains(">load<"));
        // y axis up to 200, x axis to 10 s: the 180 MB point at the middle of the plot.
        assert!(l.contains(">200<") && l.contains(">10 s<"));
        assert!(l.contains(&format!(
            "{:.1},{:.1}",
            LEFT + (W - LEFT - RIGHT) / 2.0,
            TOP + (H - TOP - BOTTOM) * 0.1
        )));
    }
}
