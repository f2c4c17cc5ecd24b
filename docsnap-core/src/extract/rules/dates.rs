//! Date recognition and the two output formats: `MMM DD, YYYY` for kv and
//! `YYYY-MM-DD` for fill values.

use std::ops::Range;
use std::sync::LazyLock;

use chrono::{Datelike, NaiveDate};
use regex::Regex;

/// How to read an all-numeric date whose first two parts could both be the
/// day or the month, such as `09/03/2018`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DateOrder {
    /// `MM/DD/YYYY`, the United States convention.
    #[default]
    MonthFirst,
    /// `DD/MM/YYYY`, the convention of most other countries.
    DayFirst,
}

/// A date found in text, with the byte range it covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundDate {
    /// Byte range of the date in the searched text.
    pub range: Range<usize>,
    /// The calendar date.
    pub date: NaiveDate,
    /// Whether the day and month could have been swapped.
    pub ambiguous: bool,
}

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];

// Separators may carry OCR spaces around them, as in `12 /10 /98`.
static NUMERIC: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?x)
        \b(?:
            (?P<iy>\d{4})\s?[-/.]\s?(?P<im>\d{1,2})\s?[-/.]\s?(?P<id>\d{1,2})
          | (?P<a>\d{1,2})\s?(?P<sep>[-/.])\s?(?P<b>\d{1,2})\s?[-/.]\s?(?P<y>\d{4}|\d{2})
        )\b",
    )
    .expect("numeric date pattern is valid")
});

static NAMED: LazyLock<Regex> = LazyLock::new(|| {
    let month = r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?";
    Regex::new(&format!(
        r"(?ix)\b(?:
            (?P<m1>{month})\s*(?P<d1>\d{{1,2}})(?:st|nd|rd|th)?,?\s*(?P<y1>\d{{4}})
          | (?P<d2>\d{{1,2}})(?:st|nd|rd|th)?[\s\-/]*(?P<m2>{month})[\s\-/,]*(?P<y2>\d{{4}}|\d{{2}})
        )\b"
    ))
    .expect("named date pattern is valid")
});

/// Finds every date in `text`, in order; `order` resolves all-numeric dates
/// whose day and month are both 12 or less.
pub fn find_dates(text: &str, order: DateOrder) -> Vec<FoundDate> {
    let mut found = Vec::new();

    for caps in NAMED.captures_iter(text) {
        let whole = caps.get(0).expect("group 0 always matches");
        let (month, day, year) = match (caps.name("m1"), caps.name("m2")) {
            (Some(m), _) => (m.as_str(), &caps["d1"], &caps["y1"]),
            (None, Some(m)) => (m.as_str(), &caps["d2"], &caps["y2"]),
            (None, None) => continue,
        };
        let Some(month) = month_number(month) else {
            continue;
        };
        let (Ok(day), Some(year)) = (day.parse::<u32>(), parse_year(year)) else {
            continue;
        };
        if let Some(date) = NaiveDate::from_ymd_opt(year, month, day) {
            found.push(FoundDate {
                range: whole.range(),
                date,
                ambiguous: false,
            });
        }
    }

    for caps in NUMERIC.captures_iter(text) {
        let whole = caps.get(0).expect("group 0 always matches");
        if found.iter().any(|f| overlaps(&f.range, &whole.range())) {
            continue;
        }
        if let Some(date) = numeric_date(&caps, order) {
            found.push(FoundDate {
                range: whole.range(),
                date: date.0,
                ambiguous: date.1,
            });
        }
    }

    found.sort_by_key(|f| f.range.start);
    found
}

/// Parses `text` as a date when it contains nothing else apart from
/// surrounding punctuation and a trailing time of day.
pub fn parse_date(text: &str, order: DateOrder) -> Option<NaiveDate> {
    let trimmed = text.trim_matches(|c: char| c.is_whitespace() || ",.;:".contains(c));
    let found = find_dates(trimmed, order);
    let first = found.first()?;
    let rest = format!(
        "{}{}",
        &trimmed[..first.range.start],
        &trimmed[first.range.end..]
    );
    let rest_is_time = TIME_OR_NOTHING.is_match(rest.trim());
    rest_is_time.then_some(first.date)
}

static TIME_OR_NOTHING: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^(?:\d{1,2}:\d{2}(?::\d{2})?\s*(?:am|pm)?)?$").expect("time pattern is valid")
});

/// The output formats are the ones validation uses, so rule results and
/// validated results spell dates alike.
pub use crate::extract::dates::{format_fill_date as format_iso_date, format_kv_date};

/// Picks the order for a whole document. It is day first when a numeric
/// date on it has a first part above 12, or when a currency or wording of a
/// day-first country appears, and month first otherwise.
pub fn detect_order(text: &str) -> DateOrder {
    for caps in NUMERIC.captures_iter(text) {
        let (Some(a), Some(b)) = (caps.name("a"), caps.name("b")) else {
            continue;
        };
        let (Ok(a), Ok(b)) = (a.as_str().parse::<u32>(), b.as_str().parse::<u32>()) else {
            continue;
        };
        if a > 12 && a <= 31 && b <= 12 {
            return DateOrder::DayFirst;
        }
        if b > 12 && b <= 31 && a <= 12 {
            return DateOrder::MonthFirst;
        }
    }
    // NOTE: with no unambiguous date and no hint, `03/04/2020` reads as
    // March 4, which is wrong for day-first documents without a currency.
    if DAY_FIRST_HINTS.is_match(text) {
        DateOrder::DayFirst
    } else {
        DateOrder::MonthFirst
    }
}

// Currencies of countries that write the day first (ringgit, euro, pound,
// Singapore and Australian dollars, rupee) and the GST wording of their receipts.
static DAY_FIRST_HINTS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:RM|MYR|EUR|GBP|SGD|AUD|INR|GST\s+(?:ID|NO|REG))\b|[€£₹]")
        .expect("day-first hint pattern is valid")
});

/// Reads a two-digit year as the nearest year no more than 20 years ahead of
/// today, so `98` is 1998 and `18` is 2018.
pub fn expand_year(two_digits: u32) -> i32 {
    let this_year = chrono::Local::now().year();
    let century = this_year - this_year.rem_euclid(100);
    let candidate = century + two_digits as i32;
    if candidate > this_year + 20 {
        candidate - 100
    } else {
        candidate
    }
}

fn parse_year(text: &str) -> Option<i32> {
    let value: u32 = text.parse().ok()?;
    match text.len() {
        2 => Some(expand_year(value)),
        4 if (1800..=2200).contains(&value) => Some(value as i32),
        _ => None,
    }
}

fn month_number(text: &str) -> Option<u32> {
    let lower = text.to_ascii_lowercase();
    let prefix = lower.get(..3)?;
    MONTHS
        .iter()
        .position(|m| *m == prefix)
        .map(|i| i as u32 + 1)
}

fn numeric_date(caps: &regex::Captures<'_>, order: DateOrder) -> Option<(NaiveDate, bool)> {
    if let Some(year) = caps.name("iy") {
        let year = parse_year(year.as_str())?;
        let date =
            NaiveDate::from_ymd_opt(year, caps["im"].parse().ok()?, caps["id"].parse().ok()?)?;
        return Some((date, false));
    }

    let a: u32 = caps["a"].parse().ok()?;
    let b: u32 = caps["b"].parse().ok()?;
    let year_text = &caps["y"];
    // `12.50.99` style dotted numbers with a two-digit year are too often
    // prices or versions to trust.
    if &caps["sep"] == "." && year_text.len() == 2 {
        return None;
    }
    let year = parse_year(year_text)?;
    let ambiguous = a <= 12 && b <= 12 && a != b;
    let (month, day) = match order {
        _ if a > 12 => (b, a),
        _ if b > 12 => (a, b),
        DateOrder::MonthFirst => (a, b),
        DateOrder::DayFirst => (b, a),
    };
    NaiveDate::from_ymd_opt(year, month, day).map(|date| (date, ambiguous))
}

fn overlaps(a: &Range<usize>, b: &Range<usize>) -> bool {
    a.start < b.end && b.start < a.end
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn numeric_dates_follow_order() {
        assert_eq!(
            parse_date("09/03/2018", DateOrder::DayFirst),
            Some(ymd(2018, 3, 9))
        );
        assert_eq!(
            parse_date("09/03/2018", DateOrder::MonthFirst),
            Some(ymd(2018, 9, 3))
        );
    }

    #[test]
    fn unambiguous_numeric_dates_ignore_order() {
        assert_eq!(
            parse_date("19/10/2018", DateOrder::MonthFirst),
            Some(ymd(2018, 10, 19))
        );
        assert_eq!(
            parse_date("3/31/00", DateOrder::DayFirst),
            Some(ymd(2000, 3, 31))
        );
    }

    #[test]
    fn ocr_spaces_around_separators() {
        assert_eq!(
            parse_date("12 /10 /98", DateOrder::MonthFirst),
            Some(ymd(1998, 12, 10))
        );
        assert_eq!(
            parse_date("10/ 4/ 99", DateOrder::MonthFirst),
            Some(ymd(1999, 10, 4))
        );
    }

    #[test]
    fn month_name_dates() {
        assert_eq!(
            parse_date("April 19, 1988", DateOrder::DayFirst),
            Some(ymd(1988, 4, 19))
        );
        assert_eq!(
            parse_date("12 AUG 1974", DateOrder::MonthFirst),
            Some(ymd(1974, 8, 12))
        );
        assert_eq!(
            parse_date("Jan 05, 1965", DateOrder::DayFirst),
            Some(ymd(1965, 1, 5))
        );
        assert_eq!(
            parse_date("5-Feb-65", DateOrder::MonthFirst),
            Some(ymd(1965, 2, 5))
        );
    }

    #[test]
    fn iso_dates_and_trailing_time() {
        assert_eq!(
            parse_date("1974-08-12", DateOrder::DayFirst),
            Some(ymd(1974, 8, 12))
        );
        assert_eq!(
            parse_date("29/06/2018 8:26:57 AM", DateOrder::MonthFirst),
            Some(ymd(2018, 6, 29))
        );
    }

    #[test]
    fn text_around_date_is_not_a_date() {
        assert_eq!(
            parse_date("Invoice 12/10/98 paid", DateOrder::MonthFirst),
            None
        );
        assert_eq!(parse_date("80.91", DateOrder::MonthFirst), None);
        assert_eq!(parse_date("31/02/2020", DateOrder::DayFirst), None);
    }

    #[test]
    fn find_dates_in_free_text() {
        let found = find_dates("19/10/2018 20:49:59 #01", DateOrder::MonthFirst);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].date, ymd(2018, 10, 19));
        assert_eq!(found[0].range, 0..10);
    }

    #[test]
    fn output_formats() {
        assert_eq!(format_kv_date(ymd(1965, 1, 5)), "Jan 05, 1965");
        assert_eq!(format_iso_date(ymd(1965, 1, 5)), "1965-01-05");
    }

    #[test]
    fn order_detection() {
        assert_eq!(detect_order("Date 25/12/2018"), DateOrder::DayFirst);
        assert_eq!(detect_order("Date 12/25/2018"), DateOrder::MonthFirst);
        assert_eq!(
            detect_order("09/03/2018 TOTAL RM 170.00"),
            DateOrder::DayFirst
        );
        assert_eq!(
            detect_order("09/03/2018 TOTAL $170.00"),
            DateOrder::MonthFirst
        );
    }

    #[test]
    fn two_digit_years() {
        assert_eq!(expand_year(98), 1998);
        assert_eq!(expand_year(18), 2018);
        assert_eq!(expand_year(0), 2000);
    }
}
