//! The task service: protocol semantics without HTTP.
