//! `example:drafts`: drafts in the plugin's private key-value store. `discard` asks the
//! operator before it deletes anything.

ward_sdk::generate!({
    world: "example:drafts/drafts@0.1.0",
    path: ["../../wit", "wit"],
    // The SDK presets ward:plugin/log; interfaces it does not preset are generated here.
    with: {
        "ward:plugin/keyvalue@0.1.0": generate,
        "ward:plugin/confirm@0.1.0": generate,
    },
});

use ward::plugin::confirm::confirm;
use ward::plugin::keyvalue::{self, Error};

/// Most drafts one `discard` takes, so that the prompt can name them all.
const MAX_DISCARD: usize = 8;

struct Drafts;

fn text(err: Error) -> String {
    match err {
        Error::Denied => "key-value storage is not granted".into(),
        Error::QuotaExceeded => "the key-value quota is full".into(),
        Error::TooLarge => "the draft is too large".into(),
        Error::Other(text) => text,
    }
}

impl Guest for Drafts {
    fn save(title: String, body: String) -> Result<(), String> {
        keyvalue::set(&title, body.as_bytes()).map_err(text)
    }

    fn read(title: String) -> Result<Option<String>, String> {
        let value = keyvalue::get(&title).map_err(text)?;
        Ok(value.map(|bytes| String::from_utf8_lossy(&bytes).into_owned()))
    }

    fn discard(titles: Vec<String>) -> Result<u32, String> {
        if titles.is_empty() {
            return Ok(0);
        }
        if titles.len() > MAX_DISCARD {
            return Err(format!("discard at most {MAX_DISCARD} drafts at a time"));
        }
        // The prompt says what would be lost now: an approval given for one state of the drafts
        // does not cover another.
        let mut shown = Vec::with_capacity(titles.len());
        for title in &titles {
            shown.push(match keyvalue::get(title).map_err(text)? {
                Some(body) => format!("{title} ({} bytes)", body.len()),
                None => format!("{title} (missing)"),
            });
        }
        // Ask before acting: a call stopped for the operator's decision is repeated from the
        // start, so nothing above this line changes anything.
        let prompt = format!("Delete {} draft(s): {}?", titles.len(), shown.join(", "));
        if !confirm(&prompt) {
            return Err("cancelled: the operator did not approve deleting these drafts".into());
        }
        let mut deleted = 0;
        for title in &titles {
            if keyvalue::delete(title).map_err(text)? {
                deleted += 1;
            }
        }
        Ok(deleted)
    }
}

export!(Drafts);
