//! The command line. (Being an integration test of this package also makes `cargo test`
//! build the `chat-server` binary that the black-box tests in `tests/` run.)

use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_chat-server"))
}

#[test]
fn help_names_the_three_commands() {
    let out = bin().arg("--help").output().expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    for cmd in ["serve", "seed", "demo"] {
        assert!(text.contains(cmd), "{text}");
    }
    let out = bin().args(["serve", "--help"]).output().expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    for opt in [
        "--db",
        "--listen",
        "--admin-token",
        "--public-url",
        "CHAT_DB",
        "CHAT_LISTEN",
        "CHAT_ADMIN_TOKEN",
        "CHAT_PUBLIC_URL",
    ] {
        assert!(text.contains(opt), "{opt} in {text}");
    }
}

#[test]
fn seed_loads_a_file_and_reports_bad_ones() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("c.db");
    let good = dir.path().join("good.json");
    std::fs::write(
        &good,
        r#"{"organizations": [{"id": "7f9e9580-095b-42c7-838c-c04e667b26f7", "name": "Acme"}]}"#,
    )
    .expect("write");
    let out = bin()
        .args(["seed", "--db"])
        .arg(&db)
        .arg(&good)
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 organizations"));
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, r#"{"organisations": []}"#).expect("write");
    let out = bin()
        .args(["seed", "--db"])
        .arg(&db)
        .arg(&bad)
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("seed was not loaded"));
    let out = bin()
        .args(["serve", "--db"])
        .arg(&db)
        .args(["--admin-token", "short"])
        .output()
        .expect("run");
    assert!(!out.status.success());
}
