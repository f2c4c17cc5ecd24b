//! Date recognition in the common printed formats, and the two output
//! formats of the protocol: `MMM DD, YYYY` in `kv`, `YYYY-MM-DD` in fill values.

use std::sync::LazyLock;

use chrono::{Datelike, NaiveDate};
use regex::Regex;

/// Years outside this range are treated as not a date (a document number,
/// an amount), because no identity document or form carries them.
const YEARS: std::ops::RangeInclusive<i32> = 1000..=2999;

/// Years accepted for the compact `YYYYMMDD` form, which is easily confused
/// with other eight-digit numbers.
const COMPACT_YEARS: std::ops::RangeInclusive<i32> = 1900..=2100;

static YEAR_FIRST: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(\d{4})\s*[-/.]\s*(\d{1,2})\s*[-/.]\s*(\d{1,2})$").expect("the pattern is valid")
});

static YEAR_LAST: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(\d{1,2})\s*([-/.])\s*(\d{1,2})\s*[-/.]\s*(\d{4})$")
        .expect("the pattern is valid")
});

static DAY_MONTH_NAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(\d{1,2})(?:st|nd|rd|th)?\s*[-/.]?\s*([A-Za-z]{3,9})\.?\s*[-/.,]?\s*(\d{4})$")
        .expect("the pattern is valid")
});

static MONTH_NAME_DAY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^([A-Za-z]{3,9})\.?\s*-?\s*(\d{1,2})(?:st|nd|rd|th)?\s*[-,]?\s*(\d{4})$")
        .expect("the pattern is valid")
});

static CJK: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日?$").expect("the pattern is valid")
});

static COMPACT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(\d{4})(\d{2})(\d{2})$").expect("the pattern is valid"));

/// Parses a whole value as a calendar date, or returns `None`.
///
/// Accepted: `1965-01-05`, `1965/01/05`, `1965.01.05`, `01/05/1965` and
/// `01-05-1965` (month first unless the first number is above 12),
/// `05.01.1965` (day first unless the second number is above 12),
/// `5 Jan 1965`, `05 JAN 1965`, `5-Jan-1965`, `January 5, 1965`,
/// `Jan. 5 1965` and `1965年1月5日`. Compact `19650105` is left to
/// [`parse_date_lenient`] because eight digits are often an id, and
/// six-digit MRZ dates are not parsed at all.
pub fn parse_date(text: &str) -> Option<NaiveDate> {
    let text = text.trim();
    if text.is_empty() || text.len() > 40 {
        return None;
    }

    if let Some(captures) = YEAR_FIRST.captures(text).or_else(|| CJK.captures(text)) {
        return ymd(
            number(&captures[1])?,
            number(&captures[2])?,
            number(&captures[3])?,
        );
    }

    if let Some(captures) = YEAR_LAST.captures(text) {
        let first = number(&captures[1])?;
        let second = number(&captures[3])?;
        let year = number(&captures[4])?;
        // Slashes and dashes follow the US order (month first), dots the
        // European order (day first); a number above 12 settles either way.
        // NOTE: so a day-first date written with slashes, as in much of the
        // world, is misread when both numbers are 12 or less.
        let day_first = match (&captures[2], first > 12, second > 12) {
            (_, true, false) => true,
            (_, false, true) => false,
            (separator, _, _) => separator == ".",
        };
        return if day_first {
            ymd(year, second, first)
        } else {
            ymd(year, first, second)
        };
    }

    if let Some(captures) = DAY_MONTH_NAME.captures(text) {
        let month = month_number(&captures[2])?;
        return ymd(number(&captures[3])?, month, number(&captures[1])?);
    }

    if let Some(captures) = MONTH_NAME_DAY.captures(text) {
        let month = month_number(&captures[1])?;
        return ymd(number(&captures[3])?, month, number(&captures[2])?);
    }

    None
}

/// Parses like [`parse_date`] and also accepts compact `YYYYMMDD` with a year
/// in 1900..=2100; use it where the value is known to be a date, such as under
/// a `Date of Birth` key.
pub fn parse_date_lenient(text: &str) -> Option<NaiveDate> {
    if let Some(date) = parse_date(text) {
        return Some(date);
    }
    let captures = COMPACT.captures(text.trim())?;
    let year = number(&captures[1])?;
    if !COMPACT_YEARS.contains(&year) {
        return None;
    }
    ymd(year, number(&captures[2])?, number(&captures[3])?)
}

/// Formats a date for a `kv` value: `Jan 05, 1965`.
pub fn format_kv_date(date: NaiveDate) -> String {
    date.format("%b %d, %Y").to_string()
}

/// Formats a date for a fill value: `1965-01-05`.
pub fn format_fill_date(date: NaiveDate) -> String {
    date.format("%Y-%m-%d").to_string()
}

/// Whether a `kv` key names a date, so its value may be read leniently.
pub fn is_date_key(key: &str) -> bool {
    let key = key.to_lowercase();
    [
        "date",
        "birth",
        "dob",
        "expir",
        "issued",
        "valid until",
        "valid from",
    ]
    .iter()
    .any(|word| key.contains(word))
}

fn number(digits: &str) -> Option<i32> {
    digits.parse().ok()
}

fn ymd(year: i32, month: i32, day: i32) -> Option<NaiveDate> {
    if !YEARS.contains(&year) {
        return None;
    }
    let date = NaiveDate::from_ymd_opt(year, u32::try_from(month).ok()?, u32::try_from(day).ok()?)?;
    debug_assert_eq!(date.year(), year);
    Some(date)
}

fn month_number(name: &str) -> Option<i32> {
    const MONTHS: [&str; 12] = [
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
    ];
    let name = name.to_lowercase();
    if name == "sept" {
        return Some(9);
    }
    let position = MONTHS.iter().position(|month| {
        // Either the full name or its three-letter abbreviation.
        *month == name || (name.len() == 3 && month.starts_with(&name))
    })?;
    i32::try_from(position + 1).ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn kv(text: &str) -> Option<String> {
        parse_date(text).map(format_kv_date)
    }

    #[test]
    fn iso_and_year_first() {
        assert_eq!(kv("1965-01-05").as_deref(), Some("Jan 05, 1965"));
        assert_eq!(kv("1965/1/5").as_deref(), Some("Jan 05, 1965"));
        assert_eq!(kv("1965.01.05").as_deref(), Some("Jan 05, 1965"));
        assert_eq!(kv(" 2024 - 12 - 31 ").as_deref(), Some("Dec 31, 2024"));
    }

    #[test]
    fn slashes_are_month_first_unless_unambiguous() {
        assert_eq!(kv("05/01/1965").as_deref(), Some("May 01, 1965"));
        assert_eq!(kv("01-05-1965").as_deref(), Some("Jan 05, 1965"));
        assert_eq!(kv("25/01/1965").as_deref(), Some("Jan 25, 1965"));
        assert_eq!(kv("01/25/1965").as_deref(), Some("Jan 25, 1965"));
    }

    #[test]
    fn dots_are_day_first_unless_unambiguous() {
        assert_eq!(kv("05.01.1965").as_deref(), Some("Jan 05, 1965"));
        assert_eq!(kv("01.25.1965").as_deref(), Some("Jan 25, 1965"));
    }

    #[test]
    fn day_month_name_year() {
        assert_eq!(kv("5 Jan 1965").as_deref(), Some("Jan 05, 1965"));
        assert_eq!(kv("05 JAN 1965").as_deref(), Some("Jan 05, 1965"));
        assert_eq!(kv("5-Jan-1965").as_deref(), Some("Jan 05, 1965"));
        assert_eq!(kv("5th September 1965").as_deref(), Some("Sep 05, 1965"));
        assert_eq!(kv("5 Sept 1965").as_deref(), Some("Sep 05, 1965"));
    }

    #[test]
    fn month_name_day_year() {
        assert_eq!(kv("January 5, 1965").as_deref(), Some("Jan 05, 1965"));
        assert_eq!(kv("Jan. 5 1965").as_deref(), Some("Jan 05, 1965"));
        assert_eq!(kv("Jan 05, 1965").as_deref(), Some("Jan 05, 1965"));
        assert_eq!(kv("DECEMBER 31, 1999").as_deref(), Some("Dec 31, 1999"));
    }

    #[test]
    fn chinese_year_month_day() {
        assert_eq!(kv("1965年1月5日").as_deref(), Some("Jan 05, 1965"));
    }

    #[test]
    fn compact_only_when_lenient() {
        assert_eq!(parse_date("19650105"), None);
        assert_eq!(
            parse_date_lenient("19650105")
                .map(format_fill_date)
                .as_deref(),
            Some("1965-01-05")
        );
        assert_eq!(parse_date_lenient("12345678"), None);
        assert_eq!(parse_date_lenient("19651305"), None);
    }

    #[test]
    fn non_dates_are_rejected() {
        for text in [
            "650105",
            "E12345678",
            "Li Wei",
            "31/31/1965",
            "1965-02-30",
            "5 Foo 1965",
            "12/05",
            "",
            "Mayday 5, 1965",
        ] {
            assert_eq!(parse_date(text), None, "{text:?} is not a date");
        }
    }

    #[test]
    fn fill_format() {
        let date = parse_date("January 5, 1965").unwrap();
        assert_eq!(format_fill_date(date), "1965-01-05");
    }

    #[test]
    fn date_keys() {
        assert!(is_date_key("Date of Birth (Full)"));
        assert!(is_date_key("Expiry Date"));
        assert!(!is_date_key("Document Number"));
    }
}
