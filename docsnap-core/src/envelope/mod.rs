//! The encryption envelope of the DocuSnap protocol.
