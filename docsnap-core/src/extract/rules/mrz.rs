//! ICAO 9303 machine-readable zones: TD1 (3×30), TD2 (2×36), TD3 (2×44) and
//! the visa formats MRV-A (2×44) and MRV-B (2×36), with check digits.
//!
//! OCR noise tolerated: spaces anywhere, lowercase letters, and `«` read for
//! `<`. A `K` is read as `<` only inside a filler run (a `<` on both sides) or
//! in a trailing run of `<` and `K` that contains at least three `<`. A `K`
//! elsewhere is kept, because names and numbers contain it.

use chrono::NaiveDate;

use chrono::Datelike;

use crate::extract::dates;

/// The layout of a machine-readable zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MrzFormat {
    /// ID cards: three lines of 30 characters.
    Td1,
    /// Official travel documents: two lines of 36.
    Td2,
    /// Passports: two lines of 44.
    Td3,
    /// Visas on a passport page: two lines of 44, no composite check digit.
    MrvA,
    /// Small visas: two lines of 36, no composite check digit.
    MrvB,
}

/// A field read from the zone, with the outcome of its check digit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedField {
    /// The field without filler characters.
    pub value: String,
    /// Whether the field's check digit matched.
    pub valid: bool,
}

/// A decoded machine-readable zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mrz {
    /// The layout.
    pub format: MrzFormat,
    /// The cleaned lines, in order.
    pub lines: Vec<String>,
    /// Document code, such as `P`, `I`, `ID` or `V`.
    pub document_code: String,
    /// Three-letter code of the issuing state or organisation.
    pub issuing_state: String,
    /// Surname (primary identifier), with fillers read as spaces.
    pub surname: String,
    /// Given names (secondary identifier), with fillers read as spaces.
    pub given_names: String,
    /// Document number.
    pub document_number: CheckedField,
    /// Three-letter nationality code.
    pub nationality: String,
    /// Birth date as `YYMMDD`.
    pub birth_date: CheckedField,
    /// `M`, `F` or `<` (unspecified).
    pub sex: String,
    /// Expiry date as `YYMMDD`.
    pub expiry_date: CheckedField,
    /// Outcome of the composite check digit; `None` for visas, which have none.
    pub composite_valid: Option<bool>,
}

impl Mrz {
    /// Returns whether the fields without their own check digit (names,
    /// codes, sex) can be trusted. That needs the composite digit to pass, or
    /// for visas, which have no composite, every field digit.
    pub fn unchecked_fields_trusted(&self) -> bool {
        match self.composite_valid {
            Some(valid) => valid,
            None => self.document_number.valid && self.birth_date.valid && self.expiry_date.valid,
        }
    }

    /// Returns the birth date. A two-digit year that would lie in the future
    /// is read as 19xx.
    pub fn birth_date(&self) -> Option<NaiveDate> {
        let (year, month, day) = split_yymmdd(&self.birth_date.value)?;
        let date = NaiveDate::from_ymd_opt(2000 + year as i32, month, day)?;
        if date > chrono::Local::now().date_naive() {
            date.with_year(date.year() - 100)
        } else {
            Some(date)
        }
    }

    /// Returns the expiry date, reading a two-digit year as 20xx. A year more
    /// than 20 years ahead is read as 19xx instead, because no travel document
    /// is valid that long: an expired 1998 passport reads 1998, not 2098.
    pub fn expiry_date(&self) -> Option<NaiveDate> {
        let (year, month, day) = split_yymmdd(&self.expiry_date.value)?;
        let date = NaiveDate::from_ymd_opt(2000 + year as i32, month, day)?;
        let today = chrono::Local::now().date_naive();
        let horizon = today.with_year(today.year() + 20)?;
        if date > horizon {
            date.with_year(date.year() - 100)
        } else {
            Some(date)
        }
    }

    /// Returns the name as `SURNAME, GIVEN NAMES`, or the surname alone.
    pub fn full_name(&self) -> String {
        if self.given_names.is_empty() {
            self.surname.clone()
        } else {
            format!("{}, {}", self.surname, self.given_names)
        }
    }
}

fn split_yymmdd(text: &str) -> Option<(u32, u32, u32)> {
    if text.len() != 6 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((
        text[0..2].parse().ok()?,
        text[2..4].parse().ok()?,
        text[4..6].parse().ok()?,
    ))
}

/// Computes the ICAO 9303 check digit: weights 7, 3, 1 over the character
/// values (digits as themselves, `A`–`Z` as 10–35, `<` as 0), modulo 10.
/// Returns `None` for a character outside the MRZ alphabet.
pub fn check_digit(field: &str) -> Option<u8> {
    const WEIGHTS: [u32; 3] = [7, 3, 1];
    let mut sum = 0u32;
    for (i, c) in field.chars().enumerate() {
        let value = match c {
            '0'..='9' => c as u32 - '0' as u32,
            'A'..='Z' => c as u32 - 'A' as u32 + 10,
            '<' => 0,
            _ => return None,
        };
        sum += value * WEIGHTS[i % 3];
    }
    Some((sum % 10) as u8)
}

fn digit_matches(field: &str, digit: char) -> bool {
    // A check digit printed as a filler stands for 0.
    let expected = if digit == '<' {
        Some(0)
    } else {
        digit.to_digit(10).map(|d| d as u8)
    };
    expected.is_some() && check_digit(field) == expected
}

/// Cleans one OCR line into MRZ characters: see the module docs for the
/// noise tolerated. Returns `None` when a character outside the MRZ alphabet
/// remains.
pub fn clean_line(text: &str) -> Option<String> {
    let mut chars: Vec<char> = text
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| {
            if c == '«' {
                '<'
            } else {
                c.to_ascii_uppercase()
            }
        })
        .collect();
    if chars
        .iter()
        .any(|c| !(c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '<'))
    {
        return None;
    }

    for i in 1..chars.len().saturating_sub(1) {
        if chars[i] == 'K' && chars[i - 1] == '<' && chars[i + 1] == '<' {
            chars[i] = '<';
        }
    }
    let tail_start = chars
        .iter()
        .rposition(|c| *c != '<' && *c != 'K')
        .map_or(0, |i| i + 1);
    let tail = &chars[tail_start..];
    if tail.iter().filter(|c| **c == '<').count() >= 3 {
        for c in &mut chars[tail_start..] {
            *c = '<';
        }
    }
    Some(chars.into_iter().collect())
}

/// Finds and decodes the first machine-readable zone among `lines` (in
/// reading order). Lines that are not MRZ text are skipped.
pub fn find_mrz<'a>(lines: impl IntoIterator<Item = &'a str>) -> Option<Mrz> {
    let cleaned: Vec<Option<String>> = lines.into_iter().map(clean_line).collect();
    let length = |i: usize| cleaned.get(i).and_then(|l| l.as_ref()).map(|l| l.len());

    for start in 0..cleaned.len() {
        let Some(first) = cleaned[start].as_deref() else {
            continue;
        };
        // A zone line always has a filler somewhere; plain words do not.
        if !first.contains('<') {
            continue;
        }
        let decoded = match first.len() {
            30 if length(start + 1) == Some(30) && length(start + 2) == Some(30) => decode_td1([
                first,
                cleaned[start + 1].as_deref()?,
                cleaned[start + 2].as_deref()?,
            ]),
            36 if length(start + 1) == Some(36) => {
                decode_two_line(first, cleaned[start + 1].as_deref()?)
            }
            44 if length(start + 1) == Some(44) => {
                decode_two_line(first, cleaned[start + 1].as_deref()?)
            }
            _ => None,
        };
        if decoded.is_some() {
            return decoded;
        }
    }
    None
}

/// Returns whether every character is in the MRZ alphabet: `A`–`Z`, `0`–`9`, `<`.
fn is_mrz_text(text: &str) -> bool {
    text.bytes()
        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'<')
}

fn strip_fillers(text: &str) -> String {
    text.trim_matches('<')
        .replace('<', " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn checked(field: &str, digit: char) -> CheckedField {
    CheckedField {
        value: field.trim_end_matches('<').to_string(),
        valid: digit_matches(field, digit),
    }
}

fn split_names(field: &str) -> (String, String) {
    match field.split_once("<<") {
        Some((surname, given)) => (strip_fillers(surname), strip_fillers(given)),
        None => (strip_fillers(field), String::new()),
    }
}

fn char_at(text: &str, index: usize) -> char {
    text.as_bytes().get(index).map_or('?', |b| *b as char)
}

/// Decodes TD2, TD3, MRV-A and MRV-B, which share the two-line layout.
pub fn decode_two_line(line1: &str, line2: &str) -> Option<Mrz> {
    let width = line1.len();
    if line2.len() != width
        || !(width == 36 || width == 44)
        || !is_mrz_text(line1)
        || !is_mrz_text(line2)
    {
        return None;
    }
    let is_visa = line1.starts_with('V');
    let format = match (width, is_visa) {
        (44, false) => MrzFormat::Td3,
        (44, true) => MrzFormat::MrvA,
        (_, false) => MrzFormat::Td2,
        (_, true) => MrzFormat::MrvB,
    };
    if !line1.as_bytes()[0].is_ascii_uppercase() {
        return None;
    }

    let (surname, given_names) = split_names(&line1[5..]);
    let composite_valid = if is_visa {
        None
    } else {
        let composite = format!(
            "{}{}{}",
            &line2[0..10],
            &line2[13..20],
            &line2[21..width - 1]
        );
        Some(digit_matches(&composite, char_at(line2, width - 1)))
    };

    Some(Mrz {
        format,
        lines: vec![line1.to_string(), line2.to_string()],
        document_code: line1[0..2].trim_end_matches('<').to_string(),
        issuing_state: line1[2..5].trim_end_matches('<').to_string(),
        surname,
        given_names,
        document_number: checked(&line2[0..9], char_at(line2, 9)),
        nationality: line2[10..13].trim_end_matches('<').to_string(),
        birth_date: checked(&line2[13..19], char_at(line2, 19)),
        sex: line2[20..21].to_string(),
        expiry_date: checked(&line2[21..27], char_at(line2, 27)),
        composite_valid,
    })
}

/// Decodes a TD1 zone, including the long document number that continues
/// into the optional data when the number's check-digit position is `<`.
pub fn decode_td1(lines: [&str; 3]) -> Option<Mrz> {
    let [line1, line2, line3] = lines;
    if lines.iter().any(|l| l.len() != 30 || !is_mrz_text(l))
        || !line1.as_bytes()[0].is_ascii_uppercase()
    {
        return None;
    }

    let document_number = if char_at(line1, 14) == '<' {
        let optional = &line1[15..30];
        let overflow_end = optional.find('<').unwrap_or(optional.len());
        if overflow_end == 0 {
            checked(&line1[5..14], '<')
        } else {
            let overflow = &optional[..overflow_end];
            let (digits, digit) = overflow.split_at(overflow.len() - 1);
            let number = format!("{}{}", &line1[5..14], digits);
            CheckedField {
                valid: digit_matches(&number, digit.chars().next().unwrap_or('?')),
                value: number,
            }
        }
    } else {
        checked(&line1[5..14], char_at(line1, 14))
    };

    let composite = format!(
        "{}{}{}{}",
        &line1[5..30],
        &line2[0..7],
        &line2[8..15],
        &line2[18..29]
    );
    let (surname, given_names) = split_names(line3);
    Some(Mrz {
        format: MrzFormat::Td1,
        lines: lines.iter().map(|l| l.to_string()).collect(),
        document_code: line1[0..2].trim_end_matches('<').to_string(),
        issuing_state: line1[2..5].trim_end_matches('<').to_string(),
        surname,
        given_names,
        document_number,
        nationality: line2[15..18].trim_end_matches('<').to_string(),
        birth_date: checked(&line2[0..6], char_at(line2, 6)),
        sex: line2[7..8].to_string(),
        expiry_date: checked(&line2[8..14], char_at(line2, 14)),
        composite_valid: Some(digit_matches(&composite, char_at(line2, 29))),
    })
}

/// Returns the standard kv pairs of a zone. A field with its own check
/// digit appears only when that digit passes, and names, codes and sex only
/// when [`Mrz::unchecked_fields_trusted`]. The zone text always appears.
pub fn mrz_fields(mrz: &Mrz) -> Vec<(&'static str, String)> {
    let mut fields = Vec::new();
    let trusted = mrz.unchecked_fields_trusted();

    if trusted && !mrz.surname.is_empty() {
        fields.push(("Full Name (English/Latin)", mrz.full_name()));
        fields.push(("Surname", mrz.surname.clone()));
        if !mrz.given_names.is_empty() {
            fields.push(("Given Names", mrz.given_names.clone()));
        }
    }
    if mrz.document_number.valid && !mrz.document_number.value.is_empty() {
        fields.push(("Document Number", mrz.document_number.value.clone()));
    }
    if trusted && !mrz.nationality.is_empty() {
        fields.push(("Nationality", mrz.nationality.clone()));
    }
    if mrz.birth_date.valid
        && let Some(date) = mrz.birth_date()
    {
        fields.push(("Date of Birth (Full)", dates::format_kv_date(date)));
    }
    if trusted && (mrz.sex == "M" || mrz.sex == "F") {
        fields.push(("Sex", mrz.sex.clone()));
    }
    if mrz.expiry_date.valid
        && let Some(date) = mrz.expiry_date()
    {
        fields.push(("Date of Expiry", dates::format_kv_date(date)));
    }
    if trusted && !mrz.issuing_state.is_empty() {
        fields.push(("Issuing State", mrz.issuing_state.clone()));
    }
    fields.push(("Machine Readable Zone (MRZ)", mrz.lines.join("\n")));
    fields
}
