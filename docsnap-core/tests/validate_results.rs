//! Validation and provenance through the public API, as the pipeline uses
//! them after an extractor: typed results from the rule extractor and raw
//! JSON from a model obey the same rules.

#![allow(clippy::unwrap_used)]

use docsnap_core::extract::provenance::{explain_fill, locate_values};
use docsnap_core::extract::validate::{
    normalize_document, normalize_form, validate_document, validate_fill,
};
use docsnap_core::ocr::{BoundingBox, PageText, TextLine};
use docsnap_core::types::{
    DocumentResult, EntryKind, EntryRef, FileLibrary, FormResult, FormToFill, KeyValues,
};
use serde_json::json;

fn library() -> FileLibrary {
    serde_json::from_value(json!({
        "doc": [{"id": 17, "title": "Driving licence", "kv": {"Licence Number": "DL-4471-X", "Date of Birth (Full)": "Mar 09, 1988"}}],
        "form": [{"id": "f2", "title": "Tenancy form"}]
    }))
    .unwrap()
}

fn line(text: &str, y: f32) -> TextLine {
    TextLine {
        text: text.to_owned(),
        bbox: BoundingBox {
            x: 40.0,
            y,
            width: 300.0,
            height: 24.0,
        },
        confidence: Some(0.95),
    }
}

fn page(lines: Vec<TextLine>) -> Vec<PageText> {
    vec![PageText {
        index: 0,
        width: 1000,
        height: 1400,
        lines,
    }]
}

#[test]
fn typed_and_raw_results_agree() {
    let typed = DocumentResult {
        title: " Driving licence ".to_owned(),
        tags: vec!["licence".to_owned(), "LICENCE".to_owned()],
        description: "A licence.".to_owned(),
        kv: KeyValues::from([("Date of Birth (Full)".to_owned(), "09.03.1988".to_owned())]),
        related: vec![EntryRef {
            kind: EntryKind::Doc,
            resource_id: "17".to_owned(),
        }],
    };
    let raw = json!({
        "title": "Driving licence",
        "tags": "licence, LICENCE",
        "description": "A licence.",
        "kv": {"Date of Birth (Full)": "March 9, 1988"},
        "related": [{"type": "doc", "id": 17}]
    });

    let from_typed = normalize_document(typed, &library());
    let from_raw = validate_document(&raw, &library()).unwrap();

    assert_eq!(from_typed, from_raw);
    assert_eq!(from_raw.kv["Date of Birth (Full)"], "Mar 09, 1988");
    assert_eq!(from_raw.tags, vec!["licence"]);
}

#[test]
fn only_whole_value_dates_are_rewritten() {
    let raw = json!({
        "title": "Receipt",
        "kv": {
            "Paid": "29.06.2018",
            "Printed": "2018-06-29 08:26",
            "Registered": "2018年6月29日",
            "Date of Birth": "19880309",
            "Receipt Number": "19880309",
            "Issued": "09/03/88",
            "Version": "12.50.99"
        }
    });

    let kv = validate_document(&raw, &library()).unwrap().kv;

    assert_eq!(kv["Paid"], "Jun 29, 2018");
    assert_eq!(kv["Printed"], "2018-06-29 08:26", "the time is kept");
    assert_eq!(kv["Registered"], "Jun 29, 2018");
    assert_eq!(kv["Date of Birth"], "Mar 09, 1988");
    assert_eq!(kv["Receipt Number"], "19880309");
    assert_eq!(kv["Issued"], "09/03/88", "the century of 88 is not guessed");
    assert_eq!(kv["Version"], "12.50.99");
}

#[test]
fn typed_form_gets_form_type_and_disjoint_fields() {
    let typed = FormResult {
        title: "Tenancy Application".to_owned(),
        kv: KeyValues::from([
            ("Landlord".to_owned(), "Acme Lettings".to_owned()),
            ("Tenant Name".to_owned(), String::new()),
        ]),
        fields: vec!["Tenant Name".to_owned(), "Landlord".to_owned()],
        related: vec![EntryRef {
            kind: EntryKind::Doc,
            resource_id: "f2".to_owned(),
        }],
        ..FormResult::default()
    };

    let form = normalize_form(typed, &library());

    let keys: Vec<&String> = form.kv.keys().collect();
    assert_eq!(keys, vec!["Form Type", "Landlord"]);
    assert_eq!(form.kv["Form Type"], "Tenancy Application");
    assert_eq!(form.fields, vec!["Tenant Name"]);
    assert!(form.related.is_empty(), "f2 is a form, not a doc");
}

#[test]
fn provenance_follows_validation() {
    let pages = page(vec![
        line("DRIVING LICENCE", 50.0),
        line("4d. DL-4471-X", 120.0),
        line("3. 09.03.1988 London", 160.0),
    ]);
    let raw = json!({
        "title": "Driving licence",
        "kv": {"Licence Number": "DL-4471-X", "Date of Birth (Full)": "1988-03-09"}
    });

    let result = validate_document(&raw, &library()).unwrap();
    let provenance = locate_values(&result.kv, &pages);

    assert_eq!(
        provenance.values["Licence Number"].line_text,
        "4d. DL-4471-X"
    );
    assert_eq!(provenance.values["Licence Number"].bbox.y, 120.0);
    assert_eq!(
        provenance.values["Date of Birth (Full)"].line_text,
        "3. 09.03.1988 London"
    );
}

#[test]
fn provenance_finds_dates_without_spaces() {
    let pages = page(vec![
        line("DRIVING LICENCE", 50.0),
        line("DOB:09.03.1988 London", 120.0),
        line("签发日期2020年4月1日", 160.0),
    ]);
    let raw = json!({
        "title": "Driving licence",
        "kv": {"Date of Birth (Full)": "1988-03-09", "Date of Issue": "Apr 01, 2020"}
    });

    let result = validate_document(&raw, &library()).unwrap();
    let provenance = locate_values(&result.kv, &pages);

    assert_eq!(
        provenance.values["Date of Birth (Full)"].line_text,
        "DOB:09.03.1988 London"
    );
    assert_eq!(
        provenance.values["Date of Issue"].line_text,
        "签发日期2020年4月1日"
    );
}

#[test]
fn fill_origins_follow_grounding() {
    let form = FormToFill {
        fields: vec![
            "Licence No.".to_owned(),
            "Date of Birth".to_owned(),
            "Postcode".to_owned(),
        ],
        ..FormToFill::default()
    };
    let source = json!({"type": "doc", "resource_id": "17"});
    let raw = json!({
        "Licence No.": {"value": "dl 4471 x", "source": source},
        "Date of Birth": {"value": "09 MAR 1988", "source": source},
        "Postcode": {"value": "SW1A 1AA", "source": source}
    });

    let fill = validate_fill(&raw, &form, &library()).unwrap();
    let origins = explain_fill(&fill, &library());

    assert_eq!(fill.len(), 2);
    assert_eq!(fill["Date of Birth"].value, "1988-03-09");
    assert_eq!(
        origins["Licence No."].matched_key.as_deref(),
        Some("Licence Number")
    );
    assert_eq!(origins["Licence No."].matched_text, "DL-4471-X");
    assert_eq!(origins["Date of Birth"].matched_text, "Mar 09, 1988");
}
