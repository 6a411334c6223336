//! The visitor widget and the operator desk in headless Chromium against a real `chat-server`.
//!
//! The visitor's page is served from a second loopback port (another origin, allowed with
//! `--widget-origins`); the desk from the server's own. The visitor writes, the desk sees the
//! chat waiting, joins and answers, the visitor sees the answer; the server restarts on the same
//! database and port (every WebSocket drops) while an answer is sent; the visitor picks a button,
//! the desk tags, invites a team and ends the chat. The widget must then show every message of
//! the chat exactly once. Screenshots of both panes go to `target/web-screenshots/`.
//!
//! Needs `chromium` and `chromedriver` (`.ci/run` installs them; `CHROMIUM` and `CHROMEDRIVER`
//! name other paths). Without them the test fails: it never skips.

mod support;

use base64::Engine as _;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use support::{ADMIN, server_bin};

const WAIT: Duration = Duration::from_secs(20);
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

fn tool(env: &str, default: &str) -> PathBuf {
    let path = PathBuf::from(std::env::var(env).unwrap_or_else(|_| default.to_string()));
    assert!(
        path.exists(),
        "{} is missing: the browser test needs Chromium and chromedriver \
         (`apt-get install chromium chromium-driver`, as .ci/run does, or set {env})",
        path.display()
    );
    path
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A child process killed when the test ends, however it ends.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `chat-server <cmd>` on a fixed port (the widget's page names the server's URL, so a
/// restarted server must come back on the same one). Returns the process and what it printed
/// before listening.
fn spawn_server(dir: &Path, cmd: &str, port: u16, widget_origin: &str) -> (Killed, Vec<String>) {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("server.log"))
        .expect("log file");
    let start = Instant::now();
    loop {
        let mut child = Command::new(server_bin())
            .arg(cmd)
            .arg("--db")
            .arg(dir.join("chat.db"))
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(["--admin-token", ADMIN, "--widget-origins", widget_origin])
            .env_remove("CHAT_PUBLIC_URL")
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log.try_clone().expect("log file")))
            .spawn()
            .expect("spawn chat-server");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let mut banner = vec![];
        let listening = loop {
            match lines.next() {
                Some(Ok(l)) if l.starts_with("chat-server listening on ") => break true,
                Some(Ok(l)) => banner.push(l),
                _ => break false,
            }
        };
        if listening {
            std::thread::spawn(move || for _ in lines {});
            return (Killed(child), banner);
        }
        // The port may linger for a moment after the previous server stopped.
        let _ = child.wait();
        assert!(
            start.elapsed() < WAIT,
            "chat-server did not start on port {port}: {banner:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn terminate(server: &mut Killed) {
    let ok = Command::new("kill")
        .args(["-TERM", &server.0.id().to_string()])
        .status()
        .expect("kill");
    assert!(ok.success());
    let start = Instant::now();
    while server.0.try_wait().expect("wait").is_none() {
        assert!(start.elapsed() < WAIT, "the server did not stop");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Serves `page` as `/` on `listener` (the embedding site's origin).
fn serve_page(listener: TcpListener, page: String) {
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let page = page.clone();
            std::thread::spawn(move || answer_page(stream, &page));
        }
    });
}

fn answer_page(mut stream: TcpStream, page: &str) {
    let mut buf = [0u8; 4096];
    let mut head = Vec::new();
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let root = head.starts_with(b"GET / ");
    let (status, body) = if root {
        ("200 OK", page)
    } else {
        ("404 Not Found", "")
    };
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}

/// One browser (a WebDriver session of chromedriver).
struct Browser {
    http: reqwest::blocking::Client,
    session: String,
    name: &'static str,
}

impl Browser {
    fn start(driver: &str, chromium: &Path, profile: &Path, name: &'static str) -> Browser {
        let http = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .expect("client");
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--no-first-run", "--disable-background-networking", "--disable-component-update",
                         "--disable-sync", "--window-size=1100,800",
                         format!("--user-data-dir={}", profile.display())]
            }
        }}});
        let res: Value = http
            .post(format!("{driver}/session"))
            .json(&caps)
            .send()
            .and_then(|r| r.json())
            .expect("new WebDriver session");
        let session = res["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("chromedriver did not start Chromium: {res}"))
            .to_string();
        Browser {
            http,
            session: format!("{driver}/session/{session}"),
            name,
        }
    }

    fn command(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut req = self.http.request(method, format!("{}{path}", self.session));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res: Value = req
            .send()
            .and_then(|r| r.json())
            .unwrap_or_else(|e| panic!("{}: WebDriver {path}: {e}", self.name));
        if res["value"].get("error").is_some() {
            panic!("{}: WebDriver {path}: {}", self.name, res["value"]);
        }
        res["value"].clone()
    }

    fn goto(&self, url: &str) {
        self.command(reqwest::Method::POST, "/url", Some(json!({"url": url})));
    }

    /// Runs `script` (a function body; `arguments` are `args`) in the page.
    fn js(&self, script: &str, args: Value) -> Value {
        self.command(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({"script": script, "args": args})),
        )
    }

    /// Polls `script` until it returns something other than null/false/"".
    #[track_caller]
    fn wait(&self, what: &str, script: &str, args: Value) -> Value {
        let start = Instant::now();
        loop {
            let v = self.js(script, args.clone());
            if !(v.is_null() || v == json!(false) || v == json!("")) {
                return v;
            }
            if start.elapsed() > WAIT {
                self.screenshot(&format!("{}-failed", self.name));
                panic!("{}: timed out waiting for {what}", self.name);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The element `script` returns (waiting for it to exist).
    #[track_caller]
    fn element(&self, what: &str, script: &str, args: Value) -> String {
        let v = self.wait(what, script, args);
        v[ELEMENT_KEY]
            .as_str()
            .unwrap_or_else(|| panic!("{}: {what} is not an element: {v}", self.name))
            .to_string()
    }

    fn click(&self, element: &str) {
        self.command(
            reqwest::Method::POST,
            &format!("/element/{element}/click"),
            Some(json!({})),
        );
    }

    fn type_text(&self, element: &str, text: &str) {
        self.command(
            reqwest::Method::POST,
            &format!("/element/{element}/value"),
            Some(json!({"text": text})),
        );
    }

    fn screenshot(&self, name: &str) {
        let png = self.command(reqwest::Method::GET, "/screenshot", None);
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(png.as_str().unwrap_or_default())
            .expect("screenshot base64");
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/web-screenshots");
        std::fs::create_dir_all(&dir).expect("screenshot directory");
        std::fs::write(dir.join(format!("{name}.png")), bytes).expect("write screenshot");
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.http.delete(&self.session).send();
    }
}

/// The value after `label` on a line of the demo's banner.
fn banner_value(banner: &[String], label: &str) -> String {
    banner
        .iter()
        .find_map(|l| {
            let rest = l.trim_start().strip_prefix(label)?;
            rest.split_whitespace().next().map(str::to_owned)
        })
        .unwrap_or_else(|| panic!("the demo did not print \"{label}\": {banner:#?}"))
}

/// In the visitor's page: the widget's shadow root.
const SHADOW: &str = "const root = document.querySelector('#chat-widget')?.shadowRoot;";

#[test]
fn visitor_widget_and_operator_desk_converse_across_a_server_restart() {
    let chromium = tool("CHROMIUM", "/usr/bin/chromium");
    let chromedriver = tool("CHROMEDRIVER", "/usr/bin/chromedriver");
    let dir = tempfile::tempdir().expect("tempdir");

    // The embedding site's origin first: the server is told to allow it.
    let server_port = free_port();
    let server = format!("http://127.0.0.1:{server_port}");
    let site_listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let page_port = site_listener.local_addr().expect("addr").port();
    let site = format!("http://127.0.0.1:{page_port}");

    let (mut chat_server, banner) = spawn_server(dir.path(), "demo", server_port, &site);
    let desk_link = banner_value(&banner, "operator desk (signed in as Ann)");
    assert!(
        desk_link.starts_with(&format!("{server}/desk/#token=ct_")),
        "the desk link carries the token in the fragment: {desk_link}"
    );
    let demo_link = banner_value(&banner, "visitor page with the widget");
    let ann_token = desk_link
        .split("#token=")
        .nth(1)
        .expect("token")
        .to_string();
    let ann = banner_value(&banner, "Ann Lee (reports, settings)  user");
    let bob = banner_value(&banner, "Bob Stone                    user");
    let demo_query: Vec<(String, String)> = url_query(&demo_link);
    let org = demo_query
        .iter()
        .find(|(k, _)| k == "org")
        .expect("org")
        .1
        .clone();
    let room = demo_query
        .iter()
        .find(|(k, _)| k == "room")
        .expect("room")
        .1
        .clone();

    let http = reqwest::blocking::Client::new();
    let api = |method: reqwest::Method, path: &str, body: Option<Value>| -> Value {
        let mut req = http
            .request(method, format!("{server}/api/v5{path}"))
            .header("Authorization", format!("Token {ann_token}"));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().expect("API call");
        assert!(res.status().is_success(), "{path}: {}", res.status());
        res.json().expect("JSON")
    };
    let team = api(
        reqwest::Method::POST,
        &format!("/orgs/{org}/teams"),
        Some(json!({"name": "Billing", "member_ids": [bob]})),
    );

    serve_page(
        site_listener,
        format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Shop</title></head>\
             <body><h1>A shop on another origin</h1>\
             <script src=\"{server}/widget.js\" data-org=\"{org}\" data-room=\"{room}\" async></script></body></html>"
        ),
    );

    let driver_port = free_port();
    let _driver = Killed(
        Command::new(&chromedriver)
            .arg(format!("--port={driver_port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", chromedriver.display())),
    );
    let driver = format!("http://127.0.0.1:{driver_port}");
    support::wait_until("chromedriver", WAIT, || {
        http.get(format!("{driver}/status"))
            .send()
            .and_then(|r| r.json::<Value>())
            .is_ok_and(|v| v["value"]["ready"] == json!(true))
    });
    let desk = Browser::start(&driver, &chromium, &dir.path().join("desk-profile"), "desk");
    let visitor = Browser::start(
        &driver,
        &chromium,
        &dir.path().join("visitor-profile"),
        "visitor",
    );

    // The desk signs in from the link; the token leaves the address bar.
    desk.goto(&desk_link);
    desk.wait(
        "the signed-in desk",
        "return document.getElementById('whoami').textContent.includes('Ann Lee') && location.hash === ''",
        json!([]),
    );
    desk.wait(
        "the live connection",
        "return document.getElementById('connection').dataset.connected === 'true'",
        json!([]),
    );
    let clients = api(reqwest::Method::GET, &format!("/users/{ann}/clients"), None);
    // The demo's own presence never expires; the desk's is renewed while it is open.
    let renewed = clients["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter(|c| !c["expires_at"].is_null())
        .count();
    assert_eq!(renewed, 1, "the desk keeps one presence client: {clients}");

    // The visitor writes from the other origin.
    visitor.goto(&format!("{site}/"));
    let launcher = visitor.element(
        "the launcher",
        &format!("{SHADOW} return root?.querySelector('.launcher')"),
        json!([]),
    );
    visitor.click(&launcher);
    let input = visitor.element(
        "the message box",
        &format!("{SHADOW} return root?.querySelector('#chat-input')"),
        json!([]),
    );
    visitor.type_text(&input, "Hello from the shop");
    let send = visitor.element(
        "the send button",
        &format!("{SHADOW} return root?.querySelector('form button[type=submit]')"),
        json!([]),
    );
    visitor.click(&send);
    let storage_key = format!("chat-widget:{org}");
    let chat = visitor.wait(
        "the stored chat",
        "return JSON.parse(localStorage.getItem(arguments[0]) || '{}').chatId",
        json!([storage_key]),
    );
    let chat = chat.as_str().expect("chat id").to_string();
    visitor.wait(
        "the visitor's own message",
        &format!(
            "{SHADOW} return [...root.querySelectorAll('li.mine')].some(li => li.textContent.includes('Hello from the shop'))"
        ),
        json!([]),
    );

    // The desk sees it waiting, joins and answers.
    let join = desk.element(
        "the waiting chat",
        "return document.querySelector(`#pending li[data-chat-id=\"${arguments[0]}\"] button`)",
        json!([chat]),
    );
    desk.click(&join);
    desk.wait(
        "the visitor's message in the desk",
        "return document.getElementById('chat').dataset.chatId === arguments[0] && document.getElementById('messages').textContent.includes('Hello from the shop')",
        json!([chat]),
    );
    desk.wait(
        "the joined chat to leave the waiting list",
        "return !document.querySelector(`#pending li[data-chat-id=\"${arguments[0]}\"]`)",
        json!([chat]),
    );
    // The visitor types: the desk shows it.
    visitor.type_text(&input, "Where is");
    desk.wait(
        "the visitor typing",
        "return document.getElementById('chat-status').textContent.includes('typing')",
        json!([]),
    );
    let desk_input = desk.element(
        "the desk's message box",
        "return document.getElementById('message')",
        json!([]),
    );
    desk.type_text(&desk_input, "Hi, Ann here. How can I help?");
    // The operator types: the widget says so (the desk sets its composing status; the
    // widget follows the chat's memberships), in a polite live region.
    let members = api(
        reqwest::Method::GET,
        &format!("/users/{ann}/chats/{chat}/memberships"),
        None,
    );
    let public_name = members["results"]
        .as_array()
        .expect("results")
        .iter()
        .find(|m| m["member_id"] == ann.as_str())
        .and_then(|m| m["member_public_name"].as_str())
        .expect("Ann's public name")
        .to_string();
    visitor.wait(
        "the operator typing in the widget",
        &format!(
            "{SHADOW} const t = root.querySelector('.typing'); return t.getAttribute('aria-live') === 'polite' && t.textContent === arguments[0]"
        ),
        json!([format!("{public_name} is typing…")]),
    );
    desk.click(&desk.element(
        "the desk's send button",
        "return document.querySelector('#compose button')",
        json!([]),
    ));
    visitor.wait(
        "the operator's answer",
        &format!(
            "{SHADOW} return [...root.querySelectorAll('li.theirs')].some(li => li.textContent.includes('How can I help?'))"
        ),
        json!([]),
    );
    visitor.wait(
        "the typing notice gone once the operator sent",
        &format!("{SHADOW} return root.querySelector('.typing').textContent === ''"),
        json!([]),
    );

    // Every WebSocket drops: the server restarts on the same database and port, and an answer is
    // sent while the widget reconnects.
    terminate(&mut chat_server);
    visitor.wait(
        "the widget to notice the dropped connection",
        &format!("{SHADOW} return root.querySelector('.log').dataset.connected === 'false'"),
        json!([]),
    );
    chat_server = spawn_server(dir.path(), "serve", server_port, &site).0;
    api(
        reqwest::Method::POST,
        &format!("/users/{ann}/chats/{chat}/messages"),
        Some(json!({"message": "Sent across the restart"})),
    );
    visitor.wait(
        "the answer sent across the restart",
        &format!(
            "{SHADOW} return root.querySelector('.log').textContent.includes('Sent across the restart')"
        ),
        json!([]),
    );
    desk.wait(
        "the desk to reconnect",
        "return document.getElementById('connection').dataset.connected === 'true'",
        json!([]),
    );

    // The desk offers options; the visitor picks one.
    desk.click(&desk.element(
        "the options summary",
        "return document.querySelector('#chat details summary')",
        json!([]),
    ));
    desk.type_text(
        &desk.element(
            "the question",
            "return document.getElementById('offer-text')",
            json!([]),
        ),
        "Which topic?",
    );
    desk.type_text(
        &desk.element(
            "the options",
            "return document.getElementById('offer-options')",
            json!([]),
        ),
        "Delivery, Billing",
    );
    desk.click(&desk.element(
        "the offer button",
        "return document.querySelector('#offer button')",
        json!([]),
    ));
    let choice = visitor.element(
        "the Delivery button",
        &format!(
            "{SHADOW} return [...root.querySelectorAll('button.action')].find(b => b.textContent === 'Delivery' && !b.disabled)"
        ),
        json!([]),
    );
    visitor.click(&choice);
    desk.wait(
        "the visitor's choice in the desk",
        "return document.getElementById('messages').textContent.includes('Chose: Delivery')",
        json!([]),
    );
    visitor.wait(
        "the options disabled once chosen",
        &format!(
            "{SHADOW} const b = [...root.querySelectorAll('button.action')]; return b.length === 2 && b.every(x => x.disabled)"
        ),
        json!([]),
    );
    let message_ids = |b: &Browser| -> Vec<String> {
        let v = b.js(
            &format!(
                "{SHADOW} return [...root.querySelectorAll('.log li')].map(li => li.dataset.messageId)"
            ),
            json!([]),
        );
        serde_json::from_value(v).expect("ids")
    };
    let before_reload = message_ids(&visitor);

    // A reload keeps the visitor and the chat (visitor_secret_id in localStorage).
    visitor.goto(&format!("{site}/"));
    visitor.wait(
        "the resumed chat after a reload",
        &format!(
            "{SHADOW} return root && root.querySelectorAll('.log li').length === arguments[0]"
        ),
        json!([before_reload.len()]),
    );
    assert_eq!(
        message_ids(&visitor),
        before_reload,
        "the reloaded widget shows the same chat"
    );

    // The desk tags, invites the team and ends the chat.
    desk.type_text(
        &desk.element(
            "the tag box",
            "return document.getElementById('tag-name')",
            json!([]),
        ),
        "delivery",
    );
    desk.click(&desk.element(
        "the tag button",
        "return document.querySelector('#tag button')",
        json!([]),
    ));
    desk.wait(
        "the tag",
        "return document.getElementById('tags').textContent.includes('delivery')",
        json!([]),
    );
    desk.wait(
        "the team in the invitation list",
        "return document.getElementById('invite-team').value === arguments[0]",
        json!([team["id"]]),
    );
    desk.click(&desk.element(
        "the invite button",
        "return document.querySelector('#invite button')",
        json!([]),
    ));
    desk.wait(
        "the invitation",
        "return document.getElementById('chat-status').textContent.includes('Team invited')",
        json!([]),
    );
    // The widget learns the chat's end from its events, not by asking: it reads the chat
    // only when it (re)connects, so over a few seconds of quiet it reads nothing.
    let chat_reads = "return performance.getEntriesByType('resource').filter(e => e.name.endsWith('/chats/' + arguments[0])).length";
    visitor.wait(
        "the widget connected",
        &format!("{SHADOW} return root.querySelector('.log').dataset.connected === 'true'"),
        json!([]),
    );
    let reads_before = visitor.js(chat_reads, json!([chat]));
    std::thread::sleep(Duration::from_millis(4000));
    assert_eq!(
        visitor.js(chat_reads, json!([chat])),
        reads_before,
        "the widget polls the chat"
    );
    desk.click(&desk.element(
        "the end button",
        "return document.getElementById('end-chat')",
        json!([]),
    ));
    let ending = Instant::now();
    desk.wait(
        "the end in the desk",
        "return !document.getElementById('chat-ended').hidden",
        json!([]),
    );
    visitor.wait(
        "the end in the widget",
        &format!("{SHADOW} return !root.querySelector('.ended').hidden"),
        json!([]),
    );
    let took = ending.elapsed();
    assert!(
        took < Duration::from_millis(2500),
        "the end reached the widget after {took:?}"
    );
    assert_eq!(
        visitor.js(chat_reads, json!([chat])),
        reads_before,
        "the end came from an event, not a read"
    );

    // Nothing lost, nothing doubled: the widget shows exactly the chat's messages, in order.
    let shown = message_ids(&visitor);
    let mut stored: Vec<String> = Vec::new();
    let mut page = api(
        reqwest::Method::GET,
        &format!("/users/{ann}/chats/{chat}/messages?page_size=100"),
        None,
    );
    loop {
        for m in page["results"].as_array().expect("results") {
            stored.push(m["id"].as_str().expect("id").to_string());
        }
        match page["next"].as_str() {
            Some(next) => {
                let path = next
                    .strip_prefix(&format!("{server}/api/v5"))
                    .expect("next link on the server")
                    .to_string();
                page = api(reqwest::Method::GET, &path, None);
            }
            None => break,
        }
    }
    stored.reverse(); // the API lists newest first
    assert_eq!(
        shown, stored,
        "the widget shows every message of the chat once, in order"
    );
    let tags = api(
        reqwest::Method::GET,
        &format!("/users/{ann}/chats/{chat}/tags"),
        None,
    );
    assert_eq!(tags["results"][0]["name"], "delivery", "{tags}");
    let invitations = api(
        reqwest::Method::GET,
        &format!("/users/{ann}/chats/{chat}/outgoing_chat_invitations"),
        None,
    );
    assert_eq!(
        invitations["results"][0]["invited_team_id"], team["id"],
        "{invitations}"
    );

    visitor.screenshot("visitor");
    desk.screenshot("desk");

    // No token in a URL the server saw: the logs hold request lines without query strings.
    terminate(&mut chat_server);
    let log = std::fs::read_to_string(dir.path().join("server.log")).unwrap_or_default();
    assert!(
        !log.contains(&ann_token),
        "the server log holds the operator's token"
    );
}

fn url_query(link: &str) -> Vec<(String, String)> {
    let query = link.split_once('?').map(|(_, q)| q).unwrap_or("");
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn browsers_of_other_origins_reach_only_the_public_api_of_allowed_widget_origins() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let server = format!("http://127.0.0.1:{port}");
    let site = "http://shop.example:8443";
    let (mut chat_server, _) = spawn_server(dir.path(), "serve", port, site);
    let http = reqwest::blocking::Client::new();
    let send = |method: reqwest::Method, path: &str, origin: &str| {
        http.request(method, format!("{server}{path}"))
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "POST")
            .send()
            .expect("request")
    };
    let auth = "/api/v5/public/orgs/01a2478f-e193-73eb-93bf-9f1f608e89a9/auth";

    let preflight = send(reqwest::Method::OPTIONS, auth, site);
    assert_eq!(preflight.status(), 204);
    assert_eq!(preflight.headers()["access-control-allow-origin"], site);
    assert!(
        preflight.headers()["access-control-allow-headers"]
            .to_str()
            .is_ok_and(|h| h.contains("authorization"))
    );
    let answer = send(reqwest::Method::POST, auth, site);
    assert_eq!(answer.headers()["access-control-allow-origin"], site);

    for (method, path) in [
        (reqwest::Method::OPTIONS, auth),
        (reqwest::Method::POST, auth),
        (reqwest::Method::GET, "/api/v5/realtime"),
    ] {
        let refused = send(method, path, "http://elsewhere.example");
        assert_eq!(refused.status(), 403, "{path}");
        assert!(
            refused
                .headers()
                .get("access-control-allow-origin")
                .is_none()
        );
    }
    // The operators' API answers browsers of the server's own origin only.
    let desk_api = send(reqwest::Method::GET, "/api/v5/users/me", site);
    assert_eq!(desk_api.status(), 403);
    let own = send(reqwest::Method::GET, "/api/v5/users/me", &server);
    assert_eq!(own.status(), 401, "same origin: authentication decides");

    let desk = http
        .get(format!("{server}/desk/"))
        .send()
        .expect("desk page");
    assert_eq!(desk.status(), 200);
    let csp = desk.headers()["content-security-policy"]
        .to_str()
        .expect("csp")
        .to_string();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    let widget = http
        .get(format!("{server}/widget.js"))
        .send()
        .expect("widget");
    assert_eq!(
        widget.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
    terminate(&mut chat_server);
}
