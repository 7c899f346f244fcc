//! The `ward-manifest` custom section of a component (`extract`) and packing a manifest into
//! arbitrary bytes (`embed`): the packed result must hold exactly that manifest.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = ward_manifest::extract(data);
    if let Ok(packed) = ward_manifest::embed(data, ward_fuzz::MANIFEST.as_bytes()) {
        assert_eq!(
            ward_manifest::extract(&packed).ok().flatten(),
            Some(ward_fuzz::MANIFEST.as_bytes()),
            "embed did not leave exactly one manifest"
        );
        assert!(
            ward_signing::digest(&packed).is_ok(),
            "embed wrote what signing cannot read"
        );
    }
});
