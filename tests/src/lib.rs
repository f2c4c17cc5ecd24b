//! Helpers shared by docsnap end-to-end tests.
