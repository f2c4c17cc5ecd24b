//! The document type by keyword scoring, and the title, tags and
//! description built from it.

use super::layout::{self, Line};
use super::mrz::{Mrz, MrzFormat};
use super::{blanks, kv, synonyms};

/// The kinds of document the rules recognise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocumentType {
    /// A passport.
    Passport,
    /// A national identity or residence card.
    IdCard,
    /// A visa.
    Visa,
    /// A till receipt.
    Receipt,
    /// An invoice or bill.
    Invoice,
    /// A boarding pass.
    BoardingPass,
    /// A tax form such as the W-9.
    TaxForm,
    /// An application or registration form.
    ApplicationForm,
    /// A fax cover sheet.
    FaxCover,
    /// A letter.
    Letter,
    /// A purchase order or requisition.
    PurchaseOrder,
    /// Anything else.
    Other,
}

struct Profile {
    kind: DocumentType,
    name: &'static str,
    tags: &'static [&'static str],
    // Keywords in lowercase; a phrase scores its weight once per document.
    keywords: &'static [(&'static str, u32)],
}

const PROFILES: &[Profile] = &[
    Profile {
        kind: DocumentType::Passport,
        name: "Passport",
        tags: &["passport", "identity", "travel"],
        keywords: &[
            ("passport", 5),
            ("passeport", 5),
            ("pasaporte", 5),
            ("nationality", 2),
            ("place of birth", 2),
            ("date of expiry", 2),
        ],
    },
    Profile {
        kind: DocumentType::IdCard,
        name: "Identity Card",
        tags: &["id card", "identity"],
        keywords: &[
            ("identity card", 6),
            ("id card", 5),
            ("residence permit", 5),
            ("employment authorization", 5),
            ("driver license", 5),
            ("driving licence", 5),
            ("card no", 2),
        ],
    },
    Profile {
        kind: DocumentType::Visa,
        name: "Visa",
        tags: &["visa", "travel", "immigration"],
        keywords: &[
            ("visa", 5),
            ("entries", 2),
            ("immigrant", 3),
            ("consulate", 2),
        ],
    },
    Profile {
        kind: DocumentType::Receipt,
        name: "Receipt",
        tags: &["receipt", "purchase", "finance"],
        keywords: &[
            ("receipt", 4),
            ("cashier", 3),
            ("change", 2),
            ("cash", 2),
            ("thank you", 2),
            ("qty", 2),
            ("total", 2),
            ("rounding", 2),
            ("gst", 1),
            ("come again", 3),
        ],
    },
    Profile {
        kind: DocumentType::Invoice,
        name: "Invoice",
        tags: &["invoice", "billing", "finance"],
        keywords: &[
            ("invoice", 5),
            ("bill to", 3),
            ("due date", 3),
            ("amount due", 3),
            ("payment terms", 3),
            ("vat", 2),
            ("subtotal", 1),
        ],
    },
    Profile {
        kind: DocumentType::BoardingPass,
        name: "Boarding Pass",
        tags: &["boarding pass", "travel", "flight"],
        keywords: &[
            ("boarding pass", 8),
            ("boarding", 3),
            ("gate", 2),
            ("seat", 2),
            ("flight", 3),
            ("departure", 2),
        ],
    },
    Profile {
        kind: DocumentType::TaxForm,
        name: "Tax Form",
        tags: &["tax form", "tax", "form"],
        keywords: &[
            ("w-9", 6),
            ("w-4", 6),
            ("1040", 5),
            ("taxpayer identification", 5),
            ("internal revenue", 4),
            ("tax return", 3),
            ("social security number", 2),
        ],
    },
    Profile {
        kind: DocumentType::ApplicationForm,
        name: "Application Form",
        tags: &["application", "form"],
        keywords: &[
            ("application", 4),
            ("registration form", 5),
            ("applicant", 3),
            ("signature", 2),
            ("please print", 3),
            ("form", 1),
        ],
    },
    Profile {
        kind: DocumentType::FaxCover,
        name: "Fax Cover Sheet",
        tags: &["fax", "cover sheet", "correspondence"],
        keywords: &[
            ("facsimile", 5),
            ("fax", 3),
            ("cover sheet", 5),
            ("number of pages", 4),
            ("transmission", 2),
        ],
    },
    Profile {
        kind: DocumentType::Letter,
        name: "Letter",
        tags: &["letter", "correspondence"],
        keywords: &[("dear ", 5), ("sincerely", 5), ("regards", 3), ("yours", 2)],
    },
    Profile {
        kind: DocumentType::PurchaseOrder,
        name: "Purchase Requisition",
        tags: &["purchase", "order", "procurement"],
        keywords: &[
            ("purchase order", 6),
            ("requisition", 6),
            ("vendor", 3),
            ("ship to", 3),
            ("quantity", 1),
        ],
    },
];

/// Below this score a document stays [`DocumentType::Other`].
const MIN_SCORE: u32 = 4;

impl DocumentType {
    /// Returns the display name, such as `Receipt`.
    pub fn name(self) -> &'static str {
        profile(self).map_or("Document", |p| p.name)
    }

    /// Up to three tags for the type.
    pub fn tags(self) -> Vec<String> {
        profile(self).map_or_else(
            || vec!["document".to_string()],
            |p| p.tags.iter().map(|t| t.to_string()).collect(),
        )
    }
}

fn profile(kind: DocumentType) -> Option<&'static Profile> {
    PROFILES.iter().find(|p| p.kind == kind)
}

/// Scores the keyword profiles on `text` and returns the best type, or
/// [`DocumentType::Other`] below the minimum score. A decoded MRZ decides
/// by its document code instead.
pub fn classify(text: &str, mrz: Option<&Mrz>) -> DocumentType {
    if let Some(mrz) = mrz {
        return match (mrz.format, mrz.document_code.chars().next()) {
            (MrzFormat::MrvA | MrzFormat::MrvB, _) | (_, Some('V')) => DocumentType::Visa,
            (_, Some('P')) => DocumentType::Passport,
            _ => DocumentType::IdCard,
        };
    }

    let lower = text.to_lowercase();
    // Three or more lines that are bare prices are the column of a till receipt.
    let price_lines = text
        .lines()
        .filter(|line| super::patterns::bare_amount(line).is_some())
        .count();
    let mut best = (DocumentType::Other, 0u32);
    for profile in PROFILES {
        let bonus = if profile.kind == DocumentType::Receipt && price_lines >= 3 {
            2
        } else {
            0
        };
        let score: u32 = bonus
            + profile
                .keywords
                .iter()
                .filter(|(word, _)| contains_word(&lower, word))
                .map(|(_, w)| w)
                .sum::<u32>();
        if score > best.1 {
            best = (profile.kind, score);
        }
    }
    if best.1 >= MIN_SCORE {
        best.0
    } else {
        DocumentType::Other
    }
}

fn contains_word(haystack: &str, needle: &str) -> bool {
    haystack.match_indices(needle).any(|(start, _)| {
        let before = haystack[..start].chars().next_back();
        let after = haystack[start + needle.len()..].chars().next();
        let boundary = |c: Option<char>| c.is_none_or(|c| !c.is_alphanumeric());
        boundary(before) && (needle.ends_with(' ') || boundary(after))
    })
}

/// Picks the most salient line of the first page's top third: the best
/// box height weighted by position, from 1.5 at the top of the page to 0.5 at
/// the end of the third. Lines without letters, or longer than ten words, do
/// not count.
pub fn salient_line<'a>(lines: &[Line<'a>]) -> Option<&'a str> {
    salient_index(lines).map(|i| lines[i].text.trim())
}

/// Finds the index of the line [`salient_line`] picks.
pub fn salient_index(lines: &[Line<'_>]) -> Option<usize> {
    let first = lines.first()?;
    let first_page = || {
        lines
            .iter()
            .enumerate()
            .filter(|(_, l)| l.page == first.page)
    };
    let top = first_page().map(|(_, l)| l.bbox.y).fold(f32::MAX, f32::min);
    let bottom = first_page()
        .map(|(_, l)| l.bbox.y + l.bbox.height)
        .fold(0.0f32, f32::max);
    let third = top + (bottom - top) / 3.0;
    let score = |line: &Line<'_>| {
        let position = (line.bbox.y - top) / (third - top).max(1.0);
        line.bbox.height * (1.5 - position)
    };
    first_page()
        .filter(|(_, l)| l.bbox.y <= third)
        .filter(|(_, l)| {
            l.text.chars().filter(|c| c.is_alphabetic()).count() >= 3
                && l.text.split_whitespace().count() <= 10
        })
        .max_by(|(_, a), (_, b)| score(a).total_cmp(&score(b)))
        .map(|(i, _)| i)
}

/// A line this many times taller than the body lines is a heading. The factor
/// is an estimate that leaves room for descenders, which make a box taller
/// without a larger font.
pub(crate) const HEADING_HEIGHT: f32 = 1.4;

/// The salient line needs only this factor over the body lines to be a
/// heading; at equal height it may be the first label of a column.
const SALIENT_HEIGHT: f32 = 1.15;

/// Marks the lines that are headings rather than labels: every line much
/// taller than its page's body lines, and the salient line when it is
/// somewhat taller and no known field label.
pub fn heading_lines(lines: &[Line<'_>]) -> Vec<bool> {
    let mut pages: Vec<usize> = lines.iter().map(|l| l.page).collect();
    pages.dedup();
    let body: Vec<(usize, f32)> = pages
        .into_iter()
        .filter_map(|page| layout::body_height(lines, page).map(|h| (page, h)))
        .collect();
    let salient = salient_index(lines);
    lines
        .iter()
        .enumerate()
        .map(|(i, line)| {
            let tall = body
                .iter()
                .any(|(page, h)| *page == line.page && line.bbox.height > HEADING_HEIGHT * h);
            let raised = body
                .iter()
                .any(|(page, h)| *page == line.page && line.bbox.height > SALIENT_HEIGHT * h);
            let salient_heading = salient == Some(i)
                && raised
                && synonyms::lookup(&kv::clean_label(line.text)).is_none();
            tall || salient_heading
        })
        .collect()
}

/// Returns the page heading cleaned for a title: the salient line when it is
/// at least 15 % taller than the body lines or all in capitals, has three to eight words
/// and reads like neither a field label nor a `Label: value` line. A heading
/// of more than five words is cut to five, without a trailing `of`, `and`...
pub fn heading_title(lines: &[Line<'_>]) -> Option<String> {
    let i = salient_index(lines)?;
    let text = lines[i].text.trim();
    let letters: Vec<char> = text.chars().filter(|c| c.is_alphabetic()).collect();
    let all_caps = letters.len() >= 3 && letters.iter().all(|c| c.is_uppercase());
    let prominent = all_caps || layout::is_taller_than_body(lines, i, SALIENT_HEIGHT);
    let cleaned = text.trim_end_matches([':', '.', ';', ',']).trim();
    let words = cleaned.split_whitespace().count();
    let is_label = text.ends_with([':', '：'])
        || kv::split_inline(text).is_some()
        || blanks::has_marker(text)
        || synonyms::lookup(cleaned).is_some();
    if !prominent || is_label || !(3..=8).contains(&words) {
        return None;
    }

    let mut title: Vec<String> = cleaned
        .split_whitespace()
        .enumerate()
        .map(|(k, word)| match (all_caps, k) {
            (false, _) => word.to_string(),
            (true, k) if k > 0 && is_minor_word(word) => word.to_lowercase(),
            (true, _) => title_case(word),
        })
        .collect();
    if title.len() > 5 {
        title.truncate(5);
        while title.len() > 1 && title.last().is_some_and(|w| is_minor_word(w)) {
            title.pop();
        }
    }
    Some(title.join(" "))
}

/// Returns whether `word` is an article, conjunction or short preposition,
/// which a title keeps in lower case and never ends on.
fn is_minor_word(word: &str) -> bool {
    matches!(
        word.to_lowercase().as_str(),
        "a" | "an"
            | "the"
            | "and"
            | "or"
            | "of"
            | "for"
            | "to"
            | "in"
            | "on"
            | "at"
            | "by"
            | "with"
    )
}

/// Builds a title of at most five words from the type and a subject (a
/// holder or merchant name, or the salient line).
pub fn title(kind: DocumentType, subject: Option<&str>, salient: Option<&str>) -> String {
    let words: Vec<String> = match (kind, subject, salient) {
        (DocumentType::Other, _, Some(line)) => line.split_whitespace().map(title_case).collect(),
        (_, Some(subject), _) => {
            let joiner = if matches!(kind, DocumentType::Receipt | DocumentType::Invoice) {
                "from"
            } else {
                "of"
            };
            let mut words: Vec<String> = kind.name().split(' ').map(str::to_string).collect();
            words.push(joiner.to_string());
            words.extend(subject.split_whitespace().map(title_case));
            words
        }
        _ => kind.name().split(' ').map(str::to_string).collect(),
    };
    words.into_iter().take(5).collect::<Vec<_>>().join(" ")
}

fn title_case(word: &str) -> String {
    let lower = word.to_lowercase();
    let mut chars = lower.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Builds a one- or two-sentence description from the type and the key
/// facts found.
pub fn description(
    kind: DocumentType,
    subject: Option<&str>,
    date: Option<&str>,
    total: Option<&str>,
    field_count: usize,
) -> String {
    let article = if kind.name().starts_with(['A', 'E', 'I', 'O', 'U']) {
        "An"
    } else {
        "A"
    };
    let mut sentence = format!("{article} {}", kind.name().to_lowercase());
    if let Some(subject) = subject {
        let joiner = if matches!(kind, DocumentType::Receipt | DocumentType::Invoice) {
            "from"
        } else {
            "of"
        };
        sentence.push_str(&format!(" {joiner} {subject}"));
    }
    if let Some(date) = date {
        sentence.push_str(&format!(" dated {date}"));
    }
    if let Some(total) = total {
        sentence.push_str(&format!(" for a total of {total}"));
    }
    sentence.push('.');
    if field_count > 0 {
        let plural = if field_count == 1 { "" } else { "s" };
        sentence.push_str(&format!(
            " It has {field_count} blank field{plural} to fill."
        ));
    }
    sentence
}
