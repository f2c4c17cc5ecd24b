//! The one-shot commands and start-up options of the real `docsnap-server` binary.

#![allow(clippy::unwrap_used)]

use std::process::{Command, Output};

use serde_json::{Value, json};
use tests::{Server, blank_form, fixture, letter, server_binary};

fn run(args: &[&str]) -> Output {
    Command::new(server_binary())
        .args(args)
        .env_remove("DOCSNAP_LLM_API_KEY")
        .output()
        .unwrap()
}

fn stdout_json(output: &Output) -> Value {
    assert!(
        output.status.success(),
        "exit {:?}: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

fn write_page(dir: &std::path::Path, name: &str, bytes: &[u8]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path.to_str().unwrap().to_owned()
}

#[test]
fn keygen_creates_key_once() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let data_dir = data_dir.to_str().unwrap();

    let first = run(&["keygen", "--data-dir", data_dir]);
    let second = run(&["keygen", "--data-dir", data_dir]);

    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let text = String::from_utf8(first.stdout).unwrap();
    assert!(text.starts_with("fingerprint: "), "{text}");
    assert!(text.contains("-----BEGIN PUBLIC KEY-----"), "{text}");
    assert_eq!(text, String::from_utf8(second.stdout).unwrap());
}

#[test]
fn process_form_prints_result() {
    let dir = tempfile::tempdir().unwrap();
    let image = write_page(dir.path(), "form.png", &blank_form());

    let result = stdout_json(&run(&["process", "--type", "form", &image]));

    assert!(result["title"].is_string(), "{result}");
    assert!(result["kv"]["Form Type"].is_string(), "{result}");
    let fields = result["fields"].as_array().unwrap();
    assert!(fields.contains(&json!("Email")), "{result}");
}

#[test]
fn process_doc_reads_file_library() {
    let dir = tempfile::tempdir().unwrap();
    let image = write_page(dir.path(), "letter.png", &letter());
    let library = dir.path().join("lib.json");
    std::fs::write(
        &library,
        json!({"doc": [{"id": "a1", "title": "Passport"}]}).to_string(),
    )
    .unwrap();

    let result = stdout_json(&run(&[
        "process",
        "--type",
        "doc",
        &image,
        "--file-lib",
        library.to_str().unwrap(),
    ]));

    assert_eq!(result["kv"]["Phone Number"], "0113 496 0123", "{result}");
    assert!(result.get("fields").is_none(), "{result}");
    for related in result["related"].as_array().unwrap() {
        assert_eq!(related["resource_id"], "a1", "{result}");
    }
}

#[test]
fn fill_prints_sourced_values() {
    let dir = tempfile::tempdir().unwrap();
    let form = dir.path().join("form.json");
    std::fs::write(
        &form,
        json!({"fields": ["Full Name (English/Latin)"]}).to_string(),
    )
    .unwrap();
    let library = dir.path().join("lib.json");
    let entry = json!({"resource_id": "p1", "title": "Passport", "kv": {"Full Name (English/Latin)": "Jane Example"}});
    std::fs::write(&library, json!({"docs": [entry]}).to_string()).unwrap();

    let result = stdout_json(&run(&[
        "fill",
        form.to_str().unwrap(),
        "--file-lib",
        library.to_str().unwrap(),
    ]));

    let expected = json!({"value": "Jane Example", "source": {"type": "doc", "resource_id": "p1"}});
    assert_eq!(result["Full Name (English/Latin)"], expected, "{result}");
}

#[test]
fn ocr_prints_page_markers() {
    let dir = tempfile::tempdir().unwrap();
    let first = write_page(dir.path(), "letter.png", &letter());
    let second = write_page(
        dir.path(),
        "letter_page2.png",
        &fixture("ocr/letter_page2.png"),
    );

    let output = run(&["ocr", &first, &second]);

    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(text.starts_with("----page 1----\n"), "{text}");
    assert!(text.contains("\n----page 2----\nDeclaration\n"), "{text}");
    assert!(text.contains("Name: Jane Example"), "{text}");
}

#[test]
fn missing_image_names_the_path() {
    let output = run(&["process", "--type", "doc", "/no/such/page.png"]);

    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("/no/such/page.png"), "{stderr}");
}

#[test]
fn invalid_environment_names_the_variable() {
    let output = Command::new(server_binary())
        .args(["keygen"])
        .env("DOCSNAP_WORKERS", "many")
        .output()
        .unwrap();

    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("DOCSNAP_WORKERS"), "{stderr}");
}

#[test]
fn help_states_units_and_defaults() {
    let output = run(&["--help"]);
    let help = String::from_utf8(output.stdout).unwrap();

    for expected in [
        "[default: 127.0.0.1:8000]",
        "[env: DOCSNAP_LISTEN]",
        "[env: DOCSNAP_DATA_DIR]",
        "in bytes",
        "DOCSNAP_LLM_API_KEY",
        "--llm-preset",
    ] {
        assert!(help.contains(expected), "help lacks {expected:?}");
    }
}

#[tokio::test]
async fn config_file_sets_api_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("docsnap.toml");
    std::fs::write(&config, "api_prefix = \"/v2\"\n[service]\nworkers = 1\n").unwrap();
    let server = Server::start(
        &dir.path().join("data"),
        &["--config", config.to_str().unwrap()],
        &[],
    );
    let http = reqwest::Client::new();

    let response = http
        .get(server.url("/v2/check_status"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    let response = http
        .get(server.url("/api/v1/check_status"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
}

#[tokio::test]
async fn ocr_role_serves_only_ocr() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--role", "ocr"], &[]);
    let http = reqwest::Client::new();

    let response = http
        .post(server.url("/process"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);

    let response = http
        .post(server.url("/ocr"))
        .body(letter())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    let response = http.get(server.url("/readyz")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        !dir.path().join("docsnap.db").exists(),
        "an OCR-only server must not open the task store"
    );
}

#[test]
fn keygen_bad_data_dir_names_fix() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_page(dir.path(), "not-a-dir", b"x");
    let data_dir = format!("{file}/data");

    let output = run(&["keygen", "--data-dir", &data_dir]);

    assert!(!output.status.success());
    let stderr = String::from_utf8(output.stderr).unwrap();
    let line = stderr
        .lines()
        .find(|line| line.starts_with("error: "))
        .unwrap();
    assert!(line.contains(&data_dir), "{line}");
    assert!(line.contains("--data-dir"), "{line}");
    assert_eq!(line.matches("Not a directory").count(), 1, "{line}");
}

#[test]
fn invalid_image_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let good = write_page(dir.path(), "letter.png", &letter());
    let text = write_page(dir.path(), "notes.txt", b"not an image");

    for command in [&["ocr"][..], &["process", "--type", "doc"][..]] {
        let mut args = command.to_vec();
        args.extend([good.as_str(), text.as_str()]);

        let output = run(&args);

        assert!(!output.status.success(), "{command:?}");
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert!(stderr.contains(&text), "{command:?}: {stderr}");
    }
}

#[test]
fn command_error_printed_once() {
    let output = run(&["ocr", "/no/such/scan.png"]);

    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.matches("/no/such/scan.png").count(), 1, "{stderr}");
}

#[test]
fn fill_rejects_non_object_json() {
    let dir = tempfile::tempdir().unwrap();
    let array = write_page(dir.path(), "array.json", b"[]");
    let form = write_page(dir.path(), "form.json", br#"{"fields": ["Email"]}"#);
    let library = write_page(dir.path(), "lib.json", br#"{"docs": []}"#);

    for (form, library) in [(&array, &library), (&form, &array)] {
        let output = run(&["fill", "--file-lib", library, form]);

        assert!(!output.status.success(), "{form} {library}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(&array), "{stderr}");
        assert!(stderr.contains("expected an object"), "{stderr}");
    }
}
