//! Recently parsed documents, so that clients sending the same operations over and over
//! (which is what applications do) pay for parsing once.

use std::num::NonZeroUsize;
use std::sync::Mutex;

use async_graphql::parser::parse_query;
use async_graphql::parser::types::ExecutableDocument;
use lru::LruCache;

/// Distinct documents kept; the least recently used goes first.
const CAPACITY: NonZeroUsize = NonZeroUsize::new(1024).expect("non-zero");

/// Documents longer than this are parsed every time rather than kept, so the cache's
/// memory stays bounded by [`CAPACITY`] small documents.
const MAX_CACHED_LENGTH: usize = 16 * 1024;

/// A bounded cache of parsed documents, keyed by their text.
pub struct ParsedDocuments(Mutex<LruCache<String, ExecutableDocument>>);

impl Default for ParsedDocuments {
    fn default() -> Self {
        ParsedDocuments(Mutex::new(LruCache::new(CAPACITY)))
    }
}

impl ParsedDocuments {
    /// `query` parsed, from the cache when it was parsed lately.
    pub fn parse(&self, query: &str) -> async_graphql::parser::Result<ExecutableDocument> {
        if let Some(document) = self.lock().get(query) {
            return Ok(document.clone());
        }
        let document = parse_query(query)?;
        if query.len() <= MAX_CACHED_LENGTH {
            self.lock().put(query.to_owned(), document.clone());
        }
        Ok(document)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LruCache<String, ExecutableDocument>> {
        // Nothing here panics while holding the lock with the cache half-changed; a
        // poisoned lock still guards a whole cache.
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
