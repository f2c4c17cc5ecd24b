//! Receipt and invoice header fields: the merchant, its address, and the
//! amount paid.

use std::sync::LazyLock;

use regex::Regex;

use super::layout::{self, Line};
use super::patterns;

static COMPANY_FORM: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:SDN\.?\s*BHD|BHD|S/B|SB|ENTERPRISES?|TRADING|LTD|LIMITED|LLC|INC|CORP(?:ORATION)?|CO\.|COMPANY|GMBH|PLC|RESTAURANT|RESTORAN|HOTEL|MART|SUPERMARKET|STORES?)\b")
        .expect("company form pattern is valid")
});

static ADDRESS_WORD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:JALAN|JLN|JL|TAMAN|LOT|NO\.?\s?\d|LORONG|PERSIARAN|STREET|ST\.|ROAD|RD\.?|AVENUE|AVE\.?|BLVD|LANE|DRIVE|FLOOR|SUITE|BUILDING|PLAZA|SQUARE|VILLAGE|KAMPUNG|BANDAR|\d{5}(?:-\d{4})?)\b|^\w{1,3}\d+-\d+,")
        .expect("address word pattern is valid")
});

static HEADER_STOP: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:TEL|TELEPHONE|PHONE|FAX|H/P|GST|SST|TAX|INVOICE|RECEIPT|COMPANY\s+NO|REG|EMAIL|WWW|CASHIER|DATE)\b|@")
        .expect("header stop pattern is valid")
});

// A registration number in brackets right after a Malaysian company name,
// such as `(306295-X)` or `(1074617K)`.
static REGISTRATION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\(\s*[0-9A-Z]*\d{4,}[0-9A-Z\-]*\s*\)").expect("registration pattern is valid")
});

/// How many lines from the top of the first page count as the header.
const HEADER_LINES: usize = 12;

/// Finds the merchant name: the first header line with a company form
/// (`SDN BHD`, `ENTERPRISE`, `LTD`...), cut before a bracketed registration
/// number. Without one, it is the line just above the address block.
pub fn company(lines: &[Line<'_>]) -> Option<String> {
    let header = &lines[..lines.len().min(HEADER_LINES)];
    let with_form = header
        .iter()
        .find(|line| COMPANY_FORM.is_match(line.text) && !HEADER_STOP.is_match(line.text));
    if let Some(line) = with_form {
        let text = match REGISTRATION.find(line.text) {
            Some(found) if found.start() > 0 => &line.text[..found.start()],
            _ => line.text,
        };
        return Some(text.trim().to_string());
    }

    let (start, _) = address_block(lines)?;
    header[..start.min(header.len())]
        .iter()
        .rev()
        .find(|line| {
            line.text.chars().filter(|c| c.is_alphabetic()).count() >= 3
                && !REGISTRATION.is_match(line.text)
        })
        .map(|line| line.text.trim().to_string())
}

/// Finds the address block among the header lines: from the first line with
/// an address word to the line before a phone, tax or title line. Returns
/// the line range.
pub fn address_block(lines: &[Line<'_>]) -> Option<(usize, usize)> {
    let header_end = lines.len().min(HEADER_LINES);
    let start = (0..header_end).find(|i| {
        ADDRESS_WORD.is_match(lines[*i].text)
            && !HEADER_STOP.is_match(lines[*i].text)
            && !COMPANY_FORM.is_match(lines[*i].text)
    })?;
    let mut end = start + 1;
    let stops = |text: &str| {
        HEADER_STOP.is_match(text)
            || COMPANY_FORM.is_match(text)
            || text.contains(':')
            || !patterns::find_phones(text, false).is_empty()
    };
    while end < header_end && !stops(lines[end].text) {
        end += 1;
    }
    Some((start, end))
}

/// Joins the address block into one line, separated by spaces.
pub fn address(lines: &[Line<'_>]) -> Option<String> {
    let (start, end) = address_block(lines)?;
    let parts: Vec<&str> = lines[start..end].iter().map(|l| l.text.trim()).collect();
    Some(parts.join(" "))
}

#[derive(Debug, Clone, Copy)]
struct Labelled {
    line: usize,
    cents: i64,
}

/// Finds the amount printed on the same row as the line `i` (in the line
/// itself after its label, or in a line to its right).
fn row_amount(lines: &[Line<'_>], i: usize) -> Option<i64> {
    let own = lines[i]
        .text
        .split_whitespace()
        .last()
        .and_then(patterns::bare_amount);
    own.or_else(|| {
        let mut j = i;
        for _ in 0..4 {
            j = layout::right_of(lines, j, 40.0)?;
            if let Some(cents) = patterns::bare_amount(lines[j].text) {
                return Some(cents);
            }
        }
        None
    })
}

fn labelled_amounts(lines: &[Line<'_>], pattern: &Regex) -> Vec<Labelled> {
    (0..lines.len())
        .filter(|i| pattern.is_match(lines[*i].text))
        .filter_map(|i| row_amount(lines, i).map(|cents| Labelled { line: i, cents }))
        .collect()
}

static TOTAL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\bTOTAL\b|\bAMOUNT\s+DUE\b|\bBALANCE\s+DUE\b").expect("total pattern is valid")
});
static NOT_TOTAL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)SUB\s*-?\s*TOTAL|TOTAL\s+(?:QTY|QUANTITY|ITEMS?|GST|TAX|SST|DISCOUNT|SAVINGS?)|EXCL|\bGST\s*:|TOTAL\s+SALES\s*\(EXCL")
        .expect("non-total pattern is valid")
});
static PREFERRED_TOTAL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)GRAND\s+TOTAL|TOTAL\s+ROUNDED|ROUNDED\s+TOTAL|INCLUSIVE|INCL|NETT?\s+TOTAL|TOTAL\s+PAYABLE|AMOUNT\s+DUE").expect("preferred total pattern is valid")
});
static CASH: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)\b(?:CASH|TENDERED|PAID)\b").expect("cash pattern is valid"));
static CHANGE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)\bCHANGE\b").expect("change pattern is valid"));

/// Finds the amount paid, in hundredths, by these rules in order:
/// 1. cash tendered minus change, when both are printed and the difference
///    is itself printed somewhere on the receipt;
/// 2. a preferred total label (`GRAND TOTAL`, `TOTAL ROUNDED`, inclusive of tax);
/// 3. the first `TOTAL` that is not a subtotal, count or tax line (summary
///    tables further down repeat totals before rounding);
/// 4. the largest amount on the receipt.
pub fn total(lines: &[Line<'_>]) -> Option<i64> {
    let all_amounts: Vec<i64> = (0..lines.len())
        .filter_map(|i| patterns::bare_amount(lines[i].text.split_whitespace().last()?))
        .collect();

    let cash = labelled_amounts(lines, &CASH);
    let change = labelled_amounts(lines, &CHANGE);
    if let (Some(cash), Some(change)) = (cash.last(), change.last()) {
        let paid = cash.cents - change.cents;
        if paid > 0 && all_amounts.contains(&paid) {
            return Some(paid);
        }
    }

    let totals: Vec<Labelled> = labelled_amounts(lines, &TOTAL)
        .into_iter()
        .filter(|t| !NOT_TOTAL.is_match(lines[t.line].text))
        .collect();
    if let Some(preferred) = totals
        .iter()
        .rev()
        .find(|t| PREFERRED_TOTAL.is_match(lines[t.line].text))
    {
        return Some(preferred.cents);
    }
    if let Some(first) = totals.first() {
        return Some(first.cents);
    }
    all_amounts.into_iter().filter(|c| *c > 0).max()
}

/// Finds the currency the receipt is in: the first printed currency code or
/// symbol.
pub fn currency(text: &str) -> Option<String> {
    static CODE: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"\b(RM|MYR|USD|EUR|GBP|SGD|AUD|CAD|CHF|JPY|CNY|INR)\b|([$€£¥₹])")
            .expect("currency pattern is valid")
    });
    let caps = CODE.captures(text)?;
    caps.get(1).or(caps.get(2)).map(|m| m.as_str().to_string())
}
