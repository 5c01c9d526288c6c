//! Recently parsed documents, so that clients sending the same operations over and over
//! (which is what applications do) pay for parsing once, and for async-graphql's strict
//! validation of the document once per operation they select in it.

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_graphql::parser::parse_query;
use async_graphql::parser::types::ExecutableDocument;
use lru::LruCache;

/// Distinct documents kept; the least recently used goes first.
const CAPACITY: NonZeroUsize = NonZeroUsize::new(1024).expect("non-zero");

/// Documents longer than this are parsed every time rather than kept, so the cache's
/// memory stays bounded by [`CAPACITY`] small documents.
const MAX_CACHED_LENGTH: usize = 16 * 1024;

/// A parsed document, and the operations of it that passed strict validation.
pub struct ParsedDocument {
    document: ExecutableDocument,
    /// By operation name as requested (`None`: the request named none). A handful at most:
    /// a document holds few operations.
    validated: Mutex<Vec<Option<String>>>,
}

impl ParsedDocument {
    fn new(document: ExecutableDocument) -> ParsedDocument {
        ParsedDocument {
            document,
            validated: Mutex::default(),
        }
    }

    /// The document, for one request to own.
    pub fn document(&self) -> ExecutableDocument {
        self.document.clone()
    }

    /// Whether the operation `name` selects passed strict validation before.
    pub fn validated(&self, name: Option<&str>) -> bool {
        lock(&self.validated)
            .iter()
            .any(|validated| validated.as_deref() == name)
    }

    /// Notes that the operation `name` selects passed strict validation.
    pub fn mark_validated(&self, name: Option<&str>) {
        let mut validated = lock(&self.validated);
        if !validated
            .iter()
            .any(|validated| validated.as_deref() == name)
        {
            validated.push(name.map(str::to_owned));
        }
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
        if let Some(parsed) = lock(&self.0).get(query) {
            return Ok(Arc::clone(parsed));
        }
        let parsed = Arc::new(ParsedDocument::new(parse_query(query)?));
        if query.len() <= MAX_CACHED_LENGTH {
            lock(&self.0).put(query.to_owned(), Arc::clone(&parsed));
        }
        Ok(parsed)
    }
}

/// Nothing here panics while holding a lock with its value half-changed; a poisoned lock
/// still guards a whole value.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
