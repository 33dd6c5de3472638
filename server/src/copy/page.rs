//! The public copy pages as server-rendered HTML: the form, and a copy
//! ready to read on a phone or print. No script, no external resource;
//! every dynamic string goes through [`escape`].

use super::RecordCopy;

/// The page's only style: readable at 360 px, clean on paper.
const STYLE: &str = "\
*{box-sizing:border-box}\
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,Arial,sans-serif;line-height:1.5;\
color:#0b0c0c;background:#fff;margin:0;padding:1rem;font-size:1.0625rem}\
main{max-width:40rem;margin:0 auto}\
h1{font-size:1.5rem;line-height:1.25;margin:0 0 1rem}\
h2{font-size:1.2rem;margin:1.5rem 0 .5rem}\
label{display:block;font-weight:600;margin:1rem 0 .25rem}\
.hint{display:block;color:#505a5f;font-weight:400;font-size:.95rem}\
input{width:100%;max-width:20rem;font-size:1.1rem;padding:.5rem;border:2px solid #0b0c0c;border-radius:0}\
input:focus{outline:3px solid #fd0;outline-offset:0}\
button{margin-top:1.25rem;font-size:1.1rem;padding:.6rem 1.2rem;background:#00703c;color:#fff;\
border:0;box-shadow:0 2px 0 #002d18;cursor:pointer}\
button:focus{outline:3px solid #fd0}\
.error{border-left:5px solid #d4351c;padding:.5rem 1rem;margin:0 0 1rem;background:#fdf2f0}\
dl{margin:0;display:grid;grid-template-columns:1fr;gap:0}\
dt{font-weight:600;margin-top:.75rem}\
dd{margin:0;overflow-wrap:anywhere}\
@media (min-width:40rem){dl{grid-template-columns:14rem 1fr}dt,dd{margin-top:.5rem}}\
.print-note{color:#505a5f}\
@media print{body{padding:0;font-size:11pt}form,.no-print,.print-note{display:none}\
a{color:#000;text-decoration:none}h1{font-size:16pt}main{max-width:none}}";

/// HTML-escapes text for element content and quoted attribute values.
/// Control characters other than the whitespace HTML allows (line feed,
/// carriage return, tab) are not allowed in HTML either: an escape
/// sequence or a bell an officer's device stored in a field is shown as
/// U+FFFD, so the page (saved, printed, or read in a terminal) carries
/// none of them.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\n' | '\r' | '\t' => out.push(c),
            c if c.is_control() => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

fn layout(title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"referrer\" content=\"no-referrer\">\n\
         <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n{body}</main>\n</body>\n</html>\n",
        escape(title)
    )
}

/// The form, with an error message above it and the values typed (both
/// escaped) when it is shown again.
pub fn form_page(error: Option<&str>, reference: &str, date: &str) -> String {
    let mut body = String::from("<h1>Get a copy of your stop and search record</h1>\n");
    if let Some(error) = error {
        body.push_str(&format!(
            "<div class=\"error\" role=\"alert\"><p>{}</p></div>\n",
            escape(error)
        ));
    }
    body.push_str(
        "<p>If you were stopped and searched, or stopped and asked to account for yourself, \
         you can get a copy of the record for 12 months afterwards. You need the reference \
         on the receipt the officer gave you and the date of the stop.</p>\n",
    );
    body.push_str(&format!(
        "<form method=\"post\" action=\"/copy\">\n\
         <label for=\"reference\">Reference<span class=\"hint\">14 letters and numbers, \
         for example K3F9-QW2H-M4XT-C7</span></label>\n\
         <input id=\"reference\" name=\"reference\" type=\"text\" autocomplete=\"off\" \
         autocapitalize=\"characters\" spellcheck=\"false\" maxlength=\"40\" required value=\"{}\">\n\
         <label for=\"date\">Date of the stop<span class=\"hint\">for example 2026-11-28</span></label>\n\
         <input id=\"date\" name=\"date\" type=\"date\" required value=\"{}\">\n\
         <button type=\"submit\">Get my copy</button>\n</form>\n\
         <p>No receipt, or lost it? Ask at the police station: staff can find the record \
         with the date, the place and the officer.</p>\n",
        escape(reference),
        escape(date)
    ));
    layout("Get a copy of your stop and search record", &body)
}

fn row(out: &mut String, term: &str, value: &str) {
    out.push_str(&format!(
        "<dt>{}</dt><dd>{}</dd>\n",
        escape(term),
        escape(value)
    ));
}

fn yes_no(value: bool) -> &'static str {
    if value { "Yes" } else { "No" }
}

/// The copy, readable and printable.
pub fn copy_page(copy: &RecordCopy) -> String {
    let mut body = String::new();
    body.push_str(&format!("<h1>Your record: {}</h1>\n", escape(&copy.title)));
    body.push_str(
        "<p class=\"print-note\">This is your copy. You can print it or save it; \
         this page is not stored on your device.</p>\n<dl>\n",
    );
    row(&mut body, "Reference", &copy.reference);
    row(&mut body, "Date and time", &copy.local_time);
    row(&mut body, "Place", &copy.place);
    row(
        &mut body,
        "Officer's shoulder number",
        &copy.officer.shoulder_number,
    );
    row(&mut body, "Police station", &copy.officer.station);
    if let Some(s) = &copy.search {
        row(&mut body, "Type of search", &s.search_type);
        if let Some(reg) = &s.vehicle_registration {
            row(&mut body, "Vehicle registration", reg);
        }
        row(&mut body, "Power used", &s.legislation);
        if let Some(op) = &s.operation_name {
            row(&mut body, "Policing operation", op);
        }
        row(&mut body, "Grounds for the search", &s.grounds);
        row(
            &mut body,
            "What the officer was looking for",
            &s.object_of_search,
        );
        row(&mut body, "Outcome", &s.outcome);
        if let Some(linked) = s.outcome_linked_to_object_of_search {
            row(
                &mut body,
                "Outcome linked to what was looked for",
                yes_no(linked),
            );
        }
        row(
            &mut body,
            "More than outer clothing removed",
            yes_no(s.removal_of_more_than_outer_clothing),
        );
        row(
            &mut body,
            "Your ethnic background (as you described it)",
            s.self_defined_ethnicity
                .as_deref()
                .unwrap_or("Not recorded"),
        );
        if let Some(e) = &s.officer_defined_ethnicity {
            row(
                &mut body,
                "Ethnic background (as the officer recorded it)",
                e,
            );
        }
        row(
            &mut body,
            "Gender",
            s.gender.as_deref().unwrap_or("Not recorded"),
        );
        row(
            &mut body,
            "Age range",
            s.age_range.as_deref().unwrap_or("Not recorded"),
        );
    }
    if let Some(a) = &copy.account {
        row(&mut body, "What you were asked about", &a.asked_about);
        row(
            &mut body,
            "Your ethnic background (as you described it)",
            a.self_defined_ethnicity
                .as_deref()
                .unwrap_or("Not recorded"),
        );
    }
    let receipt = match (
        copy.receipt.status.as_str(),
        &copy.receipt.medium,
        &copy.receipt.reason,
    ) {
        ("given", Some(medium), _) => format!("Given at the time ({medium})"),
        ("not given", _, Some(reason)) => format!("Not given at the time: {reason}"),
        (status, _, _) => status.to_string(),
    };
    row(&mut body, "Receipt", &receipt);
    body.push_str("</dl>\n<h2>How to comment or complain</h2>\n");
    let c = &copy.how_to_complain;
    body.push_str(&format!("<p>{}</p>\n", escape(&c.feedback)));
    body.push_str(
        "<p>If you want to complain about the conduct of an officer or member of staff, you can:</p>\n<ul>\n",
    );
    for item in &c.about_an_officer {
        body.push_str(&format!("<li>{}</li>\n", escape(item)));
    }
    body.push_str(&format!("</ul>\n<p>{}</p>\n", escape(&c.oversight)));
    body.push_str(&format!(
        "<p class=\"print-note\">Copy made {}.</p>\n<p class=\"no-print\"><a href=\"/copy\">Look up another record</a></p>\n",
        escape(&copy.issued_at)
    ));
    // Not the reference: a browser keeps the title in its history.
    layout(&format!("Your record: {}", copy.title), &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_everything_that_could_open_markup() {
        assert_eq!(
            escape("<script>\"a\" & 'b'</script>"),
            "&lt;script&gt;&quot;a&quot; &amp; &#39;b&#39;&lt;/script&gt;"
        );
        let page = form_page(Some("<b>"), "\"><img src=x>", "2026-11-28");
        assert!(!page.contains("<img"));
        assert!(!page.contains("<b>"));
    }
}
