//! Known-answer tests of the envelope against Python `cryptography`: the
//! fixtures in `tests/fixtures/envelope` were sealed by `make_fixtures.py`,
//! and results sealed here are opened by `open_result.py`.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use docsnap_core::ErrorKind;
use docsnap_core::envelope::{
    AesKey, Cipher, Mgf1Digest, ServerKey, associated_data, content_hash, content_hash_matches,
    encode_base64, open_json, seal, seal_request,
};
use docsnap_core::types::TaskKind;
use serde_json::{Value, json};

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/envelope")
}

fn read_fixture(name: &str) -> String {
    std::fs::read_to_string(fixture_dir().join(name)).unwrap()
}

fn cases() -> Value {
    serde_json::from_str(&read_fixture("cases.json")).unwrap()
}

fn server_key() -> ServerKey {
    ServerKey::from_pem(&read_fixture("test_key.pem")).unwrap()
}

fn text<'a>(case: &'a Value, field: &str) -> &'a str {
    case[field]
        .as_str()
        .unwrap_or_else(|| panic!("{}: field {field} is not a string", case["name"]))
}

fn cipher_of(case: &Value) -> Cipher {
    text(case, "cipher").parse().unwrap()
}

fn kind_of(case: &Value) -> TaskKind {
    text(case, "type").parse().unwrap()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Runs the server's steps on a request: hash check, key unwrap, open.
fn open_request(server: &ServerKey, case: &Value) -> docsnap_core::Result<(AesKey, Value)> {
    let content = text(case, "content");
    assert!(
        content_hash_matches(content, text(case, "SHA256")),
        "{}",
        case["name"]
    );

    let key = server.unwrap_key(text(case, "aes_key"))?;
    let aad = associated_data(text(case, "client_id"), kind_of(case));
    let payload = open_json(&key, cipher_of(case), content, &aad)?;
    Ok((key, payload))
}

#[test]
fn fingerprint_matches_python() {
    let fixture = cases();
    let expected = fixture["public_key_fingerprint"].as_str().unwrap();

    assert_eq!(server_key().fingerprint(), expected);
    let pkcs1 = ServerKey::from_pem(&read_fixture("test_key_pkcs1.pem")).unwrap();
    assert_eq!(pkcs1.fingerprint(), expected);
    assert_eq!(
        server_key().public_key_pem(),
        read_fixture("test_key.pub.pem")
    );
}

#[test]
fn python_sealed_requests_open() {
    let server = server_key();
    let fixture = cases();
    let cases = fixture["cases"].as_array().unwrap();
    assert!(
        cases.len() >= 8,
        "cases.json has only {} cases",
        cases.len()
    );

    for case in cases {
        let name = &case["name"];
        let content = text(case, "content");

        assert_eq!(content_hash(content), text(case, "SHA256"), "{name}");
        let (key, payload) =
            open_request(&server, case).unwrap_or_else(|error| panic!("{name}: {error}"));
        assert_eq!(hex(key.as_bytes()), text(case, "aes_key_hex"), "{name}");
        assert_eq!(payload, case["expected_payload"], "{name}");
    }
}

#[test]
fn python_cases_cover_the_protocol() {
    let fixture = cases();
    let cases = fixture["cases"].as_array().unwrap();
    let has = |predicate: &dyn Fn(&Value) -> bool| cases.iter().any(predicate);

    for bits in [128, 192, 256] {
        assert!(
            has(&|case| text(case, "cipher") == "CBC"
                && text(case, "aes_key_hex").len() * 4 == bits),
            "no AES-{bits}-CBC case"
        );
    }
    assert!(has(&|case| text(case, "mgf1") == "SHA1"));
    assert!(has(&|case| text(case, "mgf1") == "SHA256"));
    assert!(has(
        &|case| text(case, "content").contains("\r\n") && text(case, "aes_key").contains("\r\n")
    ));
    assert!(has(&|case| text(case, "cipher") == "A256GCM"));
}

#[test]
fn python_failures_give_protocol_codes() {
    let server = server_key();
    let fixture = cases();
    let failures = fixture["failures"].as_array().unwrap();
    let mut cbc_messages = Vec::new();

    for case in failures {
        let name = &case["name"];
        let error = open_request(&server, case).unwrap_err();
        assert_eq!(
            error.code(),
            text(case, "expected_error"),
            "{name}: {error}"
        );

        if error.kind() == ErrorKind::AesDecryptionFailed && cipher_of(case) == Cipher::Cbc {
            cbc_messages.push(error.message().to_string());
        }
    }

    // Bad padding, bad JSON and a bad length under CBC read the same.
    assert_eq!(cbc_messages.len(), 3);
    assert!(
        cbc_messages
            .iter()
            .all(|message| *message == cbc_messages[0])
    );
}

#[test]
fn uppercase_hash_matches() {
    let fixture = cases();
    let case = &fixture["cases"][0];
    let upper = text(case, "SHA256").to_ascii_uppercase();

    assert!(content_hash_matches(text(case, "content"), &upper));
    assert_ne!(content_hash(text(case, "content")), upper);
}

/// Fails with an install hint unless `python3` can import `cryptography`.
fn require_python_cryptography() {
    let status = Command::new("python3")
        .args(["-c", "import cryptography"])
        .status();
    match status {
        Ok(status) if status.success() => {}
        Ok(_) => panic!(
            "python3 cannot import the `cryptography` package, which this test needs to \
             check results independently: pip install cryptography"
        ),
        Err(error) => panic!(
            "python3 could not be run ({error}); this test needs python3 with the \
             `cryptography` package: install python3, then pip install cryptography"
        ),
    }
}

/// Runs `open_result.py` on `request` and returns what it decrypted, by name.
fn open_in_python(request: &Value) -> Value {
    require_python_cryptography();

    let dir = tempfile::tempdir().unwrap();
    let request_path = dir.path().join("results.json");
    std::fs::write(&request_path, request.to_string()).unwrap();

    let output = Command::new("python3")
        .arg(fixture_dir().join("open_result.py"))
        .arg(&request_path)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "open_result.py failed with {}: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn rust_sealed_results_open_in_python() {
    let client_id = "5f0c7d2e-1b7a-4c7e-9a51-3f2d8e6b9c10";
    let result = json!({
        "title": "Passport of Jürgen Müller",
        "tags": ["passport", "東京"],
        "description": "A passport.",
        "kv": {"Document Number": "X1234567"},
        "related": [{"type": "doc", "resource_id": "d1"}],
    });

    let mut items = Vec::new();
    let mut expected = serde_json::Map::new();
    for (cipher, kind, key_len) in [
        (Cipher::Cbc, TaskKind::Doc, 16),
        (Cipher::Cbc, TaskKind::Form, 24),
        (Cipher::Cbc, TaskKind::Doc, 32),
        (Cipher::A256Gcm, TaskKind::Fill, 32),
        (Cipher::A256Gcm, TaskKind::Doc, 32),
    ] {
        let key = AesKey::random(key_len).unwrap();
        let aad = associated_data(client_id, kind);
        let sealed = seal(&key, cipher, result.to_string().as_bytes(), &aad).unwrap();

        let name = format!("{cipher}-{kind}-{key_len}");
        items.push(json!({
            "name": name,
            "cipher": cipher.as_str(),
            "client_id": client_id,
            "type": kind.as_str(),
            "key_b64": encode_base64(key.as_bytes()),
            "content": sealed,
        }));
        expected.insert(name, result.clone());
    }

    let opened = open_in_python(&json!({"private_key_pem": null, "items": items}));
    assert_eq!(opened, Value::Object(expected));
}

#[test]
fn rust_sealed_requests_open_in_python() {
    let public_key_pem = read_fixture("test_key.pub.pem");
    let client_id = "client-7";
    let payload = json!({"to_process": ["iVBORw0KGgo="], "file_lib": {"docs": [], "forms": []}});

    let mut items = Vec::new();
    let mut expected = serde_json::Map::new();
    for cipher in [Cipher::Cbc, Cipher::A256Gcm] {
        for (mgf1, mgf1_name) in [(Mgf1Digest::Sha256, "SHA256"), (Mgf1Digest::Sha1, "SHA1")] {
            let (request, _key) = seal_request(
                &public_key_pem,
                client_id,
                TaskKind::Form,
                cipher,
                &payload,
                mgf1,
            )
            .unwrap();

            let name = format!("{cipher}-{mgf1_name}");
            items.push(json!({
                "name": name,
                "cipher": cipher.as_str(),
                "client_id": client_id,
                "type": "form",
                "aes_key": request.aes_key,
                "mgf1": mgf1_name,
                "content": request.content,
                "SHA256": request.sha256,
            }));
            expected.insert(name, payload.clone());
        }
    }

    let private_key_path = fixture_dir().join("test_key.pem");
    let opened = open_in_python(&json!({"private_key_pem": private_key_path, "items": items}));
    assert_eq!(opened, Value::Object(expected));
}
