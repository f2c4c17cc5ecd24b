//! The table of label synonyms behind the standard field names, and the kind
//! of value each standard field holds.

/// The kind of value a field holds, used to reject a match such as a date
/// label paired with an email.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    /// A calendar date.
    Date,
    /// An email address.
    Email,
    /// A phone or fax number.
    Phone,
    /// An amount of money.
    Amount,
    /// Anything else.
    Text,
}

/// A standard field name with its value kind and the labels that mean it.
#[derive(Debug)]
pub struct Synonym {
    /// The standard field name used as the kv key.
    pub key: &'static str,
    /// The kind of value the field holds.
    pub kind: ValueKind,
    /// Labels in normalised form (see [`normalize_label`]).
    pub labels: &'static [&'static str],
}

/// The synonym table. Labels are compared after [`normalize_label`].
pub const SYNONYMS: &[Synonym] = &[
    Synonym {
        key: "Full Name (English/Latin)",
        kind: ValueKind::Text,
        labels: &[
            "name",
            "full name",
            "names",
            "surname given names",
            "surname and given names",
            "name of holder",
            "holder",
            "holder name",
            "applicant name",
            "name of applicant",
            "your name",
            "print name",
            "printed name",
            "customer name",
            "patient name",
            "employee name",
            "taxpayer name",
            "legal name",
            "nom",
        ],
    },
    Synonym {
        key: "Surname",
        kind: ValueKind::Text,
        labels: &["surname", "last name", "family name", "nom de famille"],
    },
    Synonym {
        key: "Given Names",
        kind: ValueKind::Text,
        labels: &[
            "given names",
            "given name",
            "first name",
            "first names",
            "forenames",
            "prenoms",
        ],
    },
    Synonym {
        key: "Date of Birth (Full)",
        kind: ValueKind::Date,
        labels: &[
            "dob",
            "d o b",
            "date of birth",
            "birth date",
            "birthdate",
            "born",
            "date de naissance",
        ],
    },
    Synonym {
        key: "Place of Birth",
        kind: ValueKind::Text,
        labels: &[
            "place of birth",
            "birth place",
            "birthplace",
            "lieu de naissance",
        ],
    },
    Synonym {
        key: "Document Number",
        kind: ValueKind::Text,
        labels: &[
            "passport no",
            "passport number",
            "passport",
            "document no",
            "document number",
            "doc no",
            "card no",
            "card number",
            "id no",
            "id number",
            "licence no",
            "license no",
            "license number",
            "licence number",
            "no du passeport",
        ],
    },
    Synonym {
        key: "Nationality",
        kind: ValueKind::Text,
        labels: &["nationality", "citizenship", "nationalite"],
    },
    Synonym {
        key: "Sex",
        kind: ValueKind::Text,
        labels: &["sex", "gender", "sexe"],
    },
    Synonym {
        key: "Date of Issue",
        kind: ValueKind::Date,
        labels: &[
            "date of issue",
            "issue date",
            "issued on",
            "date issued",
            "issued",
            "date de delivrance",
        ],
    },
    Synonym {
        key: "Date of Expiry",
        kind: ValueKind::Date,
        labels: &[
            "date of expiry",
            "expiry date",
            "expiration date",
            "expiry",
            "expires",
            "expires on",
            "valid until",
            "valid thru",
            "exp date",
            "date d expiration",
        ],
    },
    Synonym {
        key: "Issuing Authority (English/Latin)",
        kind: ValueKind::Text,
        labels: &[
            "issuing authority",
            "authority",
            "issued by",
            "issuing office",
            "autorite",
        ],
    },
    Synonym {
        key: "Issuing State",
        kind: ValueKind::Text,
        labels: &[
            "issuing state",
            "issuing country",
            "country of issue",
            "country code",
        ],
    },
    Synonym {
        key: "Address (Full)",
        kind: ValueKind::Text,
        labels: &[
            "address",
            "home address",
            "residential address",
            "mailing address",
            "street address",
            "permanent address",
            "current address",
            "location address",
            "adresse",
        ],
    },
    Synonym {
        key: "City",
        kind: ValueKind::Text,
        labels: &["city", "town", "city town"],
    },
    Synonym {
        key: "State",
        kind: ValueKind::Text,
        labels: &["state", "province", "state province"],
    },
    Synonym {
        key: "ZIP Code",
        kind: ValueKind::Text,
        labels: &["zip", "zip code", "postcode", "postal code", "post code"],
    },
    Synonym {
        key: "Country",
        kind: ValueKind::Text,
        labels: &["country", "country of residence"],
    },
    Synonym {
        key: "Phone Number",
        kind: ValueKind::Phone,
        labels: &[
            "phone",
            "phone number",
            "phone no",
            "telephone",
            "telephone number",
            "telephone no",
            "tel",
            "tel no",
            "mobile",
            "mobile number",
            "mobile no",
            "cell",
            "cell phone",
            "contact number",
            "h p",
        ],
    },
    Synonym {
        key: "Fax Number",
        kind: ValueKind::Phone,
        labels: &["fax", "fax number", "fax no", "facsimile"],
    },
    Synonym {
        key: "Email",
        kind: ValueKind::Email,
        labels: &[
            "email",
            "e mail",
            "email address",
            "e mail address",
            "courriel",
        ],
    },
    Synonym {
        key: "Date",
        kind: ValueKind::Date,
        labels: &["date", "dated", "date of transaction", "transaction date"],
    },
    Synonym {
        key: "Total Amount",
        kind: ValueKind::Amount,
        labels: &[
            "total",
            "grand total",
            "total amount",
            "amount due",
            "total due",
            "balance due",
            "total payable",
        ],
    },
    Synonym {
        key: "Invoice Number",
        kind: ValueKind::Text,
        labels: &[
            "invoice no",
            "invoice number",
            "invoice",
            "inv no",
            "bill no",
        ],
    },
    Synonym {
        key: "Social Security Number",
        kind: ValueKind::Text,
        labels: &[
            "ssn",
            "social security number",
            "social security no",
            "social security",
        ],
    },
    Synonym {
        key: "Taxpayer Identification Number",
        kind: ValueKind::Text,
        labels: &[
            "tin",
            "taxpayer identification number",
            "tax id",
            "tax identification number",
            "tax id number",
        ],
    },
    Synonym {
        key: "Personal Number",
        kind: ValueKind::Text,
        labels: &[
            "personal no",
            "personal number",
            "personal id no",
            "personal id number",
        ],
    },
    Synonym {
        key: "Company Name",
        kind: ValueKind::Text,
        labels: &[
            "company",
            "company name",
            "merchant",
            "merchant name",
            "store",
        ],
    },
    Synonym {
        key: "Account Number",
        kind: ValueKind::Text,
        labels: &["account number", "account no", "acct no", "account"],
    },
    Synonym {
        key: "Occupation",
        kind: ValueKind::Text,
        labels: &["occupation", "profession", "job title"],
    },
    Synonym {
        key: "Marital Status",
        kind: ValueKind::Text,
        labels: &["marital status", "civil status"],
    },
];

/// Normalises a label for lookup: lowercase ASCII words, punctuation and
/// item numbers (`1`, `5a`, `Part I`) removed, whitespace collapsed.
pub fn normalize_label(label: &str) -> String {
    let lowered: String = label
        .chars()
        .map(|c| {
            let c = fold_accent(c);
            if c.is_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                ' '
            }
        })
        .collect();
    let mut words: Vec<&str> = lowered.split_whitespace().collect();
    while let Some(first) = words.first() {
        let is_item_number = first.len() <= 3 && first.starts_with(|c: char| c.is_ascii_digit());
        if is_item_number {
            words.remove(0);
        } else if words.len() > 2 && *first == "part" && is_roman(words[1]) {
            words.drain(..2);
        } else {
            break;
        }
    }
    words.join(" ")
}

fn is_roman(word: &str) -> bool {
    !word.is_empty() && word.len() <= 4 && word.chars().all(|c| "ivx".contains(c))
}

fn fold_accent(c: char) -> char {
    match c {
        'é' | 'è' | 'ê' | 'É' | 'È' => 'e',
        'à' | 'â' | 'À' => 'a',
        'ô' | 'Ô' => 'o',
        'û' | 'ù' | 'Û' => 'u',
        'î' | 'ï' => 'i',
        'ç' => 'c',
        _ => c,
    }
}

/// Removes bracketed remarks such as `(as shown on your return)`.
pub fn strip_remarks(label: &str) -> String {
    let mut out = String::new();
    let mut depth = 0u32;
    for c in label.chars() {
        match c {
            '(' | '[' => depth += 1,
            ')' | ']' => depth = depth.saturating_sub(1),
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

/// Looks up the standard field for a printed label, trying the label as is
/// and then without bracketed remarks. Returns `None` when nothing matches.
pub fn lookup(label: &str) -> Option<&'static Synonym> {
    let whole = normalize_label(label);
    let bare = normalize_label(&strip_remarks(label));
    [whole, bare]
        .iter()
        .filter(|candidate| !candidate.is_empty())
        .find_map(|candidate| {
            SYNONYMS
                .iter()
                .find(|s| s.labels.contains(&candidate.as_str()))
        })
}

/// Returns the standard field name for `label`, if one fits.
pub fn standard_key(label: &str) -> Option<&'static str> {
    lookup(label).map(|s| s.key)
}

/// Guesses the kind of value a label requests, from its synonym or from
/// telling words such as `date` or `phone` anywhere in it.
pub fn label_kind(label: &str) -> ValueKind {
    if let Some(synonym) = lookup(label) {
        return synonym.kind;
    }
    let words = normalize_label(&strip_remarks(label));
    let has = |w: &str| words.split(' ').any(|word| word == w);
    if has("date") || has("dob") || has("expires") || has("born") {
        ValueKind::Date
    } else if has("email") {
        ValueKind::Email
    } else if has("phone") || has("telephone") || has("fax") || has("tel") || has("mobile") {
        ValueKind::Phone
    } else if has("total") || has("amount") || has("price") {
        ValueKind::Amount
    } else {
        ValueKind::Text
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn birth_date_synonyms() {
        for label in [
            "DOB",
            "Date of birth",
            "Birth date",
            "D.O.B.",
            "date of birth:",
        ] {
            assert_eq!(
                standard_key(label),
                Some("Date of Birth (Full)"),
                "label {label:?}"
            );
        }
    }

    #[test]
    fn name_synonyms() {
        for label in [
            "Name",
            "Full name",
            "Surname + Given names",
            "1 Name (as shown on your income tax return)",
        ] {
            assert_eq!(
                standard_key(label),
                Some("Full Name (English/Latin)"),
                "label {label:?}"
            );
        }
    }

    #[test]
    fn document_number_synonyms() {
        assert_eq!(standard_key("Passport No"), Some("Document Number"));
        assert_eq!(standard_key("Document No."), Some("Document Number"));
    }

    #[test]
    fn other_standard_fields() {
        assert_eq!(standard_key("Nationality"), Some("Nationality"));
        assert_eq!(standard_key("E-mail"), Some("Email"));
        assert_eq!(standard_key("PHONE NUMBER:"), Some("Phone Number"));
        assert_eq!(standard_key("Expiry date"), Some("Date of Expiry"));
        assert_eq!(standard_key("Date of issue"), Some("Date of Issue"));
        assert_eq!(
            standard_key("Issuing authority"),
            Some("Issuing Authority (English/Latin)")
        );
        assert_eq!(standard_key("Sex"), Some("Sex"));
        assert_eq!(
            standard_key("5 Address (number, street, and apt. or suite no.)"),
            Some("Address (Full)")
        );
    }

    #[test]
    fn unrelated_labels_have_no_standard_key() {
        assert_eq!(
            standard_key("Requester's name and address (optional)"),
            None
        );
        assert_eq!(standard_key("COUPON VALUE"), None);
        assert_eq!(standard_key(""), None);
    }

    #[test]
    fn label_kinds() {
        assert_eq!(label_kind("DATE INITIATED"), ValueKind::Date);
        assert_eq!(label_kind("HOME PHONE"), ValueKind::Phone);
        assert_eq!(label_kind("Contact email"), ValueKind::Email);
        assert_eq!(label_kind("ZIP"), ValueKind::Text);
    }

    #[test]
    fn normalisation_drops_item_numbers() {
        assert_eq!(
            normalize_label("Part I  Social security number"),
            "social security number"
        );
        assert_eq!(normalize_label("5a. Address:"), "address");
    }
}
