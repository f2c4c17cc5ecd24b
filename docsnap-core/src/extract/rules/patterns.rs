//! Values recognisable by their shape alone: emails, phone numbers and
//! amounts with a currency.

use std::sync::LazyLock;

use regex::Regex;

use crate::extract::dates::{self, DateOrder};

static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b[a-z0-9][a-z0-9._%+\-]*@[a-z0-9][a-z0-9\-]*(?:\.[a-z0-9\-]+)*\.[a-z]{2,}\b")
        .expect("email pattern is valid")
});

// Digit groups joined by spaces, dots, dashes or a bracketed area code.
static PHONE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:\+\s?\d{1,3}[\s.\-]*)?(?:\(\s?\d{2,4}\s?\)\s*\-?\s*)?\d{2,15}(?:\s?[\s.\-]\s?\d{2,8}){0,3}\b")
        .expect("phone pattern is valid")
});

static AMOUNT: LazyLock<Regex> = LazyLock::new(|| {
    let number = r"\d{1,3}(?:[,.\s]\d{3})*(?:[.,]\d{2})|\d+(?:[.,]\d{2})?";
    let code = r"RM|MYR|USD|US\$|EUR|GBP|SGD|AUD|CAD|CHF|JPY|CNY|RMB|INR";
    Regex::new(&format!(
        r"(?:(?P<pre>{code}|[$€£¥₹])\s?(?P<n1>{number})|(?P<n2>{number})\s?(?P<post>{code}|[€£]))(?:\b|$)"
    ))
    .expect("amount pattern is valid")
});

/// Finds every email address in `text`.
pub fn find_emails(text: &str) -> Vec<String> {
    EMAIL
        .find_iter(text)
        .map(|m| m.as_str().to_string())
        .collect()
}

/// Finds phone numbers in `text`. Without a phone label the shape must be
/// unmistakable: a leading `+`, a bracketed area code, or dash-joined groups
/// of 9 to 15 digits in all, and never a date.
pub fn find_phones(text: &str, labelled: bool) -> Vec<String> {
    let mut phones = Vec::new();
    for found in PHONE.find_iter(text) {
        let candidate = found.as_str().trim();
        let digits = candidate.chars().filter(char::is_ascii_digit).count();
        let minimum = if labelled { 7 } else { 9 };
        if !(minimum..=15).contains(&digits) {
            continue;
        }
        if dates::parse_date_time(candidate, DateOrder::MonthFirst).is_some() {
            continue;
        }
        let shaped =
            candidate.starts_with('+') || candidate.contains('(') || candidate.contains('-');
        if labelled || shaped {
            phones.push(candidate.to_string());
        }
    }
    phones
}

/// An amount of money as printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Amount {
    /// The currency code or symbol as printed, such as `RM`, `$` or `EUR`.
    pub currency: Option<String>,
    /// The value in hundredths of the unit.
    pub cents: i64,
    /// The printed text, spaces collapsed.
    pub text: String,
}

/// Finds amounts that carry a currency in `text`.
pub fn find_amounts(text: &str) -> Vec<Amount> {
    AMOUNT
        .captures_iter(text)
        .filter_map(|caps| {
            let number = caps.name("n1").or(caps.name("n2"))?.as_str();
            let currency = caps.name("pre").or(caps.name("post"))?.as_str().to_string();
            Some(Amount {
                cents: parse_number(number)?,
                currency: Some(currency),
                text: collapse_spaces(caps.get(0)?.as_str()),
            })
        })
        .collect()
}

/// Parses a bare number such as `1,234.00`, `9,99` or `-5.59` into
/// hundredths. A separator followed by exactly two final digits is the
/// decimal mark; other separators group thousands.
pub fn parse_number(text: &str) -> Option<i64> {
    let trimmed = text.trim();
    let negative = trimmed.starts_with('-');
    let body = trimmed.trim_start_matches(['-', '+']);
    if body.is_empty()
        || !body
            .chars()
            .all(|c| c.is_ascii_digit() || ",. ".contains(c))
    {
        return None;
    }
    if !body.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }

    let bytes = body.as_bytes();
    let decimal_at = body.rfind([',', '.']).filter(|i| bytes.len() - i - 1 == 2);
    let (whole, fraction) = match decimal_at {
        Some(i) => (&body[..i], &body[i + 1..]),
        None => (body, "00"),
    };
    let whole: String = whole.chars().filter(char::is_ascii_digit).collect();
    let whole: i64 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let fraction: i64 = fraction.parse().ok()?;
    let cents = whole.checked_mul(100)?.checked_add(fraction)?;
    Some(if negative { -cents } else { cents })
}

/// Finds a bare decimal amount such as `60.30` standing alone in `text`.
pub fn bare_amount(text: &str) -> Option<i64> {
    static BARE: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"^-?\d{1,3}(?:,\d{3})*[.,]\d{2}$|^-?\d+[.,]\d{2}$")
            .expect("bare amount pattern is valid")
    });
    let trimmed = text
        .trim()
        .trim_end_matches(|c: char| c.is_ascii_alphabetic() || c == ' ');
    BARE.is_match(trimmed.trim())
        .then(|| parse_number(trimmed))
        .flatten()
}

/// Formats hundredths as `1234.50`.
pub fn format_cents(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    format!("{sign}{}.{:02}", cents.abs() / 100, cents.abs() % 100)
}

fn collapse_spaces(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn emails_in_text() {
        assert_eq!(
            find_emails("Contact: jane.doe+tax@example.co.uk now"),
            ["jane.doe+tax@example.co.uk"]
        );
        assert!(find_emails("not@an address").is_empty());
    }

    #[test]
    fn phones_with_clear_shape() {
        assert_eq!(
            find_phones("Call (336) 335- 7392 today", false),
            ["(336) 335- 7392"]
        );
        assert_eq!(find_phones("TEL:07-3507405", false), ["07-3507405"]);
        assert_eq!(find_phones("+60 12 345 6789", false), ["+60 12 345 6789"]);
    }

    #[test]
    fn phones_reject_dates_and_amounts() {
        assert!(find_phones("12/10/1998", false).is_empty());
        assert!(find_phones("1,234.00", false).is_empty());
        assert!(find_phones("INVOICE 60000053668", false).is_empty());
    }

    #[test]
    fn labelled_phone_may_lack_separators() {
        assert_eq!(find_phones("0312345678", true), ["0312345678"]);
    }

    #[test]
    fn amounts_with_currency() {
        let amounts = find_amounts("Paid RM 12.50 and $1,234.00, then EUR 9,99 and 5,00 €");
        let cents: Vec<i64> = amounts.iter().map(|a| a.cents).collect();
        let texts: Vec<&str> = amounts.iter().map(|a| a.text.as_str()).collect();
        assert_eq!(cents, [1250, 123_400, 999, 500]);
        assert_eq!(texts, ["RM 12.50", "$1,234.00", "EUR 9,99", "5,00 €"]);
    }

    #[test]
    fn numbers_parse_with_either_decimal_mark() {
        assert_eq!(parse_number("1,234.00"), Some(123_400));
        assert_eq!(parse_number("1.234,00"), Some(123_400));
        assert_eq!(parse_number("9,99"), Some(999));
        assert_eq!(parse_number("-5.59"), Some(-559));
        assert_eq!(parse_number("201,500"), Some(20_150_000));
        assert_eq!(parse_number("abc"), None);
    }

    #[test]
    fn bare_amounts() {
        assert_eq!(bare_amount("60.30"), Some(6030));
        assert_eq!(bare_amount("86.00 A"), Some(8600));
        assert_eq!(bare_amount("2018"), None);
        assert_eq!(format_cents(6030), "60.30");
    }
}
