//! Types: WIT signatures, JSON Schemas and the JSON <-> component value mapping.
