//! A file database serves reads from its reader connections while a write transaction is open
//! (what lets the HTTP server answer GETs during a slow write).

use chat_core::{Actor, Engine};
use std::sync::mpsc;
use std::time::{Duration, Instant};

#[test]
fn reads_complete_while_a_write_is_in_progress() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path().join("chat.db")).unwrap();
    engine
        .load_seed_json(
            r#"{"organizations": [{"id": "7f9e9580-095b-42c7-838c-c04e667b26f7", "name": "Acme"}],
                "users": [{"id": "bed3221e-879e-43df-8d0e-d63f8c1f012d", "organization_id": "7f9e9580-095b-42c7-838c-c04e667b26f7",
                           "first_name": "Ann", "last_name": "Lee", "api_token": "ann-secret-token-123"}]}"#,
        )
        .unwrap();
    let ann = engine.authenticate("ann-secret-token-123").unwrap();
    assert!(matches!(ann, Actor::User(_)));
    let (started_tx, started_rx) = mpsc::channel();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    std::thread::scope(|scope| {
        let e = &engine;
        scope.spawn(move || {
            e.sqlite_store()
                .unwrap()
                .write(move |_tx| {
                    started_tx.send(()).unwrap();
                    let _ = release_rx.recv_timeout(Duration::from_secs(10));
                    Ok(())
                })
                .unwrap();
        });
        started_rx.recv().unwrap();
        let t = Instant::now();
        for _ in 0..20 {
            let me = engine.me(&ann).unwrap();
            assert_eq!(me.first_name, "Ann");
        }
        assert!(
            t.elapsed() < Duration::from_secs(2),
            "reads waited for the writer: {:?}",
            t.elapsed()
        );
        release_tx.send(()).unwrap();
    });
}
