//! The server's connection limits and timeouts (docs/OPERATING.md): a flood of slow
//! connections is bounded and cleared, stalled bodies and requests are answered, idle
//! keep-alive connections are closed.

mod support;

use serde_json::Value;
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};
use support::*;

fn addr(s: &Server) -> String {
    s.base.trim_start_matches("http://").to_string()
}

/// Reads until the server closes the connection or `limit` passes; what was read and when
/// the read ended.
fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> (Vec<u8>, Duration, bool) {
    let start = Instant::now();
    let mut out = vec![];
    let mut buf = [0u8; 4096];
    loop {
        let left = limit.saturating_sub(start.elapsed());
        if left.is_zero() {
            return (out, start.elapsed(), false);
        }
        stream.set_read_timeout(Some(left)).unwrap();
        match stream.read(&mut buf) {
            Ok(0) => return (out, start.elapsed(), true),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => {
                return (out, start.elapsed(), true);
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return (out, start.elapsed(), false);
            }
            Err(e) => panic!("read: {e}"),
        }
    }
}

/// Reads one response with a `Content-Length` body: status and body.
fn read_response(stream: &mut TcpStream, limit: Duration) -> (u16, Vec<u8>) {
    stream.set_read_timeout(Some(limit)).unwrap();
    let mut data = vec![];
    let mut buf = [0u8; 4096];
    loop {
        if let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&data[..end]).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map(|v| v.trim().parse().unwrap())
                .unwrap_or(0);
            if data.len() >= end + 4 + length {
                let status = head[9..12].parse().unwrap();
                return (status, data[end + 4..end + 4 + length].to_vec());
            }
        }
        let n = stream.read(&mut buf).expect("a response in time");
        assert!(n > 0, "closed before a complete response: {data:?}");
        data.extend_from_slice(&buf[..n]);
    }
}

#[track_caller]
fn assert_json_error(body: &[u8], code: &str) {
    let v: Value = serde_json::from_slice(body)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(body)));
    assert_error_body(&v);
    assert_eq!(v["code"], code, "{v}");
}

/// How many client connections the server holds open (Linux): its descriptors that are TCP
/// sockets on its own port, the listening socket aside. Counting these, rather than all its
/// descriptors, leaves out the database's connections, which a pool opens as it needs them.
fn client_connections(s: &Server) -> usize {
    let port = addr(s)
        .rsplit_once(':')
        .and_then(|(_, p)| p.parse::<u16>().ok())
        .expect("port");
    let mut accepted = std::collections::HashSet::new();
    for table in ["tcp", "tcp6"] {
        let text = std::fs::read_to_string(format!("/proc/{}/net/{table}", s.child.id()))
            .unwrap_or_default();
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            let local_port = f
                .get(1)
                .and_then(|a| a.rsplit_once(':'))
                .and_then(|(_, p)| u16::from_str_radix(p, 16).ok());
            // State 0A is LISTEN.
            if local_port == Some(port)
                && f.get(3) != Some(&"0A")
                && let Some(inode) = f.get(9)
            {
                accepted.insert(format!("socket:[{inode}]"));
            }
        }
    }
    std::fs::read_dir(format!("/proc/{}/fd", s.child.id()))
        .expect("/proc/<pid>/fd")
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter(|target| accepted.contains(target.to_string_lossy().as_ref()))
        .count()
}

#[test]
#[cfg(target_os = "linux")]
fn a_flood_of_partial_requests_is_capped_and_cleared_and_a_real_request_is_served() {
    const CAP: usize = 40;
    const FLOOD: usize = 300;
    let s = Server::with_seed_and(
        &seed(),
        &[
            "--max-connections",
            &CAP.to_string(),
            "--header-read-timeout-secs",
            "1",
        ],
    );
    let addr = addr(&s);
    let mut flood: Vec<TcpStream> = (0..FLOOD)
        .map(|_| {
            let mut c = TcpStream::connect(&addr).unwrap();
            c.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
                .unwrap();
            c
        })
        .collect();
    // The server holds at most CAP of them at once.
    let start = Instant::now();
    let mut most = 0;
    while start.elapsed() < Duration::from_millis(1500) {
        most = most.max(client_connections(&s));
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        most <= CAP + 2,
        "{most} client connections open (cap {CAP})"
    );
    assert!(
        most >= CAP / 2,
        "only {most} client connections seen: the count is off"
    );
    // A real request waits its turn and is answered.
    let mut real = TcpStream::connect(&addr).unwrap();
    real.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let (status, body) = read_response(&mut real, Duration::from_secs(30));
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    // Every partial request is dropped at the header-read timeout: 300 / 40 rounds of 1 s.
    let deadline = Instant::now() + Duration::from_secs(30);
    for (i, c) in flood.iter_mut().enumerate() {
        let left = deadline.saturating_duration_since(Instant::now());
        let (got, _, closed) = read_until_closed(c, left.max(Duration::from_millis(1)));
        assert!(closed, "partial request {i} still open after 30 s");
        assert!(got.is_empty(), "{}", String::from_utf8_lossy(&got));
    }
    // Then requests are served at once again.
    let t = Instant::now();
    s.get("/healthz", "").expect(200);
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
}

#[test]
fn a_body_shorter_than_its_length_is_answered_408_at_the_body_read_timeout() {
    let s = Server::with_seed_and(&seed(), &["--body-read-timeout-secs", "1"]);
    let mut c = TcpStream::connect(addr(&s)).unwrap();
    write!(
        c,
        "POST /api/v5/users/{ANN}/chats HTTP/1.1\r\nHost: x\r\nAuthorization: Token {ANN_T}\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"a\":"
    )
    .unwrap();
    let start = Instant::now();
    let (status, body) = read_response(&mut c, Duration::from_secs(10));
    assert_eq!(status, 408, "{}", String::from_utf8_lossy(&body));
    assert_json_error(&body, "request_timeout");
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    // Nothing was created.
    let chats = s.get(&format!("/api/v5/users/{ANN}/chats"), ANN_T);
    assert_eq!(chats.expect(200)["results"].as_array().unwrap().len(), 0);
}

#[test]
fn a_request_still_unanswered_at_the_request_timeout_is_answered_503() {
    // The body trickles in faster than the body-read timeout, so only the request timeout
    // can end it.
    let s = Server::with_seed_and(
        &seed(),
        &[
            "--request-timeout-secs",
            "2",
            "--body-read-timeout-secs",
            "5",
        ],
    );
    let mut c = TcpStream::connect(addr(&s)).unwrap();
    write!(
        c,
        "POST /api/v5/users/{ANN}/chats HTTP/1.1\r\nHost: x\r\nAuthorization: Token {ANN_T}\r\n\
         Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
    )
    .unwrap();
    let start = Instant::now();
    let mut reader = c.try_clone().unwrap();
    let trickle = std::thread::spawn(move || {
        for _ in 0..40 {
            std::thread::sleep(Duration::from_millis(250));
            if c.write_all(b" ").is_err() {
                break;
            }
        }
    });
    let (status, body) = read_response(&mut reader, Duration::from_secs(15));
    let took = start.elapsed();
    assert_eq!(status, 503, "{}", String::from_utf8_lossy(&body));
    assert_json_error(&body, "request_timeout");
    assert!(
        took >= Duration::from_millis(1500) && took < Duration::from_secs(6),
        "{took:?}"
    );
    drop(reader);
    trickle.join().unwrap();
}

#[test]
fn an_idle_keep_alive_connection_is_closed_and_a_busy_one_is_not() {
    let s = Server::with_seed_and(
        &seed(),
        &[
            "--keep-alive-timeout-secs",
            "1",
            "--header-read-timeout-secs",
            "30",
        ],
    );
    let mut c = TcpStream::connect(addr(&s)).unwrap();
    // Requests closer together than the idle timeout keep the connection.
    for _ in 0..4 {
        c.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let (status, _) = read_response(&mut c, Duration::from_secs(10));
        assert_eq!(status, 200);
        std::thread::sleep(Duration::from_millis(500));
    }
    // Then, idle, it is closed after the idle timeout (long before the header-read timeout).
    let (got, took, closed) = read_until_closed(&mut c, Duration::from_secs(10));
    assert!(closed, "still open after 10 s idle");
    assert!(got.is_empty(), "{}", String::from_utf8_lossy(&got));
    assert!(took < Duration::from_secs(3), "{took:?}");
}

#[test]
fn limits_out_of_range_are_refused_at_start() {
    for (flag, value) in [
        ("--max-connections", "0"),
        ("--header-read-timeout-secs", "0"),
        ("--body-read-timeout-secs", "0"),
        ("--keep-alive-timeout-secs", "0"),
        ("--request-timeout-secs", "0"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let out = std::process::Command::new(server_bin())
            .args(["serve", "--listen", "127.0.0.1:0", "--db"])
            .arg(dir.path().join("chat.db"))
            .args([flag, value])
            .output()
            .unwrap();
        assert!(!out.status.success(), "{flag} {value} was accepted");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(flag), "{flag}: {err}");
        assert!(
            !dir.path().join("chat.db").exists(),
            "{flag}: database opened"
        );
    }
}
