//! Task storage.
