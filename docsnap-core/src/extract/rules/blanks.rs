//! Blank fields on forms: underscore and dot runs, empty brackets and boxes,
//! and labels with nothing after them.

use std::sync::LazyLock;

use regex::Regex;

use super::kv::{clean_label, is_label_like};
use super::layout::{self, Line};

// Three or more underscores, four or more dots (OCR often spaces them),
// empty brackets, and ballot boxes.
static MARKER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"_{3,}|(?:\.\s?){4,}|\[\s*\]|\(\s{0,3}\)|[□☐❑❒▢]")
        .expect("blank marker pattern is valid")
});

/// Returns whether `text` contains a blank marker; such lines are left to
/// [`marker_blanks`] rather than read as labels and values.
pub fn has_marker(text: &str) -> bool {
    MARKER.is_match(text)
}

fn is_box(marker: &str) -> bool {
    marker.contains(['[', '(', '□', '☐', '❑', '❒', '▢'])
}

/// Finds the labels of blanks drawn with markers on `lines`. A dot run
/// followed by a value (a leader, as on receipts) is not a blank.
pub fn marker_blanks(lines: &[Line<'_>]) -> Vec<String> {
    let mut labels = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let text = line.text;
        let markers: Vec<_> = MARKER.find_iter(text).collect();
        if markers.is_empty() {
            continue;
        }

        let mut previous_end = 0;
        for (k, marker) in markers.iter().enumerate() {
            let next_start = markers.get(k + 1).map_or(text.len(), |m| m.start());
            let before = &text[previous_end..marker.start()];
            let after = &text[marker.end()..next_start];
            previous_end = marker.end();

            if is_box(marker.as_str()) {
                // A checkbox is labelled by the words after it, or before it
                // when it ends the line.
                let label = if after.trim().is_empty() {
                    before
                } else {
                    after
                };
                push_label(&mut labels, label);
                continue;
            }

            // Between two runs the text is the next blank's label. After the
            // last run, any text or a line to the right is the value of a
            // leader, as in `TOTAL ...... 12.50`.
            let is_last = k + 1 == markers.len();
            let value_follows = if is_last {
                !after.trim().is_empty() || layout::right_of(lines, i, 6.0).is_some()
            } else {
                !is_label_like(after.trim())
            };
            if value_follows {
                continue;
            }
            push_label(&mut labels, before);
        }
    }
    labels
}

fn push_label(labels: &mut Vec<String>, raw: &str) {
    let label = clean_label(raw);
    if is_label_like(&label) {
        labels.push(label);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::ocr::BoundingBox;

    fn line(text: &str, x: f32, y: f32, width: f32) -> Line<'_> {
        Line {
            page: 0,
            text,
            bbox: BoundingBox {
                x,
                y,
                width,
                height: 20.0,
            },
        }
    }

    #[test]
    fn underscore_runs_make_blanks() {
        let lines = [line("Name: ________  Date: ______", 10.0, 10.0, 400.0)];
        assert_eq!(marker_blanks(&lines), ["Name", "Date"]);
    }

    #[test]
    fn dotted_runs_make_blanks() {
        let lines = [line("Signature . . . . . . . .", 10.0, 10.0, 300.0)];
        assert_eq!(marker_blanks(&lines), ["Signature"]);
    }

    #[test]
    fn checkboxes_take_following_words() {
        let lines = [
            line("☐ PURCHASING", 10.0, 10.0, 100.0),
            line("[ ] Single", 10.0, 40.0, 100.0),
            line("( ) Married", 10.0, 70.0, 100.0),
        ];
        assert_eq!(marker_blanks(&lines), ["PURCHASING", "Single", "Married"]);
    }

    #[test]
    fn dot_leader_before_value_is_not_blank() {
        let lines = [
            line("CASH.................... RM", 10.0, 10.0, 250.0),
            line("70.30", 300.0, 10.0, 50.0),
        ];
        assert!(marker_blanks(&lines).is_empty());
        let inline = [line("Total ........ 12.50", 10.0, 10.0, 250.0)];
        assert!(marker_blanks(&inline).is_empty());
    }
}
