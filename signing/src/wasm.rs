//! Bounded reading of a component's top-level sections.
//!
//! Only the outermost layer is read: section ids, lengths and custom-section names. Nested core
//! modules and components are opaque bytes here; they are covered by the signature like everything
//! else after the signature section.

use std::ops::Range;

use crate::error::FormatError;

/// The 8-byte preamble of a WebAssembly component (magic, version 0x0d, layer 1).
pub const COMPONENT_PREAMBLE: [u8; 8] = [0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00];

/// The preamble of a core WebAssembly module, refused with a clearer message than "not wasm".
const CORE_MODULE_PREAMBLE: [u8; 8] = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];

/// Most top-level sections a component may have. Threat: a file made of millions of empty custom
/// sections would make the reader allocate one entry per section; real components have a few dozen.
pub const MAX_SECTIONS: usize = 65_536;

/// Id of custom sections, in core modules and components alike.
pub(crate) const CUSTOM_SECTION_ID: u8 = 0;

/// One top-level section, as byte ranges into the component.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Section {
    pub(crate) id: u8,
    /// The whole section: id byte, length and payload.
    pub(crate) range: Range<usize>,
    /// The payload (for a custom section: its name followed by its data).
    pub(crate) payload: Range<usize>,
    /// For a custom section: its name and where its data starts.
    pub(crate) custom: Option<(String, Range<usize>)>,
}

impl Section {
    pub(crate) fn custom_name(&self) -> Option<&str> {
        self.custom.as_ref().map(|(name, _)| name.as_str())
    }

    pub(crate) fn custom_data<'a>(&self, bytes: &'a [u8]) -> Option<&'a [u8]> {
        self.custom
            .as_ref()
            .and_then(|(_, data)| bytes.get(data.clone()))
    }
}

/// Reads the top-level sections of a component, refusing anything that is not one.
pub(crate) fn sections(bytes: &[u8]) -> Result<Vec<Section>, FormatError> {
    let preamble = bytes.get(..8).ok_or(FormatError::Truncated { offset: 0 })?;
    if preamble != COMPONENT_PREAMBLE {
        if preamble == CORE_MODULE_PREAMBLE {
            return Err(FormatError::CoreModule);
        }
        return Err(FormatError::NotAComponent);
    }
    let mut out = Vec::new();
    let mut pos = 8;
    while pos < bytes.len() {
        if out.len() >= MAX_SECTIONS {
            return Err(FormatError::TooManySections { max: MAX_SECTIONS });
        }
        let start = pos;
        let id = bytes[pos];
        pos += 1;
        let len = get_leb_u32(bytes, &mut pos)?;
        let end = pos
            .checked_add(len)
            .filter(|end| *end <= bytes.len())
            .ok_or(FormatError::SectionOutOfBounds { offset: start })?;
        let payload = pos..end;
        let custom = if id == CUSTOM_SECTION_ID {
            let mut p = pos;
            let name_len = get_leb_u32(&bytes[..end], &mut p)?;
            let name_end = p
                .checked_add(name_len)
                .filter(|e| *e <= end)
                .ok_or(FormatError::SectionOutOfBounds { offset: start })?;
            let name = std::str::from_utf8(&bytes[p..name_end])
                .map_err(|_| FormatError::BadSectionName { offset: start })?;
            Some((name.to_owned(), name_end..end))
        } else {
            None
        };
        out.push(Section {
            id,
            range: start..end,
            payload,
            custom,
        });
        pos = end;
    }
    Ok(out)
}

/// Reads an unsigned LEB128 u32 (at most 5 bytes) at `*pos`, advancing it.
pub(crate) fn get_leb_u32(bytes: &[u8], pos: &mut usize) -> Result<usize, FormatError> {
    let start = *pos;
    let mut value: u64 = 0;
    for i in 0..5 {
        let byte = *bytes
            .get(*pos)
            .ok_or(FormatError::Truncated { offset: start })?;
        *pos += 1;
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return u32::try_from(value)
                .map(|v| v as usize)
                .map_err(|_| FormatError::BadInteger { offset: start });
        }
    }
    Err(FormatError::BadInteger { offset: start })
}

/// Writes `value` as a minimal unsigned LEB128.
pub(crate) fn put_leb_u32(out: &mut Vec<u8>, value: usize) {
    let mut v = value as u64;
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// A custom section with the given name and data, canonically encoded.
pub(crate) fn custom_section(name: &str, data: &[u8]) -> Vec<u8> {
    let mut name_len = Vec::with_capacity(5);
    put_leb_u32(&mut name_len, name.len());
    let mut out = Vec::with_capacity(data.len() + name.len() + 12);
    out.push(CUSTOM_SECTION_ID);
    put_leb_u32(&mut out, name_len.len() + name.len() + data.len());
    out.extend_from_slice(&name_len);
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(data);
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn component(extra: &[u8]) -> Vec<u8> {
        let mut v = COMPONENT_PREAMBLE.to_vec();
        v.extend_from_slice(extra);
        v
    }

    #[test]
    fn reads_custom_sections() {
        let mut c = component(&[]);
        c.extend(custom_section("a", b"xyz"));
        c.extend(custom_section("ward-manifest", b"name = 1"));
        let s = sections(&c).unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].custom_name(), Some("a"));
        assert_eq!(s[0].custom_data(&c), Some(&b"xyz"[..]));
        assert_eq!(s[1].custom_name(), Some("ward-manifest"));
    }

    #[test]
    fn refuses_core_module_and_garbage() {
        let mut core = CORE_MODULE_PREAMBLE.to_vec();
        core.push(0);
        assert_eq!(sections(&core), Err(FormatError::CoreModule));
        assert_eq!(sections(b"hello world"), Err(FormatError::NotAComponent));
        assert_eq!(
            sections(b"\0asm"),
            Err(FormatError::Truncated { offset: 0 })
        );
    }

    #[test]
    fn refuses_truncated_and_oversized_sections() {
        let c = component(&[1, 10, 0]);
        assert_eq!(
            sections(&c),
            Err(FormatError::SectionOutOfBounds { offset: 8 })
        );
        let c = component(&[1, 0xff, 0xff, 0xff, 0xff, 0x7f]);
        assert_eq!(sections(&c), Err(FormatError::BadInteger { offset: 9 }));
        let c = component(&[1, 0x80]);
        assert_eq!(sections(&c), Err(FormatError::Truncated { offset: 9 }));
        // custom section whose name runs past its end
        let c = component(&[0, 2, 5, b'a']);
        assert_eq!(
            sections(&c),
            Err(FormatError::SectionOutOfBounds { offset: 8 })
        );
    }

    #[test]
    fn too_many_sections_is_a_bounded_refusal() {
        let mut c = component(&[]);
        for _ in 0..=MAX_SECTIONS {
            c.extend_from_slice(&[0, 1, 0]);
        }
        assert_eq!(
            sections(&c),
            Err(FormatError::TooManySections { max: MAX_SECTIONS })
        );
    }
}
