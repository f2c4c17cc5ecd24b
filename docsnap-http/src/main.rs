//! `docsnap-server`: the DocuSnap protocol over HTTP.

fn main() {}
