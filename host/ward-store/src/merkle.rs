//! The audit log as a Merkle tree (RFC 9162, section 2.1): each row's hash is a leaf, in sequence
//! order, so that a checkpoint (the tree's size and root hash, signed) kept anywhere commits to
//! every row up to it. An inclusion proof shows one row is in the tree a checkpoint names; a
//! consistency proof shows a later tree extends an earlier one, so rewriting any row a checkpoint
//! covers is caught by whoever holds that checkpoint, even when the log and its head are
//! rewritten together.
//!
//! Hashes are SHA-256; a leaf is `SHA-256(0x00 || row hash)`, an inner node
//! `SHA-256(0x01 || left || right)`, the empty tree `SHA-256("")`.

use sha2::{Digest as _, Sha256};

/// A node of the tree.
pub type Hash = [u8; 32];

/// The leaf hash of one audit row's hash.
pub fn leaf_hash(row_hash: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(row_hash);
    h.finalize().into()
}

fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The largest power of two smaller than `n` (`n` > 1).
fn split(n: usize) -> usize {
    let mut k = 1;
    while k << 1 < n {
        k <<= 1;
    }
    k
}

/// The root of the tree over `leaves` (leaf hashes), `MTH(D[n])`.
pub fn root(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => Sha256::digest([]).into(),
        1 => leaves[0],
        n => {
            let k = split(n);
            node_hash(&root(&leaves[..k]), &root(&leaves[k..]))
        }
    }
}

/// The inclusion proof of leaf `index` in the tree over `leaves`, `PATH(m, D[n])`; `None` when
/// `index` is not in the tree.
pub fn inclusion_proof(leaves: &[Hash], index: usize) -> Option<Vec<Hash>> {
    if index >= leaves.len() {
        return None;
    }
    fn path(m: usize, d: &[Hash]) -> Vec<Hash> {
        if d.len() <= 1 {
            return Vec::new();
        }
        let k = split(d.len());
        if m < k {
            let mut p = path(m, &d[..k]);
            p.push(root(&d[k..]));
            p
        } else {
            let mut p = path(m - k, &d[k..]);
            p.push(root(&d[..k]));
            p
        }
    }
    Some(path(index, leaves))
}

/// Checks an inclusion proof (RFC 9162, 2.1.3.2): leaf `leaf` at `index` in a tree of `size`
/// leaves whose root is `root`.
pub fn verify_inclusion(index: u64, size: u64, leaf: &Hash, proof: &[Hash], root: &Hash) -> bool {
    if index >= size {
        return false;
    }
    let (mut fnode, mut snode) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if snode == 0 {
            return false;
        }
        if fnode & 1 == 1 || fnode == snode {
            r = node_hash(p, &r);
            if fnode & 1 == 0 {
                while fnode & 1 == 0 && fnode != 0 {
                    fnode >>= 1;
                    snode >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    snode == 0 && r == *root
}

/// The consistency proof between the tree of the first `m` leaves and the tree over all of
/// `leaves`, `PROOF(m, D[n])`; `None` unless 0 < `m` <= n.
pub fn consistency_proof(leaves: &[Hash], m: usize) -> Option<Vec<Hash>> {
    if m == 0 || m > leaves.len() {
        return None;
    }
    fn subproof(m: usize, d: &[Hash], whole: bool) -> Vec<Hash> {
        let n = d.len();
        if m == n {
            return if whole { Vec::new() } else { vec![root(d)] };
        }
        let k = split(n);
        if m <= k {
            let mut p = subproof(m, &d[..k], whole);
            p.push(root(&d[k..]));
            p
        } else {
            let mut p = subproof(m - k, &d[k..], false);
            p.push(root(&d[..k]));
            p
        }
    }
    Some(subproof(m, leaves, true))
}

/// Checks a consistency proof (RFC 9162, 2.1.4.2): the tree of `first` leaves with root
/// `first_root` is a prefix of the tree of `second` leaves with root `second_root`.
pub fn verify_consistency(
    first: u64,
    second: u64,
    first_root: &Hash,
    second_root: &Hash,
    proof: &[Hash],
) -> bool {
    if first == 0 || first > second {
        return false;
    }
    if first == second {
        return proof.is_empty() && first_root == second_root;
    }
    let mut path: Vec<Hash> = proof.to_vec();
    // When `first` is a power of two, its root is the first node of the path.
    if first.is_power_of_two() {
        path.insert(0, *first_root);
    }
    let Some((head, rest)) = path.split_first() else {
        return false;
    };
    let (mut fnode, mut snode) = (first - 1, second - 1);
    while fnode & 1 == 1 {
        fnode >>= 1;
        snode >>= 1;
    }
    let (mut fr, mut sr) = (*head, *head);
    for c in rest {
        if snode == 0 {
            return false;
        }
        if fnode & 1 == 1 || fnode == snode {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if fnode & 1 == 0 {
                while fnode & 1 == 0 && fnode != 0 {
                    fnode >>= 1;
                    snode >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    snode == 0 && fr == *first_root && sr == *second_root
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaves(n: usize) -> Vec<Hash> {
        (0..n)
            .map(|i| leaf_hash(&Sha256::digest(i.to_le_bytes()).into()))
            .collect()
    }

    #[test]
    fn known_roots() {
        // The empty tree and a one-leaf tree, by the definition.
        assert_eq!(
            hex::encode(root(&[])),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let l = leaves(3);
        assert_eq!(root(&l[..1]), l[0]);
        assert_eq!(root(&l[..2]), node_hash(&l[0], &l[1]));
        assert_eq!(root(&l), node_hash(&node_hash(&l[0], &l[1]), &l[2]));
    }

    #[test]
    fn every_inclusion_proof_verifies_and_no_mutation_does() {
        for n in 1..=33usize {
            let l = leaves(n);
            let r = root(&l);
            for i in 0..n {
                let p = inclusion_proof(&l, i).unwrap();
                let (i64_, n64) = (i as u64, n as u64);
                assert!(verify_inclusion(i64_, n64, &l[i], &p, &r), "{i} of {n}");
                // Another leaf or root, an index outside the tree, any flipped bit of the path,
                // a path one node longer or shorter: refused. (The size enters only through the
                // root: a tree of another size has another root.)
                if n > 1 {
                    assert!(!verify_inclusion(i64_, n64, &l[(i + 1) % n], &p, &r));
                }
                assert!(!verify_inclusion(n64, n64, &l[i], &p, &r));
                assert!(!verify_inclusion(i64_, n64, &l[i], &p, &leaf_hash(&r)));
                if let Some((_, shorter)) = p.split_last() {
                    assert!(!verify_inclusion(i64_, n64, &l[i], shorter, &r));
                }
                for j in 0..p.len() {
                    let mut bad = p.clone();
                    bad[j][j % 32] ^= 1;
                    assert!(!verify_inclusion(i64_, n64, &l[i], &bad, &r));
                }
                let mut longer = p.clone();
                longer.push(r);
                assert!(!verify_inclusion(i64_, n64, &l[i], &longer, &r));
            }
            assert!(inclusion_proof(&l, n).is_none());
        }
    }

    #[test]
    fn every_consistency_proof_verifies_and_no_mutation_does() {
        for n in 1..=33usize {
            let l = leaves(n);
            let rn = root(&l);
            for m in 1..=n {
                let rm = root(&l[..m]);
                let p = consistency_proof(&l, m).unwrap();
                let (m64, n64) = (m as u64, n as u64);
                assert!(verify_consistency(m64, n64, &rm, &rn, &p), "{m} -> {n}");
                // A rewritten prefix has another root: refused.
                let mut rewritten = l.clone();
                rewritten[m - 1] = leaf_hash(&[7u8; 32]);
                let rm2 = root(&rewritten[..m]);
                assert!(!verify_consistency(m64, n64, &rm2, &rn, &p));
                for j in 0..p.len() {
                    let mut bad = p.clone();
                    bad[j][0] ^= 0x80;
                    assert!(
                        !verify_consistency(m64, n64, &rm, &rn, &bad),
                        "{m} -> {n} at {j}"
                    );
                }
                // Another later root (a log that does not extend the first): refused.
                assert!(!verify_consistency(m64, n64, &rm, &leaf_hash(&rn), &p));
                assert!(!verify_consistency(0, n64, &rm, &rn, &p));
                assert!(!verify_consistency(n64 + 1, n64, &rm, &rn, &p));
            }
            assert!(consistency_proof(&l, 0).is_none());
            assert!(consistency_proof(&l, n + 1).is_none());
        }
    }
}
