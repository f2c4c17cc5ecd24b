#![allow(clippy::unwrap_used)]

//! Fill matching and related-entry ranking against small file libraries.

use docsnap_core::extract::rules::{self, fill, related};
use docsnap_core::types::{EntryKind, FileLibrary, FormToFill, KeyValues, LibraryEntry};

fn entry(id: &str, title: &str, kv: &[(&str, &str)]) -> LibraryEntry {
    LibraryEntry {
        id: id.to_string(),
        title: title.to_string(),
        kv: kv
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..Default::default()
    }
}

fn library() -> FileLibrary {
    FileLibrary {
        docs: vec![
            entry(
                "p1",
                "Passport",
                &[
                    ("Full Name (English/Latin)", "ERIKSSON, ANNA MARIA"),
                    ("Date of Birth (Full)", "Aug 12, 1974"),
                    ("Document Number", "L898902C3"),
                ],
            ),
            entry(
                "r1",
                "Receipt",
                &[
                    ("Company Name", "Utopia Books"),
                    ("Email", "shop@utopia-books.example"),
                    ("Date", "Mar 02, 2024"),
                ],
            ),
            entry(
                "c1",
                "Contact card",
                &[
                    ("Email", "anna@example.org"),
                    ("Phone Number", "+46 8 123 4567"),
                    ("Full Name (English/Latin)", "Anna Eriksson"),
                ],
            ),
        ],
        forms: vec![entry(
            "f1",
            "Tax form",
            &[("Social Security Number", "123-45-6789")],
        )],
    }
}

fn form(fields: &[&str]) -> FormToFill {
    FormToFill {
        fields: fields.iter().map(|f| f.to_string()).collect(),
        ..Default::default()
    }
}

#[test]
fn fill_by_synonym_with_iso_dates() {
    let filled = fill::fill(&form(&["DOB", "Passport No."]), &library());
    assert_eq!(filled["DOB"].value, "1974-08-12");
    assert_eq!(filled["DOB"].source.resource_id, "p1");
    assert_eq!(filled["Passport No."].value, "L898902C3");
}

#[test]
fn fill_prefers_entry_naming_a_person() {
    // Both r1 and c1 carry an Email; only c1 names a person.
    let filled = fill::fill(&form(&["E-mail address"]), &library());
    assert_eq!(filled["E-mail address"].value, "anna@example.org");
    assert_eq!(filled["E-mail address"].source.resource_id, "c1");
}

#[test]
fn fill_checks_value_kind() {
    let library = FileLibrary {
        docs: vec![entry("x", "Note", &[("Date", "not known yet")])],
        forms: vec![],
    };
    assert!(fill::fill(&form(&["Date"]), &library).is_empty());
}

#[test]
fn fill_slices_digits_and_cites_forms() {
    let filled = fill::fill(
        &form(&[
            "SSN (first 3 digits)",
            "SSN (middle 2 digits)",
            "SSN (last 4 digits)",
        ]),
        &library(),
    );
    assert_eq!(filled["SSN (first 3 digits)"].value, "123");
    assert_eq!(filled["SSN (middle 2 digits)"].value, "45");
    assert_eq!(filled["SSN (last 4 digits)"].value, "6789");
    assert_eq!(filled["SSN (last 4 digits)"].source.kind, EntryKind::Form);
}

#[test]
fn fill_skips_other_party_and_unknown_labels() {
    let filled = fill::fill(
        &form(&[
            "Requester's name and address",
            "Guest name",
            "Favourite colour",
        ]),
        &library(),
    );
    assert!(filled.is_empty(), "filled: {filled:?}");
}

#[test]
fn label_scores() {
    assert_eq!(
        fill::label_score("Date of birth", "Date of Birth (Full)"),
        1.0
    );
    assert!(fill::label_score("City, state, and ZIP code", "City, State, ZIP") >= fill::MIN_SCORE);
    assert_eq!(
        fill::label_score("Employer identification number", "Document Number"),
        0.0
    );
}

#[test]
fn related_ranked_by_overlap() {
    let mut kv = KeyValues::new();
    kv.insert("Full Name (English/Latin)".into(), "Anna Eriksson".into());
    kv.insert("Phone Number".into(), "+46 8 123 4567".into());
    let ranked = related::related("Letter", &kv, &library());
    let ids: Vec<&str> = ranked.iter().map(|r| r.resource_id.as_str()).collect();
    assert_eq!(ids, ["c1", "p1"]);
}

#[test]
fn related_needs_real_overlap_and_caps_at_five() {
    let mut kv = KeyValues::new();
    kv.insert("Note".into(), "the date and the name".into());
    assert!(related::related("Form", &kv, &library()).is_empty());

    let many = FileLibrary {
        docs: (0..8)
            .map(|i| {
                entry(
                    &format!("d{i}"),
                    "Invoice",
                    &[("Invoice Number", "INV-20240117")],
                )
            })
            .collect(),
        forms: vec![],
    };
    let mut kv = KeyValues::new();
    kv.insert("Invoice Number".into(), "INV-20240117".into());
    assert_eq!(
        related::related("Invoice", &kv, &many).len(),
        related::MAX_RELATED
    );
}

#[test]
fn extractor_trait_runs_offline() {
    use docsnap_core::extract::Extractor;
    let extractor = rules::RuleExtractor::new();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let filled = runtime
        .block_on(extractor.fill(&form(&["Full name"]), &library()))
        .unwrap();
    assert_eq!(filled["Full name"].source.resource_id, "p1");
    assert_eq!(extractor.name(), "rules");
}
