//! OCR accuracy metrics: character error rates with and without reading
//! order, and word-level precision, recall and F1.

use std::collections::HashMap;

/// Counts the character insertions, deletions and substitutions that turn
/// `from` into `to` (Levenshtein distance).
pub fn edit_distance(from: &[char], to: &[char]) -> usize {
    // Two rows of the dynamic-programming table are enough.
    let mut previous: Vec<usize> = (0..=to.len()).collect();
    let mut current = vec![0; to.len() + 1];

    for (i, &from_char) in from.iter().enumerate() {
        current[0] = i + 1;
        for (j, &to_char) in to.iter().enumerate() {
            let substitution = previous[j] + usize::from(from_char != to_char);
            let deletion = previous[j + 1] + 1;
            let insertion = current[j] + 1;
            current[j + 1] = substitution.min(deletion).min(insertion);
        }
        std::mem::swap(&mut previous, &mut current);
    }

    previous[to.len()]
}

/// Computes the character error rate: edits divided by reference characters.
///
/// It can exceed 1 when the hypothesis is much longer than the reference.
/// An empty reference scores 0 against an empty hypothesis and 1 otherwise.
pub fn cer(reference: &str, hypothesis: &str) -> f64 {
    let reference: Vec<char> = reference.chars().collect();
    let hypothesis: Vec<char> = hypothesis.chars().collect();

    if reference.is_empty() {
        return if hypothesis.is_empty() { 0.0 } else { 1.0 };
    }
    edit_distance(&reference, &hypothesis) as f64 / reference.len() as f64
}

/// Splits text into whitespace-separated tokens.
pub fn tokens(text: &str) -> Vec<&str> {
    text.split_whitespace().collect()
}

/// Computes the CER of the texts in their own token order, with every run
/// of whitespace read as one space.
pub fn ordered_cer(reference: &str, hypothesis: &str) -> f64 {
    cer(&tokens(reference).join(" "), &tokens(hypothesis).join(" "))
}

/// Computes the CER of the texts' tokens sorted, which ignores reading order.
///
/// Engines and annotations disagree on the order of columns and form
/// fields, which this score forgives. It punishes other things instead: a
/// token split or merged differently (`Questions/ Responses`) or misread in
/// its first character sorts elsewhere and costs about twice its length, so
/// on well-ordered text it can exceed [`ordered_cer`].
pub fn order_free_cer(reference: &str, hypothesis: &str) -> f64 {
    let mut reference = tokens(reference);
    let mut hypothesis = tokens(hypothesis);
    reference.sort_unstable();
    hypothesis.sort_unstable();
    cer(&reference.join(" "), &hypothesis.join(" "))
}

/// Word-level scores, matching tokens exactly (case-sensitive) as multisets.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WordScores {
    /// Matched tokens divided by hypothesis tokens.
    pub precision: f64,
    /// Matched tokens divided by reference tokens.
    pub recall: f64,
    /// Harmonic mean of precision and recall.
    pub f1: f64,
}

/// Scores the hypothesis tokens against the reference tokens, ignoring order.
///
/// Two empty texts score 1 everywhere; one empty side scores 0.
pub fn word_scores(reference: &str, hypothesis: &str) -> WordScores {
    let reference = tokens(reference);
    let hypothesis = tokens(hypothesis);

    if reference.is_empty() && hypothesis.is_empty() {
        return WordScores {
            precision: 1.0,
            recall: 1.0,
            f1: 1.0,
        };
    }

    let mut unmatched: HashMap<&str, usize> = HashMap::new();
    for token in &reference {
        *unmatched.entry(token).or_default() += 1;
    }
    let mut matched = 0usize;
    for token in &hypothesis {
        if let Some(count) = unmatched.get_mut(token).filter(|count| **count > 0) {
            *count -= 1;
            matched += 1;
        }
    }

    let precision = ratio(matched, hypothesis.len());
    let recall = ratio(matched, reference.len());
    let f1 = if precision + recall > 0.0 {
        2.0 * precision * recall / (precision + recall)
    } else {
        0.0
    };
    WordScores {
        precision,
        recall,
        f1,
    }
}

fn ratio(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

/// Returns the median, the mean of the middle two for an even count, or
/// `None` for no values. NaN values sort last.
pub fn median(values: &[f64]) -> Option<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);

    let count = sorted.len();
    if count == 0 {
        return None;
    }
    let middle = count / 2;
    if count % 2 == 1 {
        Some(sorted[middle])
    } else {
        Some((sorted[middle - 1] + sorted[middle]) / 2.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chars(text: &str) -> Vec<char> {
        text.chars().collect()
    }

    fn assert_close(actual: f64, expected: f64) {
        assert!(
            (actual - expected).abs() < 1e-9,
            "expected {expected}, got {actual}"
        );
    }

    #[test]
    fn edit_distance_known_pairs() {
        let cases = [
            ("kitten", "sitting", 3),
            ("", "abc", 3),
            ("abc", "", 3),
            ("same", "same", 0),
            ("flaw", "lawn", 2),
            ("Straße", "Strasse", 2),
        ];
        for (from, to, expected) in cases {
            assert_eq!(
                edit_distance(&chars(from), &chars(to)),
                expected,
                "{from} -> {to}"
            );
        }
    }

    #[test]
    fn cer_counts_per_reference_char() {
        assert_close(cer("abcd", "abed"), 0.25);
        assert_close(cer("abcd", "abcd"), 0.0);
        assert_close(cer("ab", "abcdef"), 2.0);
    }

    #[test]
    fn cer_empty_reference() {
        assert_close(cer("", ""), 0.0);
        assert_close(cer("", "noise"), 1.0);
    }

    #[test]
    fn ordered_cer_collapses_whitespace() {
        assert_close(ordered_cer("Total  12.50\n", "Total 12.50"), 0.0);
    }

    #[test]
    fn ordered_cer_sees_swapped_lines() {
        let reference = "Invoice 42\nTotal 12.50";
        let hypothesis = "Total 12.50\nInvoice 42";
        assert!(ordered_cer(reference, hypothesis) > 0.5);
    }

    #[test]
    fn order_free_cer_ignores_swaps() {
        let reference = "Invoice 42\nTotal 12.50";
        let hypothesis = "Total 12.50\nInvoice 42";
        assert_close(order_free_cer(reference, hypothesis), 0.0);
    }

    #[test]
    fn order_free_cer_counts_misreads() {
        // One substituted character ("Inv0ice" for "Invoice") in 22.
        assert_close(
            order_free_cer("Invoice 42 Total 12.50", "Total 12.50 Inv0ice 42"),
            1.0 / 22.0,
        );
    }

    #[test]
    fn word_scores_partial_match() {
        let scores = word_scores("a b c d", "a b x");
        assert_close(scores.precision, 2.0 / 3.0);
        assert_close(scores.recall, 0.5);
        assert_close(scores.f1, 4.0 / 7.0);
    }

    #[test]
    fn word_scores_count_duplicates_once() {
        let scores = word_scores("the cat", "the the the cat");
        assert_close(scores.precision, 0.5);
        assert_close(scores.recall, 1.0);
    }

    #[test]
    fn word_scores_empty_sides() {
        assert_close(word_scores("", "").f1, 1.0);
        assert_close(word_scores("a", "").f1, 0.0);
        assert_close(word_scores("", "a").f1, 0.0);
    }

    #[test]
    fn median_odd_even_empty() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&[]), None);
    }
}
