//! Detection figures of anomaly values: ROC AUC and the true-positive rate at a
//! false-positive rate, with attacks as positives and legitimate attempts as
//! negatives (higher value = flagged first).

/// The area under the ROC curve: the probability that a random attack scores
/// above a random legitimate attempt, ties counting half (Mann–Whitney U).
/// `None` when either side is empty.
pub fn roc_auc(legit: &[f64], attacks: &[f64]) -> Option<f64> {
    if legit.is_empty() || attacks.is_empty() {
        return None;
    }
    let mut all: Vec<(f64, bool)> = legit
        .iter()
        .map(|v| (*v, false))
        .chain(attacks.iter().map(|v| (*v, true)))
        .collect();
    all.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
    // Sum of the attacks' ranks (1-based), tied runs sharing their mean rank.
    let mut rank_sum = 0.0;
    let mut start = 0;
    while start < all.len() {
        let end = start
            + all[start..]
                .iter()
                .take_while(|(v, _)| v.total_cmp(&all[start].0).is_eq())
                .count();
        #[allow(clippy::cast_precision_loss)] // Counts are far below 2^52.
        let mean_rank = (start + end + 1) as f64 / 2.0;
        #[allow(clippy::cast_precision_loss)]
        let positives = all[start..end].iter().filter(|(_, p)| *p).count() as f64;
        rank_sum += mean_rank * positives;
        start = end;
    }
    #[allow(clippy::cast_precision_loss)]
    let (p, n) = (attacks.len() as f64, legit.len() as f64);
    Some((rank_sum - p * (p + 1.0) / 2.0) / (p * n))
}

/// The share of attacks flagged when the threshold lets through at most `fpr`
/// of the legitimate attempts (strictly above the threshold = flagged).
/// `None` when either side is empty.
pub fn tpr_at_fpr(legit: &[f64], attacks: &[f64], fpr: f64) -> Option<f64> {
    if legit.is_empty() || attacks.is_empty() {
        return None;
    }
    let mut sorted = legit.to_vec();
    sorted.sort_unstable_by(|a, b| b.total_cmp(a));
    #[allow(
        clippy::cast_precision_loss,
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss
    )]
    let allowed = (sorted.len() as f64 * fpr.clamp(0.0, 1.0)).floor() as usize;
    let threshold = sorted.get(allowed).copied().unwrap_or(f64::NEG_INFINITY);
    #[allow(clippy::cast_precision_loss)]
    let share = attacks.iter().filter(|v| **v > threshold).count() as f64 / attacks.len() as f64;
    Some(share)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_of_known_cases() {
        let close = |a: Option<f64>, b: f64| (a.unwrap() - b).abs() < 1e-12;
        assert!(close(roc_auc(&[1.0, 2.0], &[3.0, 4.0]), 1.0));
        assert!(close(roc_auc(&[3.0, 4.0], &[1.0, 2.0]), 0.0));
        assert!(close(roc_auc(&[1.0, 1.0], &[1.0]), 0.5));
        // 1 of 4 pairs inverted: legit 3 above attack 2.
        assert!(close(roc_auc(&[1.0, 3.0], &[2.0, 4.0]), 0.75));
        assert_eq!(roc_auc(&[], &[1.0]), None);
    }

    #[test]
    fn tpr_at_fpr_uses_the_legit_tail() {
        let legit: Vec<f64> = (0..100).map(f64::from).collect(); // 0..=99
        // 1 % of 100 = 1 allowed above the threshold: threshold 98.
        let attacks = [50.0, 98.0, 98.5, 120.0];
        assert_eq!(tpr_at_fpr(&legit, &attacks, 0.01), Some(0.5));
        assert_eq!(tpr_at_fpr(&legit, &attacks, 0.0), Some(0.25));
        assert_eq!(tpr_at_fpr(&legit, &attacks, 1.0), Some(1.0));
    }
}
