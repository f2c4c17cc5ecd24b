//! The mechanics of fitting a prompt into its budget: choosing file library
//! entries and cutting OCR text page by page, all counted in characters
//! (Unicode scalar values) and cut only on character boundaries.

/// Returns the number of characters in `text`.
pub fn char_count(text: &str) -> usize {
    text.chars().count()
}

/// Returns the first `chars` characters of `text`, or all of it when it is shorter.
pub fn char_prefix(text: &str, chars: usize) -> &str {
    match text.char_indices().nth(chars) {
        Some((end, _)) => &text[..end],
        None => text,
    }
}

/// Returns the note that replaces `chars` characters of left-out text.
pub fn omission_marker(chars: usize) -> String {
    format!("[... {chars} characters omitted ...]")
}

/// Pretty-printed JSON values that can be joined into a JSON array of any
/// subset of them.
pub struct JsonItems {
    /// Each item pretty-printed and indented by one level, as inside an array.
    indented: Vec<String>,
}

impl JsonItems {
    /// Pretty-prints every value.
    pub fn new(values: &[serde_json::Value]) -> serde_json::Result<Self> {
        let indented = values
            .iter()
            .map(|value| {
                let pretty = serde_json::to_string_pretty(value)?;
                let lines: Vec<String> = pretty.lines().map(|line| format!("  {line}")).collect();
                Ok(lines.join("\n"))
            })
            .collect::<serde_json::Result<_>>()?;
        Ok(Self { indented })
    }

    /// Returns the characters each item adds to an array, its separator included.
    ///
    /// An array of items costs 2 characters (`[]` when empty) plus the costs
    /// of its items, because `[\n`, `,\n` between items and `\n]` add up to
    /// 2 plus 2 per item.
    fn cost(&self, position: usize) -> usize {
        char_count(&self.indented[position]) + 2
    }

    /// Chooses items in `ranking` order, skipping any that no longer fits,
    /// while their costs add up to at most `room` characters. Returns their
    /// positions in ascending order.
    pub fn choose(&self, ranking: &[usize], room: usize) -> Vec<usize> {
        let mut left = room;
        let mut chosen: Vec<usize> = Vec::new();
        for &position in ranking {
            let cost = self.cost(position);
            if cost <= left {
                left -= cost;
                chosen.push(position);
            }
        }
        chosen.sort_unstable();
        chosen
    }

    /// Returns the smallest cost of one item, or `None` when there are none.
    pub fn smallest_cost(&self) -> Option<usize> {
        (0..self.indented.len())
            .map(|position| self.cost(position))
            .min()
    }

    /// Writes the chosen items as a JSON array, byte for byte as
    /// `serde_json::to_string_pretty` writes the same values.
    pub fn array(&self, positions: &[usize]) -> String {
        if positions.is_empty() {
            return "[]".to_owned();
        }
        let items: Vec<&str> = positions
            .iter()
            .map(|&position| self.indented[position].as_str())
            .collect();
        format!("[\n{}\n]", items.join(",\n"))
    }
}

/// The OCR text of all pages after cutting.
#[derive(Debug, PartialEq, Eq)]
pub struct CutPages {
    /// The text, with every page marker in place.
    pub text: String,
    /// Pages whose text was shortened or left out.
    pub pages_cut: usize,
    /// Characters of page text left out, summed over all pages.
    pub chars_omitted: usize,
}

/// Writes the OCR text block's content: each page after a `--- page N ---` line.
pub fn page_text(pages: &[String]) -> String {
    let lengths: Vec<usize> = pages.iter().map(|page| char_count(page)).collect();
    render_pages(pages, &lengths)
}

/// Cuts the page texts from the last page backwards until the written text
/// has at most `max_chars` characters. A page is shortened from its end, and
/// an omission marker notes how many characters are missing. Only once a
/// page's text is gone is the page before it cut. Page markers always stay.
///
/// Returns the smallest length the text can be cut to when even that is more
/// than `max_chars`.
pub fn cut_pages(pages: &[String], max_chars: usize) -> Result<CutPages, usize> {
    let lengths: Vec<usize> = pages.iter().map(|page| char_count(page)).collect();
    let mut kept_chars = lengths.clone();
    let mut total: usize = (0..pages.len())
        .map(|index| page_chars(index, lengths[index], kept_chars[index]))
        .sum();

    for index in (0..pages.len()).rev() {
        if total <= max_chars {
            break;
        }
        let length = lengths[index];
        let rest = total - page_chars(index, length, length);
        let room = max_chars.saturating_sub(rest);
        let keep = longest_fitting_prefix(index, length, room);
        // A page shorter than its omission marker is kept whole, because
        // replacing it would make the text longer.
        let keep = keep.unwrap_or(0);
        if page_chars(index, length, keep) < page_chars(index, length, length) {
            kept_chars[index] = keep;
            total = rest + page_chars(index, length, keep);
        }
    }
    if total > max_chars {
        return Err(total);
    }

    let pages_cut = kept_chars
        .iter()
        .zip(&lengths)
        .filter(|(kept, length)| kept < length)
        .count();
    let chars_omitted = lengths
        .iter()
        .zip(&kept_chars)
        .map(|(length, kept)| length - kept)
        .sum();
    Ok(CutPages {
        text: render_pages(pages, &kept_chars),
        pages_cut,
        chars_omitted,
    })
}

/// Returns the largest number of leading characters of a page, fewer than
/// all of them, that fits in `room` characters with its marker and the
/// omission marker, or `None` when not even the markers fit.
fn longest_fitting_prefix(index: usize, length: usize, room: usize) -> Option<usize> {
    if length == 0 || page_chars(index, length, 0) > room {
        return None;
    }
    // page_chars does not decrease as more of the page is kept (one more
    // character kept shortens the marker's count by at most one digit), so
    // a binary search finds the boundary.
    let (mut fits, mut too_long) = (0, length);
    while too_long - fits > 1 {
        let middle = fits + (too_long - fits) / 2;
        if page_chars(index, length, middle) <= room {
            fits = middle;
        } else {
            too_long = middle;
        }
    }
    Some(fits)
}

fn page_marker(index: usize) -> String {
    format!("--- page {} ---\n", index + 1)
}

/// Returns the written length of page `index` when `kept` of its `length`
/// characters are kept.
fn page_chars(index: usize, length: usize, kept: usize) -> usize {
    let marker = char_count(&page_marker(index));
    if kept == length {
        return marker + length + 1;
    }
    let separator = usize::from(kept > 0);
    marker + kept + separator + char_count(&omission_marker(length - kept)) + 1
}

fn render_pages(pages: &[String], kept: &[usize]) -> String {
    let mut text = String::new();
    for (index, (page, &keep)) in pages.iter().zip(kept).enumerate() {
        text.push_str(&page_marker(index));
        let length = char_count(page);
        if keep == length {
            text.push_str(page);
        } else {
            let prefix = char_prefix(page, keep);
            text.push_str(prefix);
            if !prefix.is_empty() {
                text.push('\n');
            }
            text.push_str(&omission_marker(length - keep));
        }
        text.push('\n');
    }
    text
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn prefix_counts_characters_not_bytes() {
        assert_eq!(char_prefix("合同条款", 2), "合同");
        assert_eq!(char_prefix("ab", 5), "ab");
        assert_eq!(char_prefix("ab", 0), "");
    }

    #[test]
    fn pages_under_budget_are_unchanged() {
        let pages = vec!["first".to_owned(), "second".to_owned()];
        let text = page_text(&pages);

        let cut = cut_pages(&pages, char_count(&text)).unwrap();

        assert_eq!(text, "--- page 1 ---\nfirst\n--- page 2 ---\nsecond\n");
        assert_eq!(cut.text, text);
        assert_eq!(cut.pages_cut, 0);
        assert_eq!(cut.chars_omitted, 0);
    }

    #[test]
    fn last_page_is_cut_first() {
        let pages = vec!["a".repeat(100), "b".repeat(100)];
        let full = char_count(&page_text(&pages));

        let cut = cut_pages(&pages, full - 50).unwrap();

        assert!(char_count(&cut.text) <= full - 50, "{}", cut.text);
        assert!(
            cut.text
                .contains(&format!("--- page 1 ---\n{}\n", pages[0]))
        );
        assert!(cut.text.contains("--- page 2 ---\nbbb"));
        assert!(cut.text.ends_with(" characters omitted ...]\n"));
        assert_eq!(cut.pages_cut, 1);
        let kept_b = cut.text.matches('b').count();
        assert_eq!(cut.chars_omitted, 100 - kept_b);
        assert!(cut.text.contains(&omission_marker(cut.chars_omitted)));
    }

    #[test]
    fn earlier_pages_cut_after_later_ones() {
        let pages = vec!["x".repeat(300), "y".repeat(300), "z".repeat(300)];

        let cut = cut_pages(&pages, 400).unwrap();

        assert!(char_count(&cut.text) <= 400);
        assert!(!cut.text.contains('z'));
        assert!(!cut.text.contains('y'));
        assert!(cut.text.contains("--- page 1 ---\nxxx"));
        assert!(
            cut.text
                .contains("--- page 2 ---\n[... 300 characters omitted ...]\n")
        );
        assert!(
            cut.text
                .ends_with("--- page 3 ---\n[... 300 characters omitted ...]\n")
        );
        assert_eq!(cut.pages_cut, 3);
    }

    #[test]
    fn chinese_page_is_cut_on_character_boundary() {
        let page = "甲方应于每月五日前支付租金。".repeat(50);
        let pages = vec![page.clone()];

        let cut = cut_pages(&pages, 300).unwrap();

        assert!(char_count(&cut.text) <= 300);
        let body = cut.text.strip_prefix("--- page 1 ---\n").unwrap();
        let (kept, marker) = body.rsplit_once('\n').unwrap().0.rsplit_once('\n').unwrap();
        assert!(page.starts_with(kept), "{kept}");
        let omitted = char_count(&page) - char_count(kept);
        assert_eq!(marker, omission_marker(omitted));
        assert_eq!(cut.chars_omitted, omitted);
    }

    #[test]
    fn short_page_is_kept_whole() {
        let pages = vec!["a".repeat(200), "x".to_owned()];

        let cut = cut_pages(&pages, 150).unwrap();

        assert!(cut.text.ends_with("--- page 2 ---\nx\n"), "{}", cut.text);
        assert!(char_count(&cut.text) <= 150);
    }

    #[test]
    fn markers_that_cannot_fit_report_minimum() {
        let pages = vec!["a".repeat(100); 3];

        let minimum = cut_pages(&pages, 10).unwrap_err();

        let all_omitted = cut_pages(&pages, minimum).unwrap();
        assert_eq!(char_count(&all_omitted.text), minimum);
        assert_eq!(all_omitted.chars_omitted, 300);
    }

    #[test]
    fn items_join_like_serde_pretty() {
        let values = vec![
            json!({"type": "doc", "resource_id": "a", "kv": {"Name": "Li"}}),
            json!({"type": "form", "resource_id": "b", "tags": ["x", "y"]}),
        ];
        let items = JsonItems::new(&values).unwrap();

        assert_eq!(
            items.array(&[0, 1]),
            serde_json::to_string_pretty(&values).unwrap()
        );
        assert_eq!(items.array(&[]), "[]");
        let cost = 2 + items.cost(0) + items.cost(1);
        assert_eq!(char_count(&items.array(&[0, 1])), cost);
    }

    #[test]
    fn choose_skips_items_that_do_not_fit() {
        let values = vec![json!("a".repeat(50)), json!("b"), json!("c")];
        let items = JsonItems::new(&values).unwrap();
        let room = items.cost(1) + items.cost(2);

        assert_eq!(items.choose(&[0, 2, 1], room), vec![1, 2]);
        assert_eq!(items.choose(&[0, 2, 1], 0), Vec::<usize>::new());
    }
}
