//! Crash recovery with real processes: a child process is killed with
//! SIGKILL while its task is queued or running, and a fresh child on the same
//! data directory completes the task.
//!
//! The test binary re-executes itself as the child: with `DOCSNAP_CRASH_CHILD`
//! set, a test runs the child's part instead of the parent's.
#![allow(clippy::unwrap_used)]

#[path = "fixtures/service/support.rs"]
mod support;

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use docsnap_core::envelope::{Cipher, ServerKey};
use docsnap_core::pipeline::{InnerPayload, Pipeline};
use docsnap_core::service::TaskService;
use docsnap_core::store::SqliteStore;
use docsnap_core::types::{TaskKind, TaskState};
use serde_json::{Value, json};
use support::{Client, FakePipeline, pages_payload, test_config};

const CHILD_ENV: &str = "DOCSNAP_CRASH_CHILD";
const DIR_ENV: &str = "DOCSNAP_CRASH_DIR";
const LIMIT: Duration = Duration::from_secs(120);

#[test]
fn killed_while_running_resumes() {
    if let Ok(mode) = std::env::var(CHILD_ENV) {
        return run_child(&mode);
    }
    crash_and_resume("killed_while_running_resumes", "hang", "running");
}

#[test]
fn killed_while_queued_resumes() {
    if let Ok(mode) = std::env::var(CHILD_ENV) {
        return run_child(&mode);
    }
    crash_and_resume("killed_while_queued_resumes", "queue", "queued");
}

/// Runs the parent's part: seals a request, lets a child submit it and die, lets a
/// second child finish it, and opens the result with the client's key.
fn crash_and_resume(test_name: &str, first_mode: &str, state_at_kill: &str) {
    let dir = tempfile::tempdir().unwrap();
    install_server_key(dir.path());
    let client = Client::new("client-crash");
    let sealed = client.seal(TaskKind::Form, Cipher::A256Gcm, &pages_payload("lib-crash"));
    let request = json!({"submit": sealed.body, "poll": client.poll_body(&sealed)});
    std::fs::write(dir.path().join("request.json"), request.to_string()).unwrap();

    let mut first = spawn_child(test_name, first_mode, dir.path());
    let ready_marker = if first_mode == "hang" {
        "PIPELINE_STARTED"
    } else {
        "SUBMITTED"
    };
    wait_for_line(&mut first, ready_marker);
    first.kill().unwrap();
    let status = first.wait().unwrap();
    assert!(
        !status.success(),
        "the first child should die from SIGKILL: {status}"
    );

    let db_path = dir.path().join(SqliteStore::FILE_NAME);
    let (state, has_content) = read_row(&db_path);
    assert_eq!(state, state_at_kill);
    assert!(
        has_content,
        "the ciphertext must survive the crash so the task can resume"
    );

    let mut second = spawn_child(test_name, "resume", dir.path());
    let result = wait_for_line(&mut second, "RESULT ");
    let status = second.wait().unwrap();
    assert!(status.success(), "the resuming child failed: {status}");

    let mut expected = FakePipeline::new().result.clone();
    expected["first_library_id"] = json!("lib-crash");
    expected["pages"] = json!(1);
    assert_eq!(client.open_result(&sealed, result.trim()), expected);
    let (state, has_content) = read_row(&db_path);
    assert_eq!(state, "completed");
    assert!(!has_content);
}

fn install_server_key(dir: &Path) {
    let path = dir.join(docsnap_core::envelope::PRIVATE_KEY_FILE);
    std::fs::write(&path, support::SERVER_KEY_PEM).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
}

fn spawn_child(test_name: &str, mode: &str, dir: &Path) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", test_name, "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, mode)
        .env(DIR_ENV, dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap()
}

/// Reads the child's stdout until a line contains `prefix` and returns the
/// rest of that line; kills the child and panics after `LIMIT`. The marker
/// may follow libtest's "test name ... " on the same line.
fn wait_for_line(child: &mut Child, prefix: &str) -> String {
    let stdout = child.stdout.take().unwrap();
    let (sender, receiver) = mpsc::channel();
    let wanted = prefix.to_owned();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        let found = lines.by_ref().map_while(Result::ok).find_map(|line| {
            let start = line.find(&wanted)?;
            Some(line[start + wanted.len()..].to_owned())
        });
        let _ = sender.send(found);
        // Keep draining, so the child never blocks on a full pipe.
        lines.for_each(drop);
    });

    match receiver.recv_timeout(LIMIT) {
        Ok(Some(rest)) => rest,
        outcome => {
            let _ = child.kill();
            panic!("the child never printed {prefix:?}: {outcome:?}");
        }
    }
}

/// Reads the task's state and whether its ciphertext is still stored.
fn read_row(db_path: &Path) -> (String, bool) {
    let conn = rusqlite::Connection::open(db_path).unwrap();
    conn.query_row(
        "SELECT state, content IS NOT NULL AND aes_key IS NOT NULL FROM tasks",
        [],
        |row| Ok((row.get(0)?, row.get(1)?)),
    )
    .unwrap()
}

/// A pipeline that announces each run on stdout before delegating.
#[derive(Debug)]
struct Announcing(Arc<FakePipeline>);

#[async_trait]
impl Pipeline for Announcing {
    async fn run(&self, kind: TaskKind, payload: InnerPayload) -> docsnap_core::Result<Value> {
        println!("PIPELINE_STARTED");
        std::io::stdout().flush().unwrap();
        self.0.run(kind, payload).await
    }
}

/// Runs the child's part: `queue` submits with no workers, `hang` submits and runs a
/// pipeline that never ends, `resume` starts workers and polls to the end.
fn run_child(mode: &str) {
    let dir = std::path::PathBuf::from(std::env::var(DIR_ENV).unwrap());
    let request: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("request.json")).unwrap()).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();

    runtime.block_on(async {
        let store = Arc::new(SqliteStore::open(&dir).unwrap());
        let key = Arc::new(ServerKey::load_or_generate(&dir).unwrap());
        let (pipeline, workers) = match mode {
            "queue" => (FakePipeline::new(), 0),
            "hang" => (FakePipeline::slow(Duration::from_secs(3600)), 1),
            _ => (FakePipeline::new(), 1),
        };
        let service = TaskService::new(
            store,
            key,
            Arc::new(Announcing(pipeline)),
            test_config(workers),
        );
        service.start().await.unwrap();

        if mode == "resume" {
            let state = support::wait_final(&service, &request["poll"], LIMIT).await;
            let TaskState::Completed { result } = state else {
                panic!("the resumed task ended as {state:?}");
            };
            println!("RESULT {result}");
            std::io::stdout().flush().unwrap();
            service.shutdown(Duration::from_secs(5)).await;
            return;
        }

        let state = service.submit(&request["submit"]).await.unwrap();
        println!("SUBMITTED {state:?}");
        std::io::stdout().flush().unwrap();
        // Wait for the parent's SIGKILL, bounded in case the parent died.
        let started = Instant::now();
        while started.elapsed() < LIMIT {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
}
