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

/// A headless Chromium session `width` CSS pixels wide (a phone's, by
/// mobile emulation, when `phone`).
async fn session(driver: &Driver, profile: &Path, width: u32, phone: bool) -> fantoccini::Client {
    let mut options = serde_json::json!({
        "binary": CHROMIUM,
        "args": [
            "--headless", "--no-sandbox", "--disable-gpu",
            "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
            format!("--user-data-dir={}", profile.display()),
            format!("--window-size={width},2400"),
        ],
    });
    if phone {
        options["mobileEmulation"] = serde_json::json!({
            "deviceMetrics": {"width": width, "height": 2400, "pixelRatio": 1.0},
        });
    }
    let capabilities = serde_json::json!({ "goog:chromeOptions": options });
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(capabilities.as_object().unwrap().clone())
        .connect(&driver.url)
        .await
        .expect("a Chromium session")
}

/// Every chart of the page against the table beside it: bar for row, the
/// bar's label heading the row and its value in the row.
async fn charts_agree_with_tables(
    browser: &fantoccini::Client,
) -> Result<usize, fantoccini::error::CmdError> {
    let pairs = browser.find_all(Locator::Css(".pair")).await?;
    for pair in &pairs {
        let bars = pair.find_all(Locator::Css("svg g.bar")).await?;
        let rows = pair.find_all(Locator::Css("table tbody tr")).await?;
        assert_eq!(bars.len(), rows.len(), "a bar for every row");
        for (bar, row) in bars.iter().zip(&rows) {
            let label = bar.attr("data-label").await?.unwrap_or_default();
            let shown = bar.attr("data-shown").await?.unwrap_or_default();
            let heading = row.find(Locator::Css("th")).await?.text().await?;
            let cells = row.find_all(Locator::Css("td")).await?;
            let mut values = Vec::new();
            for cell in &cells {
                values.push(cell.text().await?);
            }
            assert!(heading.starts_with(&label), "{heading:?} is not {label:?}");
            assert!(
                values.contains(&shown),
                "{label}: the chart says {shown:?}, the table {values:?}"
            );
        }
    }
    Ok(pairs.len())
}

/// The published figures in a real browser at a phone's and a desktop's
/// width: every chart agrees with its table, nothing is wider than the
/// screen, no script runs. Screenshots in `target/test-artifacts/`.
#[tokio::test]
async fn the_published_figures_read_at_phone_and_desktop_widths() {
    let driver = Driver::start().await;
    let station = Station::start_serving(Serving::PlainHttp).await;
    station.add_officer("PC1", "Lewisham");
    let device = station.device("PC1").await;
    // Next month, seen from after its publication: the station's clock is
    // moved there, so the month is past, published and not yet frozen
    // (the server's first scheduled run, at start, froze an earlier one).
    let now = chrono::Utc::now();
    let month = pocketbook_server::figures::Month::of(now).next();
    station.advance(month.published_from() - now + chrono::TimeDelta::hours(1));
    let start = month.start();
    let powers = [
        Legislation::MisuseOfDrugsSection23,
        Legislation::PaceSection1,
        Legislation::MisuseOfDrugsSection23,
    ];
    for i in 0..14i64 {
        let when = start + chrono::TimeDelta::hours(30 * i + 5);
        let mut search = search(&when.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        search.legislation = if i == 13 {
            Legislation::FirearmsSection47
        } else {
            powers[i as usize % 3]
        };
        search.age_range = [Some(AgeRange::From18To24), Some(AgeRange::Over34)][i as usize % 2];
        search.outcome_linked_to_object_of_search = Some(i % 3 == 0);
        device.create_stop_search(search).unwrap();
    }
    for minutes in [5, 9, 11, 30, 8, 12] {
        let call = start + chrono::TimeDelta::days(3 + minutes);
        let mut scene = pocketbook_tests::inputs::scene();
        scene.call_received = Timestamp::from_instant(call).unwrap();
        scene.arrived =
            Some(Timestamp::from_instant(call + chrono::TimeDelta::minutes(minutes)).unwrap());
        device.create_scene(scene).unwrap();
    }
    device.sync(None).await.unwrap();
    let url = format!("{}/figures?month={month}&station=Lewisham", station.url());

    for (name, width, phone) in [("phone", 360, true), ("desktop", 1280, false)] {
        let profile = tempfile::tempdir().expect("browser profile");
        let browser = session(&driver, profile.path(), width, phone).await;
        let outcome = async {
            browser.goto(&url).await?;
            browser
                .wait()
                .at_most(Duration::from_secs(10))
                .for_element(Locator::Css("svg"))
                .await?;
            let title = browser.find(Locator::Css("h1")).await?.text().await?;
            assert!(
                title.contains("Lewisham") && title.contains(&month.title()),
                "{title}"
            );
            let pairs = charts_agree_with_tables(&browser).await?;
            assert_eq!(pairs, 7, "attendance, other promises and five breakdowns");
            let text = browser.find(Locator::Css("main")).await?.text().await?;
            assert!(
                text.contains("fewer than 5"),
                "the lone Firearms search is hidden"
            );
            assert!(text.contains("Searches this month: 14"), "{text}");
            let scripts = browser
                .execute("return document.scripts.length", vec![])
                .await?;
            assert_eq!(scripts.as_u64(), Some(0));
            let png = browser.screenshot().await?;
            std::fs::write(artifacts().join(format!("figures-{name}.png")), png)
                .expect("screenshot written");
            let scroll = browser
                .execute("return document.documentElement.scrollWidth", vec![])
                .await?;
            assert!(
                scroll.as_u64().is_some_and(|w| w <= u64::from(width)),
                "{name}: page width {scroll}"
            );
            Ok::<(), fantoccini::error::CmdError>(())
        }
        .await;
        let closed = browser.close().await;
        outcome.expect("the browser steps");
        closed.expect("the browser session closes");
    }
}
