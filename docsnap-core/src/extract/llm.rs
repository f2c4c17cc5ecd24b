//! LLM extractor.
