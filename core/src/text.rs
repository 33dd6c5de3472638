//! Text from elsewhere made inert for a terminal. What an officer typed on
//! a handset, what a hostile device or a broken server sent, reaches the
//! terminal of whoever runs a command line: the server's `admin` commands
//! and the device CLI. Both show it through this one module, so no escape
//! sequence, line break, tab or bidi control chosen by someone else can
//! rewrite the screen, forge a row or reorder what is read.
//!
//! Two shapes: [`inert`] for text shown as it is (a table's cell, a
//! sentence), [`json_for_terminal`] for a JSON text, whose value stays the
//! same.

use std::borrow::Cow;

/// Characters that change how the rest of a line reads without being
/// seen: the Arabic letter mark, zero-width characters and bidi marks,
/// the Unicode line and paragraph separators, embeddings and overrides,
/// the word joiner and invisible operators, the bidi isolates, and the
/// byte-order mark. [`char::is_control`] covers the rest (C0, DEL, C1:
/// escape sequences, tabs, line ends).
fn is_invisible_format(c: char) -> bool {
    matches!(c,
        '\u{061C}' | '\u{200B}'..='\u{200F}' | '\u{2028}'..='\u{202E}'
        | '\u{2060}'..='\u{2069}' | '\u{FEFF}')
}

/// Whether `c` acts on a terminal or on how a line reads: a control
/// character or an invisible format character.
pub fn acts_on_terminal(c: char) -> bool {
    c.is_control() || is_invisible_format(c)
}

/// `text` as shown on a terminal: each character that
/// [acts on it](acts_on_terminal) written as `\u{...}`, so it is seen and
/// does nothing. Borrowed when there is none.
pub fn inert(text: &str) -> Cow<'_, str> {
    if !text.chars().any(acts_on_terminal) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.chars()
            .map(|c| {
                if acts_on_terminal(c) {
                    format!("\\u{{{:x}}}", u32::from(c))
                } else {
                    c.to_string()
                }
            })
            .collect(),
    )
}

/// A JSON text as serde_json writes it (which escapes C0 controls only)
/// with DEL, the C1 controls (U+009B is a terminal's CSI) and each
/// invisible format character escaped as `\uXXXX` too: the same JSON
/// value, and nothing in it acts on the terminal. These characters occur
/// only inside strings, where the escape is valid; the layout's line
/// breaks and indents (C0, ASCII) are left alone.
pub fn json_for_terminal(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if (c.is_control() && c > '\u{7e}') || is_invisible_format(c) {
            out.push_str(&format!("\\u{:04x}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOSTILE: &str = "a\u{1b}[2J\tb\nc\u{7f}\u{9b}31m\u{202E}d\u{2066}\u{200B}\u{FEFF}e";

    #[test]
    fn inert_text_spells_out_every_character_that_acts() {
        let shown = inert(HOSTILE);
        assert!(!shown.chars().any(acts_on_terminal), "{shown:?}");
        assert_eq!(
            shown,
            r"a\u{1b}[2J\u{9}b\u{a}c\u{7f}\u{9b}31m\u{202e}d\u{2066}\u{200b}\u{feff}e"
        );
        assert!(matches!(inert("High St, Lewisham"), Cow::Borrowed(_)));
    }

    #[test]
    fn json_for_a_terminal_is_the_same_value() {
        let value = serde_json::json!({ "place": HOSTILE, "n": [1, 2] });
        let json = serde_json::to_string_pretty(&value).unwrap();
        let shown = json_for_terminal(&json);
        assert!(
            !shown.chars().any(|c| c != '\n' && acts_on_terminal(c)),
            "{shown:?}"
        );
        let back: serde_json::Value = serde_json::from_str(&shown).unwrap();
        assert_eq!(back, value);
    }
}
