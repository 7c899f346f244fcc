//! Verification throughput of a multi-megabyte component (issue 3: >= 1 GB/s; the SHA-256 of the
//! content dominates). Run: `cargo bench -p ward-signing --bench verify`.
#![allow(clippy::unwrap_used, missing_docs)]

use divan::Bencher;
use divan::counter::BytesCount;
use ward_signing::{SecretKey, TrustPolicy, digest, sign, verify};

const SIZE: usize = 8 * 1024 * 1024;

fn main() {
    divan::main();
}

/// An 8 MiB component: a manifest and one large custom section of pseudo-random bytes.
fn component() -> Vec<u8> {
    let mut c = ward_signing::COMPONENT_PREAMBLE.to_vec();
    for (name, len) in [("ward-manifest", 64usize), ("payload", SIZE - 128)] {
        let mut data = Vec::with_capacity(len);
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        while data.len() < len {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            data.extend_from_slice(&x.to_le_bytes());
        }
        data.truncate(len);
        let mut payload = vec![u8::try_from(name.len()).unwrap()];
        payload.extend_from_slice(name.as_bytes());
        payload.extend_from_slice(&data);
        c.push(0);
        let mut n = payload.len();
        loop {
            let b = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                c.push(b);
                break;
            }
            c.push(b | 0x80);
        }
        c.extend(payload);
    }
    c
}

#[divan::bench(sample_count = 30)]
fn verify_8mib(bencher: Bencher) {
    let publisher = SecretKey::generate().unwrap();
    let ci = SecretKey::generate().unwrap();
    let signed = sign(&sign(&component(), &publisher).unwrap(), &ci).unwrap();
    let toml = format!(
        "[[key]]\nlabel = \"publisher\"\npublic_key = \"{}\"\nscope = [\"acme:*\"]\n\
         [[key]]\nlabel = \"ci\"\npublic_key = \"{}\"\nscope = [\"acme:*\"]\n\
         [[rule]]\nnamespace = \"acme:*\"\nthreshold = 2\nrequire_labels = [\"ci\"]\n",
        publisher.public_key().to_openssh(),
        ci.public_key().to_openssh()
    );
    let policy = TrustPolicy::from_toml(&toml, std::path::Path::new(".")).unwrap();
    bencher
        .counter(BytesCount::new(signed.len()))
        .bench(|| verify(divan::black_box(&signed), &policy, "acme:big").unwrap());
}

#[divan::bench(sample_count = 30)]
fn digest_8mib(bencher: Bencher) {
    let c = component();
    bencher
        .counter(BytesCount::new(c.len()))
        .bench(|| digest(divan::black_box(&c)).unwrap());
}
