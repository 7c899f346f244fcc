//! Gates decided before any guest code runs: rate limits (token buckets), daily caps on calls and
//! call time (counted in the store, cached here), and concurrency caps.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ward_policy::Rate;
use ward_store::Usage;

/// Why a gate refused a call. Each is a typed API error and an audit reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The token's rate limit.
    TokenRate,
    /// The plugin's rate limit.
    PluginRate,
    /// The token's daily call cap.
    TokenDailyCalls,
    /// The plugin's daily call cap.
    PluginDailyCalls,
    /// The token's daily call-time cap.
    TokenDailyCpu,
    /// The plugin's daily call-time cap.
    PluginDailyCpu,
    /// Too many of the token's calls running.
    TokenConcurrency,
    /// Too many of the plugin's calls running.
    PluginConcurrency,
}

impl Refusal {
    /// The audit reason and API error kind.
    pub(crate) fn code(self) -> &'static str {
        match self {
            Refusal::TokenRate => "token-rate-limit",
            Refusal::PluginRate => "plugin-rate-limit",
            Refusal::TokenDailyCalls => "token-daily-calls",
            Refusal::PluginDailyCalls => "plugin-daily-calls",
            Refusal::TokenDailyCpu => "token-daily-cpu",
            Refusal::PluginDailyCpu => "plugin-daily-cpu",
            Refusal::TokenConcurrency => "token-concurrency",
            Refusal::PluginConcurrency => "plugin-concurrency",
        }
    }

    /// A message for the agent.
    pub(crate) fn message(self) -> &'static str {
        match self {
            Refusal::TokenRate => "the token's rate limit is reached; retry later",
            Refusal::PluginRate => "the plugin's rate limit is reached; retry later",
            Refusal::TokenDailyCalls => "the token's daily call cap is reached",
            Refusal::PluginDailyCalls => "the plugin's daily call cap is reached",
            Refusal::TokenDailyCpu => "the token's daily call-time cap is reached",
            Refusal::PluginDailyCpu => "the plugin's daily call-time cap is reached",
            Refusal::TokenConcurrency => "too many calls of this token are running",
            Refusal::PluginConcurrency => "too many calls of this plugin are running",
        }
    }
}

struct Bucket {
    tokens: f64,
    last: Instant,
}

/// In-memory gate state shared by every connection.
#[derive(Default)]
pub(crate) struct Gates {
    buckets: Mutex<HashMap<String, Bucket>>,
    /// Usage per scope for the day it was loaded on: (day, usage).
    daily: Mutex<HashMap<String, (String, Usage)>>,
    running: Mutex<HashMap<String, usize>>,
}

/// A running call's slot in the concurrency counters; released on drop.
pub(crate) struct Slot {
    gates: Arc<Gates>,
    scopes: Vec<String>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut running = self.gates.lock_running();
        for s in &self.scopes {
            if let Some(n) = running.get_mut(s) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    running.remove(s);
                }
            }
        }
    }
}

/// What one caps check is about.
pub(crate) struct DailyCap<'a> {
    pub(crate) scope: &'a str,
    pub(crate) calls: Option<u64>,
    pub(crate) cpu_ms: Option<u64>,
    pub(crate) calls_refusal: Refusal,
    pub(crate) cpu_refusal: Refusal,
}

impl Gates {
    fn lock_running(&self) -> std::sync::MutexGuard<'_, HashMap<String, usize>> {
        self.running.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes one unit from every bucket in `rates`, or none if any is empty.
    pub(crate) fn take_rate(&self, rates: &[(&str, Rate, Refusal)]) -> Result<(), Refusal> {
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        for (scope, rate, refusal) in rates {
            let b = buckets.entry((*scope).to_owned()).or_insert(Bucket {
                tokens: rate.count as f64,
                last: now,
            });
            let per = rate.per.max(Duration::from_millis(1)).as_secs_f64();
            let refill = now.duration_since(b.last).as_secs_f64() * rate.count as f64 / per;
            b.tokens = (b.tokens + refill).min(rate.count as f64);
            b.last = now;
            if b.tokens < 1.0 {
                return Err(*refusal);
            }
        }
        for (scope, _, _) in rates {
            if let Some(b) = buckets.get_mut(*scope) {
                b.tokens -= 1.0;
            }
        }
        Ok(())
    }

    /// Checks the daily caps and, if every one allows another call, counts the call in all of
    /// them (a reservation: refused calls never count, admitted ones always do). Returns the call
    /// time still allowed today (the smallest over the caps), if any cap limits it.
    ///
    /// `load` reads a scope's usage from the store the first time it is seen on a day.
    pub(crate) fn admit_daily(
        &self,
        day: &str,
        caps: &[DailyCap<'_>],
        load: &mut dyn FnMut(&str) -> Result<Usage, ward_store::StoreError>,
    ) -> Result<Result<Option<Duration>, Refusal>, ward_store::StoreError> {
        let mut daily = self.daily.lock().unwrap_or_else(|e| e.into_inner());
        for cap in caps {
            let fresh = !matches!(daily.get(cap.scope), Some((d, _)) if d == day);
            if fresh {
                let usage = load(cap.scope)?;
                daily.insert(cap.scope.to_owned(), (day.to_owned(), usage));
            }
        }
        let mut remaining: Option<u64> = None;
        for cap in caps {
            let usage = daily.get(cap.scope).map(|(_, u)| *u).unwrap_or_default();
            if cap.calls.is_some_and(|max| usage.calls >= max) {
                return Ok(Err(cap.calls_refusal));
            }
            if let Some(max) = cap.cpu_ms {
                if usage.cpu_ms >= max {
                    return Ok(Err(cap.cpu_refusal));
                }
                let left = max - usage.cpu_ms;
                remaining = Some(remaining.map_or(left, |r| r.min(left)));
            }
        }
        for cap in caps {
            if let Some((_, u)) = daily.get_mut(cap.scope) {
                u.calls += 1;
            }
        }
        Ok(Ok(remaining.map(Duration::from_millis)))
    }

    /// Adds a finished call's time and fuel to the cached counters of `scopes`.
    pub(crate) fn add_usage(&self, day: &str, scopes: &[&str], cpu_ms: u64, fuel: u64) {
        let mut daily = self.daily.lock().unwrap_or_else(|e| e.into_inner());
        for s in scopes {
            if let Some((d, u)) = daily.get_mut(*s)
                && d == day
            {
                u.cpu_ms = u.cpu_ms.saturating_add(cpu_ms);
                u.fuel = u.fuel.saturating_add(fuel);
            }
        }
    }

    /// Takes a running slot in every scope, or none if any is at its cap.
    pub(crate) fn enter(
        self: &Arc<Self>,
        caps: &[(&str, usize, Refusal)],
    ) -> Result<Slot, Refusal> {
        let mut running = self.lock_running();
        for (scope, max, refusal) in caps {
            if running.get(*scope).copied().unwrap_or(0) >= *max {
                return Err(*refusal);
            }
        }
        for (scope, _, _) in caps {
            *running.entry((*scope).to_owned()).or_insert(0) += 1;
        }
        Ok(Slot {
            gates: self.clone(),
            scopes: caps.iter().map(|(s, _, _)| (*s).to_owned()).collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rate(count: u64, secs: u64) -> Rate {
        Rate {
            count,
            per: Duration::from_secs(secs),
        }
    }

    #[test]
    fn rate_bucket_refuses_after_burst_and_takes_nothing_when_refused() {
        let g = Gates::default();
        let tok = ("token:a", rate(2, 3600), Refusal::TokenRate);
        let plug = ("plugin:p", rate(3, 3600), Refusal::PluginRate);
        assert!(g.take_rate(&[tok, plug]).is_ok());
        assert!(g.take_rate(&[tok, plug]).is_ok());
        assert_eq!(g.take_rate(&[tok, plug]), Err(Refusal::TokenRate));
        // The refused call took nothing from the plugin's bucket: one unit is left.
        assert!(g.take_rate(&[plug]).is_ok());
        assert_eq!(g.take_rate(&[plug]), Err(Refusal::PluginRate));
    }

    #[test]
    fn daily_caps_count_admitted_calls_only() {
        let g = Gates::default();
        let cap = |calls| DailyCap {
            scope: "token:a",
            calls: Some(calls),
            cpu_ms: Some(1000),
            calls_refusal: Refusal::TokenDailyCalls,
            cpu_refusal: Refusal::TokenDailyCpu,
        };
        let mut load = |_: &str| {
            Ok(Usage {
                calls: 1,
                cpu_ms: 400,
                fuel: 0,
            })
        };
        let left = g.admit_daily("d1", &[cap(2)], &mut load).unwrap().unwrap();
        assert_eq!(left, Some(Duration::from_millis(600)));
        assert_eq!(
            g.admit_daily("d1", &[cap(2)], &mut load).unwrap(),
            Err(Refusal::TokenDailyCalls)
        );
        g.add_usage("d1", &["token:a"], 600, 0);
        assert_eq!(
            g.admit_daily("d1", &[cap(10)], &mut load).unwrap(),
            Err(Refusal::TokenDailyCpu)
        );
        // A new day reloads from the store.
        assert!(g.admit_daily("d2", &[cap(2)], &mut load).unwrap().is_ok());
    }

    #[test]
    fn concurrency_slots_are_released_on_drop() {
        let g = Arc::new(Gates::default());
        let caps = [("token:a", 1, Refusal::TokenConcurrency)];
        let slot = g.enter(&caps).unwrap();
        assert!(matches!(g.enter(&caps), Err(Refusal::TokenConcurrency)));
        drop(slot);
        assert!(g.enter(&caps).is_ok());
    }
}
