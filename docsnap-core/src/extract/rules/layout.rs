//! Geometry of OCR lines: which line sits to the right of or below another.

use crate::ocr::{BoundingBox, PageText};

/// One OCR line with the page it is on; `index` is its position in the
/// flattened list.
#[derive(Debug, Clone, Copy)]
pub struct Line<'a> {
    /// Zero-based page index.
    pub page: usize,
    /// The line's text.
    pub text: &'a str,
    /// The line's box in page pixels.
    pub bbox: BoundingBox,
}

/// Flattens pages into one list of lines, pages in order.
pub fn flatten(pages: &[PageText]) -> Vec<Line<'_>> {
    pages
        .iter()
        .flat_map(|page| {
            page.lines.iter().map(move |line| Line {
                page: page.index,
                text: line.text.as_str(),
                bbox: line.bbox,
            })
        })
        .collect()
}

fn bottom(b: &BoundingBox) -> f32 {
    b.y + b.height
}

fn right(b: &BoundingBox) -> f32 {
    b.x + b.width
}

/// Returns whether two lines share a visual row: their vertical extents overlap by
/// at least half the smaller height.
pub fn same_row(a: &Line<'_>, b: &Line<'_>) -> bool {
    if a.page != b.page {
        return false;
    }
    let overlap = bottom(&a.bbox).min(bottom(&b.bbox)) - a.bbox.y.max(b.bbox.y);
    let smaller = a.bbox.height.min(b.bbox.height).max(1.0);
    overlap >= 0.5 * smaller
}

/// Finds the nearest line to the right of `lines[i]` on the same row. The
/// gap may be up to `max_gap_heights` times the line height.
pub fn right_of(lines: &[Line<'_>], i: usize, max_gap_heights: f32) -> Option<usize> {
    let anchor = &lines[i];
    let max_gap = max_gap_heights * anchor.bbox.height.max(1.0);
    lines
        .iter()
        .enumerate()
        .filter(|(j, other)| {
            let gap = other.bbox.x - right(&anchor.bbox);
            // A box much taller than the anchor is vertical text or a stamp.
            let similar_height = other.bbox.height <= 2.5 * anchor.bbox.height.max(1.0);
            *j != i
                && same_row(anchor, other)
                && similar_height
                && gap >= -0.3 * anchor.bbox.height
                && gap <= max_gap
        })
        .min_by(|(_, a), (_, b)| a.bbox.x.total_cmp(&b.bbox.x))
        .map(|(j, _)| j)
}

/// Finds the line just below `lines[i]`: its top within one line height of
/// the anchor's bottom and its left edge aligned with the anchor's.
pub fn below(lines: &[Line<'_>], i: usize) -> Option<usize> {
    below_within(lines, i, 1.2, false).first().copied()
}

/// Lists the lines below `lines[i]`, nearest first, whose top is within
/// `max_gap_heights` line heights of the anchor's bottom. The line's left
/// edge must align with the anchor's, or with `indented`, fall anywhere
/// under the anchor's span, as handwriting under a label does.
pub fn below_within(
    lines: &[Line<'_>],
    i: usize,
    max_gap_heights: f32,
    indented: bool,
) -> Vec<usize> {
    let anchor = &lines[i];
    let height = anchor.bbox.height.max(1.0);
    let mut found: Vec<usize> = lines
        .iter()
        .enumerate()
        .filter(|(j, other)| {
            let gap = other.bbox.y - bottom(&anchor.bbox);
            let aligned = (other.bbox.x - anchor.bbox.x).abs() <= 1.5 * height
                || (indented
                    && other.bbox.x >= anchor.bbox.x - 1.5 * height
                    && other.bbox.x <= right(&anchor.bbox));
            *j != i
                && other.page == anchor.page
                && !same_row(anchor, other)
                && gap >= -0.3 * height
                && gap <= max_gap_heights * height
                && aligned
        })
        .map(|(j, _)| j)
        .collect();
    found.sort_by(|a, b| {
        let (a, b) = (&lines[*a].bbox, &lines[*b].bbox);
        a.y.total_cmp(&b.y).then(a.x.total_cmp(&b.x))
    });
    found
}

/// Returns the median box height of the lines on `page`, the body text size
/// in page pixels; `None` below three lines, where a median says little.
pub fn body_height(lines: &[Line<'_>], page: usize) -> Option<f32> {
    let mut heights: Vec<f32> = lines
        .iter()
        .filter(|l| l.page == page)
        .map(|l| l.bbox.height)
        .collect();
    if heights.len() < 3 {
        return None;
    }
    heights.sort_by(f32::total_cmp);
    Some(heights[heights.len() / 2])
}

/// Returns whether `lines[i]` is taller than the body lines of its page by
/// `factor`.
pub fn is_taller_than_body(lines: &[Line<'_>], i: usize, factor: f32) -> bool {
    body_height(lines, lines[i].page).is_some_and(|body| lines[i].bbox.height > factor * body)
}

/// Sorts lines into reading order: top to bottom by rows, left to right
/// within a row. OCR engines usually deliver this order already; ground-truth
/// line lists often do not.
pub fn reading_order(lines: &mut [crate::ocr::TextLine]) {
    lines.sort_by(|a, b| a.bbox.y.total_cmp(&b.bbox.y));
    let mut row_start = 0;
    while row_start < lines.len() {
        let first = lines[row_start].bbox;
        let mut row_end = row_start + 1;
        while row_end < lines.len() {
            let next = lines[row_end].bbox;
            let centre = next.y + next.height / 2.0;
            if centre > first.y + first.height {
                break;
            }
            row_end += 1;
        }
        lines[row_start..row_end].sort_by(|a, b| a.bbox.x.total_cmp(&b.bbox.x));
        row_start = row_end;
    }
}
