//! Hand-checkable detection figures, the ROC curve against the AUC, the plot.
// Thresholds are copies of input scores and shares are exact small ratios:
// comparing them exactly is the point.
#![allow(clippy::float_cmp)]

use super::*;

fn row(score: f64, label: Label, success: bool, prior_successes: u32) -> Scored {
    Scored {
        index: 0,
        score,
        label,
        success,
        prior_successes,
    }
}

fn legit(score: f64, prior_successes: u32) -> Scored {
    row(score, Label::Legit, true, prior_successes)
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-12
}

/// A fixed pseudo-random sequence in `[0, 1)` (Knuth's MMIX LCG, top bits).
fn lcg(seed: u64, n: usize) -> Vec<f64> {
    let mut state = seed;
    (0..n)
        .map(|_| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            #[allow(clippy::cast_precision_loss)] // 53 bits fit exactly.
            let v = (state >> 11) as f64 / (1u64 << 53) as f64;
            v
        })
        .collect()
}

#[test]
fn perfect_separation() {
    let mut rows: Vec<Scored> = (0..100).map(|i| legit(f64::from(i), i)).collect();
    rows.extend((0..10).map(|i| row(1000.0 + f64::from(i), Label::NaiveTakeover, true, 50)));
    let f = figures(&rows, Positives::Takeovers);
    assert_eq!((f.positives, f.negatives), (10, 100));
    assert_eq!(f.roc_auc, Some(1.0));
    assert_eq!(f.tpr_at_1pct_fpr, Some(1.0));
    assert_eq!(f.tpr_at_01pct_fpr, Some(1.0));
    for catch in [f.catch_99.unwrap(), f.catch_995.unwrap()] {
        // 99 % of 10 rounds up to all 10: the lowest positive.
        assert_eq!(catch.threshold, 1000.0);
        assert_eq!(catch.caught, 1.0);
        assert_eq!(catch.legit_stepped_up, 0.0);
        assert!(catch.by_history.iter().all(|b| b.stepped_up == 0.0));
    }
}

#[test]
fn ties_count_half_and_catch_every_tied_positive() {
    let rows = [
        legit(1.0, 0),
        legit(5.0, 0),
        row(5.0, Label::TargetedTakeover, false, 3),
        row(5.0, Label::TargetedTakeover, false, 3),
    ];
    let f = figures(&rows, Positives::Targeted);
    // Pairs: (5 vs 1) twice = 2, (5 vs 5) twice = 1 → 3 of 4.
    assert!(close(f.roc_auc.unwrap(), 0.75));
    let catch = f.catch_99.unwrap();
    assert_eq!(catch.threshold, 5.0);
    assert_eq!(catch.caught, 1.0);
    // The legitimate 5.0 is at the threshold: stepped up.
    assert_eq!(catch.legit_stepped_up, 0.5);
}

#[test]
fn the_99_percent_threshold_leaves_exactly_two_of_200_below() {
    // Positives score 1..=200; legitimate successful attempts 0.5, 2.5, 3.5, 250.
    let mut rows: Vec<Scored> = (1..=200)
        .map(|i| row(f64::from(i), Label::SimSwap, true, 0))
        .collect();
    rows.extend([legit(0.5, 0), legit(2.5, 0), legit(3.5, 0), legit(250.0, 0)]);
    let f = figures(&rows, Positives::Takeovers);
    let c99 = f.catch_99.unwrap();
    assert_eq!(c99.threshold, 3.0);
    assert!(close(c99.caught, 0.99));
    assert_eq!(c99.legit_stepped_up, 0.5); // 3.5 and 250
    // 99.5 % of 200 = 199: one below.
    let c995 = f.catch_995.unwrap();
    assert_eq!(c995.threshold, 2.0);
    assert!(close(c995.caught, 0.995));
    assert_eq!(c995.legit_stepped_up, 0.75); // 2.5, 3.5 and 250
}

#[test]
fn history_buckets_are_half_open() {
    let mut rows = vec![
        legit(0.0, 0),
        legit(9.0, 11),
        legit(0.0, 12),
        legit(0.0, 39),
        legit(9.0, 39),
        legit(9.0, 40),
        legit(0.0, 1000),
        // Neither successful nor counted in the step-up figures.
        row(9.0, Label::Legit, false, 0),
    ];
    rows.push(row(5.0, Label::NaiveTakeover, true, 0));
    let f = figures(&rows, Positives::Takeovers);
    assert_eq!(f.negatives, 8);
    let catch = f.catch_99.unwrap();
    assert_eq!(catch.threshold, 5.0);
    assert!(close(catch.legit_stepped_up, 3.0 / 7.0));
    let buckets: Vec<(u32, Option<u32>, usize, f64)> = catch
        .by_history
        .iter()
        .map(|b| (b.from, b.to, b.legit, b.stepped_up))
        .collect();
    assert_eq!(
        buckets,
        [
            (0, Some(12), 2, 0.5),
            (12, Some(40), 3, 1.0 / 3.0),
            (40, None, 2, 0.5)
        ]
    );
}

#[test]
fn positives_choose_what_counts() {
    let rows = [
        legit(0.0, 0),
        row(1.0, Label::TargetedTakeover, true, 0),
        row(2.0, Label::NaiveTakeover, true, 0),
        row(3.0, Label::SimSwap, true, 0),
        row(4.0, Label::Stuffing, false, 0),
        row(5.0, Label::Spraying, false, 0),
    ];
    let count = |p| {
        let f = figures(&rows, p);
        (f.positives, f.negatives)
    };
    assert_eq!(count(Positives::Takeovers), (3, 1));
    assert_eq!(count(Positives::Targeted), (1, 1));
    assert_eq!(count(Positives::Attacks), (5, 1));
}

#[test]
fn empty_inputs_give_no_figures() {
    for rows in [
        &[][..],
        &[legit(1.0, 0)][..],
        &[row(1.0, Label::NaiveTakeover, true, 0)][..],
        // Positives and legitimate attempts, but none successful.
        &[
            row(1.0, Label::NaiveTakeover, true, 0),
            row(0.0, Label::Legit, false, 0),
        ][..],
    ] {
        let f = figures(rows, Positives::Takeovers);
        assert_eq!(f.catch_99, None);
        assert_eq!(f.catch_995, None);
        if f.positives == 0 || f.negatives == 0 {
            assert_eq!(f.roc_auc, None);
            assert_eq!(f.tpr_at_1pct_fpr, None);
            assert_eq!(f.tpr_at_01pct_fpr, None);
        }
        let text = f.to_string();
        assert!(text.contains("ROC AUC"), "{text}");
    }
    let text = figures(&[], Positives::Attacks).to_string();
    assert!(text.contains("ROC AUC            -\n"), "{text}");
    assert!(text.contains("catch 99.5% -\n"), "{text}");
    assert!(roc_curve(&[], &[1.0]).is_empty());
    assert!(roc_curve(&[1.0], &[]).is_empty());
    assert!(plot_roc("nothing", &[]).contains("</svg>"));
}

#[test]
fn roc_curve_is_monotone_and_its_area_is_the_auc() {
    // Rounded to two decimals so that ties occur, positives shifted up.
    let round = |v: f64| (v * 100.0).round() / 100.0;
    let negatives: Vec<f64> = lcg(7, 300).into_iter().map(round).collect();
    let positives: Vec<f64> = lcg(8, 120).into_iter().map(|v| round(v + 0.3)).collect();
    let curve = roc_curve(&negatives, &positives);
    assert_eq!(curve.first(), Some(&(0.0, 0.0)));
    assert_eq!(curve.last(), Some(&(1.0, 1.0)));
    assert!(
        curve
            .windows(2)
            .all(|w| w[0].0 <= w[1].0 && w[0].1 <= w[1].1)
    );
    // One point per distinct score, plus the origin.
    let mut distinct: Vec<f64> = negatives.iter().chain(&positives).copied().collect();
    distinct.sort_unstable_by(f64::total_cmp);
    distinct.dedup();
    assert_eq!(curve.len(), distinct.len() + 1);
    let area: f64 = curve
        .windows(2)
        .map(|w| (w[1].0 - w[0].0) * (w[0].1 + w[1].1) / 2.0)
        .sum();
    let auc = roc_auc(&negatives, &positives).unwrap();
    assert!((area - auc).abs() < 1e-9, "{area} vs {auc}");
    assert!(auc > 0.7 && auc < 1.0, "{auc}");
}

#[test]
fn roc_curve_of_a_tie_is_the_diagonal() {
    assert_eq!(roc_curve(&[1.0, 1.0], &[1.0]), [(0.0, 0.0), (1.0, 1.0)]);
    assert_eq!(
        roc_curve(&[1.0], &[2.0]),
        [(0.0, 0.0), (0.0, 1.0), (1.0, 1.0)]
    );
}

#[test]
fn thinning_keeps_the_ends_and_the_bound() {
    let negatives = lcg(1, 5000);
    let positives: Vec<f64> = lcg(2, 5000).into_iter().map(|v| v + 0.2).collect();
    let curve = roc_curve(&negatives, &positives);
    assert!(curve.len() > MAX_PLOT_POINTS);
    let thinned = thin(&curve, MAX_PLOT_POINTS);
    assert!(thinned.len() <= MAX_PLOT_POINTS && thinned.len() > MAX_PLOT_POINTS / 2);
    assert_eq!(thinned.first(), curve.first());
    assert_eq!(thinned.last(), curve.last());
    assert!(
        thinned
            .windows(2)
            .all(|w| w[0].0 <= w[1].0 && w[0].1 <= w[1].1)
    );
    // Small curves are untouched.
    assert_eq!(thin(&curve[..10], MAX_PLOT_POINTS), curve[..10]);
    assert_eq!(thin(&curve, 2), [curve[0], curve[curve.len() - 1]]);
}

#[test]
fn plot_is_a_standalone_svg_with_every_curve_named() {
    let negatives = lcg(3, 4000);
    let positives: Vec<f64> = lcg(4, 4000).into_iter().map(|v| v + 0.1).collect();
    let big = roc_curve(&negatives, &positives);
    let auc = roc_auc(&negatives, &positives);
    let curves = vec![
        ("gmm-4".to_owned(), big, auc),
        (
            "k-means".to_owned(),
            vec![(0.0, 0.0), (0.2, 0.9), (1.0, 1.0)],
            None,
        ),
    ];
    let svg = plot_roc("ROC <takeovers>", &curves);
    assert!(
        svg.starts_with("<svg") || svg.starts_with("<?xml"),
        "{}",
        &svg[..80]
    );
    assert!(svg.trim_end().ends_with("</svg>"));
    assert!(svg.contains("gmm-4 (AUC "));
    assert!(svg.contains("k-means (AUC -)"));
    assert!(svg.contains("ROC &lt;takeovers&gt;"));
    assert!(svg.contains("false-positive rate"));
    assert!(svg.contains("<text"));
    // Thinned: well below the 8 000 points of the big curve.
    assert!(svg.len() < 200_000, "{}", svg.len());
    // Deterministic.
    assert_eq!(svg, plot_roc("ROC <takeovers>", &curves));
}

#[test]
fn report_reads_like_the_cli() {
    let mut rows: Vec<Scored> = (1..=200)
        .map(|i| row(f64::from(i), Label::NaiveTakeover, true, 0))
        .collect();
    rows.extend([
        legit(0.5, 3),
        legit(37.0, 20),
        legit(250.0, 50),
        legit(1.0, 60),
    ]);
    let text = figures(&rows, Positives::Takeovers).to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "positives 200 (takeovers), legitimate 4");
    // Pairs won: 200 + 199.5 (a tie at 1) + 163.5 (a tie at 37) + 0, of 800.
    assert_eq!(lines[1], format!("ROC AUC            {:.4}", 563.0 / 800.0));
    assert_eq!(
        lines[4],
        "catch 99%   at score >= 3.0 (caught 99.0%): legitimate successful attempts stepped up \
         50.0% (<12 logins 0.0% of 1, 12–39 100.0% of 1, >=40 50.0% of 2)"
    );
    assert!(
        lines[5].starts_with("catch 99.5% at score >= 2.0 (caught 99.5%)"),
        "{}",
        lines[5]
    );
    assert_eq!(lines.len(), 6);
}

#[test]
fn report_scores_drop_trailing_zeros() {
    assert_eq!(score(37.0), "37.0");
    assert_eq!(score(0.812_34), "0.8123");
    assert_eq!(score(0.5), "0.5");
    assert_eq!(score(-2.25), "-2.25");
}
