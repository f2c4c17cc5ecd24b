//! The offline rule extractor: labels and values, dates, machine-readable
//! zones, blank fields and fill matching, with no network and no key.
//!
//! Each stage is a public function so callers and tests can run one alone:
//! [`extract_kv`], [`form_fields`], [`classify::classify`], [`related::related`]
//! and [`fill::fill`].

pub mod blanks;
pub mod classify;
pub mod fill;
pub mod kv;
pub mod layout;
pub mod mrz;
pub mod patterns;
pub mod receipt;
pub mod related;
pub mod synonyms;

/// The date module of every extractor, re-exported so that paths written as
/// `rules::dates`, as in the `benches` evaluation, still resolve.
pub use crate::extract::dates;

use async_trait::async_trait;

use crate::error::Result;
use crate::extract::Extractor;
use crate::ocr::PageText;
use crate::types::{DocumentResult, FileLibrary, FillResult, FormResult, FormToFill, KeyValues};
use classify::DocumentType;
use dates::DateOrder;
use layout::Line;
use synonyms::ValueKind;

/// The extractor that runs on rules alone; the default when no language
/// model is configured.
#[derive(Debug, Clone, Copy, Default)]
pub struct RuleExtractor;

impl RuleExtractor {
    /// Creates the extractor.
    pub fn new() -> Self {
        Self
    }
}

#[async_trait]
impl Extractor for RuleExtractor {
    async fn document(&self, pages: &[PageText], library: &FileLibrary) -> Result<DocumentResult> {
        Ok(extract_document(pages, library))
    }

    async fn form(&self, pages: &[PageText], library: &FileLibrary) -> Result<FormResult> {
        Ok(extract_form(pages, library))
    }

    async fn fill(&self, form: &FormToFill, library: &FileLibrary) -> Result<FillResult> {
        Ok(fill::fill(form, library))
    }

    fn name(&self) -> &str {
        "rules"
    }
}

/// Everything the rules read from a set of pages, before it is shaped into
/// a result.
#[derive(Debug, Clone)]
pub struct Analysis {
    /// The detected document type.
    pub kind: DocumentType,
    /// Printed key-value pairs with standard names where one fits.
    pub kv: KeyValues,
    /// Labels of blank fields: open labels and marker blanks, in reading order.
    pub fields: Vec<String>,
    /// The most salient line, if any.
    pub salient: Option<String>,
    /// The salient line cleaned into a title when it is a page heading.
    pub heading: Option<String>,
}

/// Runs every reading stage on `pages`.
pub fn analyze(pages: &[PageText]) -> Analysis {
    let lines = layout::flatten(pages);
    let text: String = lines.iter().map(|l| l.text).collect::<Vec<_>>().join("\n");
    let order = dates::detect_order(&text);
    let zone = mrz::find_mrz(lines.iter().map(|l| l.text));
    let kind = classify::classify(&text, zone.as_ref());

    let mut kv = KeyValues::new();
    if let Some(zone) = &zone {
        for (key, value) in mrz::mrz_fields(zone) {
            insert_unique(&mut kv, key, key, value);
        }
    }
    if matches!(kind, DocumentType::Receipt | DocumentType::Invoice) {
        receipt_fields(&lines, &text, &mut kv);
    }

    let is_form_like = !matches!(
        kind,
        DocumentType::Receipt
            | DocumentType::Invoice
            | DocumentType::Passport
            | DocumentType::IdCard
            | DocumentType::Visa
    );
    let layout = kv::find_pairs(&lines, is_form_like);
    for pair in &layout.pairs {
        let standard = synonyms::standard_key(&pair.label);
        let key = standard.unwrap_or(&pair.label);
        if standard.is_some() && zone.is_some() && kv.contains_key(key) {
            // The MRZ value passed its check digits; the printed one did not
            // get that test.
            continue;
        }
        insert_unique(
            &mut kv,
            key,
            &pair.label,
            label_value(&pair.label, &pair.value, order),
        );
    }

    free_text_fields(&lines, &layout.used_lines, order, &mut kv);

    let mut fields: Vec<String> = layout
        .open_labels
        .iter()
        .map(|open| open.label.clone())
        .collect();
    fields.extend(blanks::marker_blanks(&lines));

    Analysis {
        kind,
        kv,
        fields,
        salient: classify::salient_line(&lines).map(str::to_string),
        heading: classify::heading_title(&lines),
    }
}

/// Extracts the printed key-value pairs of `pages`.
pub fn extract_kv(pages: &[PageText]) -> KeyValues {
    analyze(pages).kv
}

/// Extracts the labels of the blank fields on `pages`, made disjoint from
/// the kv keys and unique (a repeated label gets ` (2)`, ` (3)`...).
pub fn form_fields(pages: &[PageText]) -> Vec<String> {
    let analysis = analyze(pages);
    unique_fields(&analysis.fields, &analysis.kv)
}

fn unique_fields(fields: &[String], kv: &KeyValues) -> Vec<String> {
    let mut unique: Vec<String> = Vec::new();
    for field in fields {
        let mut candidate = field.clone();
        let mut n = 2;
        while unique.contains(&candidate) || kv.contains_key(&candidate) {
            candidate = format!("{field} ({n})");
            n += 1;
        }
        unique.push(candidate);
    }
    unique
}

/// Extracts a document result.
pub fn extract_document(pages: &[PageText], library: &FileLibrary) -> DocumentResult {
    let analysis = analyze(pages);
    let (title, tags, description) = describe(&analysis, 0);
    let related = related::related(&title, &analysis.kv, library);
    DocumentResult {
        title,
        tags,
        description,
        kv: analysis.kv,
        related,
    }
}

/// Extracts a form result: a document result plus blank fields, with
/// `Form Type` always in kv.
pub fn extract_form(pages: &[PageText], library: &FileLibrary) -> FormResult {
    let mut analysis = analyze(pages);
    let form_type = form_type(&analysis);
    analysis
        .kv
        .shift_insert(0, "Form Type".to_string(), form_type);
    let fields = unique_fields(&analysis.fields, &analysis.kv);

    let (title, mut tags, description) = describe(&analysis, fields.len());
    if !tags.iter().any(|t| t == "form") && tags.len() < 4 {
        tags.push("form".to_string());
    }
    let related = related::related(&title, &analysis.kv, library);
    FormResult {
        title,
        tags,
        description,
        kv: analysis.kv,
        fields,
        related,
    }
}

fn form_type(analysis: &Analysis) -> String {
    let salient_form = analysis
        .salient
        .as_deref()
        .filter(|line| line.to_lowercase().contains("form"));
    match (salient_form, analysis.kind, analysis.salient.as_deref()) {
        (Some(line), _, _) => line.to_string(),
        (None, DocumentType::Other, Some(line)) => line.to_string(),
        (None, DocumentType::Other, None) => "Form".to_string(),
        (None, kind, _) => kind.name().to_string(),
    }
}

fn describe(analysis: &Analysis, field_count: usize) -> (String, Vec<String>, String) {
    let kv = &analysis.kv;
    let subject = match analysis.kind {
        DocumentType::Receipt | DocumentType::Invoice => kv.get("Company Name"),
        DocumentType::Passport | DocumentType::IdCard | DocumentType::Visa => {
            kv.get("Full Name (English/Latin)")
        }
        _ => None,
    };
    let date = kv.get("Date").or(kv.get("Date of Issue"));
    let total = kv.get("Total Amount");

    // A holder or merchant name says more than a heading such as `RECEIPT`;
    // otherwise the page's own heading beats the generic type name.
    let title = match (subject, &analysis.heading) {
        (None, Some(heading)) => heading.clone(),
        _ => classify::title(
            analysis.kind,
            subject.map(String::as_str),
            analysis.salient.as_deref(),
        ),
    };
    let mut tags = analysis.kind.tags();
    tags.truncate(4);
    let description = classify::description(
        analysis.kind,
        subject.map(String::as_str),
        date.map(String::as_str),
        total.map(String::as_str),
        field_count,
    );
    (title, tags, description)
}

/// Normalises the value of a label: a date label keeps only its date, so
/// `18/03/18 15:17 06051` reads `Mar 18, 2018`.
fn label_value(label: &str, value: &str, order: DateOrder) -> String {
    if synonyms::label_kind(label) == ValueKind::Date
        && let Some(found) = dates::find_dates(value, order).first()
    {
        return dates::format_kv_date(found.date);
    }
    normalize_value(value, order)
}

/// Normalises a printed value: a value that is a date becomes `MMM DD, YYYY`,
/// and one that is a date and a time keeps the time after it.
pub fn normalize_value(value: &str, order: DateOrder) -> String {
    match dates::parse_date_time(value, order) {
        Some((date, None)) => dates::format_kv_date(date),
        Some((date, Some(time))) => dates::format_kv_date_time(date, time),
        None => value.trim().to_string(),
    }
}

/// Inserts under `key`; when `key` is taken by another value, falls back to
/// the printed label, then to `label (2)`, `label (3)`... An equal value
/// already present is not repeated.
fn insert_unique(kv: &mut KeyValues, key: &str, label: &str, value: String) {
    if value.is_empty() || kv.get(key) == Some(&value) || kv.get(label) == Some(&value) {
        return;
    }
    for candidate in [key, label] {
        if !kv.contains_key(candidate) {
            kv.insert(candidate.to_string(), value);
            return;
        }
    }
    let mut n = 2;
    loop {
        let candidate = format!("{label} ({n})");
        if kv.get(&candidate) == Some(&value) {
            return;
        }
        if !kv.contains_key(&candidate) {
            kv.insert(candidate, value);
            return;
        }
        n += 1;
    }
}

fn has_cents(amount: &str) -> bool {
    let digits: Vec<char> = amount
        .chars()
        .filter(|c| c.is_ascii_digit() || *c == '.' || *c == ',')
        .collect();
    digits.len() >= 3 && matches!(digits[digits.len() - 3], '.' | ',')
}

fn receipt_fields(lines: &[Line<'_>], text: &str, kv: &mut KeyValues) {
    if let Some(company) = receipt::company(lines) {
        insert_unique(kv, "Company Name", "Company Name", company);
    }
    if let Some(address) = receipt::address(lines) {
        insert_unique(kv, "Address (Full)", "Address (Full)", address);
    }
    if let Some(cents) = receipt::total(lines) {
        let amount = patterns::format_cents(cents);
        let value = match receipt::currency(text) {
            Some(currency) => format!("{currency} {amount}"),
            None => amount,
        };
        insert_unique(kv, "Total Amount", "Total Amount", value);
    }
}

/// Adds values found by shape in lines no label claimed: `Email`,
/// `Phone Number`, `Date` and `Total Amount`, each only when kv has no value
/// of that kind yet.
fn free_text_fields(lines: &[Line<'_>], used: &[usize], order: DateOrder, kv: &mut KeyValues) {
    let has_kind =
        |kv: &KeyValues, kind: ValueKind| kv.keys().any(|key| synonyms::label_kind(key) == kind);
    let free: Vec<&str> = lines
        .iter()
        .enumerate()
        .filter(|(i, _)| !used.contains(i))
        .map(|(_, l)| l.text)
        .collect();

    if !has_kind(kv, ValueKind::Email)
        && let Some(email) = free.iter().flat_map(|t| patterns::find_emails(t)).next()
    {
        kv.insert("Email".to_string(), email);
    }
    if !has_kind(kv, ValueKind::Phone)
        && let Some(phone) = free
            .iter()
            .flat_map(|t| patterns::find_phones(t, false))
            .next()
    {
        kv.insert("Phone Number".to_string(), phone);
    }
    if !kv.contains_key("Date")
        && !kv
            .values()
            .any(|v| dates::parse_date_time(v, order).is_some())
    {
        let found = free
            .iter()
            .filter(|t| mrz::clean_line(t).is_none_or(|l| !l.contains('<')))
            .find_map(|t| dates::find_dates(t, order).into_iter().next());
        if let Some(found) = found {
            kv.insert("Date".to_string(), dates::format_kv_date(found.date));
        }
    }
    if !has_kind(kv, ValueKind::Amount)
        && let Some(amount) = free
            .iter()
            .flat_map(|t| patterns::find_amounts(t))
            // Without a label, only an amount with cents is clearly money:
            // `$1, 750/10, 000` in running text is not a total.
            .filter(|a| has_cents(&a.text))
            .max_by_key(|a| a.cents)
    {
        kv.insert("Total Amount".to_string(), amount.text);
    }
}
