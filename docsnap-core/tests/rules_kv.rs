#![allow(clippy::unwrap_used)]

//! Key-value pairs, blanks and classification from synthetic OCR pages
//! with boxes.

use docsnap_core::extract::rules::{self, classify::DocumentType};
use docsnap_core::ocr::{BoundingBox, PageText, TextLine};
use docsnap_core::types::FileLibrary;

/// Builds a line of `text` at `(x, y)`, 20 px tall, 9 px per character.
fn line(text: &str, x: f32, y: f32) -> TextLine {
    TextLine {
        text: text.to_string(),
        bbox: BoundingBox {
            x,
            y,
            width: 9.0 * text.chars().count() as f32,
            height: 20.0,
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

#[test]
fn inline_label_and_value() {
    let kv = rules::extract_kv(&page(vec![
        line("Date of birth: 05/01/1965", 10.0, 10.0),
        line("Email: li@example.com", 10.0, 40.0),
    ]));
    assert_eq!(kv["Date of Birth (Full)"], "May 01, 1965");
    assert_eq!(kv["Email"], "li@example.com");
}

#[test]
fn value_right_of_label() {
    let kv = rules::extract_kv(&page(vec![
        line("Passport No:", 10.0, 10.0),
        line("X1234567", 200.0, 12.0),
    ]));
    assert_eq!(kv["Document Number"], "X1234567");
}

#[test]
fn value_below_label() {
    let kv = rules::extract_kv(&page(vec![
        line("Full name:", 10.0, 10.0),
        line("Anna Maria Eriksson", 12.0, 34.0),
    ]));
    assert_eq!(kv["Full Name (English/Latin)"], "Anna Maria Eriksson");
}

#[test]
fn far_line_below_is_not_a_value() {
    let result = rules::extract_form(
        &page(vec![
            line("Signature:", 10.0, 10.0),
            line("Thank you", 10.0, 200.0),
        ]),
        &FileLibrary::default(),
    );
    assert!(!result.kv.contains_key("Signature"));
    assert!(result.fields.contains(&"Signature".to_string()));
}

#[test]
fn date_value_keeps_its_time() {
    let kv = rules::extract_kv(&page(vec![
        line("Printed: 29/06/2018 8:26:57 PM", 10.0, 10.0),
        line("Date: 29/06/2018 8:26 PM", 10.0, 40.0),
        line("Registered: 2018年6月29日", 10.0, 70.0),
    ]));
    assert_eq!(kv["Printed"], "Jun 29, 2018 20:26:57");
    assert_eq!(
        kv["Date"], "Jun 29, 2018",
        "a date label keeps only the date"
    );
    assert_eq!(kv["Registered"], "Jun 29, 2018");
}

#[test]
fn time_is_not_a_label() {
    let kv = rules::extract_kv(&page(vec![line("20:49:59 #01", 10.0, 10.0)]));
    assert!(kv.keys().all(|k| k != "20"), "kv: {kv:?}");
}

#[test]
fn dashed_label_only_for_known_labels() {
    let kv = rules::extract_kv(&page(vec![
        line("Nationality - Utopian", 10.0, 10.0),
        line("Marden - Kane, Inc.", 10.0, 40.0),
    ]));
    assert_eq!(kv["Nationality"], "Utopian");
    assert!(!kv.contains_key("Marden"));
}

#[test]
fn free_text_email_phone_date_amount() {
    let kv = rules::extract_kv(&page(vec![
        line(
            "Write to jane@example.org or call (336) 335-7392",
            10.0,
            10.0,
        ),
        line("Paid on 12/10/1998 the sum of $1,234.00", 10.0, 40.0),
    ]));
    assert_eq!(kv["Email"], "jane@example.org");
    assert_eq!(kv["Phone Number"], "(336) 335-7392");
    assert_eq!(kv["Date"], "Dec 10, 1998");
    assert_eq!(kv["Total Amount"], "$1,234.00");
}

#[test]
fn form_blanks_and_form_type() {
    let result = rules::extract_form(
        &page(vec![
            line("MEMBERSHIP APPLICATION FORM", 100.0, 10.0),
            line("Name: ____________", 10.0, 60.0),
            line("Phone: ____________", 10.0, 90.0),
            line("☐ Student", 10.0, 120.0),
            line("Member since: 2019-04-02", 10.0, 150.0),
        ]),
        &FileLibrary::default(),
    );
    assert_eq!(result.kv["Form Type"], "MEMBERSHIP APPLICATION FORM");
    assert_eq!(result.fields, ["Name", "Phone", "Student"]);
    assert_eq!(result.kv["Member since"], "Apr 02, 2019");
    for field in &result.fields {
        assert!(
            !result.kv.contains_key(field),
            "field {field} is also a kv key"
        );
    }
}

#[test]
fn label_column_pairs_and_blanks() {
    let result = rules::extract_form(
        &page(vec![
            line("MEDIA TYPE", 140.0, 300.0),
            line("DIRECT MAIL", 380.0, 300.0),
            line("MEDIA NAME", 140.0, 340.0),
            line("CODE ASSIGNED", 140.0, 380.0),
            line("07809", 380.0, 380.0),
        ]),
        &FileLibrary::default(),
    );
    assert_eq!(result.kv["MEDIA TYPE"], "DIRECT MAIL");
    assert_eq!(result.kv["CODE ASSIGNED"], "07809");
    assert_eq!(result.fields, ["MEDIA NAME"]);
}

#[test]
fn receipt_header_and_total() {
    let lines = vec![
        line("KEDAI RUNCIT MAJU SDN BHD (123456-K)", 40.0, 10.0),
        line("NO 12, JALAN MERANTI 3", 60.0, 40.0),
        line("43000 KAJANG, SELANGOR", 60.0, 70.0),
        line("TEL: 03-8736 1234", 60.0, 100.0),
        line("RECEIPT", 120.0, 130.0),
        line("14/02/2019 10:02", 10.0, 160.0),
        line("MILK 1L", 10.0, 190.0),
        line("6.50", 300.0, 190.0),
        line("BREAD", 10.0, 220.0),
        line("3.20", 300.0, 220.0),
        line("TOTAL", 10.0, 250.0),
        line("RM", 250.0, 250.0),
        line("9.70", 300.0, 250.0),
        line("CASH", 10.0, 280.0),
        line("20.00", 300.0, 280.0),
        line("CHANGE", 10.0, 310.0),
        line("10.30", 300.0, 310.0),
    ];
    let result = rules::extract_document(&page(lines), &FileLibrary::default());
    assert_eq!(result.kv["Company Name"], "KEDAI RUNCIT MAJU SDN BHD");
    assert_eq!(
        result.kv["Address (Full)"],
        "NO 12, JALAN MERANTI 3 43000 KAJANG, SELANGOR"
    );
    assert_eq!(result.kv["Total Amount"], "RM 9.70");
    assert_eq!(result.kv["Date"], "Feb 14, 2019");
    assert_eq!(result.title, "Receipt from Kedai Runcit Maju");
    assert_eq!(result.tags[0], "receipt");
    assert_eq!(
        result.description,
        "A receipt from KEDAI RUNCIT MAJU SDN BHD dated Feb 14, 2019 for a total of RM 9.70."
    );
}

#[test]
fn classification_by_keywords() {
    let classify = |text: &str| rules::classify::classify(text, None);
    assert_eq!(
        classify("BOARDING PASS\nFlight BA117 Gate 22 Seat 14A"),
        DocumentType::BoardingPass
    );
    assert_eq!(
        classify("Form W-9 Request for Taxpayer Identification Number"),
        DocumentType::TaxForm
    );
    assert_eq!(
        classify("INVOICE\nBill to: ACME\nAmount due: $40.00"),
        DocumentType::Invoice
    );
    assert_eq!(
        classify("FACSIMILE TRANSMISSION COVER SHEET\nNumber of pages: 3"),
        DocumentType::FaxCover
    );
    assert_eq!(
        classify("Dear Ms Li,\nThank you.\nSincerely, Bo"),
        DocumentType::Letter
    );
    assert_eq!(classify("hello world"), DocumentType::Other);
}

#[test]
fn empty_pages_give_empty_result() {
    let result = rules::extract_form(&[], &FileLibrary::default());
    assert!(result.fields.is_empty());
    assert_eq!(result.kv["Form Type"], "Form");
}

#[test]
fn wrapped_label_joins_lines() {
    let result = rules::extract_form(
        &page(vec![
            line("NAME OF GUEST", 150.0, 440.0),
            line("AGE", 150.0, 480.0),
            line("RELATIONSHIP", 150.0, 520.0),
            line("TO WINNER", 150.0, 540.0),
        ]),
        &FileLibrary::default(),
    );
    assert_eq!(
        result.fields,
        ["NAME OF GUEST", "AGE", "RELATIONSHIP TO WINNER"]
    );
}

#[test]
fn bracketed_remark_is_not_a_value() {
    let result = rules::extract_form(
        &page(vec![
            line("AIRLINE:", 150.0, 770.0),
            line("(CHECK ONE)", 150.0, 785.0),
        ]),
        &FileLibrary::default(),
    );
    assert!(!result.kv.contains_key("AIRLINE"));
    assert_eq!(result.fields[0], "AIRLINE");
}

#[test]
fn header_row_is_not_a_value() {
    let kv = rules::extract_kv(&page(vec![
        line("ACCT. NO.", 300.0, 730.0),
        line("DEPT. NO.", 410.0, 730.0),
        line("APPROVED BY", 570.0, 730.0),
        line("4111", 300.0, 752.0),
    ]));
    assert_eq!(kv["Account Number"], "4111");
}

#[test]
fn odd_text_never_panics() {
    let samples = [
        "",
        ":",
        "：",
        "::::",
        "Label: 中文",
        "名前：李",
        "12:",
        ":34",
        "Total ..... ",
        "____",
        "[ ]",
        "☐",
        "RM",
        "$",
        "€ 1,2",
        "99/99/9999",
        "31/02/2020",
        "0/0/00",
        "P<",
        "<<<<<<<<<<",
        "«««",
        "K<K<K",
        "é: ü",
        "a - b",
        " - ",
        "(",
        ")",
        "((()))",
        "\u{200b}: x",
        "🙂: 🙂",
    ];
    let lines: Vec<TextLine> = samples
        .iter()
        .enumerate()
        .map(|(i, s)| line(s, 10.0, 25.0 * i as f32))
        .collect();
    let result = rules::extract_form(&page(lines), &FileLibrary::default());
    assert!(result.kv.contains_key("Form Type"));

    let wide = "中".repeat(44);
    assert!(rules::mrz::decode_two_line(&wide, &wide).is_none());
    assert!(
        rules::mrz::decode_td1([
            "é".repeat(15).as_str(),
            "é".repeat(15).as_str(),
            "é".repeat(15).as_str()
        ])
        .is_none()
    );
}
