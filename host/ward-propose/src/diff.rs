//! A bounded unified diff of source files, for the report.

use std::collections::BTreeMap;

/// Largest source diff kept in a report, in bytes. Threat: a proposal whose diff makes the
/// report (stored and shown to the operator) grow without end; a cut diff says so.
pub const MAX_SOURCE_DIFF_BYTES: usize = 128 * 1024;
/// Most lines of one file compared line by line. Threat: quadratic work on a huge file; a
/// larger file is reported as changed, without the lines.
pub const MAX_DIFF_FILE_LINES: usize = 4000;
/// Lines of context around each change.
const CONTEXT: usize = 3;

/// The unified diff from `old` to `new` (file path → text), and whether it was cut.
pub fn source_diff(
    old: &BTreeMap<String, String>,
    new: &BTreeMap<String, String>,
) -> (String, bool) {
    let mut out = String::new();
    let mut paths: Vec<&String> = old.keys().chain(new.keys()).collect();
    paths.sort();
    paths.dedup();
    for path in paths {
        let a = old.get(path).map_or("", String::as_str);
        let b = new.get(path).map_or("", String::as_str);
        if old.contains_key(path) && new.contains_key(path) && a == b {
            continue;
        }
        let from = if old.contains_key(path) {
            format!("a/{path}")
        } else {
            "/dev/null".to_owned()
        };
        let to = if new.contains_key(path) {
            format!("b/{path}")
        } else {
            "/dev/null".to_owned()
        };
        out.push_str(&format!("--- {from}\n+++ {to}\n"));
        file_diff(a, b, &mut out);
        if out.len() > MAX_SOURCE_DIFF_BYTES {
            let mut cut = MAX_SOURCE_DIFF_BYTES;
            while !out.is_char_boundary(cut) {
                cut -= 1;
            }
            out.truncate(cut);
            out.push_str("\n… (diff cut)\n");
            return (out, true);
        }
    }
    (out, false)
}

#[derive(Clone, Copy, PartialEq)]
enum Op {
    Same,
    Del,
    Add,
}

fn file_diff(a: &str, b: &str, out: &mut String) {
    let a: Vec<&str> = a.lines().collect();
    let b: Vec<&str> = b.lines().collect();
    if a.len() > MAX_DIFF_FILE_LINES || b.len() > MAX_DIFF_FILE_LINES {
        out.push_str(&format!(
            "@@ file too large to compare line by line ({} -> {} lines) @@\n",
            a.len(),
            b.len()
        ));
        return;
    }
    // Longest common subsequence table, from the end.
    let (n, m) = (a.len(), b.len());
    let mut lcs = vec![0u32; (n + 1) * (m + 1)];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i * (m + 1) + j] = if a[i] == b[j] {
                lcs[(i + 1) * (m + 1) + j + 1] + 1
            } else {
                lcs[(i + 1) * (m + 1) + j].max(lcs[i * (m + 1) + j + 1])
            };
        }
    }
    let mut ops: Vec<(Op, usize, usize)> = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < n || j < m {
        if i < n && j < m && a[i] == b[j] {
            ops.push((Op::Same, i, j));
            i += 1;
            j += 1;
        } else if i < n && (j == m || lcs[(i + 1) * (m + 1) + j] >= lcs[i * (m + 1) + j + 1]) {
            // Deletions first, as `diff -u` shows them.
            ops.push((Op::Del, i, j));
            i += 1;
        } else {
            ops.push((Op::Add, i, j));
            j += 1;
        }
    }
    // Group changes into hunks with context.
    let mut k = 0;
    while k < ops.len() {
        if ops[k].0 == Op::Same {
            k += 1;
            continue;
        }
        let start = k.saturating_sub(CONTEXT);
        let mut last = k;
        let mut scan = k;
        while scan < ops.len() {
            if ops[scan].0 != Op::Same {
                last = scan;
            } else if scan - last > 2 * CONTEXT {
                break;
            }
            scan += 1;
        }
        let end = (last + 1 + CONTEXT).min(ops.len());
        let hunk = &ops[start..end];
        let a_start = hunk.first().map_or(0, |o| o.1);
        let b_start = hunk.first().map_or(0, |o| o.2);
        let a_len = hunk.iter().filter(|o| o.0 != Op::Add).count();
        let b_len = hunk.iter().filter(|o| o.0 != Op::Del).count();
        out.push_str(&format!(
            "@@ -{},{} +{},{} @@\n",
            a_start + usize::from(a_len > 0),
            a_len,
            b_start + usize::from(b_len > 0),
            b_len
        ));
        for (op, ai, bj) in hunk {
            match op {
                Op::Same => out.push_str(&format!(" {}\n", a[*ai])),
                Op::Del => out.push_str(&format!("-{}\n", a[*ai])),
                Op::Add => out.push_str(&format!("+{}\n", b[*bj])),
            }
        }
        k = end;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn changed_added_and_removed_files_are_shown() {
        let old = files(&[
            ("a.rs", "1\n2\n3\n"),
            ("gone.rs", "x\n"),
            ("same.rs", "s\n"),
        ]);
        let new = files(&[
            ("a.rs", "1\ntwo\n3\n"),
            ("new.rs", "y\n"),
            ("same.rs", "s\n"),
        ]);
        let (text, cut) = source_diff(&old, &new);
        assert!(!cut);
        assert_eq!(
            text,
            "--- a/a.rs\n+++ b/a.rs\n@@ -1,3 +1,3 @@\n 1\n-2\n+two\n 3\n\
             --- a/gone.rs\n+++ /dev/null\n@@ -1,1 +0,0 @@\n-x\n\
             --- /dev/null\n+++ b/new.rs\n@@ -0,0 +1,1 @@\n+y\n"
        );
    }

    #[test]
    fn a_huge_diff_is_cut_and_says_so() {
        let big: String = (0..3000)
            .map(|i| format!("line {i} {}\n", "x".repeat(60)))
            .collect();
        let (text, cut) = source_diff(&BTreeMap::new(), &files(&[("big.rs", &big)]));
        assert!(cut);
        assert!(text.len() <= MAX_SOURCE_DIFF_BYTES + 20);
        assert!(text.ends_with("(diff cut)\n"));
    }
}
