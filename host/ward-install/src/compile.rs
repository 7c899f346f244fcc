//! Step 7, compile: compiled once (and cached by digest), so that a component wasmtime refuses is
//! never committed.

use ward_runtime::Runtime;

use crate::{Audit, Refusal};

pub(crate) fn compile(
    audit: &mut Audit<'_>,
    runtime: &Runtime,
    name: &str,
    digest: &str,
    bytes: &[u8],
) -> Result<(), Refusal> {
    match runtime.load(name, bytes) {
        Ok(_) => Ok(()),
        Err(source) => Err(audit.refuse(
            Some(name),
            Some(digest),
            Refusal::Compile {
                name: name.to_owned(),
                source,
            },
        )),
    }
}
