//! The guide's "Konnect UI" steps in headless Chromium (Debian's `chromium` and
//! `chromium-driver`, driven through WebDriver by fantoccini) against the real server on
//! an ephemeral port, with a screenshot of each step under `target/ui-screenshots/`.
//! `.ci/run` installs the browser; without it (outside CI) the test says so and passes.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use tokio::process::{Child, Command};

use crate::harness::process::konnektd;
use crate::harness::{Backend, TestApp};

const WAIT: Duration = Duration::from_secs(20);

/// Chromium's flags that work in a container without a display or a sandbox.
const CHROMIUM_ARGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
];

struct Browser {
    client: Client,
    _driver: Child,
    _profile: tempfile::TempDir,
    shots: PathBuf,
    step: u32,
}

fn find_binary(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    names.iter().find_map(|name| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    })
}

impl Browser {
    /// chromedriver on a free port and a fresh Chromium profile; `None` when they are not
    /// installed and this is not CI.
    async fn start(width: u32, height: u32) -> Option<Browser> {
        let (Some(driver), Some(chromium)) = (
            find_binary(&["chromedriver"]),
            find_binary(&["chromium", "chromium-browser"]),
        ) else {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI needs chromium and chromium-driver (.ci/run installs them)"
            );
            eprintln!("browser tests skipped: no chromium/chromedriver on PATH");
            return None;
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("chromedriver starts");
        let profile = tempfile::tempdir().unwrap();
        let mut args: Vec<String> = CHROMIUM_ARGS.iter().map(|a| a.to_string()).collect();
        args.push(format!("--user-data-dir={}", profile.path().display()));
        args.push(format!("--window-size={width},{height}"));
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({"binary": chromium, "args": args}),
        );
        let url = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        let client = loop {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            match ClientBuilder::new(connector)
                .capabilities(capabilities.clone())
                .connect(&url)
                .await
            {
                Ok(client) => break client,
                Err(e) if started.elapsed() < WAIT => {
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("no WebDriver session: {e}"),
            }
        };
        let shots = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/ui-screenshots");
        std::fs::create_dir_all(&shots).unwrap();
        Some(Browser {
            client,
            _driver: child,
            _profile: profile,
            shots,
            step: 0,
        })
    }

    async fn shot(&mut self, name: &str) {
        self.step += 1;
        let png = self.client.screenshot().await.unwrap();
        std::fs::write(self.shots.join(format!("{:02}-{name}.png", self.step)), png).unwrap();
    }

    async fn js(&self, script: &str, args: Vec<Value>) -> Value {
        self.client.execute(script, args).await.unwrap()
    }

    /// Waits until `script` returns something truthy, and returns it.
    async fn until(&self, what: &str, script: &str, args: Vec<Value>) -> Value {
        let started = Instant::now();
        loop {
            let value = self.js(script, args.clone()).await;
            if !(value.is_null() || value == false || value == "") {
                return value;
            }
            if started.elapsed() > WAIT {
                let body = self.js("return document.body.innerText", vec![]).await;
                panic!(
                    "waited for {what}; the page says:\n{}",
                    body.as_str().unwrap_or("")
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits for an element matching `css` whose text contains `text`, and clicks it
    /// (again if the page re-rendered under it).
    async fn click_text(&self, css: &str, text: &str) {
        let started = Instant::now();
        loop {
            let index = self
                .until(
                    &format!("{css} with {text:?}"),
                    "const i = [...document.querySelectorAll(arguments[0])].findIndex(e => e.textContent.includes(arguments[1])); return i < 0 ? null : String(i)",
                    vec![json!(css), json!(text)],
                )
                .await;
            let index: usize = index.as_str().unwrap().parse().unwrap();
            let found = self.client.find_all(Locator::Css(css)).await.unwrap();
            if let Some(element) = found.get(index)
                && element.click().await.is_ok()
            {
                return;
            }
            assert!(
                started.elapsed() < WAIT,
                "could not click {css} with {text:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn heading(&self, text: &str) {
        self.until(
            &format!("heading {text:?}"),
            "const h = document.querySelector('main h1'); return h && h.textContent === arguments[0]",
            vec![json!(text)],
        )
        .await;
    }

    /// The input labelled `label` (its `<label>` text, required marker aside).
    async fn field(&self, label: &str) -> fantoccini::elements::Element {
        let id = self
            .until(
                &format!("a field labelled {label:?}"),
                "const l = [...document.querySelectorAll('label')].find(l => l.textContent.replace(' *', '').trim() === arguments[0]); return l ? l.htmlFor : null",
                vec![json!(label)],
            )
            .await;
        self.client
            .find(Locator::Id(id.as_str().unwrap()))
            .await
            .unwrap()
    }

    async fn type_into(&self, label: &str, text: &str) {
        let input = self.field(label).await;
        input.clear().await.unwrap();
        input.send_keys(text).await.unwrap();
    }

    /// The text of the error line beside the field at `path` (`data-path`).
    async fn error_beside(&self, path: &str) -> String {
        self.until(
            &format!("an error beside {path}"),
            "const f = document.querySelector(`[data-path=\"${arguments[0]}\"]`); const e = f && f.querySelector(':scope > p.error:not([hidden])'); return e && e.textContent",
            vec![json!(path)],
        )
        .await
        .as_str()
        .unwrap()
        .to_string()
    }
}

fn fixture(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(path)
}

/// The guide's whole "Konnect UI" path, as a new user would click it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_guides_konnect_ui_steps_work_in_a_browser() {
    let Some(mut b) = Browser::start(1280, 1000).await else {
        return;
    };
    let app = TestApp::spawn(Backend::Sqlite).await;

    // Sign in, with the keyboard alone: focus starts in the token field, Enter submits.
    b.client.goto(&app.url("/")).await.unwrap();
    b.heading("Sign in").await;
    let focused = b.js("return document.activeElement.id", vec![]).await;
    assert_eq!(focused, "token", "focus starts in the token field");
    b.shot("sign-in").await;
    let token = b.client.find(Locator::Id("token")).await.unwrap();
    token.send_keys(&app.token).await.unwrap();
    token.send_keys("\u{E007}").await.unwrap();
    b.heading("Gateway Manager").await;
    let stored = b
        .js(
            "return JSON.stringify(localStorage) + JSON.stringify(sessionStorage) + document.cookie + location.href",
            vec![],
        )
        .await;
    assert!(
        !stored.as_str().unwrap().contains(&app.token),
        "the token stays out of storage, script-visible cookies and the URL"
    );

    // A control plane, then a Gateway Service to scope the plugin to.
    b.type_into("Name", "guide").await;
    b.click_text("button", "Save").await;
    b.heading("guide").await;
    b.shot("control-plane").await;
    b.click_text("nav a", "Gateway Services").await;
    b.click_text("a", "New Gateway Service").await;
    b.heading("New Gateway Service").await;
    b.type_into("Name", "ping-service").await;
    b.type_into("Url", "http://httpbin.org/anything").await;
    b.click_text("button", "Save").await;
    b.heading("Gateway Services").await;
    b.click_text("td a", "ping-service").await;
    b.heading("Edit Gateway Service ping-service").await;
    b.click_text("a", "Cancel").await;

    // Plugins → New Plugin → Custom Plugins → Create → Select File: a broken file first.
    b.click_text("nav a", "Plugins").await;
    b.heading("Plugins").await;
    b.click_text("a", "New Plugin").await;
    b.heading("New Plugin").await;
    b.click_text("[role=tab]", "Custom Plugins").await;
    b.click_text("a", "Create").await;
    b.heading("Create Custom Plugin").await;
    let broken = tempfile::tempdir().unwrap();
    let broken_file = broken.path().join("schema.lua");
    std::fs::write(&broken_file, "return { name = \"ping-auth\", fields = {\n").unwrap();
    let file = b.client.find(Locator::Id("schema-file")).await.unwrap();
    file.send_keys(broken_file.to_str().unwrap()).await.unwrap();
    let error = b
        .until(
            "the server's error beside the file",
            "return document.getElementById('file-error').textContent",
            vec![],
        )
        .await;
    assert!(!error.as_str().unwrap().is_empty());
    let save_disabled = b
        .js(
            "return document.getElementById('save-schema').disabled",
            vec![],
        )
        .await;
    assert_eq!(save_disabled, true);
    b.shot("custom-plugin-error").await;
    let file = b.client.find(Locator::Id("schema-file")).await.unwrap();
    file.send_keys(fixture("ping-auth/schema.lua").to_str().unwrap())
        .await
        .unwrap();
    let name = b
        .until(
            "the preview",
            "const e = document.getElementById('preview-name'); return e && e.textContent",
            vec![],
        )
        .await;
    assert_eq!(name, "ping-auth");
    let preview = b
        .js(
            "return document.getElementById('preview').innerText",
            vec![],
        )
        .await;
    for field in ["service_url", "shared_secret", "connection_keepAlive_ms"] {
        assert!(preview.as_str().unwrap().contains(field), "{preview}");
    }
    b.shot("custom-plugin-preview").await;
    b.click_text("button", "Save").await;
    b.until(
        "the ping-auth tile",
        "return document.querySelector('[data-plugin=\"ping-auth\"]')",
        vec![],
    )
    .await;
    b.shot("custom-plugin-saved").await;

    // Configure ping-auth, Scoped to the service; the guide's field names.
    b.click_text(".tile-link", "ping-auth").await;
    b.heading("Configure ping-auth").await;
    for label in [
        "Service Url",
        "Shared Secret",
        "Secret Header Name",
        "Connection KeepAlive Ms",
        "Connection Timeout Ms",
        "Enable Debug Logging",
        "Verify Service Certificate",
    ] {
        b.field(label).await;
    }
    let timeout = b.field("Connection Timeout Ms").await;
    assert_eq!(
        timeout.prop("value").await.unwrap().as_deref(),
        Some("10000")
    );
    let secret = b.field("Shared Secret").await;
    assert_eq!(
        secret.attr("type").await.unwrap().as_deref(),
        Some("password"),
        "the secret is masked"
    );
    let header = b.field("Secret Header Name").await;
    assert_eq!(header.attr("type").await.unwrap().as_deref(), Some("text"));
    b.click_text("label", "Scoped").await;
    let service = b.client.find(Locator::Id("scope-service")).await.unwrap();
    service.select_by_label("ping-service").await.unwrap();
    b.type_into("Shared Secret", "s3cret").await;
    b.type_into("Secret Header Name", "X-Secret").await;
    // No Service Url: Kong's message beside that field.
    b.click_text("button", "Save").await;
    let missing = b.error_beside("config.service_url").await;
    assert_eq!(missing, "required field missing");
    b.shot("ping-auth-service-url-missing").await;
    // A Service Url the schema's own validator refuses: its message lands on the config
    // record that holds the field (Kong names `config`, not the field).
    b.type_into("Service Url", "ftp://ping.example.com").await;
    b.click_text("button", "Save").await;
    let scheme = b.error_beside("config").await;
    assert_eq!(scheme, "URL scheme must be either 'http' or 'https'");
    b.shot("ping-auth-service-url-invalid").await;
    b.type_into("Service Url", "https://ping.example.com").await;
    b.click_text("button", "Save").await;
    b.heading("Plugins").await;
    b.until(
        "ping-auth applied to the service",
        "return document.querySelector('main table') && document.querySelector('main table').innerText.includes('Service: ping-service')",
        vec![],
    )
    .await;
    b.shot("ping-auth-saved").await;

    // key-auth with its defaults.
    b.click_text("a", "New Plugin").await;
    b.heading("New Plugin").await;
    b.click_text(".tile-link", "key-auth").await;
    b.heading("Configure key-auth").await;
    let names = b.field("Key Names").await;
    assert_eq!(
        names.prop("value").await.unwrap().as_deref(),
        Some("apikey")
    );
    b.shot("key-auth-defaults").await;
    b.click_text("button", "Save").await;
    b.heading("Plugins").await;
    let plugins: Value = app
        .get(&format!(
            "/v2/control-planes/{}/core-entities/plugins",
            control_plane_id(&app).await
        ))
        .await
        .json()
        .await
        .unwrap();
    let key_auth = plugins["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "key-auth")
        .expect("key-auth saved");
    assert_eq!(key_auth["config"]["key_names"], json!(["apikey"]));
    assert_eq!(key_auth["service"], Value::Null, "Global");

    // Disable, then delete, from the list.
    b.click_text("label", "key-auth Enabled").await;
    let path = format!(
        "/v2/control-planes/{}/core-entities/plugins/{}",
        control_plane_id(&app).await,
        key_auth["id"].as_str().unwrap()
    );
    let started = Instant::now();
    while app.get(&path).await.json::<Value>().await.unwrap()["enabled"] != false {
        assert!(started.elapsed() < WAIT, "key-auth disabled");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    b.click_text("td button", "Delete key-auth").await;
    b.click_text("td button", "Confirm delete of key-auth")
        .await;
    b.until(
        "key-auth gone",
        "return !document.querySelector('main table').innerText.includes('key-auth')",
        vec![],
    )
    .await;
    assert_eq!(app.get(&path).await.status(), 404);

    // A route on the service, and a consumer made and deleted.
    b.click_text("nav a", "Routes").await;
    b.click_text("a", "New Route").await;
    b.heading("New Route").await;
    let service = b.client.find(Locator::Id("route-service")).await.unwrap();
    service.select_by_label("ping-service").await.unwrap();
    b.type_into("Name", "ping-route").await;
    b.type_into("Paths", "/ping").await;
    b.click_text("button", "Save").await;
    b.heading("Routes").await;
    b.click_text("td a", "ping-route").await;
    b.heading("Edit Route ping-route").await;
    let picked = b
        .js(
            "return document.getElementById('route-service').selectedOptions[0].text",
            vec![],
        )
        .await;
    assert_eq!(picked, "ping-service");
    b.click_text("nav a", "Consumers").await;
    b.click_text("a", "New Consumer").await;
    b.type_into("Username", "alice").await;
    b.click_text("button", "Save").await;
    b.heading("Consumers").await;
    b.click_text("td button", "Delete alice").await;
    b.click_text("td button", "Confirm delete of alice").await;
    b.until(
        "alice gone",
        "return document.querySelector('main .empty')",
        vec![],
    )
    .await;

    // Data Plane Nodes → New Data Plane Node → Linux (Docker) → Generate certificate.
    b.click_text("nav a", "Data Plane Nodes").await;
    b.heading("Data Plane Nodes").await;
    b.click_text("a", "New Data Plane Node").await;
    b.heading("New Data Plane Node").await;
    let platform = b
        .js(
            "return document.getElementById('platform').selectedOptions[0].text",
            vec![],
        )
        .await;
    assert_eq!(platform, "Linux (Docker)");
    b.click_text("button", "Generate certificate").await;
    let command = b
        .until(
            "the docker run command",
            "const e = document.getElementById('docker-run'); return e && e.textContent",
            vec![],
        )
        .await;
    let command = command.as_str().unwrap();
    assert!(command.contains("docker run -d \\\n"), "{command}");
    assert!(command.contains("-e \"KONG_PLUGINS=bundled,ping-auth\" \\"));
    assert!(command.contains("KONG_CLUSTER_CERT_KEY="));
    b.shot("data-plane-command").await;
    let pem = |id: &str| {
        let id = id.to_string();
        let b = &b;
        async move {
            b.js(
                "return document.getElementById(arguments[0]).textContent",
                vec![json!(id)],
            )
            .await
            .as_str()
            .unwrap()
            .to_string()
        }
    };
    let dir = tempfile::tempdir().unwrap();
    for (id, file) in [
        ("dp-cert", "cluster.crt"),
        ("dp-key", "cluster.key"),
        ("dp-ca", "cluster-ca.crt"),
    ] {
        std::fs::write(dir.path().join(file), pem(id).await).unwrap();
    }

    // `konnektd dataplane connect` with what the page gave: the node shows, in sync.
    let mut data_plane = konnektd(&app.database_url, &app.dir.path().join("data"));
    data_plane
        .args([
            "dataplane",
            "connect",
            "--address",
            &format!("localhost:{}", app.cluster_addr().port()),
            "--hostname",
            "ui-dp",
            "--ping-interval",
            "1s",
            "--reconnect-delay",
            "1s",
        ])
        .arg("--cert")
        .arg(dir.path().join("cluster.crt"))
        .arg("--key")
        .arg(dir.path().join("cluster.key"))
        .arg("--ca-cert")
        .arg(dir.path().join("cluster-ca.crt"))
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let _data_plane = data_plane.spawn().expect("dataplane connect runs");
    b.click_text("a", "Back to Data Plane Nodes").await;
    b.heading("Data Plane Nodes").await;
    let in_sync = "const row = [...document.querySelectorAll('#node-table tbody tr')].find(r => r.innerText.includes('ui-dp')); \
                   return row && row.innerText.includes('In sync') && row.querySelector('.hash').textContent";
    let first_hash = b
        .until("ui-dp in sync (refreshing on its own)", in_sync, vec![])
        .await;
    b.shot("data-plane-in-sync").await;

    // Edit the plugin: the node gets the new config, and its hash changes.
    b.click_text("nav a", "Plugins").await;
    b.heading("Plugins").await;
    b.click_text("td a", "ping-auth").await;
    b.heading("Edit ping-auth").await;
    let scoped = b
        .js(
            "return document.getElementById('scope-scoped').checked",
            vec![],
        )
        .await;
    assert_eq!(scoped, true, "the edit form shows the scope");
    b.type_into("Connection Timeout Ms", "20000").await;
    b.click_text("button", "Save").await;
    b.heading("Plugins").await;
    b.click_text("nav a", "Data Plane Nodes").await;
    b.heading("Data Plane Nodes").await;
    let changed = b
        .until(
            "a new hash, in sync",
            &format!(
                "const h = (function() {{ {in_sync} }})(); return h && h !== {} && h",
                first_hash
            ),
            vec![],
        )
        .await;
    assert_ne!(changed, first_hash);
    b.shot("data-plane-new-hash").await;

    // Deleting the custom plugin while ping-auth uses it: the server's message.
    b.click_text("nav a", "Plugins").await;
    b.click_text("a", "New Plugin").await;
    b.click_text("[role=tab]", "Custom Plugins").await;
    b.click_text("[data-plugin=ping-auth] button", "Delete ping-auth")
        .await;
    b.click_text("[data-plugin=ping-auth] button", "Confirm delete")
        .await;
    let refused = b
        .until(
            "the in-use message",
            "return document.querySelector('[data-plugin=ping-auth] .error').textContent",
            vec![],
        )
        .await;
    assert!(
        refused.as_str().unwrap().contains("currently in use"),
        "{refused}"
    );
    b.shot("custom-plugin-in-use").await;

    // At phone width the pages still fit, and every control is reachable.
    b.client.set_window_size(390, 844).await.unwrap();
    b.click_text("nav a", "Plugins").await;
    b.heading("Plugins").await;
    let overflow = b
        .js(
            "return document.documentElement.scrollWidth - window.innerWidth",
            vec![],
        )
        .await;
    assert!(overflow.as_i64().unwrap() <= 0, "{overflow} px too wide");
    b.shot("phone-width").await;

    // Revoking the token ends the session at the next request.
    let name = b
        .js(
            "return document.querySelector('#who strong').textContent",
            vec![],
        )
        .await;
    let name = name.as_str().unwrap();
    app.store()
        .revoke_token(name, konnektd::domain::Timestamp::now())
        .await
        .unwrap();
    b.client.refresh().await.unwrap();
    b.heading("Sign in").await;
    b.shot("revoked").await;

    b.client.close().await.unwrap();
    app.shutdown().await;
}

async fn control_plane_id(app: &TestApp) -> String {
    let listed: Value = app.get("/v2/control-planes").await.json().await.unwrap();
    listed["data"][0]["id"].as_str().unwrap().to_string()
}

/// Every bundled plugin's form: each config field of its JSON schema has its place in
/// the form, and saving the form as it opens (Kong's defaults, nothing typed) gives
/// either a plugin or Kong's messages about what is missing, never a type error that
/// would mean the form wrote a default back wrongly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bundled_plugins_form_renders_and_round_trips_its_defaults() {
    let Some(mut b) = Browser::start(1280, 1000).await else {
        return;
    };
    let app = TestApp::spawn(Backend::Sqlite).await;
    let cp = app.create_control_plane(&json!({"name": "forms"})).await;
    let cp = cp["id"].as_str().unwrap().to_string();
    let available: Value = app
        .get(&format!(
            "/v2/control-planes/{cp}/core-entities/v1/available-plugins"
        ))
        .await
        .json()
        .await
        .unwrap();
    b.client.goto(&app.url("/")).await.unwrap();
    b.heading("Sign in").await;
    let token = b.client.find(Locator::Id("token")).await.unwrap();
    token.send_keys(&app.token).await.unwrap();
    token.send_keys("\u{E007}").await.unwrap();
    b.heading("Gateway Manager").await;

    let mut saved = 0;
    for name in available["names"].as_array().unwrap() {
        let name = name.as_str().unwrap();
        let response = app
            .get(&format!(
                "/v2/control-planes/{cp}/core-entities/schemas/plugins/{name}"
            ))
            .await;
        let known = response.status() == 200;
        let schema: Value = response.json().await.unwrap();
        b.client
            .goto(&app.url(&format!("/#/cp/{cp}/plugins/configure/{name}")))
            .await
            .unwrap();
        b.heading(&format!("Configure {name}")).await;
        if !known {
            // An Enterprise plugin konnektd offers unvalidated: its config as JSON.
            let json = b
                .js(
                    "return document.querySelector('[data-path=\"config\"]').dataset.type",
                    vec![],
                )
                .await;
            assert_eq!(json, "json", "{name}");
            continue;
        }
        let config = schema["fields"]
            .as_array()
            .unwrap()
            .iter()
            .find_map(|f| f.get("config"))
            .unwrap();
        for field in config["fields"].as_array().unwrap() {
            let (field, _) = field.as_object().unwrap().iter().next().unwrap();
            let found = b
                .js(
                    "return !!document.querySelector(`[data-path=\"config.${arguments[0]}\"]`)",
                    vec![json!(field)],
                )
                .await;
            assert_eq!(
                found, true,
                "{name}: config.{field} has no place in the form"
            );
        }
        b.click_text("button", "Save").await;
        let outcome = b
            .until(
                &format!("{name} saved or refused"),
                "if (document.querySelector('main h1').textContent === 'Plugins') return 'saved'; \
                 const errors = [...document.querySelectorAll('main .form-errors p, main p.error:not([hidden])')].map(e => e.textContent).filter(Boolean); \
                 return errors.length ? errors.join(' | ') : null",
                vec![],
            )
            .await;
        let outcome = outcome.as_str().unwrap();
        if outcome == "saved" {
            saved += 1;
        } else {
            // Only what the user has yet to fill in (acme's default `shm` storage is
            // Kong's own refusal in hybrid mode).
            for message in outcome.split(" | ") {
                assert!(
                    [
                        "required",
                        "at least one of these fields",
                        "exactly one of these fields",
                        "can't be used in Hybrid mode"
                    ]
                    .iter()
                    .any(|m| message.contains(m)),
                    "{name}: the untouched form says {outcome}"
                );
            }
        }
    }
    assert!(
        saved >= 15,
        "only {saved} plugins saved with their defaults"
    );
    b.shot("bundled-forms").await;
    b.client.close().await.unwrap();
    app.shutdown().await;
}
