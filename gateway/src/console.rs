//! What the `/admin` console shows, gathered and drawn on the server: the
//! decisions of a recent window counted by hour and level, the score
//! histogram, the top reasons, source countries and networks (ASNs), the recent
//! high-risk attempts with their reasons, and the webhook endpoints' health.
//! Charts are SVG drawn with plotters' SVG backend (presentation attributes
//! only, no inline style, so the pages' CSP holds; text as `<text>`, no
//! fonts), put inline in the page with a text alternative.
//!
//! The window is read from the audit log (`reset.started` records, newest
//! first) up to [`MAX_SCANNED`] decisions; the page says so when it stopped
//! there.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use plotters::prelude::*;
use serde_json::Value;

use crate::decisions::Pages;
use crate::http::error::ApiResult;
use crate::store::durable::Durable;

/// Decisions read at most per console view.
pub const MAX_SCANNED: usize = 20_000;
const LEVELS: [&str; 4] = ["low", "medium", "high", "deny"];
/// Bar colours per level (low … deny), readable on white and for the common
/// colour-vision deficiencies (blue, yellow, orange, dark red).
const COLOURS: [RGBColor; 4] = [
    RGBColor(0x1f, 0x6f, 0xb4),
    RGBColor(0xe6, 0xb4, 0x00),
    RGBColor(0xe0, 0x6c, 0x00),
    RGBColor(0x9b, 0x11, 0x1e),
];

/// One recent high-risk attempt.
#[derive(Debug, Clone)]
pub struct Risky {
    pub seq: i64,
    pub at: String,
    pub account: String,
    pub level: String,
    pub score: i64,
    pub address: String,
    pub place: String,
    /// The reasons that scored, heaviest first: (code, weight, sentence).
    pub reasons: Vec<(String, i64, String)>,
    /// An analyst's latest label (`attack` / `legitimate`) and who gave it.
    pub label: Option<(String, String)>,
}

/// The counts of a window.
#[derive(Debug, Default)]
pub struct Overview {
    pub hours: u64,
    pub total: u64,
    /// The window's decisions per hour (oldest first) and level.
    pub per_hour: Vec<[u64; 4]>,
    pub by_level: [u64; 4],
    /// Scores in ten bins: 0–9, 10–19, … 90–100.
    pub histogram: [u64; 10],
    pub top_reasons: Vec<(String, u64)>,
    pub top_countries: Vec<(String, u64)>,
    pub top_networks: Vec<(String, u64)>,
    pub recent_risky: Vec<Risky>,
    /// The scan stopped at [`MAX_SCANNED`] before the window's start.
    pub capped: bool,
}

fn top(counts: HashMap<String, u64>, n: usize) -> Vec<(String, u64)> {
    let mut list: Vec<_> = counts.into_iter().collect();
    list.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    list.truncate(n);
    list
}

fn level_index(level: &str) -> Option<usize> {
    LEVELS.iter().position(|l| *l == level)
}

/// Count the decisions of the `hours` before `now`.
pub async fn overview(store: &dyn Durable, now: SystemTime, hours: u64) -> ApiResult<Overview> {
    let start = now - Duration::from_secs(hours * 3600);
    let since = crate::time::rfc3339(start);
    let start_unix = crate::time::unix(start);
    let mut view = Overview {
        hours,
        per_hour: vec![[0; 4]; usize::try_from(hours).unwrap_or(24)],
        ..Overview::default()
    };
    let o = &mut view;
    let (mut reasons, mut countries, mut networks) =
        (HashMap::new(), HashMap::new(), HashMap::new());
    let mut pages = Pages::new(store, Some(&since), None);
    while let Some(page) = pages.next().await? {
        for record in &page {
            let data: Value = serde_json::from_str(&record.data).unwrap_or(Value::Null);
            let Some(level) = data["level"].as_str().and_then(level_index) else {
                continue;
            };
            o.total += 1;
            o.by_level[level] += 1;
            let decided = record
                .at
                .parse::<jiff::Timestamp>()
                .map_or(start_unix, jiff::Timestamp::as_second);
            let hour = usize::try_from((decided - start_unix).max(0) / 3600).unwrap_or(0);
            if let Some(bucket) = o.per_hour.get_mut(hour) {
                bucket[level] += 1;
            }
            let points = data["score"].as_i64().unwrap_or(0).clamp(0, 100);
            o.histogram[usize::try_from(points / 10).unwrap_or(0).min(9)] += 1;
            for reason in data["reasons"].as_array().into_iter().flatten() {
                if reason["weight"].as_i64().unwrap_or(0) > 0
                    && let Some(code) = reason["code"].as_str()
                {
                    *reasons.entry(code.to_owned()).or_default() += 1;
                }
            }
            let geo = &data["signals"]["geo"];
            let country = geo["country"].as_str().unwrap_or("unknown").to_owned();
            *countries.entry(country).or_default() += 1;
            let network = geo["asn"]
                .as_i64()
                .map_or_else(|| "unknown".to_owned(), |asn| format!("AS{asn}"));
            *networks.entry(network).or_default() += 1;
            if level >= 2 && o.recent_risky.len() < 20 {
                o.recent_risky
                    .push(risky(record.seq, &record.at, &record.subject, &data));
            }
        }
        if pages.read() >= MAX_SCANNED {
            o.capped = !pages.done();
            break;
        }
    }
    let seqs: Vec<i64> = o.recent_risky.iter().map(|r| r.seq).collect();
    for label in store.labels(&seqs).await? {
        if let Some(r) = o.recent_risky.iter_mut().find(|r| r.seq == label.seq) {
            r.label = Some((label.label, label.labelled_by));
        }
    }
    o.top_reasons = top(reasons, 10);
    o.top_countries = top(countries, 10);
    o.top_networks = top(networks, 10);
    Ok(view)
}

fn risky(seq: i64, at: &str, account: &str, data: &Value) -> Risky {
    let geo = &data["signals"]["geo"];
    let place = match (geo["country"].as_str(), geo["asn"].as_i64()) {
        (Some(country), Some(asn)) => format!("{country}, AS{asn}"),
        (Some(country), None) => country.to_owned(),
        (None, Some(asn)) => format!("AS{asn}"),
        (None, None) => "unknown".to_owned(),
    };
    let mut reasons: Vec<(String, i64, String)> = data["reasons"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["weight"].as_i64().unwrap_or(0) > 0)
        .map(|r| {
            (
                r["code"].as_str().unwrap_or_default().to_owned(),
                r["weight"].as_i64().unwrap_or(0),
                r["detail"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    reasons.sort_by_key(|r| std::cmp::Reverse(r.1));
    Risky {
        seq,
        at: at.to_owned(),
        account: account.to_owned(),
        level: data["level"].as_str().unwrap_or_default().to_owned(),
        score: data["score"].as_i64().unwrap_or(0),
        address: data["address"].as_str().unwrap_or_default().to_owned(),
        place,
        reasons,
        label: None,
    }
}

/// Stacked bars: decisions per hour of the window, by level.
pub fn levels_chart(o: &Overview) -> String {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (720, 260)).into_drawing_area();
        // A chart that cannot be drawn (nothing to draw) stays empty.
        let _ = draw_levels(&root, o);
        let _ = root.present();
    }
    svg
}

fn draw_levels(
    root: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    o: &Overview,
) -> Option<()> {
    root.fill(&WHITE).ok()?;
    let most = o
        .per_hour
        .iter()
        .map(|h| h.iter().sum::<u64>())
        .max()
        .unwrap_or(0)
        .max(1);
    let hours = u32::try_from(o.per_hour.len()).unwrap_or(24);
    let mut chart = ChartBuilder::on(root)
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(40)
        .build_cartesian_2d(0u32..hours, 0u64..most + most / 10 + 1)
        .ok()?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_desc(format!("hours ago (of the last {})", o.hours))
        .x_label_formatter(&|h| format!("{}", hours - h))
        .y_desc("decisions")
        .draw()
        .ok()?;
    for (hour, counts) in o.per_hour.iter().enumerate() {
        let x = u32::try_from(hour).unwrap_or(0);
        let mut base = 0;
        for (level, &n) in counts.iter().enumerate() {
            if n == 0 {
                continue;
            }
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(x, base), (x + 1, base + n)],
                    COLOURS[level].filled(),
                )))
                .ok()?;
            base += n;
        }
    }
    Some(())
}

/// Bars: how many decisions scored in each tenth of the scale.
pub fn score_chart(o: &Overview) -> String {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (720, 220)).into_drawing_area();
        let _ = draw_scores(&root, o);
        let _ = root.present();
    }
    svg
}

fn draw_scores(
    root: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    o: &Overview,
) -> Option<()> {
    root.fill(&WHITE).ok()?;
    let most = o.histogram.iter().copied().max().unwrap_or(0).max(1);
    let mut chart = ChartBuilder::on(root)
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(40)
        .build_cartesian_2d(0u32..100u32, 0u64..most + most / 10 + 1)
        .ok()?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_desc("risk score")
        .y_desc("decisions")
        .draw()
        .ok()?;
    chart
        .draw_series(o.histogram.iter().enumerate().map(|(bin, &n)| {
            let x = u32::try_from(bin).unwrap_or(0) * 10;
            Rectangle::new([(x + 1, 0), (x + 9, n)], COLOURS[0].filled())
        }))
        .ok()?;
    Some(())
}

/// The colour of a level's bars, as `#rrggbb` (for the chart's legend).
pub fn colour(level: usize) -> String {
    let RGBColor(r, g, b) = COLOURS[level.min(3)];
    format!("#{r:02x}{g:02x}{b:02x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Overview {
        let mut sample = Overview {
            hours: 3,
            per_hour: vec![[2, 1, 0, 0], [0, 0, 0, 0], [5, 0, 1, 1]],
            ..Overview::default()
        };
        sample.histogram[0] = 7;
        sample.histogram[9] = 1;
        sample
    }

    #[test]
    fn charts_are_svg_without_inline_style() {
        for svg in [levels_chart(&sample()), score_chart(&sample())] {
            assert!(svg.starts_with("<svg"), "{svg}");
            assert!(
                !svg.contains("style="),
                "the pages' CSP forbids inline style"
            );
            assert!(svg.contains("<rect"), "{svg}");
            assert!(svg.contains("decisions"), "axis label");
        }
        // One rectangle per non-empty (hour, level) pair, beside the frame.
        let stacked = levels_chart(&sample());
        assert!(stacked.contains(&colour(3)[1..].to_uppercase()) || stacked.contains(&colour(3)));
    }

    #[test]
    fn top_lists_are_ordered_by_count_then_name() {
        let counts = HashMap::from([
            ("b".to_owned(), 2),
            ("a".to_owned(), 2),
            ("c".to_owned(), 5),
        ]);
        assert_eq!(top(counts, 2), [("c".to_owned(), 5), ("a".to_owned(), 2)]);
    }
}
