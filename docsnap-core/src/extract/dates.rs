//! Dates in the common printed formats: one finder for dates inside text,
//! whole-value parsing on top of it, the day-month order of a document, and
//! the two output formats of the protocol: `MMM DD, YYYY` in `kv` and
//! `YYYY-MM-DD` in fill values.

use std::ops::{Range, RangeInclusive};
use std::sync::LazyLock;

use chrono::{Datelike, NaiveDate, NaiveTime, Timelike};
use regex::{Captures, Regex};

/// Four-digit years outside this range are not read as a date, because such
/// numbers are more often a document number or an amount.
const YEARS: RangeInclusive<i32> = 1000..=2999;

/// Years accepted for the compact `YYYYMMDD` form, which is easily confused
/// with other eight-digit numbers.
const COMPACT_YEARS: RangeInclusive<i32> = 1900..=2100;

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

/// The readings the finder allows for forms that are ambiguous on their own.
///
/// A [`DateOrder`] converts into the reading for text on a document, so the
/// functions here take either.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateReading {
    /// The order of an all-numeric date whose day and month are both 12 or
    /// less. `None` means the order is unknown, so slashes and dashes read
    /// month first and dots day first (`05.01.1965` is 5 January), as each
    /// separator is most often used.
    pub order: Option<DateOrder>,
    /// Whether a two-digit year is read, with the century from [`expand_year`].
    pub two_digit_years: bool,
    /// Whether eight bare digits `YYYYMMDD` with a year in 1900..=2100 are
    /// read. Where a date is not expected, such digits are more often an id.
    pub compact: bool,
}

impl DateReading {
    /// Returns the reading for text on a document whose order is known, such as
    /// from [`detect_order`]: two-digit years are read and compact digits are not.
    pub const fn for_document(order: DateOrder) -> Self {
        Self {
            order: Some(order),
            two_digit_years: true,
            compact: false,
        }
    }

    /// Returns the reading for one value with no document around it, such as a
    /// language model's output. The separator settles the order, and only
    /// four-digit years are read because the century of `30` is unknown.
    pub const fn for_value() -> Self {
        Self {
            order: None,
            two_digit_years: false,
            compact: false,
        }
    }

    /// Returns this reading with compact `YYYYMMDD` accepted too, for values
    /// known to be dates such as one under a `Date of Birth` key.
    pub const fn with_compact(self) -> Self {
        Self {
            compact: true,
            ..self
        }
    }
}

impl From<DateOrder> for DateReading {
    fn from(order: DateOrder) -> Self {
        Self::for_document(order)
    }
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

// Every pattern starts and ends at `(?-u:\b)`, a word boundary by ASCII
// letters and digits, so a date next to a CJK character, as in
// `出生1965年1月5日`, still starts and ends at one.

/// Whitespace within one line: OCR puts spaces around separators, as in
/// `12 /10 /98`, but a date never spans two lines.
const BLANK: &str = r"[^\S\r\n]";

static NUMERIC: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r"(?x)
        (?-u:\b)(?:
            # 1965-01-05
            (?P<iy>[0-9]{{4}}) {BLANK}* [-/.] {BLANK}*
            (?P<im>[0-9]{{1,2}}) {BLANK}* [-/.] {BLANK}*
            (?P<id>[0-9]{{1,2}})
          | # 05/01/1965 and 05/01/65
            (?P<a>[0-9]{{1,2}}) {BLANK}* (?P<sep>[-/.]) {BLANK}*
            (?P<b>[0-9]{{1,2}}) {BLANK}* [-/.] {BLANK}*
            (?P<y>[0-9]{{4}}|[0-9]{{2}})
        )(?-u:\b)"
    ))
    .expect("numeric date pattern is valid")
});

static NAMED: LazyLock<Regex> = LazyLock::new(|| {
    let month = r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?";
    Regex::new(&format!(
        r"(?ix)
        (?-u:\b)(?:
            # January 5, 1965 and Jan-05-1965
            (?P<m1>{month}) {BLANK}* -? {BLANK}*
            (?P<d1>[0-9]{{1,2}}) (?:st|nd|rd|th)? {BLANK}* [-,]? {BLANK}*
            (?P<y1>[0-9]{{4}})
          | # 5 Jan 1965, 5th-Jan-65 and 5.Jan.1965
            (?P<d2>[0-9]{{1,2}}) (?:st|nd|rd|th)? (?:[-/.]|{BLANK})*
            (?P<m2>{month}) (?:[-/.,]|{BLANK})*
            (?P<y2>[0-9]{{4}}|[0-9]{{2}})
        )(?-u:\b)"
    ))
    .expect("named date pattern is valid")
});

// The closing `日` is often left out, and then the day must end at a boundary.
static CJK: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r"(?-u:\b)(?P<year>[0-9]{{4}}){BLANK}*年{BLANK}*(?P<month>[0-9]{{1,2}}){BLANK}*月{BLANK}*(?P<day>[0-9]{{1,2}})(?:{BLANK}*日|(?-u:\b))"
    ))
    .expect("CJK date pattern is valid")
});

static COMPACT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?-u:\b)(?P<year>[0-9]{4})(?P<month>[0-9]{2})(?P<day>[0-9]{2})(?-u:\b)")
        .expect("compact date pattern is valid")
});

static TIME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^(?P<hour>[0-9]{1,2}):(?P<minute>[0-9]{2})(?::(?P<second>[0-9]{2}))?\s*(?P<meridiem>am|pm)?$")
        .expect("time pattern is valid")
});

// Currencies of countries that write the day first (ringgit, euro, pound,
// Singapore and Australian dollars, rupee) and the GST wording of their receipts.
static DAY_FIRST_HINTS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:RM|MYR|EUR|GBP|SGD|AUD|INR|GST\s+(?:ID|NO|REG))\b|[€£₹]")
        .expect("day-first hint pattern is valid")
});

/// Finds every date in `text`, in order of position.
///
/// Recognised: `1965-01-05`, `1965/1/5`, `1965.01.05`, `01/05/1965`,
/// `01-05-1965`, `05.01.1965`, the same with two-digit years (`12/10/98`),
/// `5 Jan 1965`, `05 JAN 65`, `5-Jan-1965`, `5th September 1965`,
/// `January 5, 1965`, `Jan. 5 1965`, `1965年1月5日`, and compact `19650105`
/// when `reading` allows it. Six-digit MRZ dates are not read. A dotted date
/// with a two-digit year (`12.50.99`) is not read either, because it is more
/// often a price or a version.
pub fn find_dates(text: &str, reading: impl Into<DateReading>) -> Vec<FoundDate> {
    let reading = reading.into();
    let mut found = Vec::new();

    // Earlier forms win where two overlap: a month name or `年月日` settles
    // what digits alone leave open.
    collect(&mut found, &NAMED, text, |captures| {
        named_date(captures, reading)
    });
    collect(&mut found, &CJK, text, cjk_date);
    collect(&mut found, &NUMERIC, text, |captures| {
        numeric_date(captures, reading)
    });
    if reading.compact {
        collect(&mut found, &COMPACT, text, compact_date);
    }

    found.sort_by_key(|date| date.range.start);
    found
}

/// Parses a whole value as one date, or returns `None`.
///
/// The date must cover the value apart from surrounding whitespace and
/// `,.;:`. A value with a time of day, such as `29/06/2018 8:26 AM`, is not a
/// date here, so a caller that rewrites dates does not lose the time.
/// [`parse_date_time`] reads both.
///
/// ```
/// use docsnap_core::extract::dates::{parse_date, DateOrder, DateReading};
///
/// let value = DateReading::for_value();
/// assert_eq!(parse_date("05.01.1965", value).unwrap().to_string(), "1965-01-05");
/// assert_eq!(parse_date("05/01/1965", value).unwrap().to_string(), "1965-05-01");
/// assert_eq!(parse_date("05/01/1965", DateOrder::DayFirst).unwrap().to_string(), "1965-01-05");
/// assert_eq!(parse_date("19650105", value), None);
/// assert!(parse_date("19650105", value.with_compact()).is_some());
/// assert_eq!(parse_date("Invoice 05/01/1965", value), None);
/// ```
pub fn parse_date(text: &str, reading: impl Into<DateReading>) -> Option<NaiveDate> {
    match parse_date_time(text, reading)? {
        (date, None) => Some(date),
        (_, Some(_)) => None,
    }
}

/// Parses a whole value as one date with an optional time of day before or
/// after it, as receipts print `19/10/2018 20:49:59`, or returns `None`.
///
/// Accepted times are `H:MM` and `H:MM:SS`, in 24-hour form or followed by
/// `AM` or `PM`.
pub fn parse_date_time(
    text: &str,
    reading: impl Into<DateReading>,
) -> Option<(NaiveDate, Option<NaiveTime>)> {
    let value = text.trim_matches(|c: char| c.is_whitespace() || ",.;:".contains(c));
    let found = find_dates(value, reading);
    let first = found.first()?;

    let before = value[..first.range.start].trim();
    let after = value[first.range.end..].trim();
    let time = match (before.is_empty(), after.is_empty()) {
        (true, true) => None,
        (true, false) => Some(parse_time(after)?),
        (false, true) => Some(parse_time(before)?),
        (false, false) => return None,
    };
    Some((first.date, time))
}

/// Formats a date for a `kv` value: `Jan 05, 1965`.
pub fn format_kv_date(date: NaiveDate) -> String {
    date.format("%b %d, %Y").to_string()
}

/// Formats a date and time for a `kv` value: `Jan 05, 1965 08:26`, with
/// seconds only when they are not zero.
pub fn format_kv_date_time(date: NaiveDate, time: NaiveTime) -> String {
    let time = if time.second() == 0 {
        time.format("%H:%M")
    } else {
        time.format("%H:%M:%S")
    };
    format!("{} {time}", format_kv_date(date))
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

/// Picks the order for a whole document. It is day first when a numeric
/// date on it has a first part above 12, or when a currency or wording of a
/// day-first country appears, and month first otherwise.
pub fn detect_order(text: &str) -> DateOrder {
    for captures in NUMERIC.captures_iter(text) {
        let (Some(a), Some(b)) = (captures.name("a"), captures.name("b")) else {
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

/// Adds the dates that `read` makes of `pattern`'s matches in `text`, except
/// where a date found earlier already covers part of the match.
///
/// After a match that is no date, the search goes on from its second
/// character rather than its end, so `3. 09.03.1988` still yields the date
/// that starts inside the rejected `3. 09.03`.
fn collect(
    found: &mut Vec<FoundDate>,
    pattern: &Regex,
    text: &str,
    read: impl Fn(&Captures<'_>) -> Option<(NaiveDate, bool)>,
) {
    let mut start = 0;
    while let Some(captures) = pattern.captures_at(text, start) {
        let range = captures.get(0).expect("group 0 always matches").range();
        let date = if found.iter().any(|date| overlaps(&date.range, &range)) {
            None
        } else {
            read(&captures)
        };

        let Some((date, ambiguous)) = date else {
            let first_char = text[range.start..].chars().next().map_or(1, char::len_utf8);
            start = range.start + first_char;
            continue;
        };
        start = range.end;
        found.push(FoundDate {
            range,
            date,
            ambiguous,
        });
    }
}

fn named_date(captures: &Captures<'_>, reading: DateReading) -> Option<(NaiveDate, bool)> {
    let (month, day, year) = match (captures.name("m1"), captures.name("m2")) {
        (Some(month), _) => (month.as_str(), &captures["d1"], &captures["y1"]),
        (None, Some(month)) => (month.as_str(), &captures["d2"], &captures["y2"]),
        (None, None) => return None,
    };
    let date = NaiveDate::from_ymd_opt(
        year_number(year, reading)?,
        month_number(month)?,
        day.parse().ok()?,
    )?;
    Some((date, false))
}

fn cjk_date(captures: &Captures<'_>) -> Option<(NaiveDate, bool)> {
    let year = captures["year"]
        .parse()
        .ok()
        .filter(|year| YEARS.contains(year))?;
    let date = NaiveDate::from_ymd_opt(
        year,
        captures["month"].parse().ok()?,
        captures["day"].parse().ok()?,
    )?;
    Some((date, false))
}

fn compact_date(captures: &Captures<'_>) -> Option<(NaiveDate, bool)> {
    let year = captures["year"]
        .parse()
        .ok()
        .filter(|year| COMPACT_YEARS.contains(year))?;
    let date = NaiveDate::from_ymd_opt(
        year,
        captures["month"].parse().ok()?,
        captures["day"].parse().ok()?,
    )?;
    Some((date, false))
}

fn numeric_date(captures: &Captures<'_>, reading: DateReading) -> Option<(NaiveDate, bool)> {
    if let Some(year) = captures.name("iy") {
        let date = NaiveDate::from_ymd_opt(
            year_number(year.as_str(), reading)?,
            captures["im"].parse().ok()?,
            captures["id"].parse().ok()?,
        )?;
        return Some((date, false));
    }

    let a: u32 = captures["a"].parse().ok()?;
    let b: u32 = captures["b"].parse().ok()?;
    let separator = &captures["sep"];
    let year_text = &captures["y"];
    // `12.50.99` style dotted numbers with a two-digit year are too often
    // prices or versions to trust.
    if separator == "." && year_text.len() == 2 {
        return None;
    }
    let year = year_number(year_text, reading)?;

    // A part above 12 can only be the day; otherwise the reading decides.
    let day_first = if a > 12 {
        true
    } else if b > 12 {
        false
    } else {
        match reading.order {
            Some(DateOrder::DayFirst) => true,
            Some(DateOrder::MonthFirst) => false,
            None => separator == ".",
        }
    };
    let (month, day) = if day_first { (b, a) } else { (a, b) };
    let ambiguous = a <= 12 && b <= 12 && a != b;
    NaiveDate::from_ymd_opt(year, month, day).map(|date| (date, ambiguous))
}

fn year_number(digits: &str, reading: DateReading) -> Option<i32> {
    let value: u32 = digits.parse().ok()?;
    match digits.len() {
        2 if reading.two_digit_years => Some(expand_year(value)),
        4 => i32::try_from(value)
            .ok()
            .filter(|year| YEARS.contains(year)),
        _ => None,
    }
}

/// Returns the month of an English month name or abbreviation. The pattern
/// that found it admits only real names, so the first three letters settle it.
fn month_number(name: &str) -> Option<u32> {
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let prefix = name.get(..3)?.to_ascii_lowercase();
    let index = MONTHS.iter().position(|month| *month == prefix)?;
    u32::try_from(index + 1).ok()
}

fn parse_time(text: &str) -> Option<NaiveTime> {
    let captures = TIME.captures(text)?;
    let mut hour: u32 = captures["hour"].parse().ok()?;
    let minute: u32 = captures["minute"].parse().ok()?;
    let second: u32 = match captures.name("second") {
        Some(second) => second.as_str().parse().ok()?,
        None => 0,
    };
    if let Some(meridiem) = captures.name("meridiem") {
        if !(1..=12).contains(&hour) {
            return None;
        }
        // 12 AM is midnight and 12 PM noon.
        hour %= 12;
        if meridiem.as_str().eq_ignore_ascii_case("pm") {
            hour += 12;
        }
    }
    NaiveTime::from_hms_opt(hour, minute, second)
}

fn overlaps(a: &Range<usize>, b: &Range<usize>) -> bool {
    a.start < b.end && b.start < a.end
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const VALUE: DateReading = DateReading::for_value();
    const MONTH_FIRST: DateReading = DateReading::for_document(DateOrder::MonthFirst);
    const DAY_FIRST: DateReading = DateReading::for_document(DateOrder::DayFirst);

    fn ymd(year: i32, month: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(year, month, day).unwrap()
    }

    fn kv(text: &str) -> Option<String> {
        parse_date(text, VALUE).map(format_kv_date)
    }

    // Whole values with no document around them.

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
        assert_eq!(parse_date("19650105", VALUE), None);
        assert_eq!(
            parse_date("19650105", VALUE.with_compact())
                .map(format_fill_date)
                .as_deref(),
            Some("1965-01-05")
        );
        assert_eq!(parse_date("12345678", VALUE.with_compact()), None);
        assert_eq!(parse_date("19651305", VALUE.with_compact()), None);
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
            assert_eq!(parse_date(text, VALUE), None, "{text:?} is not a date");
        }
    }

    #[test]
    fn fill_format() {
        let date = parse_date("January 5, 1965", VALUE).unwrap();
        assert_eq!(format_fill_date(date), "1965-01-05");
    }

    #[test]
    fn date_keys() {
        assert!(is_date_key("Date of Birth (Full)"));
        assert!(is_date_key("Expiry Date"));
        assert!(!is_date_key("Document Number"));
    }

    // Text on a document whose order is known.

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
            parse_date_time("29/06/2018 8:26:57 AM", DateOrder::MonthFirst),
            Some((ymd(2018, 6, 29), NaiveTime::from_hms_opt(8, 26, 57)))
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
        assert_eq!(format_fill_date(ymd(1965, 1, 5)), "1965-01-05");
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

    // Tables over every format and reading.

    /// Each format with the date it reads as month first, day first, and as a
    /// value of unknown order; `-` is no date.
    #[rustfmt::skip]
    const FORMATS: &[(&str, &str, &str, &str)] = &[
        // Year first: never ambiguous.
        ("1965-01-05",         "1965-01-05", "1965-01-05", "1965-01-05"),
        ("1965/1/5",           "1965-01-05", "1965-01-05", "1965-01-05"),
        ("1965.01.05",         "1965-01-05", "1965-01-05", "1965-01-05"),
        ("1965 - 01 - 05",     "1965-01-05", "1965-01-05", "1965-01-05"),
        // Day and month that could be swapped: the reading decides.
        ("03/04/2020",         "2020-03-04", "2020-04-03", "2020-03-04"),
        ("03-04-2020",         "2020-03-04", "2020-04-03", "2020-03-04"),
        ("03.04.2020",         "2020-03-04", "2020-04-03", "2020-04-03"),
        ("3/4/2020",           "2020-03-04", "2020-04-03", "2020-03-04"),
        ("04/04/2020",         "2020-04-04", "2020-04-04", "2020-04-04"),
        // A part above 12 settles the order whatever the reading.
        ("25/04/2020",         "2020-04-25", "2020-04-25", "2020-04-25"),
        ("04/25/2020",         "2020-04-25", "2020-04-25", "2020-04-25"),
        ("25.04.2020",         "2020-04-25", "2020-04-25", "2020-04-25"),
        ("04.25.2020",         "2020-04-25", "2020-04-25", "2020-04-25"),
        ("25-04-2020",         "2020-04-25", "2020-04-25", "2020-04-25"),
        // Two-digit years: only on a document, and never with dots.
        ("04/03/98",           "1998-04-03", "1998-03-04", "-"),
        ("25/04/18",           "2018-04-25", "2018-04-25", "-"),
        ("04-03-98",           "1998-04-03", "1998-03-04", "-"),
        ("04.03.98",           "-",          "-",          "-"),
        // Month names.
        ("5 Jan 1965",         "1965-01-05", "1965-01-05", "1965-01-05"),
        ("05 JAN 1965",        "1965-01-05", "1965-01-05", "1965-01-05"),
        ("5-Jan-1965",         "1965-01-05", "1965-01-05", "1965-01-05"),
        ("5.Jan.1965",         "1965-01-05", "1965-01-05", "1965-01-05"),
        ("5th September 1965", "1965-09-05", "1965-09-05", "1965-09-05"),
        ("5 Sept. 1965",       "1965-09-05", "1965-09-05", "1965-09-05"),
        ("5-Jan-65",           "1965-01-05", "1965-01-05", "-"),
        ("January 5, 1965",    "1965-01-05", "1965-01-05", "1965-01-05"),
        ("Jan. 5 1965",        "1965-01-05", "1965-01-05", "1965-01-05"),
        ("Jan-05-1965",        "1965-01-05", "1965-01-05", "1965-01-05"),
        ("June 1st, 2020",     "2020-06-01", "2020-06-01", "2020-06-01"),
        // The CJK form, with or without the closing 日 and with spaces.
        ("1965年1月5日",       "1965-01-05", "1965-01-05", "1965-01-05"),
        ("1965年01月05",       "1965-01-05", "1965-01-05", "1965-01-05"),
        ("1965 年 1 月 5 日",  "1965-01-05", "1965-01-05", "1965-01-05"),
        // Compact digits only where the caller asks for them.
        ("19650105",           "-",          "-",          "-"),
        // Year bounds.
        ("1000-01-01",         "1000-01-01", "1000-01-01", "1000-01-01"),
        ("2999-12-31",         "2999-12-31", "2999-12-31", "2999-12-31"),
        ("0999-01-01",         "-",          "-",          "-"),
        ("3000-01-01",         "-",          "-",          "-"),
    ];

    fn expected_date(expected: &str) -> Option<NaiveDate> {
        (expected != "-").then(|| expected.parse().unwrap())
    }

    #[test]
    fn each_format_in_each_reading() {
        for &(text, month_first, day_first, value) in FORMATS {
            for (reading, expected) in [
                (MONTH_FIRST, month_first),
                (DAY_FIRST, day_first),
                (VALUE, value),
            ] {
                assert_eq!(
                    parse_date(text, reading),
                    expected_date(expected),
                    "{text:?} read with {reading:?}"
                );
            }
        }
    }

    #[test]
    fn each_format_found_inside_text() {
        for &(text, month_first, day_first, value) in FORMATS {
            let sentence = format!("Signed on {text}, by hand.");
            for (reading, expected) in [
                (MONTH_FIRST, month_first),
                (DAY_FIRST, day_first),
                (VALUE, value),
            ] {
                let found = find_dates(&sentence, reading);
                let Some(expected) = expected_date(expected) else {
                    assert!(
                        found.is_empty(),
                        "{sentence:?} read with {reading:?}: {found:?}"
                    );
                    continue;
                };
                assert_eq!(found.len(), 1, "{sentence:?} read with {reading:?}");
                assert_eq!(
                    found[0].date, expected,
                    "{sentence:?} read with {reading:?}"
                );
                assert_eq!(&sentence[found[0].range.clone()], text, "{sentence:?}");
            }
        }
    }

    #[test]
    fn ambiguity_is_reported() {
        let found = find_dates("03/04/2020 25/04/2020 04/04/2020 2020-03-04", VALUE);
        let ambiguous: Vec<bool> = found.iter().map(|date| date.ambiguous).collect();
        assert_eq!(ambiguous, [true, false, false, false]);
    }

    #[test]
    fn compact_in_each_reading() {
        for reading in [MONTH_FIRST, DAY_FIRST, VALUE] {
            let lenient = reading.with_compact();
            assert_eq!(parse_date("19650105", lenient), Some(ymd(1965, 1, 5)));
            assert_eq!(parse_date("20991231", lenient), Some(ymd(2099, 12, 31)));
            for text in ["18991231", "21010101", "12345678", "19651305", "19650132"] {
                assert_eq!(parse_date(text, lenient), None, "{text:?} with {lenient:?}");
            }
        }
    }

    #[test]
    fn compact_found_inside_text_when_lenient() {
        let text = "DOB 19650105 ID 1234567890";
        assert!(find_dates(text, VALUE).is_empty());
        let found = find_dates(text, VALUE.with_compact());
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].date, ymd(1965, 1, 5));
        assert_eq!(&text[found[0].range.clone()], "19650105");
    }

    #[test]
    fn two_digit_years_on_documents() {
        for (text, expected) in [
            ("12/10/98", ymd(1998, 12, 10)),
            ("3/31/00", ymd(2000, 3, 31)),
            ("18/03/18", ymd(2018, 3, 18)),
            ("5 Feb 65", ymd(1965, 2, 5)),
            ("5-Feb-18", ymd(2018, 2, 5)),
        ] {
            assert_eq!(parse_date(text, MONTH_FIRST), Some(expected), "{text:?}");
            assert_eq!(parse_date(text, VALUE), None, "{text:?} as a value");
        }
        // A month-first name takes only a four-digit year: `Jan 5, 65` is
        // more often a count than a date.
        assert_eq!(parse_date("Jan 5, 65", MONTH_FIRST), None);
    }

    #[test]
    fn cjk_dates_inside_cjk_text() {
        let text = "出生日期1965年1月5日签发2020年3月4日";
        let found = find_dates(text, VALUE);
        let dates: Vec<NaiveDate> = found.iter().map(|date| date.date).collect();
        assert_eq!(dates, [ymd(1965, 1, 5), ymd(2020, 3, 4)]);
        assert_eq!(&text[found[0].range.clone()], "1965年1月5日");
        assert_eq!(&text[found[1].range.clone()], "2020年3月4日");
    }

    #[test]
    fn ranges_of_several_dates() {
        let text = "Issued 05.01.1965, expires 5 Jan 2030 (01/05/2030); paid 2030-02-03.";
        let found = find_dates(text, VALUE);
        let spans: Vec<&str> = found.iter().map(|date| &text[date.range.clone()]).collect();
        assert_eq!(
            spans,
            ["05.01.1965", "5 Jan 2030", "01/05/2030", "2030-02-03"]
        );
        let dates: Vec<NaiveDate> = found.iter().map(|date| date.date).collect();
        assert_eq!(
            dates,
            [
                ymd(1965, 1, 5),
                ymd(2030, 1, 5),
                ymd(2030, 1, 5),
                ymd(2030, 2, 3)
            ]
        );
    }

    #[test]
    fn rejected_match_hides_no_date() {
        let text = "3. 09.03.1988 London";
        let found = find_dates(text, VALUE);
        assert_eq!(found.len(), 1);
        assert_eq!(&text[found[0].range.clone()], "09.03.1988");
        assert_eq!(found[0].date, ymd(1988, 3, 9));
    }

    #[test]
    fn dates_stay_within_one_line() {
        assert!(find_dates("12\n/10/2018", MONTH_FIRST).is_empty());
        assert!(find_dates("2018 -\n10-12", MONTH_FIRST).is_empty());
    }

    #[test]
    fn non_dates_in_every_reading() {
        for text in [
            // Amounts.
            "80.91",
            "1,234.56",
            "RM 12.50",
            "$1,750.00",
            // Ids and numbers.
            "E12345678",
            "123-45-6789",
            "03-8736 1234",
            "650105",
            "1234567890",
            // Versions and dotted numbers with a two-digit year.
            "12.50.99",
            "1.2.3",
            "v2.10.4",
            "10.04.99",
            // Impossible days and months.
            "31/31/2020",
            "31/02/2020",
            "2020-13-01",
            "2020-02-30",
            "0/0/2020",
            // Not a month or not enough parts.
            "5 Foo 1965",
            "Mayday 5, 1965",
            "12/05",
            "May 2020",
            "",
        ] {
            for reading in [MONTH_FIRST, DAY_FIRST, VALUE] {
                assert_eq!(parse_date(text, reading), None, "{text:?} with {reading:?}");
                assert_eq!(
                    find_dates(text, reading.with_compact()),
                    [],
                    "{text:?} with {reading:?}"
                );
            }
        }
    }

    #[test]
    fn whole_value_allows_only_surrounding_punctuation() {
        assert_eq!(parse_date("5 Jan 1965.", VALUE), Some(ymd(1965, 1, 5)));
        assert_eq!(parse_date(": 1965-01-05;", VALUE), Some(ymd(1965, 1, 5)));
        assert_eq!(parse_date("01/02/2020 - 03/04/2020", VALUE), None);
        assert_eq!(parse_date("1965-01-05 approx", VALUE), None);
        assert_eq!(parse_date("DOB 1965-01-05", VALUE), None);
    }

    #[test]
    fn whole_value_with_time() {
        let date = ymd(2018, 6, 29);
        let time = |hour, minute, second| NaiveTime::from_hms_opt(hour, minute, second);
        for (text, expected) in [
            ("29/06/2018", Some((date, None))),
            ("29/06/2018 20:49", Some((date, time(20, 49, 0)))),
            ("29/06/2018 8:26:57 AM", Some((date, time(8, 26, 57)))),
            ("29/06/2018 12:05 am", Some((date, time(0, 5, 0)))),
            ("29/06/2018 12:05 PM", Some((date, time(12, 5, 0)))),
            ("8:26 PM 29/06/2018", Some((date, time(20, 26, 0)))),
            ("29/06/2018 25:00", None),
            ("29/06/2018 13:00 PM", None),
            ("29/06/2018 8:26 #01", None),
            ("10:00 29/06/2018 10:30", None),
        ] {
            assert_eq!(parse_date_time(text, DAY_FIRST), expected, "{text:?}");
        }
        // A plain date parse keeps the time from being dropped unnoticed.
        assert_eq!(parse_date("29/06/2018 20:49", DAY_FIRST), None);
    }

    #[test]
    fn date_time_format() {
        let date = ymd(2018, 6, 29);
        let time = NaiveTime::from_hms_opt(8, 26, 57).unwrap();
        assert_eq!(format_kv_date_time(date, time), "Jun 29, 2018 08:26:57");
        let time = NaiveTime::from_hms_opt(20, 49, 0).unwrap();
        assert_eq!(format_kv_date_time(date, time), "Jun 29, 2018 20:49");
    }
}
