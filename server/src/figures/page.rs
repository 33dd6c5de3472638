//! The published figures as one printable HTML page: no script, no
//! external resource, readable at 360 px and on paper. Every chart is SVG
//! drawn here, with its data table beside it (the table is the accessible
//! form: the chart is an image with a title and a description). Every
//! bar carries its label and count (`data-label`, `data-count`), so a test
//! can check that the chart and the table agree.

use super::publish::{Cell, StationFigures, THRESHOLD, share_text};
use crate::copy::page::escape;

const STYLE: &str = "\
*{box-sizing:border-box}\
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,Arial,sans-serif;line-height:1.5;\
color:#0b0c0c;background:#fff;margin:0;padding:1rem;font-size:1.0625rem}\
main{max-width:72rem;margin:0 auto}\
h1{font-size:1.5rem;line-height:1.25;margin:0 0 1rem}\
h2{font-size:1.25rem;margin:2rem 0 .5rem}\
h3{font-size:1.1rem;margin:1.5rem 0 .5rem}\
label{display:block;font-weight:600;margin:.75rem 0 .25rem}\
input,select{font-size:1rem;padding:.4rem;border:2px solid #0b0c0c;max-width:100%}\
input:focus,select:focus,button:focus,a:focus{outline:3px solid #fd0;outline-offset:0}\
button{margin-top:1rem;font-size:1rem;padding:.5rem 1rem;background:#00703c;color:#fff;border:0}\
.pair{display:grid;grid-template-columns:minmax(0,1fr);gap:1rem;align-items:start}\
@media (min-width:60rem){.pair{grid-template-columns:minmax(0,1fr) minmax(0,1fr)}}\
figure{margin:0}svg{width:100%;max-width:34rem;height:auto;display:block}\
table{border-collapse:collapse;width:100%;font-size:.95rem}\
caption{text-align:left;font-weight:600;padding-bottom:.25rem}\
th,td{border-bottom:1px solid #b1b4b6;padding:.3rem .4rem;text-align:left;vertical-align:top;overflow-wrap:break-word}\
td.n,th.n{text-align:right}.table{overflow-x:auto}\
@media (max-width:30rem){table{font-size:.85rem}th,td{padding:.25rem .15rem}tbody th{overflow-wrap:anywhere}}\
.note{color:#505a5f}\
.error{border-left:5px solid #d4351c;padding:.5rem 1rem;background:#fdf2f0}\
@media print{body{padding:0;font-size:10pt}form,.no-print{display:none}main{max-width:none}\
.pair{grid-template-columns:1fr 1fr}section{break-inside:avoid}a{color:#000}}";

fn layout(title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n{body}</main>\n</body>\n</html>\n",
        escape(title)
    )
}

/// What the page is asked to show.
pub struct PageRequest<'a> {
    /// `YYYY-MM`, as typed when it was refused.
    pub month: &'a str,
    pub month_title: &'a str,
    /// The station shown, if one was chosen.
    pub station: Option<&'a str>,
    /// Stations to choose from.
    pub stations: &'a [String],
}

fn chooser(request: &PageRequest<'_>) -> String {
    let mut options = String::from("<option value=\"\">Choose a station</option>");
    for s in request.stations {
        let selected = if request.station == Some(s.as_str()) {
            " selected"
        } else {
            ""
        };
        options.push_str(&format!(
            "<option value=\"{0}\"{selected}>{0}</option>",
            escape(s)
        ));
    }
    format!(
        "<form method=\"get\" action=\"/figures\" class=\"no-print\">\n\
         <label for=\"month\">Month (YYYY-MM)</label>\n\
         <input id=\"month\" name=\"month\" type=\"text\" inputmode=\"numeric\" pattern=\"[0-9]{{4}}-[0-9]{{2}}\" \
         maxlength=\"7\" value=\"{}\">\n\
         <label for=\"station\">Station</label>\n<select id=\"station\" name=\"station\">{options}</select>\n\
         <button type=\"submit\">Show figures</button>\n</form>\n",
        escape(request.month)
    )
}

/// A page that only says why the figures could not be shown, with the form.
pub fn refusal_page(request: &PageRequest<'_>, message: &str) -> String {
    let body = format!(
        "<h1>Published figures</h1>\n<div class=\"error\" role=\"alert\"><p>{}</p></div>\n{}",
        escape(message),
        chooser(request)
    );
    layout("Published figures", &body)
}

/// One bar of a chart: its label and its cell.
struct Bar<'a> {
    label: &'a str,
    value: Option<f64>,
    shown: String,
}

/// Splits a label into lines of at most `width` characters, at spaces.
fn lines(label: &str, width: usize) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for word in label.split(' ') {
        match out.last_mut() {
            Some(line) if line.chars().count() + 1 + word.chars().count() <= width => {
                line.push(' ');
                line.push_str(word);
            }
            _ => out.push(word.to_string()),
        }
    }
    out
}

/// A horizontal bar chart: each bar under its label (wrapped, so it reads
/// at a phone's width), its value at its end.
fn chart(id: &str, title: &str, description: &str, bars: &[Bar<'_>], max: f64) -> String {
    const WIDTH: f64 = 400.0;
    const BAR_MAX: f64 = 290.0;
    const LINE: f64 = 17.0;
    const LABEL_CHARS: usize = 44;
    let labels: Vec<Vec<String>> = bars.iter().map(|b| lines(b.label, LABEL_CHARS)).collect();
    let height: f64 = labels
        .iter()
        .map(|l| LINE * l.len() as f64 + 30.0)
        .sum::<f64>()
        + 4.0;
    let mut svg = format!(
        "<svg viewBox=\"0 0 {WIDTH} {height}\" role=\"img\" aria-labelledby=\"{id}-t {id}-d\" \
         data-chart=\"{id}\" xmlns=\"http://www.w3.org/2000/svg\" font-size=\"14\" fill=\"#0b0c0c\">\n\
         <title id=\"{id}-t\">{}</title><desc id=\"{id}-d\">{}</desc>\n",
        escape(title),
        escape(description)
    );
    let mut y = 4.0;
    for (bar, label) in bars.iter().zip(&labels) {
        let width = match bar.value {
            Some(v) if max > 0.0 => (v / max * BAR_MAX).max(if v > 0.0 { 2.0 } else { 0.0 }),
            _ => 0.0,
        };
        let count = bar.value.map(|v| v.to_string()).unwrap_or_default();
        let mut text = format!("<text x=\"0\" y=\"{}\">", y + 13.0);
        for (i, line) in label.iter().enumerate() {
            let dy = if i == 0 { 0.0 } else { LINE };
            text.push_str(&format!(
                "<tspan x=\"0\" dy=\"{dy}\">{}</tspan>",
                escape(line)
            ));
        }
        text.push_str("</text>");
        let bar_y = y + LINE * label.len() as f64 + 3.0;
        svg.push_str(&format!(
            "<g class=\"bar\" data-label=\"{label}\" data-count=\"{count}\" data-shown=\"{shown}\">{text}\
             <rect x=\"0\" y=\"{bar_y}\" width=\"{width:.1}\" height=\"16\" fill=\"{fill}\"/>\
             <text x=\"{vx:.1}\" y=\"{vy}\">{shown}</text></g>\n",
            label = escape(bar.label),
            shown = escape(&bar.shown),
            fill = if bar.value.is_some() { "#1d70b8" } else { "#b1b4b6" },
            vx = width + 6.0,
            vy = bar_y + 13.0,
        ));
        y = bar_y + 27.0;
    }
    svg.push_str("</svg>\n");
    svg
}

fn count_bar<'a>(label: &'a str, cell: &Cell) -> Bar<'a> {
    Bar {
        label,
        value: cell.count.map(|n| n as f64),
        shown: cell.text(),
    }
}

fn table(caption: &str, heads: &[&str], rows: &[Vec<String>]) -> String {
    let mut out = format!(
        "<div class=\"table\" role=\"region\" aria-label=\"{0}\" tabindex=\"0\">\n\
         <table>\n<caption>{0}</caption>\n<thead><tr>",
        escape(caption)
    );
    for (i, h) in heads.iter().enumerate() {
        let class = if i == 0 { "" } else { " class=\"n\"" };
        out.push_str(&format!("<th scope=\"col\"{class}>{}</th>", escape(h)));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for row in rows {
        out.push_str("<tr>");
        for (i, v) in row.iter().enumerate() {
            if i == 0 {
                out.push_str(&format!("<th scope=\"row\">{}</th>", escape(v)));
            } else {
                out.push_str(&format!("<td class=\"n\">{}</td>", escape(v)));
            }
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n</div>\n");
    out
}

fn query(month: &str, station: &str, format: &str) -> String {
    fn encode(text: &str) -> String {
        text.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect()
    }
    format!(
        "month={}&amp;station={}&amp;format={format}",
        encode(month),
        encode(station)
    )
}

/// The page of one station's month.
pub fn figures_page(request: &PageRequest<'_>, f: &StationFigures) -> String {
    let mut body = format!(
        "<h1>Published figures: {}, {}</h1>\n",
        escape(&f.station),
        escape(request.month_title)
    );
    body.push_str(&chooser(request));
    body.push_str(&format!(
        "<p class=\"note\">Counted on {} and not changed since. Counts from 1 to {} are not shown, \
         and where only one count of a table would be hidden, the next smallest is hidden too, \
         so that no person can be picked out. Percentages are shown when at least {} cases \
         count towards them.</p>\n",
        escape(&f.computed_at[..10.min(f.computed_at.len())]),
        THRESHOLD - 1,
        THRESHOLD
    ));

    // Attendance.
    body.push_str("<section>\n<h2>Attending when we said we would</h2>\n<div class=\"pair\">\n");
    let bars: Vec<Bar<'_>> = f
        .attendance
        .iter()
        .map(|a| Bar {
            label: &a.target,
            value: a.share_percent,
            shown: share_text(a.share_percent),
        })
        .collect();
    let labelled: Vec<Bar<'_>> = bars
        .into_iter()
        .zip(&f.attendance)
        .map(|(bar, a)| Bar {
            label: grade_label(&a.grade),
            ..bar
        })
        .collect();
    body.push_str(&format!(
        "<figure>{}</figure>\n",
        chart(
            "attendance",
            "Attendances within target, percent",
            "Share of emergency, priority and appointment attendances that arrived within their target",
            &labelled,
            100.0
        )
    ));
    let rows: Vec<Vec<String>> = f
        .attendance
        .iter()
        .map(|a| {
            vec![
                grade_label(&a.grade).to_string(),
                a.attended.text(),
                a.within_target.text(),
                share_text(a.share_percent),
                a.no_arrival_recorded.text(),
            ]
        })
        .collect();
    let targets: Vec<String> = f
        .attendance
        .iter()
        .map(|a| format!("{} {}", grade_label(&a.grade).to_lowercase(), a.target))
        .collect();
    body.push_str(&table(
        &format!("Attendances (targets: {})", targets.join("; ")),
        &["Call", "Arrived", "In time", "Percent", "No arrival"],
        &rows,
    ));
    body.push_str("</div>\n</section>\n");

    // Other promises (none in a month frozen before they were counted).
    if !f.promises.is_empty() {
        promises_section(&mut body, f);
    }

    // Searches.
    body.push_str(&format!(
        "<section>\n<h2>Stop and search</h2>\n<p>Searches this month: <strong>{}</strong>. \
         Outcome linked to the object of the search: <strong>{}</strong> \
         (of {} searches where it was recorded).</p>\n",
        escape(&f.searches.text()),
        escape(&share_text(f.outcome_linked.share_percent)),
        escape(&f.outcome_linked.recorded.text()),
    ));
    for b in &f.breakdowns {
        body.push_str(&format!(
            "<h3>{}</h3>\n<div class=\"pair\">\n",
            escape(&b.title)
        ));
        let max = b
            .cells
            .iter()
            .filter_map(|c| c.cell.count)
            .max()
            .unwrap_or(0) as f64;
        let bars: Vec<Bar<'_>> = b
            .cells
            .iter()
            .map(|c| count_bar(&c.value, &c.cell))
            .collect();
        body.push_str(&format!(
            "<figure>{}</figure>\n",
            chart(
                &b.field,
                &b.title,
                "Number of searches for each value",
                &bars,
                max
            )
        ));
        let rows: Vec<Vec<String>> = b
            .cells
            .iter()
            .map(|c| vec![c.value.clone(), c.cell.text()])
            .collect();
        body.push_str(&table(&b.title, &["Value", "Searches"], &rows));
        body.push_str("</div>\n");
    }
    body.push_str("</section>\n");

    body.push_str(&format!(
        "<section class=\"no-print\">\n<h2>Downloads</h2>\n<ul>\n\
         <li><a href=\"/figures/searches?{0}\">This month's searches, police.uk CSV</a></li>\n\
         <li><a href=\"/figures/searches?{1}\">This month's searches, police.uk JSON</a></li>\n\
         <li><a href=\"/figures?{2}\">These figures as CSV</a></li>\n\
         <li><a href=\"/figures?{3}\">These figures as JSON</a></li>\n</ul>\n\
         <p class=\"note\">The search downloads list every search, as police.uk does: places \
         are shown as the centre of a square about 1 km across, times to the hour, and no \
         names, references or notes.</p>\n</section>\n",
        query(&f.month, &f.station, "csv"),
        query(&f.month, &f.station, "json"),
        query(&f.month, &f.station, "csv"),
        query(&f.month, &f.station, "json"),
    ));
    layout(
        &format!("Published figures: {}, {}", f.station, request.month_title),
        &body,
    )
}

/// The page for a month with no station chosen: the chooser.
pub fn choose_page(request: &PageRequest<'_>) -> String {
    let mut body = format!(
        "<h1>Published figures, {}</h1>\n<p>Figures are published for each station, a week \
         after the month ends.</p>\n",
        escape(request.month_title)
    );
    body.push_str(&chooser(request));
    if request.stations.is_empty() {
        body.push_str("<p>No station has figures for this month.</p>\n");
    }
    layout("Published figures", &body)
}

/// The promises kept besides attendance: chart and table.
fn promises_section(body: &mut String, f: &StationFigures) {
    body.push_str("<section>\n<h2>Keeping our other promises</h2>\n<div class=\"pair\">\n");
    let bars: Vec<Bar<'_>> = f
        .promises
        .iter()
        .map(|p| Bar {
            label: &p.title,
            value: p.share_percent,
            shown: share_text(p.share_percent),
        })
        .collect();
    body.push_str(&format!(
        "<figure>{}</figure>\n",
        chart(
            "promises",
            "Promises kept in time, percent",
            "Share of victim updates, serious assault reviews and domestic violence contacts \
             due by the time the month was counted that were kept in time",
            &bars,
            100.0
        )
    ));
    let rows: Vec<Vec<String>> = f
        .promises
        .iter()
        .map(|p| {
            vec![
                p.title.clone(),
                p.settled.text(),
                p.kept.text(),
                share_text(p.share_percent),
                p.still_open.text(),
            ]
        })
        .collect();
    body.push_str(&table(
        "Promises due by the time the month was counted",
        &["Promise", "Due", "Kept", "Percent", "Not yet due"],
        &rows,
    ));
    body.push_str("</div>\n</section>\n");
}

fn grade_label(grade: &str) -> &'static str {
    match grade {
        "emergency" => "Emergency",
        "priority" => "Priority",
        "scheduled" => "Appointment",
        _ => "Other",
    }
}
