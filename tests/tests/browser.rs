//! A member of the public gets the copy of their stop and search in a real
//! browser: an officer records the search on a device, gives the receipt
//! and syncs; headless Chromium, at a phone's width, opens `/copy`, types
//! the reference and the date, submits, and sees the record. A screenshot
//! is kept in `target/test-artifacts/copy.png`.
//!
//! Needs Chromium and its WebDriver: `apt-get install -y chromium
//! chromium-driver` (`/usr/bin/chromium`, `/usr/bin/chromedriver`). Without
//! them the test fails and says so.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{ClientBuilder, Locator};
use pocketbook_core::model::*;
use pocketbook_tests::{Serving, Station};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// chromedriver on a free loopback port, stopped when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    async fn start() -> Self {
        for tool in [CHROMIUM, CHROMEDRIVER] {
            assert!(
                Path::new(tool).exists(),
                "{tool} is missing: the browser test needs Chromium and its WebDriver; \
                 install them with `apt-get install -y chromium chromium-driver`"
            );
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let driver = Driver {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return driver;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("chromedriver did not listen on port {port} within 10 s");
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // Our own child, by its handle; it may already have exited.
        if let Err(e) = self.child.kill() {
            eprintln!("chromedriver already stopped: {e}");
        }
        if let Err(e) = self.child.wait() {
            eprintln!("chromedriver not reaped: {e}");
        }
    }
}

fn artifacts() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let dir = target.join("test-artifacts");
    std::fs::create_dir_all(&dir).expect("artifacts directory");
    dir
}

/// A search whose every field shows on the copy.
fn search(datetime: &str) -> StopSearch {
    StopSearch {
        location: Location {
            latitude: Some(51.461_234),
            longitude: Some(-0.010_987),
            street: "Lewisham High Street, by the clock tower".into(),
        },
        gender: Some(Gender::Female),
        age_range: Some(AgeRange::From25To34),
        self_defined_ethnicity: Some(SelfDefinedEthnicity::A1),
        officer_defined_ethnicity: None,
        grounds: "Matched the description of a person seen with a knife".into(),
        object_of_search: ObjectOfSearch::OffensiveWeapons,
        legislation: Legislation::PaceSection1,
        ..pocketbook_tests::inputs::stop_search(datetime)
    }
}

#[tokio::test]
async fn a_person_gets_their_copy_in_a_real_browser() {
    let driver = Driver::start().await;

    // The officer's side: record, receipt, sync.
    // Plain http: the browser would not trust the station's certificate.
    let station = Station::start_serving(Serving::PlainHttp).await;
    station.add_officer("PC1", "Lewisham");
    let device = station.device("PC1").await;
    let when = chrono::Utc::now() - chrono::TimeDelta::hours(1);
    let record = device
        .create_stop_search(search(
            &when.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        ))
        .unwrap();
    let reference = device
        .issue_receipt(record.header.id.clone(), ReceiptMedium::Printed)
        .unwrap();
    device.sync(None).await.unwrap();
    let date = pocketbook_server::copy::london_date(when).to_string();

    // The person's side: a phone-sized headless Chromium with a fresh profile.
    let profile = tempfile::tempdir().expect("browser profile");
    let capabilities = serde_json::json!({
        "goog:chromeOptions": {
            "binary": CHROMIUM,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                format!("--user-data-dir={}", profile.path().display()),
            ],
            // A small phone: 360 CSS pixels wide.
            "mobileEmulation": {
                "deviceMetrics": {"width": 360, "height": 1400, "pixelRatio": 1.0},
            },
        }
    });
    let browser = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(capabilities.as_object().unwrap().clone())
        .connect(&driver.url)
        .await
        .expect("a Chromium session");

    let outcome = async {
        browser.goto(&format!("{}/copy", station.url())).await?;
        browser
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css("form"))
            .await?;
        let form_title = browser.find(Locator::Css("h1")).await?.text().await?;
        assert!(form_title.contains("Get a copy"), "{form_title}");
        browser
            .find(Locator::Css("input#reference"))
            .await?
            .send_keys(&reference)
            .await?;
        // A date field is typed in the browser's own order; the page gets
        // YYYY-MM-DD either way, which is what is checked next.
        let date_field = browser.find(Locator::Css("input#date")).await?;
        let (year, month, day) = (&date[0..4], &date[5..7], &date[8..10]);
        date_field.send_keys(&format!("{month}{day}{year}")).await?;
        if date_field.prop("value").await?.as_deref() != Some(date.as_str()) {
            date_field.clear().await?;
            date_field.send_keys(&format!("{day}{month}{year}")).await?;
        }
        assert_eq!(
            date_field.prop("value").await?.as_deref(),
            Some(date.as_str())
        );
        browser
            .find(Locator::Css("button[type=submit]"))
            .await?
            .click()
            .await?;

        // The copy page is the one with the record's list.
        browser
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css("main dl"))
            .await?;
        let title = browser.find(Locator::Css("h1")).await?.text().await?;
        assert!(title.contains("Your record"), "{title}");
        let text = browser.find(Locator::Css("main")).await?.text().await?;
        for shown in [
            reference.as_str(),
            "Lewisham High Street, by the clock tower",
            "PC1",
            "Police and Criminal Evidence Act 1984 (section 1)",
            "Offensive weapons",
            "Matched the description",
            "Professional Standards",
        ] {
            assert!(text.contains(shown), "{shown} not shown:\n{text}");
        }
        assert!(!text.contains("51.46"), "the exact position is not shown");
        // Nothing wider than the phone: no sideways scrolling.
        let width = browser
            .execute("return document.documentElement.scrollWidth", vec![])
            .await?;
        assert!(
            width.as_u64().is_some_and(|w| w <= 360),
            "page width {width}"
        );
        let png = browser.screenshot().await?;
        std::fs::write(artifacts().join("copy.png"), png).expect("screenshot written");
        Ok::<(), fantoccini::error::CmdError>(())
    }
    .await;
    let closed = browser.close().await;
    outcome.expect("the browser steps");
    closed.expect("the browser session closes");
}
