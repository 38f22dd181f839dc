//! Detection figures of scored attempts: what `resetgate evaluate` prints and
//! the benchmark comparison records.
//!
//! Each attempt carries a score (higher = riskier), its [`Label`], whether it
//! succeeded and how many successful sign-ins its account had before. Which
//! attempts are positives is a choice ([`Positives`]); the negatives are always
//! the legitimate attempts, and stuffing or spraying rows are neither when only
//! takeovers count.
//!
//! - Ranking: ROC AUC and the true-positive rate at 1 % and 0.1 % false
//!   positives ([`crate::train::roc_auc`], [`crate::train::tpr_at_fpr`]: flagged
//!   = strictly above the threshold).
//! - Cost of catching: the highest score threshold that still catches 99 %
//!   (99.5 %) of the positives (flagged = at or above it), and the share of
//!   legitimate *successful* attempts it steps up, overall and by the account's
//!   history, as Wiefling et al. report re-authentication of legitimate users by
//!   the number of logins the account had before ([`HISTORY_BUCKETS`]).
//! - Plots: [`roc_curve`] and [`plot_roc`], an SVG document drawn with plotters'
//!   SVG backend (text as `<text>` elements: no font files needed).
//!
//! Pure: no clock, no randomness, no I/O; the plot is returned as a string.

use std::fmt;

use plotters::prelude::*;
use serde::Serialize;

use crate::dataset::Label;
use crate::train::{roc_auc, tpr_at_fpr};

#[cfg(test)]
mod tests;

/// One scored attempt.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scored {
    /// The attempt's position in its file (0-based), to trace a figure back.
    pub index: u64,
    /// The score: higher = riskier.
    pub score: f64,
    /// The ground truth.
    pub label: Label,
    /// Whether the attempt succeeded.
    pub success: bool,
    /// Successful sign-ins of the account before this attempt.
    pub prior_successes: u32,
}

/// Which attempts count as positives (the negatives are [`Label::Legit`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Positives {
    /// Account takeovers ([`Label::is_takeover`]): targeted, naive, SIM swap.
    /// Stuffing and spraying are neither positive nor negative.
    Takeovers,
    /// Only [`Label::TargetedTakeover`], the hardest to tell apart. Every other
    /// attack is neither positive nor negative.
    Targeted,
    /// Every attack ([`Label::is_attack`]).
    Attacks,
}

impl Positives {
    /// Whether an attempt with this label is a positive.
    pub fn includes(self, label: Label) -> bool {
        match self {
            Self::Takeovers => label.is_takeover(),
            Self::Targeted => label == Label::TargetedTakeover,
            Self::Attacks => label.is_attack(),
        }
    }

    /// A short name for reports: `takeovers`, `targeted takeovers`, `attacks`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Takeovers => "takeovers",
            Self::Targeted => "targeted takeovers",
            Self::Attacks => "attacks",
        }
    }
}

impl fmt::Display for Positives {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The detection figures of one set of scored attempts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Figures {
    /// Which attempts were the positives.
    pub kind: Positives,
    /// How many positives.
    pub positives: usize,
    /// How many negatives: [`Label::Legit`] attempts.
    pub negatives: usize,
    /// ROC AUC of positives against negatives; `None` when either is empty.
    pub roc_auc: Option<f64>,
    /// Share of positives strictly above the threshold that lets through at
    /// most 1 % of the negatives; `None` when either side is empty.
    pub tpr_at_1pct_fpr: Option<f64>,
    /// The same at 0.1 %.
    pub tpr_at_01pct_fpr: Option<f64>,
    /// The threshold catching at least 99 % of the positives and what it costs.
    pub catch_99: Option<Escalation>,
    /// The threshold catching at least 99.5 % of the positives and what it costs.
    pub catch_995: Option<Escalation>,
}

/// A threshold chosen to catch a share of the positives, and the legitimate
/// successful attempts it steps up (flagged = score at or above it).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Escalation {
    /// The highest threshold `t` such that at least the target share of the
    /// positives have a score `>= t`: one of the positives' scores.
    pub threshold: f64,
    /// The share of positives actually at or above it (ties can push it above
    /// the target).
    pub caught: f64,
    /// The share of legitimate successful attempts at or above it: stepped up.
    pub legit_stepped_up: f64,
    /// [`Self::legit_stepped_up`] within each of [`HISTORY_BUCKETS`].
    pub by_history: Vec<HistoryBucket>,
}

/// The legitimate successful attempts of accounts with a given number of
/// earlier successful sign-ins, and the share of them stepped up.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HistoryBucket {
    /// Lowest prior-success count in the bucket.
    pub from: u32,
    /// First prior-success count past the bucket (half-open); `None` = no end.
    pub to: Option<u32>,
    /// How many legitimate successful attempts fall in the bucket.
    pub legit: usize,
    /// The share of them stepped up; 0 when the bucket is empty.
    pub stepped_up: f64,
}

/// The history buckets `(from, to)` of [`HistoryBucket`], half-open: fewer than
/// 12 earlier logins, 12 to 39, 40 or more.
pub const HISTORY_BUCKETS: [(u32, Option<u32>); 3] = [(0, Some(12)), (12, Some(40)), (40, None)];

/// The detection figures of `rows` with `positives` as positives and the
/// legitimate attempts as negatives.
pub fn figures(rows: &[Scored], positives: Positives) -> Figures {
    let legit: Vec<f64> = rows
        .iter()
        .filter(|r| r.label == Label::Legit)
        .map(|r| r.score)
        .collect();
    let mut positive: Vec<f64> = rows
        .iter()
        .filter(|r| positives.includes(r.label))
        .map(|r| r.score)
        .collect();
    positive.sort_unstable_by(f64::total_cmp);
    let successful: Vec<&Scored> = rows
        .iter()
        .filter(|r| r.label == Label::Legit && r.success)
        .collect();
    Figures {
        kind: positives,
        positives: positive.len(),
        negatives: legit.len(),
        roc_auc: roc_auc(&legit, &positive),
        tpr_at_1pct_fpr: tpr_at_fpr(&legit, &positive, 0.01),
        tpr_at_01pct_fpr: tpr_at_fpr(&legit, &positive, 0.001),
        catch_99: escalation(&positive, &successful, 990),
        catch_995: escalation(&positive, &successful, 995),
    }
}

/// The threshold catching at least `per_mille` ‰ of `sorted` (ascending) and
/// the share of `legit` stepped up by it; `None` when either side is empty.
/// Integer arithmetic, so 99 % of 200 is exactly 198.
fn escalation(sorted: &[f64], legit: &[&Scored], per_mille: usize) -> Option<Escalation> {
    if sorted.is_empty() || legit.is_empty() {
        return None;
    }
    let n = sorted.len();
    let needed = (n * per_mille).div_ceil(1000).max(1);
    // `sorted[n - needed..]` holds `needed` scores, all `>= threshold`; any
    // higher threshold leaves out `sorted[n - needed]` and so catches fewer.
    let threshold = sorted[n - needed];
    let caught = share(sorted.iter().filter(|s| **s >= threshold).count(), n);
    let flagged = |r: &&&Scored| r.score >= threshold;
    let by_history = HISTORY_BUCKETS
        .iter()
        .map(|&(from, to)| {
            let inside: Vec<&&Scored> = legit
                .iter()
                .filter(|r| r.prior_successes >= from && to.is_none_or(|to| r.prior_successes < to))
                .collect();
            HistoryBucket {
                from,
                to,
                legit: inside.len(),
                stepped_up: share(inside.iter().copied().filter(flagged).count(), inside.len()),
            }
        })
        .collect();
    Some(Escalation {
        threshold,
        caught,
        legit_stepped_up: share(legit.iter().filter(flagged).count(), legit.len()),
        by_history,
    })
}

/// `part / whole`, 0 for an empty whole.
fn share(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        return 0.0;
    }
    #[allow(clippy::cast_precision_loss)] // Counts are far below 2^52.
    let share = part as f64 / whole as f64;
    share
}

/// The ROC curve as `(fpr, tpr)` points from `(0, 0)` to `(1, 1)`: the
/// threshold sweeps from the highest score down, one point per distinct score
/// (tied scores move both rates at once, so the trapezoid area equals
/// [`crate::train::roc_auc`]). Empty when either side is empty.
pub fn roc_curve(legit: &[f64], positives: &[f64]) -> Vec<(f64, f64)> {
    if legit.is_empty() || positives.is_empty() {
        return Vec::new();
    }
    let mut all: Vec<(f64, bool)> = legit
        .iter()
        .map(|v| (*v, false))
        .chain(positives.iter().map(|v| (*v, true)))
        .collect();
    all.sort_unstable_by(|a, b| b.0.total_cmp(&a.0));
    let mut points = vec![(0.0, 0.0)];
    let (mut fp, mut tp) = (0, 0);
    for (i, (score, positive)) in all.iter().enumerate() {
        if *positive {
            tp += 1;
        } else {
            fp += 1;
        }
        let last_of_tie = all
            .get(i + 1)
            .is_none_or(|next| next.0.total_cmp(score).is_ne());
        if last_of_tie {
            points.push((share(fp, legit.len()), share(tp, positives.len())));
        }
    }
    points
}

/// Most points drawn per curve by [`plot_roc`].
pub const MAX_PLOT_POINTS: usize = 2000;

/// At most `max` (at least 2) of `points`: the first, the last, and between
/// them a point whenever the path (Manhattan length) has advanced by a fixed
/// step since the last kept one — the shape to within the step.
fn thin(points: &[(f64, f64)], max: usize) -> Vec<(f64, f64)> {
    let max = max.max(2);
    if points.len() <= max {
        return points.to_vec();
    }
    let length = |a: (f64, f64), b: (f64, f64)| (b.0 - a.0).abs() + (b.1 - a.1).abs();
    let total: f64 = points.windows(2).map(|w| length(w[0], w[1])).sum();
    // Each kept inner point stands for at least `step` of the path, so at most
    // `max - 2` of them fit.
    #[allow(clippy::cast_precision_loss)] // `max` is small.
    let step = total / (max - 2) as f64;
    let (first, last) = (points[0], points[points.len() - 1]);
    let mut kept = vec![first];
    let mut travelled = 0.0;
    for w in points[..points.len() - 1].windows(2) {
        travelled += length(w[0], w[1]);
        if travelled >= step && kept.len() < max - 1 {
            kept.push(w[1]);
            travelled = 0.0;
        }
    }
    kept.push(last);
    kept
}

/// One curve for [`plot_roc`]: its name, its `(fpr, tpr)` points and its AUC.
pub type Curve = (String, Vec<(f64, f64)>, Option<f64>);

/// An SVG document of one or more ROC curves on one chart: false-positive rate
/// across, true-positive rate up, both 0 to 1; the chance diagonal; a legend
/// with each curve's name and AUC; `title` above. A curve of more than
/// [`MAX_PLOT_POINTS`] points is thinned to that many.
pub fn plot_roc(title: &str, curves: &[Curve]) -> String {
    let mut svg = String::new();
    // Drawing into a string with plotters' estimated text layout has no
    // failure path (no file, no font lookup).
    draw_roc(&mut svg, title, curves).expect("drawing an SVG into a string cannot fail");
    svg
}

/// The drawing of [`plot_roc`] into `svg`.
fn draw_roc(
    svg: &mut String,
    title: &str,
    curves: &[Curve],
) -> Result<(), Box<dyn std::error::Error>> {
    let root = SVGBackend::with_string(svg, (800, 640)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 24))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(56)
        .build_cartesian_2d(0.0..1.0, 0.0..1.0)?;
    chart
        .configure_mesh()
        .x_desc("false-positive rate")
        .y_desc("true-positive rate")
        .x_labels(11)
        .y_labels(11)
        .x_label_formatter(&|v| format!("{v:.1}"))
        .y_label_formatter(&|v| format!("{v:.1}"))
        .light_line_style(BLACK.mix(0.05))
        .draw()?;
    chart.draw_series(LineSeries::new(
        [(0.0, 0.0), (1.0, 1.0)],
        ShapeStyle::from(&BLACK.mix(0.4)).stroke_width(1),
    ))?;
    for (i, (name, points, auc)) in curves.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        let style = ShapeStyle::from(&color).stroke_width(2);
        let label = match auc {
            Some(auc) => format!("{name} (AUC {auc:.4})"),
            None => format!("{name} (AUC -)"),
        };
        chart
            .draw_series(LineSeries::new(thin(points, MAX_PLOT_POINTS), style))?
            .label(label)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], style));
    }
    if !curves.is_empty() {
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .draw()?;
    }
    root.present()?;
    Ok(())
}

/// A score for reports: four decimals, trailing zeros dropped but one kept
/// (`37.0`, `0.8123`).
fn score(value: f64) -> String {
    let text = format!("{value:.4}");
    if !text.contains('.') {
        return text;
    }
    let trimmed = text.trim_end_matches('0');
    if trimmed.ends_with('.') {
        format!("{trimmed}0")
    } else {
        trimmed.to_owned()
    }
}

/// A rate for reports, or `-`.
fn rate(value: Option<f64>) -> String {
    value.map_or_else(|| "-".to_owned(), |v| format!("{v:.4}"))
}

/// A percentage with one decimal.
fn percent(value: f64) -> String {
    format!("{:.1}%", value * 100.0)
}

impl fmt::Display for HistoryBucket {
    /// `<12 logins 31.0% of 1200`, `12–39 9.1% of 5000`, `>=40 3.2% of 5840`
    /// (`-` for the share of an empty bucket).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.from, self.to) {
            (0, Some(to)) => write!(f, "<{to} logins")?,
            (from, Some(to)) => write!(f, "{from}–{}", to.saturating_sub(1))?,
            (from, None) => write!(f, ">={from}")?,
        }
        if self.legit == 0 {
            write!(f, " - of 0")
        } else {
            write!(f, " {} of {}", percent(self.stepped_up), self.legit)
        }
    }
}

impl fmt::Display for Figures {
    /// A compact block: the counts, the ranking figures, then one line per
    /// catch target (`-` where a figure is missing).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "positives {} ({}), legitimate {}",
            self.positives, self.kind, self.negatives
        )?;
        writeln!(f, "ROC AUC            {}", rate(self.roc_auc))?;
        writeln!(f, "TPR at FPR 1%      {}", rate(self.tpr_at_1pct_fpr))?;
        writeln!(f, "TPR at FPR 0.1%    {}", rate(self.tpr_at_01pct_fpr))?;
        for (name, catch) in [("99%  ", &self.catch_99), ("99.5%", &self.catch_995)] {
            let Some(e) = catch else {
                writeln!(f, "catch {name} -")?;
                continue;
            };
            let buckets: Vec<String> = e.by_history.iter().map(ToString::to_string).collect();
            writeln!(
                f,
                "catch {name} at score >= {} (caught {}): legitimate successful attempts \
                 stepped up {} ({})",
                score(e.threshold),
                percent(e.caught),
                percent(e.legit_stepped_up),
                buckets.join(", ")
            )?;
        }
        Ok(())
    }
}
