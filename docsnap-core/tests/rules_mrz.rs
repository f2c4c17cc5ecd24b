#![allow(clippy::unwrap_used)]

//! MRZ decoding on the ICAO 9303 specimen zones, with correct and wrong
//! check digits. Check digits use weights 7, 3, 1 with `<` = 0, `A` = 10 ... `Z` = 35.

use docsnap_core::extract::rules::mrz::{self, MrzFormat};
use docsnap_core::extract::rules::{extract_kv, mrz::check_digit};
use docsnap_core::ocr::{BoundingBox, PageText, TextLine};

// TD3 (passport) specimen.
// Number L898902C3: 21*7+8*3+9+8*7+9*3+0+2*7+12*3+3 = 316 -> 6.
// Birth 740812: 49+12+0+56+3+2 = 122 -> 2. Expiry 120415: 7+6+0+28+3+5 = 49 -> 9.
// Personal number ZE184226B<<<<< -> 1. Composite over 0..10, 13..20, 21..43 -> 0.
const TD3: [&str; 2] = [
    "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
    "L898902C36UTO7408122F1204159ZE184226B<<<<<10",
];

// TD2 specimen: number D23145890 -> 7, birth -> 2, expiry -> 9,
// composite over 0..10, 13..20, 21..35 -> 6.
const TD2: [&str; 2] = [
    "I<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<",
    "D231458907UTO7408122F1204159<<<<<<<6",
];

// TD1 specimen: number D23145890 -> 7 at position 14; composite over
// line 1 5..30, line 2 0..7, 8..15 and 18..29 -> 6.
const TD1: [&str; 3] = [
    "I<UTOD231458907<<<<<<<<<<<<<<<",
    "7408122F1204159UTO<<<<<<<<<<<6",
    "ERIKSSON<<ANNA<MARIA<<<<<<<<<<",
];

fn page(texts: &[&str]) -> Vec<PageText> {
    let lines = texts
        .iter()
        .enumerate()
        .map(|(i, text)| TextLine {
            text: text.to_string(),
            bbox: BoundingBox {
                x: 10.0,
                y: 30.0 * i as f32,
                width: 500.0,
                height: 20.0,
            },
            confidence: Some(0.9),
        })
        .collect();
    vec![PageText {
        index: 0,
        width: 600,
        height: 300,
        lines,
    }]
}

#[test]
fn check_digits_of_specimen_fields() {
    assert_eq!(check_digit("L898902C3"), Some(6));
    assert_eq!(check_digit("740812"), Some(2));
    assert_eq!(check_digit("120415"), Some(9));
    assert_eq!(check_digit("D23145890"), Some(7));
    assert_eq!(check_digit("ab"), None);
}

#[test]
fn td3_all_fields() {
    let kv = extract_kv(&page(&TD3));
    assert_eq!(kv["Full Name (English/Latin)"], "ERIKSSON, ANNA MARIA");
    assert_eq!(kv["Document Number"], "L898902C3");
    assert_eq!(kv["Nationality"], "UTO");
    assert_eq!(kv["Date of Birth (Full)"], "Aug 12, 1974");
    assert_eq!(kv["Date of Expiry"], "Apr 15, 2012");
    assert_eq!(kv["Sex"], "F");
    assert_eq!(kv["Issuing State"], "UTO");
    assert_eq!(kv["Machine Readable Zone (MRZ)"], TD3.join("\n"));
}

#[test]
fn td3_wrong_birth_check_digit() {
    // Birth check digit 3 instead of 2 also breaks the composite digit.
    let broken = [
        "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
        "L898902C36UTO7408123F1204159ZE184226B<<<<<10",
    ];
    let kv = extract_kv(&page(&broken));
    assert!(!kv.contains_key("Date of Birth (Full)"));
    assert!(
        !kv.contains_key("Full Name (English/Latin)"),
        "names need the composite digit"
    );
    assert_eq!(kv["Document Number"], "L898902C3");
    assert_eq!(kv["Date of Expiry"], "Apr 15, 2012");
    assert!(kv.contains_key("Machine Readable Zone (MRZ)"));
}

#[test]
fn td3_wrong_number_check_digit() {
    let zone =
        mrz::decode_two_line(TD3[0], "L898902C35UTO7408122F1204159ZE184226B<<<<<10").unwrap();
    assert!(!zone.document_number.valid);
    assert_eq!(zone.composite_valid, Some(false));
    assert!(zone.birth_date.valid);
}

#[test]
fn td2_all_fields() {
    let zone = mrz::find_mrz(TD2).unwrap();
    assert_eq!(zone.format, MrzFormat::Td2);
    assert_eq!(zone.composite_valid, Some(true));
    let kv = extract_kv(&page(&TD2));
    assert_eq!(kv["Document Number"], "D23145890");
    assert_eq!(kv["Full Name (English/Latin)"], "ERIKSSON, ANNA MARIA");
    assert_eq!(kv["Date of Birth (Full)"], "Aug 12, 1974");
}

#[test]
fn td2_wrong_composite_digit() {
    let zone = mrz::decode_two_line(TD2[0], "D231458907UTO7408122F1204159<<<<<<<5").unwrap();
    assert_eq!(zone.composite_valid, Some(false));
    assert!(zone.document_number.valid);
    assert!(!zone.unchecked_fields_trusted());
}

#[test]
fn td1_all_fields() {
    let zone = mrz::find_mrz(TD1).unwrap();
    assert_eq!(zone.format, MrzFormat::Td1);
    assert_eq!(zone.composite_valid, Some(true));
    let kv = extract_kv(&page(&TD1));
    assert_eq!(kv["Document Number"], "D23145890");
    assert_eq!(kv["Nationality"], "UTO");
    assert_eq!(kv["Sex"], "F");
    assert_eq!(kv["Date of Expiry"], "Apr 15, 2012");
    assert_eq!(kv["Full Name (English/Latin)"], "ERIKSSON, ANNA MARIA");
}

#[test]
fn td1_wrong_expiry_check_digit() {
    let zone = mrz::decode_td1([TD1[0], "7408122F1204158UTO<<<<<<<<<<<6", TD1[2]]).unwrap();
    assert!(!zone.expiry_date.valid);
    let kv = extract_kv(&page(&[TD1[0], "7408122F1204158UTO<<<<<<<<<<<6", TD1[2]]));
    assert!(!kv.contains_key("Date of Expiry"));
    assert_eq!(kv["Date of Birth (Full)"], "Aug 12, 1974");
}

#[test]
fn ocr_noise_is_tolerated() {
    let noisy = [
        "P«UTOERIKSSON<<ANNA<MARIA<<<<<K<<<<<<< <<<<<<",
        "L898902C36 UTO7408122F 1204159ZE184226B<<<<<10",
    ];
    let kv = extract_kv(&page(&noisy));
    assert_eq!(kv["Document Number"], "L898902C3");
    assert_eq!(kv["Full Name (English/Latin)"], "ERIKSSON, ANNA MARIA");
}

#[test]
fn k_inside_a_name_is_kept() {
    assert_eq!(
        mrz::clean_line("P<UTOKAKK<<ANNA<<<").unwrap(),
        "P<UTOKAKK<<ANNA<<<"
    );
    assert_eq!(mrz::clean_line("ANNA<K<KK<").unwrap(), "ANNA<<<<<<");
}

#[test]
fn birth_year_in_future_reads_1900s() {
    // 991231 would be 2099; a birth date cannot lie in the future.
    let line2 = "L898902C36UTO9912315F1204159ZE184226B<<<<<1";
    let composite = format!("{}{}{}", &line2[0..10], &line2[13..20], &line2[21..43]);
    let line2 = format!("{line2}{}", check_digit(&composite).unwrap());
    let zone = mrz::decode_two_line(TD3[0], &line2).unwrap();
    assert_eq!(zone.birth_date().unwrap().to_string(), "1999-12-31");
}
