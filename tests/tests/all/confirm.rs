//! `ward:plugin/confirm` in the runtime, with the real drafts plugin: what the hook is asked,
//! what the guest is told, and how a pending ask ends the call. Each attack is its own test.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use serde_json::{Value, json};
use ward_link::{KeyValue, KvError};
use ward_runtime::{
    CallError, ConfirmAnswer, ConfirmHook, ConfirmPending, Grants, Limits, Plugin, Runtime,
    RuntimeOptions,
};

fn runtime() -> &'static Runtime {
    static RT: OnceLock<Runtime> = OnceLock::new();
    RT.get_or_init(|| Runtime::new(RuntimeOptions::default()).unwrap())
}

fn drafts() -> Arc<Plugin> {
    runtime()
        .load_file(Path::new(ward_fixtures::DRAFTS))
        .unwrap()
}

/// An in-memory key-value namespace.
#[derive(Default)]
struct Memory(Mutex<HashMap<String, Vec<u8>>>);

impl KeyValue for Memory {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        Ok(self.0.lock().unwrap().get(key).cloned())
    }
    fn set(&self, key: &str, value: &[u8]) -> Result<(), KvError> {
        self.0.lock().unwrap().insert(key.into(), value.to_vec());
        Ok(())
    }
    fn delete(&self, key: &str) -> Result<bool, KvError> {
        Ok(self.0.lock().unwrap().remove(key).is_some())
    }
}

/// Answers every ask with `answer` after `wait`, recording the prompts it was shown.
struct Scripted {
    answer: ConfirmAnswer,
    wait: Duration,
    asked: Mutex<Vec<String>>,
}

impl ConfirmHook for Scripted {
    fn confirm(&self, prompt: &str) -> ConfirmAnswer {
        self.asked.lock().unwrap().push(prompt.to_owned());
        std::thread::sleep(self.wait);
        self.answer.clone()
    }
}

fn scripted(answer: ConfirmAnswer) -> Arc<Scripted> {
    Arc::new(Scripted {
        answer,
        wait: Duration::ZERO,
        asked: Mutex::new(Vec::new()),
    })
}

/// Grants with a key-value namespace holding `titles` (body "draft") and the hook, if any.
fn grants(titles: &[&str], hook: Option<Arc<Scripted>>) -> (Grants, Arc<Memory>) {
    let kv = Arc::new(Memory::default());
    for t in titles {
        kv.set(t, b"draft").unwrap();
    }
    let grants = Grants {
        keyvalue: Some(kv.clone()),
        confirm: hook.map(|h| h as Arc<dyn ConfirmHook>),
        ..Grants::default()
    };
    (grants, kv)
}

async fn discard(titles: &[&str], limits: &Limits, grants: &Grants) -> Result<Value, CallError> {
    runtime()
        .call(
            &drafts(),
            "discard",
            &json!({ "titles": titles }),
            limits,
            grants,
        )
        .await
        .map(|out| out.result)
}

#[tokio::test]
async fn approved_ask_tells_the_guest_true_and_the_hook_sees_the_prompt() {
    let hook = scripted(ConfirmAnswer::Approved);
    let (grants, kv) = grants(&["a", "b"], Some(hook.clone()));
    let result = discard(&["a", "b"], &Limits::default(), &grants)
        .await
        .unwrap();
    assert_eq!(result, json!({ "ok": 2 }));
    assert_eq!(
        *hook.asked.lock().unwrap(),
        ["Delete 2 draft(s): a (5 bytes), b (5 bytes)?"]
    );
    assert!(kv.0.lock().unwrap().is_empty());
}

#[tokio::test]
async fn denied_ask_tells_the_guest_false() {
    let hook = scripted(ConfirmAnswer::Denied);
    let (grants, kv) = grants(&["a"], Some(hook.clone()));
    let result = discard(&["a"], &Limits::default(), &grants).await.unwrap();
    assert!(
        result["err"].as_str().unwrap().starts_with("cancelled"),
        "{result}"
    );
    assert_eq!(kv.get("a").unwrap().as_deref(), Some(&b"draft"[..]));
}

#[tokio::test]
async fn pending_ask_ends_the_call_with_a_typed_outcome_and_nothing_after_it_runs() {
    let pending = ConfirmPending {
        id: "cf_0123".into(),
        summary: "example:drafts discard(...) asks: ...".into(),
        expires: "2030-01-01T00:00:00Z".into(),
    };
    let hook = scripted(ConfirmAnswer::Pending(pending.clone()));
    let (grants, kv) = grants(&["a"], Some(hook));
    let err = discard(&["a"], &Limits::default(), &grants)
        .await
        .unwrap_err();
    match err {
        CallError::ConfirmPending(p) => assert_eq!(p, pending),
        other => panic!("expected a pending confirmation, got {other:?}"),
    }
    assert_eq!(kv.get("a").unwrap().as_deref(), Some(&b"draft"[..]));
}

#[tokio::test]
async fn ask_without_a_hook_is_false() {
    // `ward dev run`, and any call whose plugin was not granted confirmations.
    let (grants, kv) = grants(&["a"], None);
    let result = discard(&["a"], &Limits::default(), &grants).await.unwrap();
    assert!(
        result["err"].as_str().unwrap().starts_with("cancelled"),
        "{result}"
    );
    assert!(kv.get("a").unwrap().is_some());
}

#[tokio::test]
async fn over_long_prompt_is_denied_without_asking_the_operator() {
    let hook = scripted(ConfirmAnswer::Approved);
    let long: Vec<String> = (0..8).map(|i| format!("{i}{}", "x".repeat(40))).collect();
    let titles: Vec<&str> = long.iter().map(String::as_str).collect();
    let (grants, kv) = grants(&titles, Some(hook.clone()));
    let result = discard(&titles, &Limits::default(), &grants).await.unwrap();
    assert!(
        result["err"].as_str().unwrap().starts_with("cancelled"),
        "{result}"
    );
    assert!(hook.asked.lock().unwrap().is_empty());
    assert_eq!(kv.0.lock().unwrap().len(), 8);
}

#[tokio::test]
async fn prompt_reaches_the_hook_sanitized() {
    let hook = scripted(ConfirmAnswer::Denied);
    let title = "a\u{1b}[31m\u{202e}b\nc";
    let (grants, _) = grants(&[], Some(hook.clone()));
    discard(&[title], &Limits::default(), &grants)
        .await
        .unwrap();
    assert_eq!(
        *hook.asked.lock().unwrap(),
        ["Delete 1 draft(s): a\u{FFFD}[31m\u{FFFD}b\u{FFFD}c (missing)?"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn time_waiting_for_the_operator_is_not_the_calls() {
    // The operator answers after longer than the call's whole time limit; the guest still gets
    // its full time afterwards.
    let limits = Limits {
        timeout: Duration::from_millis(300),
        ..Limits::default()
    };
    let hook = Arc::new(Scripted {
        answer: ConfirmAnswer::Approved,
        wait: Duration::from_millis(1200),
        asked: Mutex::new(Vec::new()),
    });
    let (grants, _) = grants(&["a"], Some(hook));
    let result = discard(&["a"], &limits, &grants).await.unwrap();
    assert_eq!(result, json!({ "ok": 1 }));
}
