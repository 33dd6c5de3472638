use super::*;

#[test]
fn credentials_stored_before_pin_rotation_read_with_no_announced_pins() {
    let old = br#"{"server_url":"https://h/#pin=x","device_id":"d","token":"t"}"#;
    let read: Credentials = serde_json::from_slice(old).unwrap();
    assert!(read.announced_pins.is_empty());
    // And they are written the same way until something is announced.
    assert_eq!(serde_json::to_vec(&read).unwrap(), old.to_vec());
}

#[test]
fn announced_pins_are_remembered_once_and_bounded() {
    let mut credentials = Credentials {
        server_url: "https://h/".into(),
        device_id: "d".into(),
        token: "t".into(),
        announced_pins: Vec::new(),
    };
    assert!(credentials.remember_pins(&["a".into()]));
    assert!(!credentials.remember_pins(&["a".into()]));
    let many: Vec<String> = (0..MAX_ANNOUNCED_PINS + 3).map(|n| n.to_string()).collect();
    assert!(credentials.remember_pins(&many));
    assert_eq!(credentials.announced_pins, many[3..].to_vec());
}
