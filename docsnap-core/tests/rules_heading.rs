#![allow(clippy::unwrap_used)]

//! Page headings on synthetic OCR pages: never a blank field, and the title
//! when there is one.

use docsnap_core::extract::rules;
use docsnap_core::ocr::{BoundingBox, PageText, TextLine};
use docsnap_core::types::FileLibrary;

/// Builds a line of `text` at `(x, y)`, `height` px tall, 9 px per
/// character per 20 px of height.
fn line(text: &str, x: f32, y: f32, height: f32) -> TextLine {
    TextLine {
        text: text.to_string(),
        bbox: BoundingBox {
            x,
            y,
            width: 9.0 * height / 20.0 * text.chars().count() as f32,
            height,
        },
        confidence: None,
    }
}

fn page(lines: Vec<TextLine>) -> Vec<PageText> {
    vec![PageText {
        index: 0,
        width: 800,
        height: 1000,
        lines,
    }]
}

/// A heading in a larger font above colon labels whose blanks OCR dropped,
/// as the engine reads the library card fixture.
fn library_card() -> Vec<PageText> {
    page(vec![
        line("Library Card Application", 40.0, 40.0, 34.0),
        line("Branch: Central Library, Leeds", 40.0, 120.0, 20.0),
        line("Form number: LC-2025-07", 40.0, 160.0, 20.0),
        line("Full name:", 40.0, 230.0, 20.0),
        line("Date of birth:", 40.0, 270.0, 20.0),
        line("Address:", 40.0, 310.0, 20.0),
        line("Phone number:", 40.0, 350.0, 20.0),
        line("Email: ____________", 40.0, 390.0, 20.0),
    ])
}

#[test]
fn tall_heading_is_no_field_and_becomes_title() {
    let result = rules::extract_form(&library_card(), &FileLibrary::default());
    assert_eq!(
        result.fields,
        [
            "Full name",
            "Date of birth",
            "Address",
            "Phone number",
            "Email"
        ]
    );
    assert_eq!(result.title, "Library Card Application");
    // The type still drives the tags and `Form Type`.
    assert_eq!(result.kv["Form Type"], "Application Form");
    assert!(result.tags.iter().any(|t| t == "application"));
    assert_eq!(result.kv["Branch"], "Central Library, Leeds");
}

#[test]
fn salient_capitals_heading_in_label_column_is_no_field() {
    // A little taller than the body, too little to be a heading anywhere,
    // but the salient line at the top of a column of labels with no values.
    let result = rules::extract_form(
        &page(vec![
            line("APPLICATION FOR A LIBRARY CARD", 40.0, 40.0, 24.0),
            line("Full name", 40.0, 100.0, 20.0),
            line("Date of birth", 40.0, 140.0, 20.0),
            line("Address", 40.0, 180.0, 20.0),
            line("Signature", 40.0, 220.0, 20.0),
        ]),
        &FileLibrary::default(),
    );
    assert!(
        !result.fields.iter().any(|f| f.contains("LIBRARY CARD")),
        "{:?}",
        result.fields
    );
    assert!(result.fields.iter().any(|f| f == "Full name"), "{result:?}");
    assert_eq!(result.title, "Application for a Library Card");
}

#[test]
fn tall_one_word_heading_is_no_field() {
    let result = rules::extract_form(
        &page(vec![
            line("MEMBERSHIP", 40.0, 40.0, 36.0),
            line("Please print in capitals", 40.0, 80.0, 20.0),
            line("Name", 40.0, 130.0, 20.0),
            line("Address", 40.0, 170.0, 20.0),
            line("Phone", 40.0, 210.0, 20.0),
        ]),
        &FileLibrary::default(),
    );
    assert!(!result.kv.contains_key("MEMBERSHIP"), "{result:?}");
    assert!(
        !result.fields.iter().any(|f| f == "MEMBERSHIP"),
        "{result:?}"
    );
}

#[test]
fn long_heading_is_cut_to_five_words_without_a_dangling_word() {
    let result = rules::extract_form(
        &page(vec![
            line("APPLICATION FOR THE RENEWAL OF A PERMIT", 40.0, 40.0, 34.0),
            line("Full name: ____________", 40.0, 120.0, 20.0),
            line("Permit number: ____________", 40.0, 160.0, 20.0),
            line("Signature: ____________", 40.0, 200.0, 20.0),
        ]),
        &FileLibrary::default(),
    );
    assert_eq!(result.title, "Application for the Renewal");
    assert_eq!(result.fields, ["Full name", "Permit number", "Signature"]);
}

#[test]
fn page_without_heading_keeps_the_type_title() {
    // The top line is a `Label: value` pair, so it is no heading.
    let result = rules::extract_form(
        &page(vec![
            line("Applicant name: Ada Lovelace", 40.0, 40.0, 20.0),
            line("Application date: ____________", 40.0, 80.0, 20.0),
            line("Signature: ____________", 40.0, 120.0, 20.0),
        ]),
        &FileLibrary::default(),
    );
    assert_eq!(result.title, "Application Form");
}
