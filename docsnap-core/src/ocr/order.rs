//! Column-aware reading order: finds vertical gutters between text columns,
//! splits lines that run across a gutter, and reads each column top to bottom.

use std::ops::Range;

use crate::ocr::BoundingBox;

/// An empty vertical band between two text columns, in page pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Gutter {
    /// Left edge of the band.
    pub left: f32,
    /// Right edge of the band.
    pub right: f32,
}

impl Gutter {
    fn center(&self) -> f32 {
        (self.left + self.right) / 2.0
    }
}

/// Regions with fewer boxes than this are read row by row without looking
/// for columns: a column needs a few lines before a gap is a gutter.
const MIN_BOXES_PER_COLUMN: usize = 3;

/// Widest box, as a share of the region width, that can sit in a column.
const MAX_COLUMN_SHARE: f32 = 0.6;

/// Nesting limit for columns within columns (three or four columns).
const MAX_DEPTH: usize = 4;

/// Finds the gutters of a page from its lines, each given as its word boxes
/// from left to right, outermost gutter first.
///
/// A line that runs across a gutter is cut at every space wider than the
/// median word height first, so that its two halves show the gutter instead
/// of covering it.
pub fn find_gutters_in_lines(lines: &[Vec<BoundingBox>]) -> Vec<Gutter> {
    let mut heights: Vec<f32> = lines.iter().flatten().map(|word| word.height).collect();
    if heights.is_empty() {
        return Vec::new();
    }
    heights.sort_by(f32::total_cmp);
    let min_gap = heights[heights.len() / 2];

    let mut segments = Vec::new();
    for line in lines {
        let mut start = 0;
        for i in 1..=line.len() {
            let ends_segment = i == line.len() || line[i].x - right_edge(&line[i - 1]) >= min_gap;
            if ends_segment {
                segments.push(union(&line[start..i]));
                start = i;
            }
        }
    }
    find_gutters(&segments)
}

fn union(boxes: &[BoundingBox]) -> BoundingBox {
    let left = boxes.iter().map(|b| b.x).fold(f32::INFINITY, f32::min);
    let top = boxes.iter().map(|b| b.y).fold(f32::INFINITY, f32::min);
    let right = boxes
        .iter()
        .map(right_edge)
        .fold(f32::NEG_INFINITY, f32::max);
    let bottom = boxes
        .iter()
        .map(|b| b.y + b.height)
        .fold(f32::NEG_INFINITY, f32::max);
    BoundingBox {
        x: left,
        y: top,
        width: right - left,
        height: bottom - top,
    }
}

/// Finds the gutters between boxes (lines or line pieces), outermost first.
pub fn find_gutters(boxes: &[BoundingBox]) -> Vec<Gutter> {
    let mut gutters = Vec::new();
    let all: Vec<usize> = (0..boxes.len()).collect();
    collect_gutters(boxes, &all, 0, &mut gutters);
    gutters
}

fn collect_gutters(boxes: &[BoundingBox], region: &[usize], depth: usize, out: &mut Vec<Gutter>) {
    if depth >= MAX_DEPTH {
        return;
    }
    let Some(gutter) = find_gutter(boxes, region) else {
        return;
    };
    out.push(gutter);

    let center = gutter.center();
    let (left, right): (Vec<usize>, Vec<usize>) = region
        .iter()
        .copied()
        .filter(|&i| !crosses(&boxes[i], center))
        .partition(|&i| right_edge(&boxes[i]) <= center);
    collect_gutters(boxes, &left, depth + 1, out);
    collect_gutters(boxes, &right, depth + 1, out);
}

/// Splits one line, given as its word boxes from left to right, wherever the
/// space between two neighbouring words contains a gutter's center and is at
/// least half as wide as the gutter.
pub fn split_line_at_gutters(words: &[BoundingBox], gutters: &[Gutter]) -> Vec<Range<usize>> {
    let mut pieces = Vec::new();
    let mut start = 0;
    for i in 1..words.len() {
        let gap_left = right_edge(&words[i - 1]);
        let gap_right = words[i].x;
        // A space between words of a full-width line may fall on a gutter
        // too, but it is much narrower than the gutter.
        let in_gutter = gutters.iter().any(|gutter| {
            let center = gutter.center();
            let wide = gap_right - gap_left >= 0.5 * (gutter.right - gutter.left);
            gap_left <= center && center <= gap_right && wide
        });
        if in_gutter {
            pieces.push(start..i);
            start = i;
        }
    }
    if start < words.len() {
        pieces.push(start..words.len());
    }
    pieces
}

/// Returns the indices of `lines` in reading order: columns left to right,
/// each top to bottom, with lines that span a gutter (such as headings)
/// between the column blocks above and below them.
pub fn reading_order(lines: &[BoundingBox]) -> Vec<usize> {
    let all: Vec<usize> = (0..lines.len()).collect();
    let mut order = Vec::with_capacity(lines.len());
    order_region(lines, all, 0, &mut order);
    order
}

fn order_region(boxes: &[BoundingBox], region: Vec<usize>, depth: usize, out: &mut Vec<usize>) {
    let gutter = if depth < MAX_DEPTH {
        find_gutter(boxes, &region)
    } else {
        None
    };
    let Some(gutter) = gutter else {
        out.extend(order_rows(boxes, region));
        return;
    };

    // Lines that cross the gutter cut the region into bands; within a band
    // the left column is read before the right one.
    let center = gutter.center();
    let (mut spanning, columns): (Vec<usize>, Vec<usize>) = region
        .into_iter()
        .partition(|&i| crosses(&boxes[i], center));
    spanning.sort_by(|&a, &b| center_y(&boxes[a]).total_cmp(&center_y(&boxes[b])));

    let mut bands: Vec<Vec<usize>> = vec![Vec::new(); spanning.len() + 1];
    for i in columns {
        let y = center_y(&boxes[i]);
        let band = spanning.partition_point(|&s| center_y(&boxes[s]) < y);
        bands[band].push(i);
    }

    for (band_index, band) in bands.into_iter().enumerate() {
        let (left, right): (Vec<usize>, Vec<usize>) = band
            .into_iter()
            .partition(|&i| center_x(&boxes[i]) < center);
        order_region(boxes, left, depth + 1, out);
        order_region(boxes, right, depth + 1, out);
        if let Some(&line) = spanning.get(band_index) {
            out.push(line);
        }
    }
}

/// Orders boxes top to bottom, and left to right within a row of boxes
/// that overlap vertically.
fn order_rows(boxes: &[BoundingBox], mut region: Vec<usize>) -> Vec<usize> {
    region.sort_by(|&a, &b| center_y(&boxes[a]).total_cmp(&center_y(&boxes[b])));

    let mut rows: Vec<Vec<usize>> = Vec::new();
    for i in region {
        let joins_row = rows.last().is_some_and(|row| {
            let first = &boxes[row[0]];
            let y = center_y(&boxes[i]);
            first.y <= y && y <= first.y + first.height
        });
        match rows.last_mut() {
            Some(row) if joins_row => row.push(i),
            _ => rows.push(vec![i]),
        }
    }

    let mut order = Vec::new();
    for mut row in rows {
        row.sort_by(|&a, &b| boxes[a].x.total_cmp(&boxes[b].x));
        order.extend(row);
    }
    order
}

/// Finds the widest vertical band of a region that few boxes cross, with
/// enough text on both sides to be two columns rather than a wide space
/// within a line or between a label and its value.
fn find_gutter(boxes: &[BoundingBox], region: &[usize]) -> Option<Gutter> {
    if region.len() < 2 * MIN_BOXES_PER_COLUMN {
        return None;
    }
    let min_x = region
        .iter()
        .map(|&i| boxes[i].x)
        .fold(f32::INFINITY, f32::min);
    let max_x = region
        .iter()
        .map(|&i| right_edge(&boxes[i]))
        .fold(f32::NEG_INFINITY, f32::max);
    let width = max_x - min_x;
    if !(width.is_finite() && width > 0.0) {
        return None;
    }

    // Lines wider than a column (full-width paragraphs above or below the
    // columns) cannot show where the gutter is, so only narrower boxes count.
    let region: Vec<usize> = region
        .iter()
        .copied()
        .filter(|&i| boxes[i].width <= MAX_COLUMN_SHARE * width)
        .collect();
    if region.len() < 2 * MIN_BOXES_PER_COLUMN {
        return None;
    }

    let mut heights: Vec<f32> = region.iter().map(|&i| boxes[i].height).collect();
    heights.sort_by(f32::total_cmp);
    let median_height = heights[heights.len() / 2];

    // Coverage of each whole pixel column of the region by boxes.
    let columns = width.ceil() as usize + 1;
    let mut coverage = vec![0usize; columns];
    for &i in &region {
        let start = (boxes[i].x - min_x).floor().max(0.0) as usize;
        let end = ((right_edge(&boxes[i]) - min_x).ceil() as usize).min(columns);
        for count in &mut coverage[start..end] {
            *count += 1;
        }
    }

    // Headings and page numbers may cross a gutter, so a gutter may be
    // covered by up to a quarter of the boxes stacked at a typical x.
    let mut stacked: Vec<usize> = coverage
        .iter()
        .copied()
        .filter(|&count| count > 0)
        .collect();
    stacked.sort_unstable();
    let typical_stack = stacked.get(stacked.len() / 2).copied().unwrap_or(0);
    let max_crossing = (typical_stack / 4).max(2);
    // Spaces between words are about a third of the box height and column
    // gutters at least about one box height.
    let min_gap = median_height.max(0.02 * width);
    let min_column_width = 0.2 * width;

    let mut best: Option<Gutter> = None;
    let mut run_start = None;
    for (x, &count) in coverage.iter().enumerate().chain([(columns, &usize::MAX)]) {
        match (count <= max_crossing, run_start) {
            (true, None) => run_start = Some(x),
            (false, Some(start)) => {
                run_start = None;
                let candidate = Gutter {
                    left: min_x + start as f32,
                    right: min_x + x as f32,
                };
                let gap = candidate.right - candidate.left;
                let wider = best.is_none_or(|best| gap > best.right - best.left);
                if gap >= min_gap
                    && candidate.left - min_x >= min_column_width
                    && max_x - candidate.right >= min_column_width
                    && wider
                    && has_columns_on_both_sides(boxes, &region, candidate)
                {
                    best = Some(candidate);
                }
            }
            _ => {}
        }
    }
    best
}

fn has_columns_on_both_sides(boxes: &[BoundingBox], region: &[usize], gutter: Gutter) -> bool {
    let left = region
        .iter()
        .filter(|&&i| right_edge(&boxes[i]) <= gutter.right)
        .count();
    let right = region
        .iter()
        .filter(|&&i| boxes[i].x >= gutter.left)
        .count();
    left >= MIN_BOXES_PER_COLUMN && right >= MIN_BOXES_PER_COLUMN
}

fn crosses(bbox: &BoundingBox, x: f32) -> bool {
    bbox.x < x && x < right_edge(bbox)
}

fn right_edge(bbox: &BoundingBox) -> f32 {
    bbox.x + bbox.width
}

fn center_x(bbox: &BoundingBox) -> f32 {
    bbox.x + bbox.width / 2.0
}

fn center_y(bbox: &BoundingBox) -> f32 {
    bbox.y + bbox.height / 2.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bbox(x: f32, y: f32, width: f32, height: f32) -> BoundingBox {
        BoundingBox {
            x,
            y,
            width,
            height,
        }
    }

    /// Two columns of `rows` lines each, 400 px wide, with a 60 px gutter at
    /// x = 500..560; left lines get even ids and right lines odd ids.
    fn two_columns(rows: usize, top: f32) -> Vec<BoundingBox> {
        let mut lines = Vec::new();
        for row in 0..rows {
            let y = top + row as f32 * 30.0;
            lines.push(bbox(100.0, y, 400.0, 20.0));
            lines.push(bbox(560.0, y + 3.0, 380.0, 20.0));
        }
        lines
    }

    #[test]
    fn single_column_reads_top_to_bottom() {
        let lines: Vec<_> = (0..6)
            .rev()
            .map(|row| bbox(100.0, row as f32 * 30.0, 700.0, 20.0))
            .collect();
        assert_eq!(reading_order(&lines), vec![5, 4, 3, 2, 1, 0]);
    }

    #[test]
    fn two_columns_read_left_column_first() {
        let lines = two_columns(5, 100.0);
        let order = reading_order(&lines);
        assert_eq!(order, vec![0, 2, 4, 6, 8, 1, 3, 5, 7, 9]);
    }

    #[test]
    fn heading_across_columns_separates_bands() {
        let mut lines = vec![bbox(100.0, 20.0, 840.0, 40.0)];
        lines.extend(two_columns(4, 100.0));
        lines.push(bbox(100.0, 240.0, 840.0, 20.0));
        lines.extend(two_columns(3, 300.0));

        let order = reading_order(&lines);

        assert_eq!(order[0], 0, "the heading comes first");
        assert_eq!(&order[1..5], &[1, 3, 5, 7], "then the upper left column");
        assert_eq!(&order[5..9], &[2, 4, 6, 8], "then the upper right column");
        assert_eq!(order[9], 9, "then the rule across both columns");
        assert_eq!(&order[10..], &[10, 12, 14, 11, 13, 15]);
    }

    #[test]
    fn label_and_value_columns_stay_rows() {
        // A narrow label column is a form layout, not two text columns.
        let mut lines = Vec::new();
        for row in 0..6 {
            let y = row as f32 * 30.0;
            lines.push(bbox(100.0, y, 120.0, 20.0));
            lines.push(bbox(400.0, y, 500.0, 20.0));
        }
        let order = reading_order(&lines);
        assert_eq!(order, (0..12).collect::<Vec<_>>());
    }

    #[test]
    fn too_few_lines_stay_rows() {
        let lines = two_columns(2, 0.0);
        assert_eq!(reading_order(&lines), vec![0, 1, 2, 3]);
    }

    #[test]
    fn three_columns_read_in_turn() {
        let mut lines = Vec::new();
        for row in 0..4 {
            let y = row as f32 * 30.0;
            for column in 0..3 {
                lines.push(bbox(100.0 + column as f32 * 300.0, y, 250.0, 20.0));
            }
        }
        let order = reading_order(&lines);
        assert_eq!(order, vec![0, 3, 6, 9, 1, 4, 7, 10, 2, 5, 8, 11]);
    }

    #[test]
    fn gutters_found_between_words() {
        // Word widths change from row to row, as in running text, so the
        // spaces between words do not line up into false gutters.
        let mut words = Vec::new();
        for row in 0..5 {
            let y = row as f32 * 30.0;
            for (column_left, column_right) in [(100.0, 500.0), (560.0, 940.0)] {
                let mut x = column_left;
                let mut word = 0;
                while x < column_right {
                    let width = 40.0 + ((row * 37 + word * 23) % 60) as f32;
                    let width = width.min(column_right - x);
                    words.push(bbox(x, y, width, 20.0));
                    x += width + 7.0;
                    word += 1;
                }
            }
        }
        let gutters = find_gutters(&words);
        assert_eq!(gutters.len(), 1);
        assert!(
            gutters[0].left <= 500.0 && gutters[0].right >= 560.0,
            "{gutters:?}"
        );
    }

    #[test]
    fn gutters_found_in_joined_lines() {
        // Full-width lines above, then lines that ocrs joined across the
        // gutter at x = 500..560: every line is wider than a column.
        let mut lines = Vec::new();
        for row in 0..4 {
            let y = row as f32 * 30.0;
            lines.push(
                (0..8)
                    .map(|word| bbox(100.0 + word as f32 * 105.0, y, 95.0, 20.0))
                    .collect(),
            );
        }
        for row in 4..10 {
            let y = row as f32 * 30.0;
            lines.push(vec![
                bbox(100.0, y, 180.0, 20.0),
                bbox(290.0, y, 210.0, 20.0),
                bbox(560.0, y, 170.0, 20.0),
                bbox(740.0, y, 200.0, 20.0),
            ]);
        }
        let gutters = find_gutters_in_lines(&lines);
        assert_eq!(gutters.len(), 1, "{gutters:?}");
        assert!(
            gutters[0].left <= 500.0 && gutters[0].right >= 560.0,
            "{gutters:?}"
        );
    }

    #[test]
    fn line_across_gutter_is_split() {
        let gutter = Gutter {
            left: 500.0,
            right: 560.0,
        };
        let words = [
            bbox(100.0, 0.0, 150.0, 20.0),
            bbox(270.0, 0.0, 200.0, 20.0),
            bbox(560.0, 0.0, 100.0, 20.0),
            bbox(680.0, 0.0, 100.0, 20.0),
        ];
        assert_eq!(split_line_at_gutters(&words, &[gutter]), vec![0..2, 2..4]);
    }

    #[test]
    fn word_space_on_gutter_stays_whole() {
        let gutter = Gutter {
            left: 500.0,
            right: 560.0,
        };
        let words = [bbox(100.0, 0.0, 420.0, 20.0), bbox(528.0, 0.0, 200.0, 20.0)];
        assert_eq!(split_line_at_gutters(&words, &[gutter]), vec![0..2]);
    }

    #[test]
    fn line_without_gutter_stays_whole() {
        let words = [bbox(100.0, 0.0, 150.0, 20.0), bbox(270.0, 0.0, 200.0, 20.0)];
        assert_eq!(split_line_at_gutters(&words, &[]), vec![0..2]);
    }

    #[test]
    fn empty_input_gives_empty_order() {
        assert!(reading_order(&[]).is_empty());
        assert!(find_gutters(&[]).is_empty());
    }
}
