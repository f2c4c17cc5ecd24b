//! Fill on the IRS W-9: the 22 blank field labels against a made-up file
//! library with a known expected fill.

use std::path::Path;

use docsnap_core::extract::rules::fill;
use docsnap_core::types::{FileLibrary, FormToFill};

use crate::{ErrorClasses, Outcome, ratio, read_json};

const LIBRARY: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../docsnap-core/tests/fixtures/rules/w9_library.json"
);

/// Scores the fill of `irs_form_w9_blank.fields.json` in `dir`: a field is
/// right when filled with the expected value, or left empty when none is
/// expected.
pub fn evaluate(dir: &Path) -> Outcome {
    let mut errors = ErrorClasses::default();
    let form_json = read_json(&dir.join("irs_form_w9_blank.fields.json"))?;
    let fixture = read_json(Path::new(LIBRARY))?;
    let library: FileLibrary = serde_json::from_value(fixture["library"].clone())
        .map_err(|e| format!("invalid library in {LIBRARY}: {e}"))?;
    let expected = fixture["expected_fill"]
        .as_object()
        .cloned()
        .unwrap_or_default();

    let fields: Vec<String> = form_json["fields"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| f["label"].as_str().map(str::to_string))
        .collect();
    let form = FormToFill {
        title: "Form W-9".to_string(),
        kv: Default::default(),
        fields: fields.clone(),
    };
    let filled = fill::fill(&form, &library);

    let (mut correct, mut expected_hits) = (0, 0);
    for field in &fields {
        let want = expected.get(field).and_then(|v| v.as_str());
        let got = filled.get(field).map(|f| f.value.as_str());
        match (want, got) {
            (Some(want), Some(got)) if want == got => {
                correct += 1;
                expected_hits += 1;
            }
            (None, None) => correct += 1,
            (Some(want), Some(got)) => errors.add(
                "wrong value",
                format!("{field:?}: got {got:?}, expected {want:?}"),
            ),
            (Some(want), None) => errors.add("not filled", format!("{field:?}: expected {want:?}")),
            (None, Some(got)) => errors.add(
                "filled but should stay empty",
                format!("{field:?}: got {got:?}"),
            ),
        }
    }

    let rows = vec![
        (
            "W-9 fill: fields right (filled or left empty)".to_string(),
            ratio(correct, fields.len()),
        ),
        (
            "W-9 fill: expected values filled".to_string(),
            ratio(expected_hits, expected.len()),
        ),
    ];
    Ok((rows, errors))
}
