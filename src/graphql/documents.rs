//! Recently parsed documents, so that clients sending the same operations over and over
//! (which is what applications do) pay for parsing once, and for async-graphql's strict
//! validation of the document once.

use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_graphql::parser::parse_query;
use async_graphql::parser::types::ExecutableDocument;
use lru::LruCache;

/// Distinct documents kept; the least recently used goes first.
const CAPACITY: NonZeroUsize = NonZeroUsize::new(1024).expect("non-zero");

/// Documents longer than this are parsed every time rather than kept, so the cache's
/// memory stays bounded by [`CAPACITY`] small documents.
const MAX_CACHED_LENGTH: usize = 16 * 1024;

/// A parsed document, and whether it passed strict validation.
pub struct ParsedDocument {
    document: ExecutableDocument,
    validated: AtomicBool,
}

impl ParsedDocument {
    fn new(document: ExecutableDocument) -> ParsedDocument {
        ParsedDocument {
            document,
            validated: AtomicBool::new(false),
        }
    }

    /// The document, for one request to own.
    pub fn document(&self) -> ExecutableDocument {
        self.document.clone()
    }

    /// Whether the document passed strict validation before.
    pub fn validated(&self) -> bool {
        self.validated.load(Ordering::Relaxed)
    }

    /// Notes that the document passed strict validation.
    pub fn mark_validated(&self) {
        self.validated.store(true, Ordering::Relaxed);
    }
}

/// A bounded cache of parsed documents, keyed by their text.
pub struct ParsedDocuments(Mutex<LruCache<String, Arc<ParsedDocument>>>);

impl Default for ParsedDocuments {
    fn default() -> Self {
        ParsedDocuments(Mutex::new(LruCache::new(CAPACITY)))
    }
}

impl ParsedDocuments {
    /// `query` parsed, from the cache when it was parsed lately.
    pub fn parse(&self, query: &str) -> async_graphql::parser::Result<Arc<ParsedDocument>> {
        if let Some(parsed) = self.lock().get(query) {
            return Ok(Arc::clone(parsed));
        }
        let parsed = Arc::new(ParsedDocument::new(parse_query(query)?));
        if query.len() <= MAX_CACHED_LENGTH {
            self.lock().put(query.to_owned(), Arc::clone(&parsed));
        }
        Ok(parsed)
    }

    fn lock(&self) -> MutexGuard<'_, LruCache<String, Arc<ParsedDocument>>> {
        // Nothing here panics while holding the lock with the cache half-changed; a
        // poisoned lock still guards a whole cache.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
