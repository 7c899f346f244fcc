//! `example:notes`: notes in the plugin's private key-value store, exported on request to the
//! directory the operator granted at `/notes`.

ward_sdk::generate!({
    world: "example:notes/notes@0.1.0",
    path: ["../../wit", "wit"],
    // The SDK presets ward:plugin/log; interfaces it does not preset are generated here.
    with: { "ward:plugin/keyvalue@0.1.0": generate },
});

use ward::plugin::keyvalue::{self, Error};

struct Notes;

fn text(err: Error) -> String {
    match err {
        Error::Denied => "key-value storage is not granted".into(),
        Error::QuotaExceeded => "the key-value quota is full".into(),
        Error::TooLarge => "the note is too large".into(),
        Error::Other(text) => text,
    }
}

impl Guest for Notes {
    fn add_note(title: String, body: String) -> Result<(), String> {
        keyvalue::set(&title, body.as_bytes()).map_err(text)
    }

    fn get_note(title: String) -> Result<Option<String>, String> {
        let value = keyvalue::get(&title).map_err(text)?;
        Ok(value.map(|bytes| String::from_utf8_lossy(&bytes).into_owned()))
    }

    fn delete_note(title: String) -> Result<bool, String> {
        keyvalue::delete(&title).map_err(text)
    }

    fn export_note(title: String) -> Result<String, String> {
        if title.contains(['/', '\\']) || title.starts_with('.') {
            return Err(format!("'{title}' is not a plain file name"));
        }
        let body = keyvalue::get(&title)
            .map_err(text)?
            .ok_or_else(|| format!("no note called '{title}'"))?;
        let path = format!("/notes/{title}.txt");
        std::fs::write(&path, body).map_err(|e| e.to_string())?;
        Ok(path)
    }
}

export!(Notes);
